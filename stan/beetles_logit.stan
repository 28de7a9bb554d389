// Beetle mortality (Bliss 1935): binomial regression of deaths on log dose
// (or, for a user's data, on K >= 1 predictors)
// with the logit link and the notes' flat prior.
//
// Model (notes, "Binomial GLM: choice of link function"):
//   y_i ~ Binomial(n_i, p_i),  logit(p_i) = alpha + beta * x_i,
//   for the i = 1..N dose groups: x_i = X[i, 1] the log10 concentration of
//   CS2 (log10 mg/l), n_i = trials[i] beetles exposed, y_i beetles killed.
//   For a user's formula, beta * x_i is the row vector X[i] of the K common
//   terms (no intercept column) times the vector beta.
// Prior: with prior_sd = 0 (the default), p(alpha, beta) proportional to 1
//   (flat, improper), as in the notes.  With prior_sd > 0 (for prior
//   predictive draws and simulation-based calibration, and as the data-
//   scaled default for a user's data) the proper prior
//   alpha_c ~ N(0, prior_sd^2), beta[k] ~ N(0, (prior_sd * beta_scale[k])^2)
//   replaces it (beta_scale = 1 for calibration; 1 / sd(x_k) for a user's
//   data, rstanarm's default normal(0, 2.5 / sd(x_k)) when prior_sd = 2.5).
//   Under the flat prior the posterior is proper only when the maximum-
//   likelihood estimate exists: at least two distinct doses, and no dose
//   with no deaths below it and only deaths above it, or the reverse (so
//   not all beetles killed, nor none); and prior_only = 1 has no proper
//   distribution to draw from (no prior predictive distribution).
// Parameterisation: (alpha_c, beta) are sampled on the centred columns
//   X[i, k] - mean(X[, k]) (on the original scale the posterior is a long
//   thin ridge); alpha = alpha_c - mean(X) * beta in generated quantities.
// Generated: p_hat[i] = E(y_i / n_i | x_i), p_grid on the rows of X_grid, and
//   (pointwise = 1) log_lik[i] and y_rep[i] ~ Binomial(n_i, p_hat[i]).
// Predictions: for the N_pred rows of X_pred (with trials_pred), run by
//   generate_quantities on the fitted draws, mu_pred = p and y_pred ~
//   Binomial(trials_pred, p); N_pred = 0 while sampling.
// Data: Bliss (1935), as tabulated in Dobson (1990), An Introduction to
//   Generalized Linear Models, and BUGS Examples Vol. 2 "Beetles"
//   (data/beetles.csv).
data {
  int<lower=1> N;                    // dose groups
  int<lower=1> K;                    // predictors (the notes: 1, log dose)
  matrix[N, K] X;                    // x_i = X[i, 1], log10 CS2 dose
  array[N] int<lower=0> trials;      // n_i, beetles exposed
  array[N] int<lower=0> y;           // y_i, beetles killed
  int<lower=0> G;                    // points on the dose-response grid
  matrix[G, K] X_grid;               // doses at which to draw the curve
  real<lower=0> prior_sd;            // 0: the notes' flat prior (default);
                                     // > 0: alpha_c ~ N(0, prior_sd^2)
  vector<lower=0>[K] beta_scale;     // beta[k] ~ N(0, (prior_sd * this)^2)
  int<lower=0, upper=1> prior_only;  // 1: leave the likelihood out
  int<lower=0, upper=1> pointwise;   // 1: write log_lik and y_rep
  // rows to predict (pystan_models.predict: generate_quantities on the
  // fitted draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;          // like X
  array[N_pred] int<lower=1> trials_pred;
}
transformed data {
  row_vector[K] x_mean;              // column means of X
  matrix[N, K] X_c;                  // X with centred columns
  for (k in 1:K) {
    x_mean[k] = mean(col(X, k));
    X_c[ : , k] = col(X, k) - x_mean[k];
  }
}
parameters {
  real alpha_c;     // log-odds of death at the mean dose
  vector[K] beta;   // change in log-odds per unit of each predictor
                    // (the notes: per unit log10 dose)
}
model {
  // prior: p(alpha_c, beta) proportional to 1 (nothing adds to target)
  // unless prior_sd > 0
  if (prior_sd > 0) {
    alpha_c ~ normal(0, prior_sd);
    beta ~ normal(0, prior_sd * beta_scale);
  }
  // likelihood: y_i ~ Binomial(n_i, logit^-1(alpha + beta x_i))
  // (with K = 1 written as alpha_c + beta[1] * x_c, the arithmetic of the
  // notes' one-predictor program, so the notes' run keeps its exact draws)
  if (!prior_only) {
    if (K == 1) {
      y ~ binomial_logit(trials, alpha_c + beta[1] * col(X_c, 1));
    } else {
      y ~ binomial_logit(trials, alpha_c + X_c * beta);
    }
  }
}
generated quantities {
  real alpha = alpha_c - x_mean * beta;  // intercept on the original scale
  vector[N] p_hat = inv_logit(alpha_c + X_c * beta);
  vector[G] p_grid = inv_logit(alpha + X_grid * beta);
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    for (i in 1:N) {
      log_lik[i] = binomial_logit_lpmf(y[i] | trials[i],
                                      alpha_c + X_c[i] * beta);
      y_rep[i] = binomial_rng(trials[i], p_hat[i]);
    }
  }
  // predictions: p_i for each new row, and y_i ~ Binomial(n_i, p_i)
  vector[N_pred] mu_pred = inv_logit(alpha + X_pred * beta);
  array[N_pred] int y_pred;
  if (N_pred > 0) {
    y_pred = binomial_rng(trials_pred, mu_pred);
  }
}
