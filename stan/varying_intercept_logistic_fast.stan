// Varying-intercept logistic regression written for speed: the same model,
// priors and data as varying_intercept_logistic.stan,
//   y_i ~ Bernoulli(logit^-1(alpha_{group[i]} + X_i beta)),  i = 1..N,
//   alpha_j ~ N(mu, tau^2),  j = 1..J,
//   mu ~ N(0, 2.5^2),  beta_k ~ N(0, 2.5^2),  tau ~ half-normal(0, 1),
// X without an intercept column, with three changes:
// - bernoulli_logit_glm: one fused, analytically differentiated likelihood;
// - reduce_sum: the likelihood is split into slices of at least grainsize
//   rows that run on several threads within a chain (compile with
//   STAN_THREADS, sample with threads_per_chain; without threads the slices
//   run in turn and give the same posterior);
// - centred alpha: with about 100 rows per group the data identify each
//   alpha_j well, and the centred form mixes better than the non-centred one.
//
// Data: simulated, with a fixed seed (pystan_models/bench.py, the
// benchmark's scaling run).
//
// Switches: prior_only = 1 drops the likelihood (prior predictive draws);
// pointwise = 1 writes log_lik (for LOO) and y_rep (replicated data).
functions {
  real partial_sum_lpmf(array[] int y_slice, int start, int end,
                        matrix X, array[] int group, vector alpha,
                        vector beta) {
    return bernoulli_logit_glm_lupmf(y_slice | X[start:end],
                                     alpha[group[start:end]], beta);
  }
}
data {
  int<lower=1> N;                          // rows
  int<lower=1> K;                          // predictors
  matrix[N, K] X;                          // design, no intercept column
  array[N] int<lower=0, upper=1> y;        // binary outcome
  int<lower=1> J;                          // groups
  array[N] int<lower=1, upper=J> group;    // group of each row
  int<lower=0, upper=1> prior_only;        // 1: ignore the likelihood
  int<lower=0, upper=1> pointwise;         // 1: write log_lik and y_rep
  int<lower=1> grainsize;                  // rows per slice, at least
}
parameters {
  real mu;                                 // mean group intercept
  real<lower=0> tau;                       // sd of the group intercepts
  vector[J] alpha;                         // group intercepts
  vector[K] beta;                          // coefficients of X
}
model {
  // priors
  mu ~ normal(0, 2.5);
  tau ~ normal(0, 1);
  beta ~ normal(0, 2.5);
  alpha ~ normal(mu, tau);
  // likelihood, in parallel slices
  if (!prior_only) {
    target += reduce_sum(partial_sum_lupmf, y, grainsize, X, group, alpha,
                         beta);
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
