// Probit regression: the notes' latent-variable model, fitted with the
// latent variables integrated out.
//
// Model (notes, "Probit as a latent variable model"; Albert & Chib 1993):
//   u_i ~ N(alpha + X_i beta, 1),  y_i = 1 if u_i > 0 and 0 otherwise,
// so Pr(y_i = 1) = Pr(u_i > 0) = Phi(alpha + X_i beta), i = 1..N, and
//   y_i ~ Bernoulli(Phi(alpha + X_i beta)).
// X (N x K) has no intercept column; alpha is the intercept.
// Prior: alpha ~ N(0, prior_sd^2), beta_k ~ N(0, prior_sd^2) independently:
//   the conjugate normal prior b ~ N(b0, B0) of the Albert-Chib Gibbs
//   sampler with b0 = 0 and B0 = prior_sd^2 I, so NUTS and Gibbs target the
//   same posterior (the example's default is prior_sd = 10).
// Likelihood on the log scale: with s_i = 2 y_i - 1,
//   log Pr(y_i) = log Phi(s_i eta_i),  eta_i = alpha + X_i beta
// (std_normal_lcdf), which stays finite where Phi(eta) rounds to 0 or 1.
// Generated: p_new[g] = Phi(alpha + X_new[g] beta) for the G covariate
//   patterns in X_new, and (pointwise = 1) log_lik[i] and
//   y_rep[i] ~ Bernoulli(Phi(eta_i)).
// Predictions: the N_pred rows X_pred, trials_pred (data, empty while
//   sampling; filled for generate_quantities) get mu_pred = Phi(alpha +
//   X_pred beta) and y_pred ~ Binomial(trials_pred, mu_pred), per draw.
// Switches: prior_only = 1 drops the likelihood (prior predictive draws);
//   pointwise = 1 writes log_lik (for LOO) and y_rep (replicated data).
// Data: Crowder (1978) Orobanche seed germination (BUGS Examples Vol. 1
//   "Seeds", data/seeds.csv), one Bernoulli row per seed; the columns of X
//   are seed type, root extract and their product.
//   With --formula (a user's data): any 0/1 rows, X the formula's common
//   terms standardised by the driver (pystan_models/probit.py).
data {
  int<lower=0> N;                      // rows (seeds)
  int<lower=1> K;                      // predictors (no intercept column)
  matrix[N, K] X;                      // design matrix
  array[N] int<lower=0, upper=1> y;    // 1 = germinated
  real<lower=0> prior_sd;              // sd of the normal prior
  int<lower=1> G;                      // covariate patterns for predictions
  matrix[G, K] X_new;                  // their predictor values
  int<lower=0, upper=1> prior_only;    // 1: leave the likelihood out
  int<lower=0, upper=1> pointwise;     // 1: write log_lik and y_rep
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;            // like X
  array[N_pred] int<lower=1> trials_pred;  // 1 for a 0/1 row
}
transformed data {
  vector[N] sign_y = 2 * to_vector(y) - 1;   // s_i = +1 or -1
}
parameters {
  real alpha;                          // intercept
  vector[K] beta;                      // coefficients on the probit scale
}
model {
  // prior: normal(0, prior_sd) on every coefficient (conjugate for Gibbs)
  alpha ~ normal(0, prior_sd);
  beta ~ normal(0, prior_sd);
  // likelihood: y_i ~ Bernoulli(Phi(eta_i)), as sum_i log Phi(s_i eta_i)
  if (!prior_only) {
    target += std_normal_lcdf(sign_y .* (alpha + X * beta));
  }
}
generated quantities {
  vector[G] p_new = Phi(alpha + X_new * beta);  // Pr(germinate | pattern)
  // per-row log-likelihood and replicated outcome, when asked for: they are
  // 2N values per draw, and writing them dominates the run time
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta = alpha + X * beta;
    for (i in 1:N) {
      log_lik[i] = std_normal_lcdf(sign_y[i] * eta[i]);
      y_rep[i] = bernoulli_rng(Phi(eta[i]));
    }
  }
  // predictions for the rows X_pred
  vector[N_pred] mu_pred;              // probability of success
  array[N_pred] int y_pred;            // successes of trials_pred
  if (N_pred > 0) {
    mu_pred = Phi(alpha + X_pred * beta);
    y_pred = binomial_rng(trials_pred, mu_pred);
  }
}
