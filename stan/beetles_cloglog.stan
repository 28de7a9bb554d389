// Beetle mortality (Bliss 1935): binomial regression of deaths on log dose
// with the complementary log-log link and the notes' flat prior.
//
// Model (notes, "Binomial GLM: choice of link function"):
//   y_i ~ Binomial(n_i, p_i),  log(-log(1 - p_i)) = alpha + beta * x_i,
//   for the i = 1..N dose groups: x_i = X[i, 1] the log10 concentration of
//   CS2 (log10 mg/l), n_i = trials[i] beetles exposed, y_i beetles killed.
// Prior: with prior_sd = 0 (the default), p(alpha, beta) proportional to 1
//   (flat, improper), as in the notes.  With prior_sd > 0 (for prior
//   predictive draws and simulation-based calibration) the proper prior
//   alpha_c ~ N(0, prior_sd^2), beta ~ N(0, prior_sd^2) replaces it.
//   Under the flat prior the posterior is proper only when the maximum-
//   likelihood estimate exists: at least two distinct doses, and no dose
//   with no deaths below it and only deaths above it, or the reverse (so
//   not all beetles killed, nor none); and prior_only = 1 has no proper
//   distribution to draw from (no prior predictive distribution).
// Parameterisation: (alpha_c, beta) are sampled on the centred dose
//   x_i - mean(x) (on the original scale the posterior is a long thin
//   ridge); alpha = alpha_c - beta * mean(x) in generated quantities.
// Generated: p_hat[i] = E(y_i / n_i | x_i), p_grid on the doses X_grid, and
//   (pointwise = 1) log_lik[i] and y_rep[i] ~ Binomial(n_i, p_hat[i]).
// Data: Bliss (1935), as tabulated in Dobson (1990), An Introduction to
//   Generalized Linear Models, and BUGS Examples Vol. 2 "Beetles"
//   (data/beetles.csv).
functions {
#include binomial_links.stanfunctions
}
data {
  int<lower=1> N;                    // dose groups
  int<lower=1, upper=1> K;           // predictors: the log dose only
  matrix[N, K] X;                    // x_i = X[i, 1], log10 CS2 dose
  array[N] int<lower=0> trials;      // n_i, beetles exposed
  array[N] int<lower=0> y;           // y_i, beetles killed
  int<lower=1> G;                    // points on the dose-response grid
  matrix[G, K] X_grid;               // doses at which to draw the curve
  real<lower=0> prior_sd;            // 0: the notes' flat prior (default);
                                     // > 0: alpha_c, beta ~ N(0, prior_sd^2)
  int<lower=0, upper=1> prior_only;  // 1: leave the likelihood out
  int<lower=0, upper=1> pointwise;   // 1: write log_lik and y_rep
}
transformed data {
  vector[N] x = col(X, 1);
  real x_mean = mean(x);
  vector[N] x_c = x - x_mean;
}
parameters {
  real alpha_c;  // cloglog of death at the mean dose
  real beta;     // change in cloglog per unit log10 dose
}
model {
  // prior: p(alpha_c, beta) proportional to 1 (nothing adds to target)
  // unless prior_sd > 0
  if (prior_sd > 0) {
    alpha_c ~ normal(0, prior_sd);
    beta ~ normal(0, prior_sd);
  }
  // likelihood: y_i ~ Binomial(n_i, 1 - exp(-exp(alpha + beta x_i))),
  // written with log1m_exp(-exp(eta)) and -exp(eta) so it never rounds
  // to log(0)
  if (!prior_only) {
    target += binomial_cloglog_lpmf(y | trials, alpha_c + beta * x_c);
  }
}
generated quantities {
  real alpha = alpha_c - beta * x_mean;  // intercept on the original scale
  vector[N] p_hat = inv_cloglog(alpha_c + beta * x_c);
  vector[G] p_grid = inv_cloglog(alpha + beta * col(X_grid, 1));
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    for (i in 1:N) {
      log_lik[i] = binomial_cloglog_pointwise(y[i], trials[i],
                                             alpha_c + beta * x_c[i]);
      y_rep[i] = binomial_rng(trials[i], p_hat[i]);
    }
  }
}
