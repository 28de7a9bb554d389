"""Replicated data and pointwise log-likelihoods for a fit, after sampling.

Some fits sample with ``pointwise = 0`` because replicates would distort what their
example measures (the NUTS-against-Gibbs timings of rats and probit) or cost more
than the example needs while sampling (radon's many fits).  :func:`replicate` runs
the same program's generated quantities on the fit's own draws, with ``pointwise =
1``, through cmdstanpy's ``generate_quantities``: no resampling, so the posterior
draws, the timings and the notes' numbers stay exactly as sampled, and the report's
predictive checks (:func:`pystan_models.report.predictive_checks`) get
``posterior_predictive``, ``log_likelihood`` and ``observed_data`` under one name.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import xarray as xr

from . import programs
from .fitting import Fit, engine_call
from .generated import generated


def replicate(f: Fit, data: dict, observed: dict, seed: int, *, dim: str | None = None,
              y_rep: str = "y_rep", log_lik: str = "log_lik",
              extra_data: dict | None = None) -> Fit:
    """``f`` with the program's ``y_rep`` and ``log_lik`` for its draws, stored under
    the observed name (``observed`` = {name: values}) along dimension ``dim``
    (default: ``<name>_dim_0``).  ``data`` is the data the fit sampled with; its
    pointwise switch is turned on here (``extra_data`` sets any other switch, e.g.
    ``log_lik_only = 0``).  A fit that already has replicates (or has no CmdStan
    draws: a Gibbs sampler's, or one rebuilt from a saved run) comes back as it is."""
    (name, values), = observed.items()
    if f.stan_path is None or ("posterior_predictive" in f.idata.children
                               and f.idata["posterior_predictive"][name].size):
        return f
    if dim is None and "observed_data" in f.idata.children:
        dim = f.idata["observed_data"][name].dims[0]
    # a saved run keeps the result (--save) and a rebuild reads it back (--from)
    g = engine_call(f"{f.program} replicates",
                    {"data": data, "extra_data": extra_data, "seed": seed},
                    lambda: _replicated(f, data, name, values, seed, dim, y_rep,
                                        log_lik, extra_data), constant_data=data)
    g.replaces = f.call          # a saved run's summary lists the fit once
    g.spec = f.spec              # the same program and data (a saved one has none)
    return g


def _replicated(f: Fit, data: dict, name: str, values, seed: int, dim: str | None,
                y_rep: str, log_lik: str, extra_data: dict | None) -> Fit:
    dim = dim or f"{name}_dim_0"
    index = np.arange(len(values))
    out = generated(f, programs.with_no_predictions(
        f.program, {**data, "pointwise": 1, **(extra_data or {})}), seed, [y_rep, log_lik],
        (dim, index))
    idata = f.idata.copy()
    idata["posterior_predictive"] = xr.Dataset({name: out[y_rep]})
    idata["log_likelihood"] = xr.Dataset({name: out[log_lik]})
    idata["observed_data"] = xr.Dataset({name: xr.DataArray(
        np.asarray(values), dims=(dim,), coords={dim: index})})
    return dataclasses.replace(f, idata=idata)
