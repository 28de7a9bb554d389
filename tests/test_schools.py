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

import numpy as np
import pandas as pd
import pytest
from scipy import integrate

from pystan_models import cmdstan, programs, schools
from pystan_models.errors import DataError, PystanModelsError
from pystan_models.fitting import mcse, posterior_table, sample

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
    assert data["prior_only"] == 0 and data["pointwise"] == 1
    pdb = schools.stan_data(frame, "half_cauchy", schools.POSTERIORDB_HYPER)
    assert pdb["mu_normal"] == 1 and pdb["mu_sd"] == 5.0 and pdb["tau_scale"] == 5.0
    with pytest.raises(PystanModelsError, match="unknown prior"):
        schools.stan_data(frame, "jeffreys")
    prior = schools.stan_data(frame, "half_cauchy", schools.POSTERIORDB_HYPER,
                              prior_only=True, pointwise=False)
    assert prior["prior_only"] == 1 and prior["pointwise"] == 0
    with pytest.raises(PystanModelsError, match="proper prior"):  # p(mu) flat
        schools.stan_data(frame, "half_cauchy", prior_only=True)


@pytest.mark.parametrize("program", ["schools_noncentered", "schools_centered"])
def test_stan_data_matches_the_programs_data_block(program):
    import re
    text = re.sub(r"//[^\n]*", "", programs.stan_file(program).read_text())
    block = re.search(r"\ndata \{(.*?)\n\}", text, re.S).group(1)
    assert set(re.findall(r"(\w+);", block)) == set(schools.stan_data(schools.load()))


def renamed(frame, **names):
    return frame.assign(school=frame.school.replace(names))


def test_posteriordb_check_only_for_the_published_data(tmp_path):
    """Issue 15: other school names once reached posteriordb_table and raised
    KeyError "['theta[B]'] not in index" after sampling."""
    bda = schools.load()
    assert schools.is_bda_data(bda)
    assert schools.is_bda_data(bda.assign(effect=bda.effect.astype(float)))
    assert not schools.is_bda_data(schools.load(write(tmp_path, GOOD)))
    assert not schools.is_bda_data(renamed(bda, B="Bryn Mawr"))
    assert not schools.is_bda_data(bda.assign(school=[f"S{i}" for i in range(8)]))
    assert not schools.is_bda_data(bda.iloc[::-1])             # reordered
    assert not schools.is_bda_data(bda.iloc[:7])
    assert not schools.is_bda_data(bda.assign(se=bda.se + 1))


def test_renamed_schools_fit_no_posteriordb_reference(tmp_path, monkeypatch):
    """fit_all on renamed schools fits nothing with posteriordb's priors, and the
    report section says why (no sampling: fit_prior is replaced)."""
    calls = []
    monkeypatch.setattr(schools, "fit_prior",
                        lambda frame, prior, opts, hyper=schools.Hyper(), *a, **k:
                        calls.append(hyper) or object())
    frame = renamed(schools.load(), B="Bryn Mawr")
    fits = schools.fit_all(frame, schools.RunOptions(quiet=True))
    assert fits.posteriordb is None
    assert schools.POSTERIORDB_HYPER not in calls
    assert "No published reference" in schools.posteriordb_section(None)[0]


