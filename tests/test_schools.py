"""Eight schools: data checks, the exact quadrature reference, compile + sample each
hyperprior, centered vs non-centered, the improper case, and the report.

References used:
* independently computed: the exact marginal posterior p(tau | y) by one-dimensional
  quadrature (BDA3 eq. 5.21), `schools.quadrature`, which is itself checked here
  against posteriordb and BDA3;
* published: posteriordb `eight_schools-eight_schools_noncentered` reference posterior
  means (mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5)), `schools.POSTERIORDB`;
  BDA3 section 5.5 (uniform prior on tau): mu about 8 with sd about 5, posterior
  median of tau about 5, and tau mostly below 15-20.
"""

import arviz as az
import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from pystan_models import cmdstan, programs, schools
from pystan_models.errors import DataError, PystanModelsError
from pystan_models.fitting import posterior_table

from conftest import SHORT, assert_self_contained

GOOD = "school,effect,se\nA,28,15\nB,8,10\nC,-3,16\n"


def write(tmp_path, text, name="schools.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- data and options: no CmdStan ---------------------------------------------------

def test_shipped_data_is_bda_table_5_2():
    frame = schools.load()
    assert frame.school.tolist() == list("ABCDEFGH")
    assert frame.effect.tolist() == [28, 8, -3, 7, -1, 1, 18, 12]
    assert frame.se.tolist() == [15, 10, 16, 11, 9, 11, 10, 18]


@pytest.mark.parametrize("text, pattern", [
    (GOOD.replace("B,8,10", "B,8,0"), r"row 2 \(line 3\), column 'se'.*positive"),
    (GOOD.replace("B,8,10", "B,8,-10"), r"row 2 \(line 3\), column 'se'.*positive"),
    (GOOD.replace("B,8,10", "B,NaN,10"), r"row 2 \(line 3\), column 'effect'.*not a finite"),
    (GOOD.replace("B,8,10", "B,8,"), r"row 2 \(line 3\), column 'se'.*not a finite"),
    (GOOD.replace("B,8,10", ",8,10"), r"row 2 \(line 3\), column 'school'.*empty"),
    (GOOD.replace("C,-3,16", "A,-3,16"), r"row 3 \(line 4\), column 'school'.*listed twice"),
    ("school,effect,se\nA,28,15\nB,8,10\n", r"2 school\(s\).*at least 3"),
    ("school,effect\nA,28\n", r"missing column\(s\) se"),
    ("school,effect,se\n", r"no data rows"),
])
def test_bad_file_is_a_clear_error(tmp_path, text, pattern):
    path = write(tmp_path, text)
    with pytest.raises(DataError, match=pattern) as err:
        schools.load(path)
    assert str(path) in str(err.value)


def test_stan_data_dict():
    frame = schools.load()
    data = schools.stan_data(frame, "inv_chi2", schools.Hyper(nu=0.5, s=3.0))
    assert data["J"] == 8 and data["y"][0] == 28 and data["sigma"][7] == 18
    assert data["tau_prior"] == 2 and data["nu"] == 0.5 and data["s"] == 3.0
    assert data["mu_normal"] == 0
    assert {schools.stan_data(frame, p)["tau_prior"] for p in schools.PRIORS} == {1, 2, 3, 4}
    pdb = schools.stan_data(frame, "half_cauchy", schools.POSTERIORDB_HYPER)
    assert pdb["mu_normal"] == 1 and pdb["mu_sd"] == 5.0 and pdb["tau_scale"] == 5.0
    with pytest.raises(PystanModelsError, match="unknown prior"):
        schools.stan_data(frame, "jeffreys")


def test_posteriordb_check_only_for_the_published_data(tmp_path):
    assert schools.is_bda_data(schools.load())
    assert not schools.is_bda_data(schools.load(write(tmp_path, GOOD)))


@pytest.mark.parametrize("argv, pattern", [
    (["--nu", "0"], "--nu must be a positive finite number"),
    (["--s", "-1"], "--s must be a positive finite number"),
    (["--cauchy-scale", "nan"], "--cauchy-scale must be a positive finite number"),
    (["--adapt-delta", "1"], "--adapt-delta must be between 0 and 1"),
])
def test_bad_option_is_an_error_before_sampling(tmp_path, capsys, monkeypatch, argv, pattern):
    monkeypatch.setattr(cmdstan, "ensure_cmdstan", lambda **k: None)  # no CmdStan needed
    monkeypatch.setattr(schools, "fit_all", lambda *a, **k: pytest.fail("sampled"))
    monkeypatch.setattr(programs, "load", lambda *a, **k: pytest.fail("compiled"))
    out = tmp_path / "schools.html"
    assert schools.main([*argv, "--output", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert pattern in err and "Traceback" not in err
    assert not out.exists()


def test_bad_data_file_writes_no_report(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(cmdstan, "ensure_cmdstan", lambda **k: None)  # no CmdStan needed
    monkeypatch.setattr(schools, "fit_all", lambda *a, **k: pytest.fail("sampled"))
    monkeypatch.setattr(programs, "load", lambda *a, **k: pytest.fail("compiled"))
    bad = write(tmp_path, GOOD.replace("B,8,10", "B,8,0"))
    out = tmp_path / "schools.html"
    assert schools.main(["--data", str(bad), "--output", str(out), "--quiet"]) == 2
    assert "column 'se'" in capsys.readouterr().err and not out.exists()


# -- the exact reference: no CmdStan ------------------------------------------------

@pytest.mark.parametrize("prior", ["inv_chi2", "half_cauchy"])
def test_proper_priors_integrate_to_one(prior):
    """log_prior_tau includes the Jacobian of tau -> tau^2 (as the Stan program does)."""
    hyper = schools.Hyper()
    total, _ = integrate.quad(lambda t: np.exp(schools.log_prior_tau(prior, np.array([t]),
                                                                     hyper))[0], 0, np.inf)
    assert total == pytest.approx(1.0, abs=1e-6)


def test_quadrature_reproduces_posteriordb():
    """The grid computation against posteriordb's reference posterior means (10 chains
    x 1,000 thinned draws): within 4 of posteriordb's own Monte Carlo errors."""
    exact = schools.quadrature(schools.load(), "half_cauchy", schools.POSTERIORDB_HYPER)
    ref = schools.POSTERIORDB
    gap = (exact.loc[ref.index, "mean"] - ref["reference mean"]).abs()
    assert (gap <= 4 * ref["reference MCSE"]).all(), gap / ref["reference MCSE"]


def test_quadrature_uniform_prior_matches_bda3():
    exact = schools.quadrature(schools.load(), "uniform")
    # BDA3 section 5.5: mu about 8 with sd about 5; tau's median about 5, its
    # posterior mostly below 15-20 SAT points.
    assert exact.loc["mu", "mean"] == pytest.approx(8.0, abs=0.2)
    assert exact.loc["mu", "sd"] == pytest.approx(5.0, abs=0.3)
    assert 4.5 < exact.loc["tau", "50%"] < 6.0
    assert 15 < exact.loc["tau", "97.5%"] < 25
    # school A is shrunk from 28 most of the way to mu
    assert 9 < exact.loc["theta[A]", "mean"] < 14


def test_quadrature_is_converged():
    frame = schools.load()
    a = schools.quadrature(frame, "uniform")
    b = schools.quadrature(frame, "uniform", log_tau_range=(-20.0, 10.0), n=60001)
    pd.testing.assert_frame_equal(a, b, atol=2e-3, rtol=0)


def test_sensitivity_sentence_is_computed_from_the_numbers():
    def table(tau_med, mu_mean):
        return pd.DataFrame({"mean": [mu_mean, 1.0], "sd": [5.0, 1.0],
                             "50%": [mu_mean, tau_med], "97.5%": [20.0, 3 * tau_med]},
                            index=["mu", "tau"])
    labels = {"a": "prior a", "b": "prior b"}
    text = schools.sensitivity_sentence({"a": table(1.0, 7.6), "b": table(5.0, 8.0)}, labels)
    assert "strongly sensitive" in text and "from 1.0 (prior a) to 5.0 (prior b)" in text
    assert "factor of 5.0" in text and "barely moves" in text
    text = schools.sensitivity_sentence({"a": table(4.9, 7.0), "b": table(5.0, 9.0)}, labels)
    assert "hardly sensitive" in text and "moves less than half" in text


# -- compile and sample -------------------------------------------------------------

@pytest.fixture(scope="module")
def frame():
    return schools.load()


@pytest.fixture(scope="module")
def main_fits(cmdstan_home, frame):
    return {p: schools.fit_prior(frame, p, SHORT) for p in schools.PROPER}


@pytest.mark.slow
@pytest.mark.parametrize("prior", schools.PROPER)
def test_noncentered_matches_exact_quadrature(main_fits, frame, prior):
    """The quadrature is exact, so only Monte Carlo error separates the two: posterior
    means within 4 MCSE, posterior sds within 4 MCSE of the sd, for mu, tau and
    all eight theta_j; and every sampler diagnostic passes."""
    fit = main_fits[prior]
    assert fit.problems == []
    exact = schools.quadrature(frame, prior)
    table = posterior_table(fit.idata, schools.PARAMS).loc[exact.index]
    gap = (table["mean"] - exact["mean"]).abs() / table["mcse_mean"]
    assert (gap <= 4).all(), gap.round(2).to_dict()
    mcse_sd = az.mcse(fit.idata, var_names=schools.PARAMS, method="sd")
    for name in exact.index:
        var, sel = (name.split("[")[0], name[name.find("[") + 1:-1]) if "[" in name \
            else (name, None)
        m = mcse_sd[var].sel(school=sel) if sel else mcse_sd[var]
        assert abs(table.loc[name, "sd"] - exact.loc[name, "sd"]) <= 4 * float(m), name


@pytest.mark.slow
def test_noncentered_reproduces_posteriordb(cmdstan_home, frame):
    fit = schools.fit_prior(frame, "half_cauchy", SHORT, schools.POSTERIORDB_HYPER)
    assert fit.problems == []
    table = schools.posteriordb_table(fit)
    assert (table["gap / MCSE"] <= 4).all(), table["gap / MCSE"].round(2).to_dict()


@pytest.mark.slow
def test_tau_depends_on_the_prior_mu_hardly(main_fits):
    tables = {p: posterior_table(f.idata, ["mu", "tau"]) for p, f in main_fits.items()}
    med = {p: t.loc["tau", "50%"] for p, t in tables.items()}
    # exact medians: 5.2 (uniform), 1.2 (Inv-chi^2(2, 1)), 2.8 (half-Cauchy(0, 5))
    assert med["uniform"] > 3 * med["inv_chi2"]
    assert med["inv_chi2"] < med["half_cauchy"] < med["uniform"]
    mus = [t.loc["mu", "mean"] for t in tables.values()]
    assert max(mus) - min(mus) < 0.25 * min(t.loc["mu", "sd"] for t in tables.values())


@pytest.mark.slow
def test_centered_program_diverges_where_noncentered_does_not(cmdstan_home, frame, main_fits):
    centered = schools.fit_prior(frame, "uniform", SHORT, centered=True)
    assert schools.divergences(centered) > 0
    assert any("diverged" in p for p in centered.problems)
    assert schools.divergences(main_fits["uniform"]) == 0


@pytest.mark.slow
def test_improper_prior_runs_away_to_log_tau_minus_infinity(cmdstan_home, frame):
    with schools.expected_failures():
        nc = schools.fit_prior(frame, "log_uniform", SHORT)
        c = schools.fit_prior(frame, "log_uniform", SHORT, centered=True)
    run = schools.improper_summary(nc)
    # A proper posterior here keeps log tau above about -5 (tau > 0.007 SAT points);
    # with p(tau) ∝ 1/tau most draws sit below -10 and some reach the hundreds.
    assert run["below_-10"] > 0.5 and run["min"] < -100
    assert nc.problems and c.problems
    assert any("diverged" in p for p in nc.problems)


@pytest.mark.slow
def test_report_is_complete_and_self_contained(tmp_path, cmdstan_home):
    out = tmp_path / "schools.html"
    assert schools.main(["--chains", "2", "--iter-warmup", "300", "--iter-sampling", "300",
                         "--quiet", "--output", str(out)]) == 0
    html = out.read_text()
    for section in ["Data", "Model and hyperpriors",
                    "Sensitivity of the posterior to the hyperprior", "Shrinkage",
                    "Check against exact quadrature and posteriordb",
                    "Centered vs non-centered", "The improper case: a flat prior on log tau",
                    "Run times and efficiency", "Provenance"]:
        assert f">{section}</h2>" in html, section
    assert "IMPROPER CASE: expected to fail" in html and "NON-CENTERED program" in html
    assert "sensitive to its hyperprior" in html and "adapt_delta 0.95" in html
    assert "schools_centered.stan" in html and "schools_noncentered.stan" in html
    assert "CmdStan 2." in html and "seed 20261125" in html
    assert_self_contained(html, 8)
    assert [p.name for p in tmp_path.iterdir()] == ["schools.html"], "no temp files left"
