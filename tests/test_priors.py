"""Priors, visible and checked: every report has a Priors section (each prior as
the program states it, where it is set, the scale used), every fit with a proper
prior a prior predictive check from prior-only draws, and --prior-only runs that
check alone."""
import re

import numpy as np
import pytest

from pystan_models import EXAMPLES, beetles, fitting, priors, schools

SHORT = dict(chains=2, iter_warmup=200, iter_sampling=200, quick=True, quiet=True)
# a parameter of each example's programs, and the .stan file that sets its prior
NAMED = {"beetles": ("alpha_c", "beetles_logit.stan"),
         "schools": ("tau", "schools_noncentered.stan"),
         "icc": ("sigma_beta", "icc_oneway.stan"),
         "radon": ("sigma", "mixed_effects_clusters.stan"),
         "rats": ("sigma_sq", "rats_conjugate.stan"),
         "counts": ("beta_std", "counts_poisson.stan"),
         "probit": ("alpha", "probit_regression.stan"),
         "separation": ("beta_z", "logistic_weakly_informative.stan")}
FORMULAS = {   # each example's --formula path, on its own notes' data
    "beetles": dict(formula="p(killed, exposed) ~ dose"),
    "counts": dict(data="data/roaches.csv", formula="y ~ roach1 + treatment + senior",
                   exposure="exposure2"),
    "icc": dict(data="data/radon_mn.csv", formula="log_radon ~ 1 + (1 | county)"),
    "radon": dict(data="data/radon_mn.csv", formula="log_radon ~ floor + (1 | county)"),
    "rats": dict(data="data/rats.csv", formula="weight ~ age_days + (age_days | rat)"),
    "probit": dict(data="data/seeds.csv",
                   formula="p(germinated, total) ~ seed_type + root_extract"),
    "separation": dict(data="data/endometrial.csv", formula="hg ~ nv + pi + eh"),
}


# --- no CmdStan: the programs as read ------------------------------------------------

def test_flat_prior_is_listed_improper_with_the_line_that_is_off():
    data = beetles.stan_data(beetles.load())
    table, proper = priors.program_priors("beetles_logit", data)
    assert not proper
    assert set(table["parameter"]) == {"alpha_c", "beta"}
    assert (table["as used"] == "flat (improper)").all()
    assert table["set in"].str.contains(r"beetles_logit\.stan.*off with prior_sd = 0"
                                        ).all()


def test_proper_prior_names_file_line_and_scale_used():
    data = beetles.stan_data(beetles.load(), prior_sd=2.5)
    table, proper = priors.program_priors("beetles_logit", data)
    assert proper
    lines = open("stan/beetles_logit.stan").read().splitlines()
    for _, row in table.iterrows():
        where = re.match(r"stan/beetles_logit\.stan:(\d+)", row["set in"])
        assert where, row["set in"]
        assert row["parameter"] in lines[int(where.group(1)) - 1]
    assert list(table["as used"]) == ["normal(0, 2.5)", "normal(0, 2.5)"]


def test_schools_priors_follow_the_data_switches():
    frame = schools.load()
    cauchy, proper = priors.program_priors(
        "schools_noncentered", schools.stan_data(frame, "half_cauchy"))
    assert not proper                       # the notes' flat prior on mu
    assert "cauchy(0, " in " ".join(cauchy["as used"])
    log_flat, proper = priors.program_priors(
        "schools_noncentered", schools.stan_data(frame, "log_uniform"))
    assert not proper
    assert log_flat.loc[log_flat.parameter == "tau", "as used"].str.startswith(
        "improper").all()


# --- every report ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def analysed(cmdstan_home):
    import importlib
    return {name: importlib.import_module(f"pystan_models.{name}").analyse(**SHORT)
            for name in EXAMPLES}


@pytest.fixture(scope="module")
def formula_analysed(cmdstan_home):
    import importlib
    return {name: importlib.import_module(f"pystan_models.{name}").analyse(
        **kw, **SHORT) for name, kw in FORMULAS.items()}


def _priors_section(results) -> str:
    html = results.report().render()
    m = re.search(r'<h2 id="s\d+">Priors</h2>(.*?)(<h2 |$)', html, re.S)
    assert m, "a Priors section"
    return m.group(1)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(EXAMPLES))
def test_every_report_has_a_priors_section(analysed, name):
    section = _priors_section(analysed[name])
    parameter, stan_file = NAMED[name]
    assert f"<td>{parameter}</td>" in section or f'">{parameter}</td>' in section
    assert f"stan/{stan_file}" in section
    table = analysed[name].table("program priors")
    assert table["set in"].str.contains(r"stan/\w+\.stan").all()


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FORMULAS))
def test_every_formula_report_has_priors_and_a_prior_check(formula_analysed, name):
    r = formula_analysed[name]
    section = _priors_section(r)
    assert "stan/" in section
    table = r.table("program priors")
    assert (table["proper"] == "yes").any(), "the data-scaled defaults are proper"
    assert len(r.table("prior predictive")), "a prior predictive check"
    assert "Prior predictive checks</h3>" in section and "<img" in section


