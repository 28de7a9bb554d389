// One-way random-effects model for grouped data and its intraclass
// correlation (the varying-intercept model with no predictors).
//
// Notes, "Grouped data and the intraclass correlation":
//   y_i ~ N(beta_{group[i]}, sigma^2),        i = 1..N
//   beta_j ~ N(alpha, sigma_beta^2),           j = 1..J
//   rho = sigma_beta^2 / (sigma^2 + sigma_beta^2),
// the correlation between two observations in the same group, computed
// from each draw in generated quantities.
// Priors: p(alpha) proportional to 1 (flat, as in the notes: nothing is
// added to target) when alpha_prior_sd = 0 (the default), else (for prior
// predictive draws, calibration, and a user's y ~ 1 + (1 | g), fitted to
// y - mean(y) with alpha_prior_sd = 2.5 sd(y)) alpha ~ N(0, alpha_prior_sd^2);
//   sigma_beta ~ half-normal(0, scale_prior_sd),
//   sigma ~ half-normal(0, scale_prior_sd),
// with scale_prior_sd from the driver (1 for log radon: the total sd of y
// is 0.85, so the prior is weakly informative and the 85 counties
// dominate it).
// Non-centred (centred = 0): beta_j = alpha + sigma_beta * eta_j, eta_j ~
// N(0, 1), because most groups are small (median 5 houses a county) and
// sigma_beta is small against sigma.  centred = 1 samples beta_j = eta_j ~
// N(alpha, sigma_beta^2) itself, for data-rich groups (a user's data:
// pystan_models.centring's rule); centred = 0 is the notes' program, draw
// for draw.
// prior_only = 1 drops the likelihood (prior predictive draws in y_rep);
// pointwise = 1 writes log_lik (for LOO) and y_rep (posterior predictive).
// Predictions: the N_pred rows group_pred (data, empty while sampling;
// filled for generate_quantities) get mu_pred = beta_j, the group mean, and
// y_pred ~ N(mu_pred, sigma^2), per draw; group_pred = 0, a group not in the
// data, draws a new beta ~ N(alpha, sigma_beta^2) for the row.
// Data: Minnesota household radon, log pCi/L (log radon, 0 replaced by
// 0.1), 919 houses in 85 counties (EPA SRRS, as in Gelman & Hill 2007,
// ch. 12; data/README.md).
data {
  int<lower=1> N;                         // observations (houses)
  vector[N] y;                            // outcome (log radon)
  int<lower=1> J;                         // groups (counties)
  array[N] int<lower=1, upper=J> group;   // group of observation i
  real<lower=0> alpha_prior_sd;           // 0: p(alpha) flat (default);
                                          // > 0: alpha ~ N(0, sd^2)
  real<lower=0> scale_prior_sd;           // half-normal scale of the sds
  int<lower=0, upper=1> prior_only;       // 1: ignore the likelihood
  int<lower=0, upper=1> pointwise;        // 1: write log_lik and y_rep
  int<lower=0, upper=1> centred;          // 1: beta_j sampled centred
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  // group of each row; 0: a group not in the data
  array[N_pred] int<lower=0, upper=J> group_pred;
}
parameters {
  real alpha;                 // population mean of the group means
  real<lower=0> sigma_beta;   // between-group sd
  real<lower=0> sigma;        // within-group sd
  vector[J] eta;              // standardized group effects (centred: beta)
}
transformed parameters {
  vector[J] beta;             // group means
  if (centred) {
    beta = eta;
  } else {
    beta = alpha + sigma_beta * eta;
  }
}
model {
  // p(alpha) proportional to 1 (nothing adds to target) unless
  // alpha_prior_sd > 0
  if (alpha_prior_sd > 0) {
    alpha ~ normal(0, alpha_prior_sd);
  }
  sigma_beta ~ normal(0, scale_prior_sd);
  sigma ~ normal(0, scale_prior_sd);
  if (centred) {
    eta ~ normal(alpha, sigma_beta);
  } else {
    eta ~ std_normal();
  }
  if (!prior_only) {
    y ~ normal(beta[group], sigma);
  }
}
generated quantities {
  real rho = square(sigma_beta) / (square(sigma) + square(sigma_beta));
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] real y_rep;
  if (pointwise) {
    y_rep = normal_rng(beta[group], sigma);
    for (i in 1:N) {
      log_lik[i] = normal_lpdf(y[i] | beta[group[i]], sigma);
    }
  }
  // predictions for the rows group_pred
  vector[N_pred] mu_pred;                 // the group mean
  array[N_pred] real y_pred;              // a new observation
  if (N_pred > 0) {
    for (i in 1:N_pred) {
      // the row's group: fitted, or a new group's mean from the population
      mu_pred[i] = group_pred[i] > 0 ? beta[group_pred[i]]
                   : normal_rng(alpha, sigma_beta);
    }
    y_pred = normal_rng(mu_pred, sigma);
  }
}
