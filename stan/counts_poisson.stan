// Poisson regression with a log link and an exposure offset.
//
// Notes, "Count data: Poisson regression":
//   y_i ~ Poisson(mu_i),   log(mu_i) = log_exposure_i + alpha + X_i beta,
// i = 1, ..., N, with K predictors X_i (no intercept column) and the offset
// log_exposure_i (the log of the exposure, e.g. trap-days; 0 when there is
// none).  The predictors are standardised (centred at their means, divided
// by their sds); the priors are on that scale:
//   alpha_c ~ normal(0, 5)      (log rate at the predictor means, exposure 1)
//   beta_std ~ normal(0, 2.5)   (change in log rate per predictor sd)
// and alpha, beta are reported on the original scale
// (beta = beta_std / sd(X), alpha = alpha_c - mean(X) beta).
// Data: roaches (Gelman & Hill 2007, section 6.2), epilepsy (Thall & Vail
// 1990); see data/README.md.
// Predictions: the N_pred rows X_pred, log_exposure_pred (data, empty while
// sampling; filled for generate_quantities) get mu_pred = exp(eta), the
// expected count, and y_pred, a new count, per draw.
// The prior sds and rate above are the notes' values of the data fields
// alpha_prior_sd = 5, beta_prior_sd = 2.5 and scale_prior_rate = 1; for a
// user's formula (pystan_models.counts) they are rstanarm's data-scaled
// defaults times --prior-scale s: 2.5 s, 2.5 s (normal(0, 2.5 s / sd(x)) on
// the original scale) and 1 / s.
functions {
  #include standardise.stanfunctions
  #include safe_rng.stanfunctions
}
data {
  int<lower=1> N;                   // observations
  int<lower=1> K;                   // predictors (no intercept column)
  matrix[N, K] X;                   // predictors, original scale
  vector[N] log_exposure;           // offset
  array[N] int<lower=0> y;          // counts
  // priors (the notes' run: 5, 2.5, 1; a user's data: data-scaled defaults)
  real<lower=0> alpha_prior_sd;     // intercepts at the means ~ N(0, this)
  real<lower=0> beta_prior_sd;      // standardised coefficients ~ N(0, this)
  real<lower=0> scale_prior_rate;   // sds ~ exponential(this)
  int<lower=0, upper=1> prior_only; // 1: no likelihood (prior predictive)
  int<lower=0, upper=1> pointwise;  // 1: write log_lik and y_rep
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;         // like X, on X's scale
  vector[N_pred] log_exposure_pred; // their offsets
}
transformed data {
  vector[K] x_mean = column_means(X);
  vector[K] x_sd = column_sds(X);
  matrix[N, K] X_std = standardise(X, x_mean, x_sd);
}
parameters {
  real alpha_c;                     // intercept at the predictor means
  vector[K] beta_std;               // coefficients per predictor sd
}
model {
  alpha_c ~ normal(0, alpha_prior_sd);
  beta_std ~ normal(0, beta_prior_sd);
  if (!prior_only) {
    // poisson_log_glm: analytic gradients; its vector intercept carries the
    // offset
    y ~ poisson_log_glm(X_std, log_exposure + alpha_c, beta_std);
  }
}
generated quantities {
  vector[K] beta = beta_std ./ x_sd;                  // original scale
  real alpha = alpha_c - dot_product(x_mean, beta);
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta = log_exposure + alpha_c + X_std * beta_std;
    for (i in 1:N) {
      log_lik[i] = poisson_log_lpmf(y[i] | eta[i]);
      y_rep[i] = poisson_log_safe_rng(eta[i]);
    }
  }
  // predictions for the rows X_pred, standardised as X was
  vector[N_pred] mu_pred;                             // expected count
  array[N_pred] int y_pred;                           // a new count
  if (N_pred > 0) {
    vector[N_pred] eta_pred = log_exposure_pred + alpha_c
                              + standardise(X_pred, x_mean, x_sd) * beta_std;
    mu_pred = exp(eta_pred);
    for (i in 1:N_pred) {
      y_pred[i] = poisson_log_safe_rng(eta_pred[i]);
    }
  }
}