@pytest.mark.slow
def test_improper_priors_get_no_check(analysed):
    r = analysed["beetles"]
    proper = r.table("program priors")["proper"]
    assert (proper[proper != ""].str.contains(priors.IMPROPER_NO_CHECK)).all()
    assert not r.prior_fits and not len(r.table("prior predictive"))
    assert "no prior predictive check" in _priors_section(r)


@pytest.mark.slow
def test_prior_predictive_summaries_come_from_prior_only_draws(analysed):
    r = analysed["schools"]
    assert set(r.prior_fits) == {"posteriordb"}       # the one proper prior
    prior = r.prior_fits["posteriordb"]
    assert prior.spec["data"]["prior_only"] == 1
    assert prior.fit.metadata.cmdstan_config["num_samples"] == priors.PRIOR_DRAWS
    row = r.table("prior predictive").set_index("fit").loc["posteriordb"]
    y_rep = fitting.draws(prior.idata, "y", "posterior_predictive")
    sd = np.std(y_rep, axis=1, ddof=1)
    assert row["prior median"] == pytest.approx(np.median(sd))
    # half-Cauchy(0, 5) on tau with normal(0, 5) on mu: replicated effects far
    # wider than the observed (-3 to 28)
    y = np.asarray(next(iter(priors.observed(prior.spec).values())), float)
    assert np.abs(y_rep).max() > 10 * np.abs(y).max()
    assert "allows absurd outcomes" in r.answer


@pytest.mark.slow
def test_posterior_draws_do_not_change(analysed):
    """The prior-only fits are separate fits: a posterior's draws are those of the
    same call made on its own."""
    r = analysed["separation"]
    f = r.fits["Cauchy(0, 2.5)"]
    again = fitting.sample(f.spec["program"], f.spec["data"], r.options,
                           main=f.spec["main"], **f.spec["sample_kw"])
    assert np.array_equal(again.fit.draws(), f.fit.draws())


# --- --prior-only ----------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("name, extra", [("schools", []), ("beetles", []),
                                         ("beetles", ["--formula",
                                                      "p(killed, exposed) ~ dose"])])
def test_prior_only_samples_only_prior_only_fits(cmdstan_home, tmp_path, monkeypatch,
                                                 name, extra):
    import importlib
    module = importlib.import_module(f"pystan_models.{name}")
    seen = []
    real = fitting._sample

    def spy(program, data, opts, **kw):
        seen.append((program, data["prior_only"], bool(kw.get("fixed_param"))))
        return real(program, data, opts, **kw)
    monkeypatch.setattr(fitting, "_sample", spy)
    out = tmp_path / "prior.html"
    assert module.main(["--prior-only", "--chains", "2", "--quiet", "--output",
                        str(out), *extra]) == 0
    assert seen and all(prior_only == 1 for _, prior_only, _ in seen)
    html = out.read_text()
    assert ">Priors</h2>" in html and "no posterior was sampled" in html
    sampled = [p for p, _, fixed in seen if not fixed]
    if extra or name == "schools":     # a proper prior: a prior-only fit, a figure
        assert sampled and "<img" in html
    else:                              # the notes' flat priors: nothing sampled
        assert not sampled and "no prior predictive check" in html


@pytest.mark.slow
def test_prior_only_from_the_command_line_knows_the_outcome(cmdstan_home, tmp_path):
    """Run as ``python -m`` (module __main__), counts are still checked as counts."""
    import subprocess
    import sys
    out = tmp_path / "counts-prior.html"
    subprocess.run([sys.executable, "-m", "pystan_models.counts", "--prior-only",
                    "--chains", "2", "--quiet", "--output", str(out)], check=True,
                   capture_output=True, timeout=600)
    html = out.read_text()
    assert "share of zeros" in html and "sd of y" not in html


@pytest.mark.slow
def test_prior_only_runs_no_gibbs_posterior_and_says_so(cmdstan_home, tmp_path,
                                                       monkeypatch):
    """probit's Albert-Chib sampler gets a placeholder's few draws, not the run's
    chains, and the diagnostics box says no posterior was sampled (not 'passed')."""
    from pystan_models import priors, probit
    sizes = []
    real = probit.gibbs_probit

    def spy(*args, **kw):
        f = real(*args, **kw)
        sizes.append(f.idata["posterior"].sizes["draw"])
        return f
    monkeypatch.setattr(probit, "gibbs_probit", spy)
    out = tmp_path / "probit-prior.html"
    assert probit.main(["--prior-only", "--chains", "2", "--quiet", "--output",
                        str(out)]) == 0
    assert sizes and set(sizes) == {priors.PLACEHOLDER_DRAWS}
    html = out.read_text()
    assert "No posterior was sampled" in html
    assert "All sampler diagnostics passed" not in html
