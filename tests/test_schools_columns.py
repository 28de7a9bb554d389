"""Schools on a user's own table (issue 11): --estimate, --se and --label name the
columns; the same fits, checks and report, without the eight schools' story."""
import numpy as np
import pandas as pd
import pytest

from pystan_models import cmdstan, programs, schools
from pystan_models.errors import PystanModelsError

MU, TAU = 5.0, 3.0          # the simulation's truth
RUN = ["--chains", "4", "--iter-warmup", "300", "--iter-sampling", "300", "--quiet"]


def simulated(J=30, seed=20261202):
    rng = np.random.default_rng(seed)
    se = rng.uniform(1, 4, J)
    theta = rng.normal(MU, TAU, J)
    return pd.DataFrame({"study": [f"s{j:02d}" for j in range(J)],
                         "d": rng.normal(theta, se), "sd_d": se, "year": 2000 + np.arange(J)})


@pytest.fixture
def csv(tmp_path):
    path = tmp_path / "trials.csv"
    simulated().to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def report_run(tmp_path_factory, cmdstan_home):
    tmp = tmp_path_factory.mktemp("schools_columns")
    path = tmp / "trials.csv"
    simulated().to_csv(path, index=False)
    out = tmp / "out" / "s.html"
    code = schools.main(["--data", str(path), "--estimate", "d", "--se", "sd_d",
                         "--label", "study", "--output", str(out), *RUN])
    r = schools.analyse(path, estimate="d", se="sd_d", chains=4, iter_warmup=300,
                        iter_sampling=300, quiet=True)
    return code, out, r


# --- (a) recovering the simulated mu and tau -----------------------------------------

@pytest.mark.slow
def test_fits_recover_the_simulated_mean_and_sd(report_run):
    _, _, r = report_run
    post = r.table("posterior")
    for prior in schools.PROPER:
        for name, truth in (("mu", MU), ("tau", TAU)):
            row = post.loc[(prior, name)]
            # one simulated data set: the posterior is centred on the truth only up
            # to its sd (3.5 sd: a 1-in-2000 miss for a normal posterior), plus
            # the sampler's own error
            assert abs(row["mean"] - truth) < 3.5 * row["sd"] + 4 * row["mcse_mean"], \
                (prior, name)
    # the example's own check: NUTS against exact quadrature, in MCSE
    check = r.table("exact_check")
    assert check["gap / MCSE"].max() < 5


# --- (b) the report names the user's columns and leaves out the notes' story --------

@pytest.mark.slow
def test_report_names_the_columns_and_leaves_out_the_eight_schools(report_run):
    code, out, r = report_run
    assert code == 0 and [p.name for p in out.parent.iterdir()] == ["s.html"]
    html = out.read_text()
    for section in ["Data", "Model and hyperpriors", "Priors",
                    "Sensitivity of the posterior to the hyperprior", "Shrinkage",
                    "Check against exact quadrature", "Centered vs non-centered",
                    "The improper case: a flat prior on log tau"]:
        assert f">{section}</h2>" in html, section
    assert "y_j (d)" in html and "sigma_j (sd_d)" in html and "theta[s07]" in html
    data = html.split(">Data</h2>")[1].split("<h2")[0]
    assert "column &#x27;d&#x27;" in data and "Rubin" not in data
    assert "posteriordb" not in html and "Published reference" not in html
    answer = html.split('<div class="answer">')[1].split("</div>")[0]
    assert "SAT" not in answer and "between-group sd tau" in answer
    # without --label the rows are numbered
    assert ("uniform", "theta[1]") in r.table("posterior").index
    assert "posteriordb" not in r.fits


def test_columns_frame_reads_the_named_columns(csv):
    frame = schools.columns_frame(csv, "d", "sd_d", "study")
    assert list(frame.columns) == ["school", "effect", "se"]
    assert frame.school.iloc[3] == "s03" and len(frame) == 30
    assert not schools.is_bda_data(frame)
    numbered = schools.columns_frame(csv, "d", "sd_d")
    assert numbered.school.tolist()[:3] == ["1", "2", "3"]
    # the notes' own file through the options is still the notes' data
    assert schools.is_bda_data(schools.columns_frame(None, "effect", "se", "school"))


def test_priors_table_states_the_hyperpriors():
    table = schools.priors_table(schools.Hyper(cauchy_scale=0.5))
    assert "half-Cauchy(0, 0.5)" in table.prior.tolist()
    assert table.loc[table.prior == "half-Cauchy(0, 0.5)", "scale"].item() == 0.5


# --- (c) bad columns or values: one clear error, exit 2, nothing compiled or written --

@pytest.mark.parametrize("change, argv, pattern", [
    (None, ["--estimate", "effect", "--se", "sd_d"],
     "no column(s) --estimate 'effect'; the columns are 'study', 'd', 'sd_d', 'year'"),
    (lambda f: f.assign(sd_d=f.sd_d.where(f.index != 4, 0.0)),
     ["--estimate", "d", "--se", "sd_d"],
     r"row 5 (line 6), column 'sd_d' (value 0.0): must be positive"),
    (lambda f: f.assign(d=f.d.where(f.index != 2, np.nan)),
     ["--estimate", "d", "--se", "sd_d"], "row 3 (line 4), column 'd'"),
    (lambda f: f.assign(study=f.study.where(f.index != 9, "s00")),
     ["--estimate", "d", "--se", "sd_d", "--label", "study"],
     "row 10 (line 11), column 'study' (value 's00'): listed twice"),
    (lambda f: f.iloc[:2], ["--estimate", "d", "--se", "sd_d"], "needs at least 3"),
    (None, ["--estimate", "d"], "--estimate and --se go together"),
    (None, ["--label", "study"], "--estimate and --se go together"),
    (None, ["--estimate", "d", "--se", "d"], "name the same column"),
])
def test_bad_columns_are_one_error(tmp_path, capsys, monkeypatch, change, argv, pattern):
    monkeypatch.setattr(cmdstan, "ensure_cmdstan", lambda **k: None)
    monkeypatch.setattr(schools, "fit_all", lambda *a, **k: pytest.fail("sampled"))
    monkeypatch.setattr(programs, "load", lambda *a, **k: pytest.fail("compiled"))
    frame = simulated()
    path = tmp_path / "trials.csv"
    (change(frame) if change else frame).to_csv(path, index=False)
    out = tmp_path / "s.html"
    assert schools.main(["--data", str(path), *argv, "--output", str(out),
                         "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and pattern in err, err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_analyse_refuses_a_label_without_columns():
    with pytest.raises(PystanModelsError, match="go together"):
        schools.analyse(label="study")
