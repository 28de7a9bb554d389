// Overdispersed Poisson regression with a group (patient) random effect:
// Breslow & Clayton (1993) model III, the BUGS "Epil" example.
//
// Notes, "Count data: overdispersion", with a second level:
//   y_i ~ Poisson(mu_i),
//   log(mu_i) = log_exposure_i + alpha + X_i beta + b1_group[i] + epsilon_i,
//   b1_j ~ normal(0, sigma_group^2)  (group effect; BUGS b1, sigma.b1)
//   epsilon_i ~ normal(0, sigma^2)   (observation effect; BUGS b, sigma.b)
// i = 1, ..., N observations (patient-visits) in J groups (patients), with K
// predictors X_i (no intercept column) and the offset log_exposure_i (the
// log of the exposure; 0 for epilepsy, every period is 2 weeks); sigma and
// sigma_group are sds.  The predictors are standardised (centred at their
// means, divided by their sds; BUGS centres them, the slopes are the same);
// the priors are on that scale:
//   alpha_c ~ normal(0, 5)      (log rate at the predictor means)
//   beta_std ~ normal(0, 2.5)   (change in log rate per predictor sd)
//   sigma, sigma_group ~ exponential(1)
// (BUGS: normal(0, 100^2) on the coefficients and gamma(0.001, 0.001) on the
// precisions; with these data the posterior means agree with the published
// BUGS ones to within 0.2 posterior sd: tests/test_counts.py), and alpha,
// beta are reported on the original scale (beta = beta_std / sd(X),
// alpha = alpha_c - mean(X) beta).  Both effects are non-centred,
// b1 = sigma_group * u, epsilon = sigma * z, when centred = 0 (the notes'
// program, draw for draw); centred = 1 samples the group effects centred,
// u = alpha_c + b1 ~ normal(alpha_c, sigma_group^2), for data-rich groups
// (a user's data: pystan_models.centring's rule).  The observation-level
// epsilon, one row each, stays non-centred.
// log_lik[i] = log p(y_i | alpha, beta, sigma, b1), epsilon_i integrated
// out; y_rep draws a new epsilon_i for the same groups (new visits).
// Predictions: the N_pred rows X_pred, log_exposure_pred, group_pred (data,
// empty while sampling; filled for generate_quantities) get mu_pred = E[y] =
// exp(eta + sigma^2 / 2), epsilon averaged over, and y_pred, a new count
// with a new epsilon, per draw; group_pred = 0, a group not in the data,
// draws a new b1 ~ normal(0, sigma_group^2) for the row.
// Data: epilepsy (Thall & Vail 1990; BUGS Examples Vol. 1 "Epil"); see
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
  int<lower=1> J;                   // groups (patients)
  array[N] int<lower=1, upper=J> group;
  // priors (the notes' run: 5, 2.5, 1; a user's data: data-scaled defaults)
  real<lower=0> alpha_prior_sd;     // intercepts at the means ~ N(0, this)
  real<lower=0> beta_prior_sd;      // standardised coefficients ~ N(0, this)
  real<lower=0> scale_prior_rate;   // sds ~ exponential(this)
  int<lower=0, upper=1> prior_only; // 1: no likelihood (prior predictive)
  int<lower=0, upper=1> pointwise;  // 1: write log_lik and y_rep
  int<lower=0, upper=1> centred;    // 1: group effects sampled centred
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;         // like X, on X's scale
  vector[N_pred] log_exposure_pred; // their offsets
  // group of each row; 0: a group not in the data
  array[N_pred] int<lower=0, upper=J> group_pred;
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
  real<lower=0> sigma_group;        // sd of the group effects b1
  vector[N] z;                      // epsilon / sigma
  vector[J] u;                      // b1 / sigma_group; centred: alpha_c + b1
}
model {
  alpha_c ~ normal(0, alpha_prior_sd);
  beta_std ~ normal(0, beta_prior_sd);
  sigma ~ exponential(scale_prior_rate);
  sigma_group ~ exponential(scale_prior_rate);
  z ~ std_normal();
  if (centred) {
    u ~ normal(alpha_c, sigma_group);
  } else {
    u ~ std_normal();
  }
  if (!prior_only) {
    // poisson_log_glm (analytic gradients): its vector intercept carries the
    // offset and both random effects
    if (centred) {
      y ~ poisson_log_glm(X_std, log_exposure + u[group] + sigma * z,
                          beta_std);
    } else {
      y ~ poisson_log_glm(X_std, log_exposure + alpha_c
                                 + sigma_group * u[group] + sigma * z,
                          beta_std);
    }
  }
}
generated quantities {
  vector[K] beta = beta_std ./ x_sd;                  // original scale
  real alpha = alpha_c - dot_product(x_mean, beta);
  vector[J] b1;                                       // group effects
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (centred) {
    b1 = u - alpha_c;
  } else {
    b1 = sigma_group * u;
  }
  if (pointwise) {
    // linear predictor without epsilon
    vector[N] eta = log_exposure + alpha_c + b1[group] + X_std * beta_std;
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
    for (i in 1:N_pred) {
      // the row's group effect: fitted, or a new group's from the population
      if (group_pred[i] > 0) {
        eta_pred[i] += b1[group_pred[i]];
      } else {
        eta_pred[i] += normal_rng(0, sigma_group);
      }
      y_pred[i] = poisson_log_safe_rng(eta_pred[i] + normal_rng(0, sigma));
    }
    mu_pred = exp(eta_pred + square(sigma) / 2);      // lognormal mean
  }
}
