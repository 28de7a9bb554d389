"""Shared fixtures.  Tests marked ``slow`` compile and sample real Stan programs;
the first of them installs CmdStan when the machine has none (see README)."""
from __future__ import annotations

import pytest

from pystan_models import cmdstan
from pystan_models.fitting import RunOptions

# Short chains with a fixed seed: enough for the tolerances the tests use.
SHORT = RunOptions(chains=4, iter_warmup=500, iter_sampling=500, seed=1234, quiet=True)


@pytest.fixture(scope="session")
def cmdstan_home():
    return cmdstan.ensure_cmdstan(quiet=True)


def assert_near_reference(table, reference: dict, sd_fraction: float = 0.2,
                          n_mcse: float = 3.0) -> None:
    """Posterior mean within ``sd_fraction`` posterior sd plus ``n_mcse`` Monte Carlo
    standard errors of a published value.

    The sd term covers how far a posterior mean may honestly sit from a point
    estimate computed another way (mean vs mode under a flat prior, a REML or
    ML estimate); the MCSE term covers the sampler's own error.
    """
    for name, ref in reference.items():
        row = table.loc[name]
        tol = sd_fraction * row["sd"] + n_mcse * row["mcse_mean"]
        assert abs(row["mean"] - ref) <= tol, (
            f"{name}: posterior mean {row['mean']:.3f} vs reference {ref} "
            f"(tolerance {tol:.3f})")


def assert_self_contained(html: str, min_figures: int) -> None:
    """At least ``min_figures`` embedded figures, and nothing loaded from outside."""
    import re
    assert html.count("data:image/png;base64,") >= min_figures
    assert not re.search(r"""(src|href)=["'](?!data:|#)""", html), "external resources"
