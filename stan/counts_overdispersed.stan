// Overdispersed Poisson regression: a normal observation-level effect on the
// log rate (the Poisson-lognormal model).
//
// Notes, "Count data: overdispersion":
//   y_i ~ Poisson(mu_i),
//   log(mu_i) = log_exposure_i + alpha + X_i beta + epsilon_i,
//   epsilon_i ~ normal(0, sigma^2)   (sigma: the sd),
// i = 1, ..., N, with K predictors X_i (no intercept column) and the offset
// log_exposure_i (the log of the exposure).  The predictors are standardised
// (centred at their means, divided by their sds); the priors are on that
// scale:
//   alpha_c ~ normal(0, 5)      (log rate at the predictor means, exposure 1)
//   beta_std ~ normal(0, 2.5)   (change in log rate per predictor sd)
//   sigma ~ exponential(1)
// and alpha, beta are reported on the original scale
// (beta = beta_std / sd(X), alpha = alpha_c - mean(X) beta).
// log_lik[i] = log p(y_i | alpha, beta, sigma), epsilon_i integrated out;
// y_rep draws a new epsilon_i (new observations with the same predictors).
// Predictions: the N_pred rows X_pred, log_exposure_pred (data, empty while
// sampling; filled for generate_quantities) get mu_pred = E[y] =
// exp(eta + sigma^2 / 2), epsilon averaged over, and y_pred, a new count
// with a new epsilon, per draw.
// Data: roaches (Gelman & Hill 2007, sections 6.2 and 8.3); see
// data/README.md.
// The prior sds and rate above are the notes' values of the data fields
// alpha_prior_sd = 5, beta_prior_sd = 2.5 and scale_prior_rate = 1; for a
// user's formula (pystan_models.counts) they are rstanarm's data-scaled
// defaults times --prior-scale s: 2.5 s, 2.5 s (normal(0, 2.5 s / sd(x)) on
// the original scale) and 1 / s.
functions {
  #include standardise.stanfunctions
  #include safe_rng.stanfunctions
  #include poisson_lognormal.stanfunctions
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
  // Gauss-Hermite rule for log_lik (20 nodes: tests/test_counts.py checks it
  // against scipy's adaptive quadrature)
  int Q = 20;
  vector[Q] gh_x = gauss_hermite_nodes(Q);
  vector[Q] gh_log_w = gauss_hermite_log_weights(Q);
}
parameters {
  real alpha_c;                     // intercept at the predictor means
  vector[K] beta_std;               // coefficients per predictor sd
  real<lower=0> sigma;              // sd of epsilon
  // log(mu_i), sampled centred on the linear predictor: epsilon_i =
  // log_rate_i - log_exposure_i - alpha - X_i beta.  On the roaches (sigma
  // about 2) the non-centred form epsilon_i = sigma * z_i mixes badly: every
  // large count pins its own log rate, so z_i must move with beta and sigma
  // (4 x 500 draws: bulk ESS 155 and R-hat 1.04 for beta, against ESS > 2,000
  // and R-hat 1.00 here, in a third of the time).
  vector[N] log_rate;
}
model {
  alpha_c ~ normal(0, alpha_prior_sd);
  beta_std ~ normal(0, beta_prior_sd);
  sigma ~ exponential(scale_prior_rate);
  // the epsilon_i layer: log_rate_i ~ normal(log_exposure_i + alpha + X_i beta,
  // sigma) by normal_id_glm, whose vector intercept carries the offset
  // (stanc's pedantic mode does not see this as log_rate's prior)
  log_rate ~ normal_id_glm(X_std, log_exposure + alpha_c, beta_std, sigma);
  if (!prior_only) {
    target += poisson_log_lupmf(y | log_rate);
  }
}
generated quantities {
  vector[K] beta = beta_std ./ x_sd;                  // original scale
  real alpha = alpha_c - dot_product(x_mean, beta);
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta = log_exposure + alpha_c + X_std * beta_std;  // no epsilon
    for (i in 1:N) {
      log_lik[i] = poisson_lognormal_lpmf(y[i] | eta[i], sigma, gh_x,
                                          gh_log_w);
      y_rep[i] = poisson_log_safe_rng(eta[i] + normal_rng(0, sigma));
    }
  }
  // predictions for the rows X_pred, standardised as X was
  vector[N_pred] mu_pred;                             // E[y], epsilon averaged
  array[N_pred] int y_pred;                           // a new count
  if (N_pred > 0) {
    vector[N_pred] eta_pred = log_exposure_pred + alpha_c
                              + standardise(X_pred, x_mean, x_sd) * beta_std;
    mu_pred = exp(eta_pred + square(sigma) / 2);      // lognormal mean
    for (i in 1:N_pred) {
      y_pred[i] = poisson_log_safe_rng(eta_pred[i] + normal_rng(0, sigma));
    }
  }
}
