"""pystan_models: hand-written Stan programs for hierarchical linear models and GLMs.

Each worked example is a module run as ``python -m pystan_models.<name>``; it
writes a self-contained HTML report to ``reports/<name>.html``.
"""

# name -> one-line description; `python -m pystan_models` lists these.
EXAMPLES = {
    "beetles": "Binomial GLM, logit vs probit vs complementary log-log links (Bliss 1935)",
}