@pytest.mark.parametrize("argv, pattern", [
    (["--nu", "0"], "error: nu must be a positive finite number"),
    (["--s", "-1"], "error: s must be a positive finite number"),
    (["--cauchy-scale", "nan"], "error: cauchy-scale must be a positive finite number"),
    (["--mu-sd", "-5"], "error: mu-sd must be a positive finite number"),
    (["--adapt-delta", "1"], "error: adapt-delta must be between 0 and 1"),
    (["--chains", "0"], "error: chains must be a whole number of at least 1"),
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


@pytest.mark.parametrize("options, pattern", [
    ({"nu": 0}, "nu must be a positive finite number"),
    ({"s": "1"}, "s must be a positive finite number, not '1'"),
    ({"mu_sd": float("inf")}, "mu-sd must be a positive finite number"),
    ({"adapt_delta": True}, "adapt-delta must be between 0 and 1"),
    ({"iter_sampling": 1}, "iter-sampling must be a whole number of at least 2"),
    ({"chain": 2}, r"unknown option\(s\) chain"),
])
def test_analyse_refuses_bad_options_before_sampling(monkeypatch, options, pattern):
    monkeypatch.setattr(schools, "fit_all", lambda *a, **k: pytest.fail("sampled"))
    with pytest.raises(PystanModelsError, match=pattern):
        schools.analyse(**options)


@pytest.mark.parametrize("change, pattern", [
    (lambda f: f.assign(se=[15, 10, -16, 11, 9, 11, 10, 18]),
     r"^data frame, row 3, column 'se' \(value -16\): must be positive$"),
    (lambda f: f.assign(effect=[28, 8, -3, 7, "big", 1, 18, 12]),
     r"^data frame, row 5, column 'effect' \(value 'big'\): is not a finite number$"),
    (lambda f: f.assign(school=list("ABCDEFGA")),
     r"^data frame, row 8, column 'school' \(value 'A'\): school listed twice"),
    (lambda f: f.iloc[:2], r"^data frame: 2 school\(s\).*at least 3"),
    (lambda f: f.rename(columns={"se": "sigma"}), r"missing column\(s\) se"),
])
def test_analyse_on_a_bad_frame_names_column_and_row(monkeypatch, change, pattern):
    monkeypatch.setattr(schools, "fit_all", lambda *a, **k: pytest.fail("sampled"))
    with pytest.raises(DataError, match=pattern):
        schools.analyse(change(schools.load()))


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


def test_inv_chi2_note_follows_the_settings():
    assert schools.inv_chi2_note(schools.Hyper()) == (
        "Inv-chi^2(2, 1^2) on tau^2 is Inv-gamma(1, 1), one of the priors Gelman (2006, "
        "Bayesian Analysis 1, 515-534) compares on these data.")
    assert schools.inv_chi2_note(schools.Hyper(nu=4, s=0.5)) == \
        "Inv-chi^2(4, 0.5^2) on tau^2 is Inv-gamma(2, 0.5)."


def answer_inputs(shift=0.0, mcse=0.1):
    """Constructed NUTS tables: the exact quadrature moved by ``shift`` MCSEs."""
    frame = schools.load()
    hyper = schools.Hyper()
    exact = {p: schools.quadrature(frame, p, hyper) for p in schools.PROPER}
    tables = {}
    for p, e in exact.items():
        t = e.copy()
        t["mcse_mean"] = mcse
        t["mean"] = t["mean"] + shift * mcse
        t.loc["mu", ["50%", "97.5%"]] = [e.loc["mu", "mean"], np.nan]
        tables[p] = t
    labels = {p: schools.prior_label(p, hyper) for p in schools.PRIORS}
    runaway = {"min": -707.0, "below_-10": 1.0}
    divergent = {"non-centered": 0, "centered": 123}
    return tables, exact, labels, divergent, runaway


def test_answer_states_agreement_only_when_the_fits_pass():
    tables, exact, labels, div, run = answer_inputs(shift=1.0)
    ok = {p: [] for p in schools.PROPER}
    text, sentence = schools.answer_text(tables, exact, ok, labels, 0.95, div, run)
    assert "agree with exact one-dimensional quadrature to within 1.0" in text
    assert "strongly sensitive" in sentence and sentence in text
    assert "0 divergent transitions over the three priors, against 123" in text
    assert "ran down to -707 (100% of them below -10)" in text
    assert "failed" not in text


def test_answer_with_failed_diagnostics_draws_no_conclusion_from_the_fits():
    tables, exact, labels, div, run = answer_inputs(shift=1.0)
    failed = {"uniform": ["R-hat up to 1.050 (tau); chains disagree"],
              "inv_chi2": [], "half_cauchy": []}
    text, sentence = schools.answer_text(tables, exact, failed, labels, 0.95, div, run)
    assert "failed their checks" in text and "R-hat up to 1.050" in text
    assert "run longer chains" in text
    assert "agree with" not in text and "to within" not in text
    # the sensitivity is stated from the exact quadrature, not from the fits
    assert sentence.startswith("By exact one-dimensional quadrature")
    exact_sentence = schools.sensitivity_sentence(exact, labels)
    assert sentence.endswith(exact_sentence[1:]) and "quadrature" not in exact_sentence


def test_answer_when_the_means_miss_the_exact_answer():
    tables, exact, labels, div, run = answer_inputs(shift=6.0)
    ok = {p: [] for p in schools.PROPER}
    text, _ = schools.answer_text(tables, exact, ok, labels, 0.95, div, run)
    assert "up to 6.0 Monte Carlo standard errors from the exact quadrature" in text
    assert "agree with" not in text
    tables["uniform"].loc["tau", "mcse_mean"] = np.nan   # a NaN MCSE is not a pass
    text, _ = schools.answer_text(tables, exact, ok, labels, 0.95, div, run)
    assert "not a finite number" in text and "agree with" not in text


def test_answer_does_not_claim_a_runaway_the_run_did_not_show():
    tables, exact, labels, div, _ = answer_inputs()
    ok = {p: [] for p in schools.PROPER}
    text, _ = schools.answer_text(tables, exact, ok, labels, 0.95, div,
                                  {"min": -3.2, "below_-10": 0.0})
    assert "ran down" not in text and "went down only to -3.2" in text


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
    mcse_sd = mcse(fit.idata, schools.PARAMS, method="sd")
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
def test_prior_only_samples_the_prior_and_pointwise_off_writes_nothing(cmdstan_home,
                                                                      frame):
    """prior_only = 1: the draws follow mu ~ N(0, 5^2), tau ~ half-Cauchy(0, 5)
    (median 5) whatever the data; pointwise = 0: log_lik and y_rep are empty."""
    data = schools.stan_data(frame.assign(effect=frame.effect + 1000), "half_cauchy",
                             schools.POSTERIORDB_HYPER, prior_only=True, pointwise=False)
    fit = sample("schools_noncentered", data, SHORT, main=["mu", "tau"], adapt_delta=0.95)
    post = fit.idata.posterior
    assert not [c for c in fit.fit.column_names if c.startswith(("log_lik", "y_rep"))]
    assert "log_lik" not in post and "y_rep" not in post
    table = fit.table(["mu", "tau"])
    # the data's effects of about 1000 would pull mu there if the likelihood were on
    assert abs(table.loc["mu", "mean"]) < 4 * table.loc["mu", "mcse_mean"] + 0.5
    assert table.loc["mu", "sd"] == pytest.approx(5, rel=0.15)
    assert table.loc["tau", "50%"] == pytest.approx(5, abs=1.5)


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
    assert "Published reference: posteriordb" in html
    # short chains: whichever way the diagnostics go, the answer agrees with them
    answer = html.split('<div class="answer">')[1].split("</div>")[0]
    if 'id="diagnostics-failed"' in html:
        assert "failed their checks" in answer and "agree with" not in answer
    else:
        assert "agree with exact one-dimensional quadrature" in answer
    assert_self_contained(html, 8)
    assert [p.name for p in tmp_path.iterdir()] == ["schools.html"], "no temp files left"


@pytest.mark.slow
def test_analyse_renamed_schools_in_memory(tmp_path, cmdstan_home):
    """Issue 15, end to end: a DataFrame in memory whose schools are not named A-H
    (the BDA3 numbers, so every fit behaves as usual) runs to Results and a report,
    without the posteriordb comparison, which covers schools A-H only."""
    frame = renamed(schools.load(), B="Bryn Mawr", H="Haverford")
    r = schools.analyse(frame, chains=2, iter_warmup=200, iter_sampling=200, quiet=True)
    assert "posteriordb" not in r.fits and "posteriordb" not in r.tables
    assert set(schools.PROPER) <= set(r.fits)
    assert {"log_uniform non-centered", "uniform centered 0.8"} <= set(r.fits)
    assert len({id(f) for f in r.fits.values()}) == len(r.fits)   # each fit once
    post = r.table("posterior")
    assert ("uniform", "theta[Bryn Mawr]") in post.index
    assert list(r.fits["uniform"].idata.posterior["school"].values) == frame.school.tolist()
    assert r.data["schools"].attrs["source"] == "data frame"
    if r.problems:
        assert "failed their checks" in r.answer and "agree with" not in r.answer
    else:
        assert "agree with exact one-dimensional quadrature" in r.answer
    html = r.write_report(tmp_path / "renamed.html").read_text()
    assert "No published reference" in html and "theta[Bryn Mawr]" in html
    assert ">Provenance</h2>" in html and "schools_noncentered.stan" in html
