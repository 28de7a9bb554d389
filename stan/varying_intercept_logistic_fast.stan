// Varying-intercept logistic regression written for speed: the same model as
// varying_intercept_logistic.stan,
//   y_i ~ Bernoulli(logit^-1(alpha_{g[i]} + x_i' beta)),
//   alpha_j ~ N(mu, tau^2), beta_k ~ N(0, 2.5^2), mu ~ N(0, 2.5^2),
//   tau ~ N+(0, 1),
// with three changes:
// - bernoulli_logit_glm: one fused, analytically differentiated likelihood;
// - reduce_sum: the likelihood is split into slices that run on several
//   threads within a chain (compile with STAN_THREADS, sample with
//   threads_per_chain);
// - centred alpha: with about 100 rows per group the data identify each
//   alpha_j well, and the centred form mixes better than the non-centred one.
functions {
  real partial_sum_lpmf(array[] int y_slice, int start, int end,
                        matrix X, array[] int g, vector alpha, vector beta) {
    return bernoulli_logit_glm_lupmf(y_slice | X[start:end],
                                     alpha[g[start:end]], beta);
  }
}
data {
  int<lower=1> N;
  int<lower=1> K;
  int<lower=1> J;
  matrix[N, K] X;
  array[N] int<lower=1, upper=J> g;
  array[N] int<lower=0, upper=1> y;
  int<lower=1> grainsize;  // rows per slice, at least
}
parameters {
  real mu;
  real<lower=0> tau;
  vector[J] alpha;
  vector[K] beta;
}
model {
  // priors
  mu ~ normal(0, 2.5);
  tau ~ normal(0, 1);
  beta ~ normal(0, 2.5);
  alpha ~ normal(mu, tau);
  // likelihood, in parallel slices
  target += reduce_sum(partial_sum_lupmf, y, grainsize, X, g, alpha, beta);
}
