// Varying-intercept logistic regression on a user's data, with the weakly
// informative prior of Gelman, Jakulin, Pittau & Su (2008) on the common
// terms: separation --formula "y ~ x1 + x2 + (1 | g)".
//
// Model (the notes' random-intercept logistic regression, with Z gamma a
// single cluster of group intercepts):
//   y_i ~ Binomial(n_i, logit^-1(alpha_z[g[i]] + Z_i beta_z)),  i = 1..N,
//   alpha_z[j] ~ N(mu_z, tau^2),  j = 1..J,
//   Z: the inputs X shifted and scaled as in logistic_weakly_informative.stan
//      (binary inputs centred, others centred and divided by 2 sd).
// Rows: n_i = 1 for 0/1 rows (the Bernoulli GLM function); the 0/1 rows
//   that share a covariate pattern and group summed to y_i successes in n_i
//   trials otherwise (the same likelihood up to a constant).
// Priors: beta_z,k ~ Student-t(prior_df, 0, prior_scale) (Cauchy(0, 2.5) by
//   default), mu_z ~ Cauchy(0, intercept_scale) (10), tau ~ exponential(
//   tau_rate) (1, rstanarm's default for a group sd on the logit scale).
// centred = 1: the alpha_z[j] are the parameters (data-rich groups);
//   centred = 0: alpha_z = mu_z + tau * u, u ~ N(0, 1) (sparse groups); the
//   driver picks one by pystan_models/centring.py's rule.
// The likelihood runs in reduce_sum slices of at least grainsize rows, in
//   parallel when compiled with STAN_THREADS and sampled with several
//   threads per chain.
// Generated: the original-scale coefficients beta = beta_z ./ scale, the
//   mean intercept alpha = mu_z - centre' beta and the group intercepts
//   alpha_group,
//   and (pointwise = 1) log_lik[i] and y_rep[i].
// Predictions: the N_pred rows X_pred, trials_pred, group_pred (data, empty
//   while sampling; filled for generate_quantities) get mu_pred, the
//   probability of success, and y_pred ~ Binomial(trials_pred, mu_pred),
//   per draw; group_pred = 0, a group not in the data, draws a new
//   intercept alpha_z ~ N(mu_z, tau^2) for the row.
functions {
#include standardise.stanfunctions
#include binomial_rows.stanfunctions

  real partial_sum_lpmf(array[] int y_slice, int start, int end,
                        array[] int trials, int bernoulli, matrix Z,
                        array[] int group, vector alpha_z, vector beta_z) {
    if (bernoulli) {
      return bernoulli_logit_glm_lupmf(y_slice | Z[start:end],
                                       alpha_z[group[start:end]], beta_z);
    }
    return binomial_logit_lupmf(y_slice | trials[start:end],
                                alpha_z[group[start:end]]
                                + Z[start:end] * beta_z);
  }
}
data {
  int<lower=1> N;                        // rows (or covariate patterns)
  int<lower=1> K;                        // inputs (no intercept column)
  matrix[N, K] X;                        // inputs on their original scale
  array[K] int<lower=0, upper=1> binary; // 1 if input k takes only 0 and 1
  array[N] int<lower=1> trials;          // 1 per 0/1 row
  array[N] int<lower=0> y;               // successes
  int<lower=1> J;                        // groups
  array[N] int<lower=1, upper=J> group;  // group of each row
  real<lower=0> prior_df;                // 1 = Cauchy
  real<lower=0> prior_scale;             // 2.5 in Gelman et al. (2008)
  real<lower=0> intercept_scale;         // 10 in Gelman et al. (2008)
  real<lower=0> tau_rate;                // rate of the exponential prior on tau
  int<lower=0, upper=1> centred;         // 1: centred group intercepts
  int<lower=1> grainsize;                // rows per reduce_sum slice, at least
  int<lower=0, upper=1> prior_only;      // 1: leave the likelihood out
  int<lower=0, upper=1> pointwise;       // 1: write log_lik and y_rep
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;              // like X, on X's scale
  array[N_pred] int<lower=1> trials_pred;  // 1 for a 0/1 row
  // group of each row; 0: a group not in the data
  array[N_pred] int<lower=0, upper=J> group_pred;
}
transformed data {
  // the inputs scaled over the 0/1 rows (a pattern counts as its trials)
  int bernoulli = max(trials) == 1;
  vector[K] centre = row_means(X, trials);
  vector[K] scale = row_scales(X, binary, trials, centre);
  matrix[N, K] Z = standardise(X, centre, scale);
}
parameters {
  real mu_z;                             // mean group intercept, scaled inputs
  real<lower=0> tau;                     // sd of the group intercepts
  vector[J] u;                           // alpha_z (centred) or its z-scores
  vector[K] beta_z;                      // coefficients for the scaled inputs
}
transformed parameters {
  vector[J] alpha_z = centred ? u : mu_z + tau * u;   // group intercepts
}
model {
  // priors: Gelman et al. (2008) on the common terms, exponential on tau
  mu_z ~ cauchy(0, intercept_scale);
  beta_z ~ student_t(prior_df, 0, prior_scale);
  tau ~ exponential(tau_rate);
  // the group intercepts, alpha_z[j] ~ N(mu_z, tau^2) in either form
  if (centred) {
    u ~ normal(mu_z, tau);
  } else {
    u ~ std_normal();
  }
  // likelihood, in slices
  if (!prior_only) {
    target += reduce_sum(partial_sum_lupmf, y, grainsize, trials, bernoulli,
                         Z, group, alpha_z, beta_z);
  }
}
generated quantities {
  // coefficients and intercepts on the original scale of the inputs
  vector[K] beta = beta_z ./ scale;
  real alpha = mu_z - dot_product(centre, beta);
  vector[J] alpha_group = alpha_z - dot_product(centre, beta);
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta = alpha_z[group] + Z * beta_z;
    log_lik = logit_rows_log_lik(y, trials, eta);
    y_rep = logit_rows_rng(trials, eta);
  }
  // predictions for the rows X_pred, shifted and scaled as X was
  vector[N_pred] mu_pred;                // probability of success
  array[N_pred] int y_pred;              // successes of trials_pred
  if (N_pred > 0) {
    vector[N_pred] eta_pred = standardise(X_pred, centre, scale) * beta_z;
    for (i in 1:N_pred) {
      // the row's intercept: its group's, or a new group's from N(mu_z, tau^2)
      if (group_pred[i] > 0) {
        eta_pred[i] += alpha_z[group_pred[i]];
      } else {
        eta_pred[i] += normal_rng(mu_z, tau);
      }
    }
    mu_pred = inv_logit(eta_pred);
    y_pred = logit_rows_rng(trials_pred, eta_pred);
  }
}
