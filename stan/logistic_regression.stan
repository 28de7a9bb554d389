// Logistic regression: the logit counterpart of probit_regression.stan,
// with the same data, predictors and prior.
//
// Model (notes, "Probit as a latent variable model", the comparison with
// the logit):
//   y_i ~ Bernoulli(logit^-1(alpha + X_i beta)),  i = 1..N;
// equivalently u_i ~ Logistic(alpha + X_i beta, 1), y_i = 1 if u_i > 0.
// The logistic distribution has sd pi / sqrt(3) = 1.81, against 1 for the
// probit's normal, so logit coefficients are about 1.6-1.8 times the probit
// ones.  X (N x K) has no intercept column; alpha is the intercept.
// Prior: alpha ~ N(0, prior_sd^2), beta_k ~ N(0, prior_sd^2) independently
//   (the example's default is prior_sd = 10, as for the probit).
// Generated: p_new[g] = logit^-1(alpha + X_new[g] beta) for the G covariate
//   patterns in X_new, and (pointwise = 1) log_lik[i] and
//   y_rep[i] ~ Bernoulli(logit^-1(alpha + X_i beta)).
// Predictions: the N_pred rows X_pred, trials_pred (data, empty while
//   sampling; filled for generate_quantities) get mu_pred = logit^-1(alpha
//   + X_pred beta) and y_pred ~ Binomial(trials_pred, mu_pred), per draw.
// Switches: prior_only = 1 drops the likelihood (prior predictive draws);
//   pointwise = 1 writes log_lik (for LOO) and y_rep (replicated data).
// Data: Crowder (1978) Orobanche seed germination (BUGS Examples Vol. 1
//   "Seeds", data/seeds.csv), one Bernoulli row per seed.
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
parameters {
  real alpha;                          // intercept
  vector[K] beta;                      // coefficients on the logit scale
}
model {
  // prior: normal(0, prior_sd) on every coefficient, as in the probit fit
  alpha ~ normal(0, prior_sd);
  beta ~ normal(0, prior_sd);
  // likelihood: y_i ~ Bernoulli(logit^-1(alpha + X_i beta))
  if (!prior_only) {
    y ~ bernoulli_logit_glm(X, alpha, beta);
  }
}
generated quantities {
  vector[G] p_new = inv_logit(alpha + X_new * beta);  // Pr(germinate)
  // per-row log-likelihood and replicated outcome, when asked for: they are
  // 2N values per draw, and writing them dominates the run time
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta = alpha + X * beta;
    for (i in 1:N) {
      log_lik[i] = bernoulli_logit_lpmf(y[i] | eta[i]);
      y_rep[i] = bernoulli_logit_rng(eta[i]);
    }
  }
  // predictions for the rows X_pred
  vector[N_pred] mu_pred;              // probability of success
  array[N_pred] int y_pred;            // successes of trials_pred
  if (N_pred > 0) {
    mu_pred = inv_logit(alpha + X_pred * beta);
    y_pred = binomial_rng(trials_pred, mu_pred);
  }
}
