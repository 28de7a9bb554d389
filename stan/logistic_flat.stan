// FAILING CASE, kept on purpose: logistic regression with flat priors on data
// with quasi-complete separation.  The posterior is improper and the sampler
// cannot converge; compare logistic_weakly_informative.stan.
//
// Model (notes, "The problem of separation"):
//   y_i ~ Bernoulli(logit^-1(alpha_z + Z_i beta_z)),  i = 1..N,
//   Z: the inputs X shifted and scaled as in Gelman et al. (2008), exactly
//      as in logistic_weakly_informative.stan: binary inputs (binary[k] = 1)
//      centred at their mean (still differing by 1), other inputs centred
//      and divided by 2 sd (mean 0, sd 0.5).
// Prior: p(alpha_z, beta_z) proportional to 1 (flat, improper).
// When an input separates the outcomes (here every patient with
// neovasculization, NV = 1, has high-grade histology) the likelihood keeps
// rising as beta_NV -> infinity, so the maximum-likelihood estimate is
// infinite and, under the flat prior, so is the posterior mass: the draws
// of beta_NV drift without bound.  The two programs differ only in the prior.
// With prior_only = 1 there is no proper distribution to draw from: this
// program has no prior predictive distribution.
// Generated: the original-scale coefficients beta = beta_z ./ scale and
//   alpha = alpha_z - centre' beta, and (pointwise = 1) log_lik[i] and
//   y_rep[i] ~ Bernoulli(logit^-1(alpha_z + Z_i beta_z)).
// Predictions: the N_pred rows X_pred, trials_pred (data, empty while
//   sampling; filled for generate_quantities) get mu_pred, the probability
//   of success, and y_pred ~ Binomial(trials_pred, mu_pred), per draw.
// Data: Heinze & Schemper (2002) endometrial cancer grade, 79 patients
//   (data/endometrial.csv, from the R package brglm2); X = (NV, PI, EH).
//   With --formula (a user's data): X the formula's common terms, binary[k]
//   = 1 for the columns holding only 0 and 1, and the 0/1 rows that share a
//   covariate pattern summed to y successes in trials (the binomial
//   likelihood equals the 0/1 rows' up to a constant, so the posterior is
//   the same); the notes' 79 rows keep trials = 1 and the Bernoulli GLM.
functions {
#include standardise.stanfunctions
#include binomial_rows.stanfunctions
}
data {
  int<lower=0> N;                        // patients
  int<lower=1> K;                        // inputs (no intercept column)
  matrix[N, K] X;                        // inputs on their original scale
  array[K] int<lower=0, upper=1> binary; // 1 if input k takes only 0 and 1
  array[N] int<lower=1> trials;          // 1 per row; > 1: aggregated rows
  array[N] int<lower=0> y;               // 1 = high histology grade (of trials)
  int<lower=0, upper=1> prior_only;      // 1: leave the likelihood out
  int<lower=0, upper=1> pointwise;       // 1: write log_lik and y_rep
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;              // like X, on X's scale
  array[N_pred] int<lower=1> trials_pred;  // 1 for a 0/1 row
}
transformed data {
  // binary inputs: centred (scale 1); other inputs: mean 0 and sd 0.5, over
  // the 0/1 rows (an aggregated row counts as its trials)
  int bernoulli = max(trials) == 1;
  vector[K] centre = row_means(X, trials);
  vector[K] scale = row_scales(X, binary, trials, centre);
  matrix[N, K] Z = standardise(X, centre, scale);
}
parameters {
  real alpha_z;                          // intercept for the scaled inputs
  vector[K] beta_z;                      // coefficients for the scaled inputs
}
model {
  // prior: p(alpha_z, beta_z) proportional to 1 (flat, improper): nothing
  // adds to target.  With separated data the posterior is improper too.
  if (!prior_only) {
    if (bernoulli) {
      y ~ bernoulli_logit_glm(Z, alpha_z, beta_z);
    } else {             // the same likelihood, up to a constant
      y ~ binomial_logit(trials, alpha_z + Z * beta_z);
    }
  }
}
generated quantities {
  // coefficients on the original scale of the inputs
  vector[K] beta = beta_z ./ scale;
  real alpha = alpha_z - dot_product(centre, beta);
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta = alpha_z + Z * beta_z;
    log_lik = logit_rows_log_lik(y, trials, eta);
    y_rep = logit_rows_rng(trials, eta);
  }
  // predictions for the rows X_pred, shifted and scaled as X was
  vector[N_pred] mu_pred;                // probability of success
  array[N_pred] int y_pred;              // successes of trials_pred
  if (N_pred > 0) {
    vector[N_pred] eta_pred = alpha_z
                              + standardise(X_pred, centre, scale) * beta_z;
    mu_pred = inv_logit(eta_pred);
    y_pred = logit_rows_rng(trials_pred, eta_pred);
  }
}
