"""Two real public data sets the project does not ship, from statsmodels (installed
from the package registry as a dependency), through the formula path and checked
against maximum-likelihood / REML fits computed here with statsmodels (issue 11).

- star98 (Jeff Gill, Generalized Linear Models: A Unified Approach, 2001): 303
  California school districts, the number of pupils at or above the national median
  in maths out of all tested; beetles' three binomial links against statsmodels'
  binomial GLM with the same link.
- grunfeld (Grunfeld 1958; Kleiber & Zeileis, AER): 11 US firms' gross investment
  1935-1954 against firm value and capital stock; radon's mixed-effects program with
  a varying intercept per firm against statsmodels' MixedLM REML.
"""
import numpy as np
import pytest
import statsmodels.api as sm
import statsmodels.formula.api as smf

from pystan_models import beetles, radon

RUN = dict(chains=4, iter_warmup=500, iter_sampling=500, quiet=True)
STAR98 = ["LOWINC", "PERASIAN", "PERBLACK", "PERHISP", "PCTCHRT", "PCTYRRND",
          "PERMINTE", "AVYRSEXP"]
LINKS = {"logit": sm.families.links.Logit(), "probit": sm.families.links.Probit(),
         "cloglog": sm.families.links.CLogLog()}


@pytest.fixture(scope="module")
def star98(tmp_path_factory, cmdstan_home):
    d = sm.datasets.star98.load_pandas().data
    d = d.assign(NABOVE=d.NABOVE.astype(int), tested=(d.NABOVE + d.NBELOW).astype(int))
    path = tmp_path_factory.mktemp("star98") / "star98.csv"
    d.to_csv(path, index=False)
    r = beetles.analyse(path, formula="p(NABOVE, tested) ~ " + " + ".join(STAR98), **RUN)
    return d, r


@pytest.mark.slow
@pytest.mark.parametrize("link", list(LINKS))
def test_star98_binomial_links_agree_with_maximum_likelihood(star98, link):
    d, r = star98
    ml = sm.GLM(np.column_stack([d.NABOVE, d.tested - d.NABOVE]), sm.add_constant(d[STAR98]),
                family=sm.families.Binomial(LINKS[link])).fit()
    coef = r.table("coefficients").loc[link]
    assert list(coef.index) == ["Intercept", *STAR98]
    assert (coef["r_hat"] < 1.01).all(), coef["r_hat"]
    for name, estimate, se in zip(coef.index, ml.params, ml.bse):
        row = coef.loc[name]
        # ~250,000 pupils: the posterior is normal about the ML estimate with sd the
        # ML se; the default prior (> 10 times wider) moves it far less than 0.2 sd
        assert abs(row["mean"] - estimate) < 0.2 * row["sd"] + 4 * row["mcse_mean"], name
        # a posterior sd from >= 400 effective draws is within about 4% (1 / sqrt(2
        # ESS)) of its value; 15% is four of those
        assert 0.85 < row["sd"] / se < 1.15, name
    assert not [p for p in r.problems if p.startswith(link)]


@pytest.mark.slow
def test_grunfeld_varying_intercepts_agree_with_reml(tmp_path, cmdstan_home):
    g = sm.datasets.grunfeld.load_pandas().data
    path = tmp_path / "grunfeld.csv"
    g.to_csv(path, index=False)
    # 11 data-rich firms (20 years each): the centring rule picks centred intercepts
    # (non-centred ones mixed slowly: R-hat 1.012 after 4 x 500); 4 x 1000 as the
    # examples run
    r = radon.analyse(path, formula="invest ~ value + capital + (1 | firm)",
                      **{**RUN, "iter_warmup": 1000, "iter_sampling": 1000})
    reml = smf.mixedlm("invest ~ value + capital", g, groups="firm").fit(reml=True)
    coef = r.table("coefficients")
    assert r.table("centring")["form"].tolist() == ["centred"]
    assert list(coef.index) == ["Intercept", "value", "capital", "sd(1|firm)", "sigma"]
    assert (coef["r_hat"] < 1.01).all()
    # 220 firm-years: the slopes' posterior is close to normal about the GLS estimate
    # at the REML variances; averaging over the firms' sd (11 firms) moves it by a
    # fraction of its sd, and widens the intercept's
    for name in ["Intercept", "value", "capital"]:
        row = coef.loc[name]
        assert abs(row["mean"] - reml.fe_params[name]) < 0.5 * row["sd"] + 4 * row["mcse_mean"]
    for name in ["value", "capital"]:
        assert 0.8 < coef.loc[name, "sd"] / reml.bse_fe[name] < 1.25
    sigma = np.sqrt(reml.scale)
    assert abs(coef.loc["sigma", "mean"] - sigma) < 0.5 * coef.loc["sigma", "sd"] + 4 * coef.loc[
        "sigma", "mcse_mean"]
    # 11 firms say little about their sd: REML's estimate inside the 95% interval
    tau = float(np.sqrt(reml.cov_re.iloc[0, 0]))
    assert coef.loc["sd(1|firm)", "2.5%"] < tau < coef.loc["sd(1|firm)", "97.5%"]
