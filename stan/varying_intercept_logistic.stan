// Varying-intercept logistic regression: the plain, readable reference.
//
// Model (the notes' random-intercept logistic regression, for binary y):
//   y_i ~ Bernoulli(logit^-1(alpha_{group[i]} + X_i beta)),  i = 1..N,
//   alpha_j ~ N(mu, tau^2),  j = 1..J.
// Priors (weakly informative, on the logit scale):
//   mu ~ N(0, 2.5^2),  beta_k ~ N(0, 2.5^2),  tau ~ half-normal(0, 1).
// X has no intercept column: the intercepts are the alpha_j.
// Non-centred: alpha = mu + tau * z with z ~ N(0, 1), which suits groups
// with few rows.
//
// Data: simulated, with a fixed seed (pystan_models/bench.py for the
// benchmark's scaling run, pystan_models/calibration_targets.py for the
// calibration).  varying_intercept_logistic_fast.stan is the same model
// written for speed.
//
// Switches: prior_only = 1 drops the likelihood (prior predictive draws);
// pointwise = 1 writes log_lik (for LOO) and y_rep (replicated data).
data {
  int<lower=1> N;                          // rows
  int<lower=1> K;                          // predictors
  matrix[N, K] X;                          // design, no intercept column
  array[N] int<lower=0, upper=1> y;        // binary outcome
  int<lower=1> J;                          // groups
  array[N] int<lower=1, upper=J> group;    // group of each row
  int<lower=0, upper=1> prior_only;        // 1: ignore the likelihood
  int<lower=0, upper=1> pointwise;         // 1: write log_lik and y_rep
}
parameters {
  real mu;                                 // mean group intercept
  real<lower=0> tau;                       // sd of the group intercepts
  vector[J] z;                             // standardised group intercepts
  vector[K] beta;                          // coefficients of X
}
transformed parameters {
  vector[J] alpha = mu + tau * z;          // group intercepts
}
model {
  // priors
  mu ~ normal(0, 2.5);
  tau ~ normal(0, 1);
  beta ~ normal(0, 2.5);
  z ~ std_normal();
  // likelihood
  if (!prior_only) {
    y ~ bernoulli_logit(alpha[group] + X * beta);
  }
}
generated quantities {
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta = alpha[group] + X * beta;
    for (i in 1:N) {
      log_lik[i] = bernoulli_logit_lpmf(y[i] | eta[i]);
    }
    y_rep = bernoulli_logit_rng(eta);
  }
}
