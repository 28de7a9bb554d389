"""pystan_models: hand-written Stan programs for hierarchical linear models and GLMs.

Each worked example is a module run as ``python -m pystan_models.<name>``; it
writes a self-contained HTML report to ``reports/<name>.html``.
``load_run(DIR)`` rebuilds the Results of a run saved with ``--save DIR``
(``save_run(DIR, example, **options)`` saves one from Python).
"""
# name -> one-line description; `python -m pystan_models` lists these.
EXAMPLES = {
    "beetles": "Binomial GLM, logit vs probit vs complementary log-log links (Bliss 1935)",
    "schools": "One-way random effects: hyperprior sensitivity on tau (eight schools)",
    "icc": "Grouped data and the intraclass correlation (Minnesota radon by county)",
    "radon": "Mixed effects with clusters of varying coefficients (Minnesota radon)",
    "rats": "Varying intercepts and slopes, conjugate priors: NUTS vs Gibbs (rats growth)",
    "counts": "Poisson, overdispersed and hurdle Poisson counts (roaches, epilepsy)",
    "probit": "Probit as a latent variable model: NUTS vs Albert-Chib Gibbs, vs logit",
    "separation": "Separation in logistic regression, solved by weakly informative priors",
}


def __getattr__(name):
    # loaded on first use: importing the package stays light and changes nothing
    if name in ("load_run", "save_run"):
        from . import runs
        return getattr(runs, name)
    raise AttributeError(f"module 'pystan_models' has no attribute {name!r}")
