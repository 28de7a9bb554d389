// Varying-intercept logistic regression: the plain, readable reference.
//
//   y_i ~ Bernoulli(logit^-1(alpha_{g[i]} + x_i' beta)),
//   alpha_j ~ N(mu, tau^2),  j = 1..J,
//   beta_k ~ N(0, 2.5^2), mu ~ N(0, 2.5^2), tau ~ N+(0, 1).
// Non-centred: alpha = mu + tau * z with z ~ N(0, 1), which suits groups
// with few rows.  Used by the benchmark's scaling run on simulated data (a
// fixed seed in pystan_models/bench.py);
// varying_intercept_logistic_fast.stan is the same model written for speed.
data {
  int<lower=1> N;
  int<lower=1> K;
  int<lower=1> J;
  matrix[N, K] X;
  array[N] int<lower=1, upper=J> g;
  array[N] int<lower=0, upper=1> y;
}
parameters {
  real mu;
  real<lower=0> tau;
  vector[J] z;
  vector[K] beta;
}
transformed parameters {
  vector[J] alpha = mu + tau * z;
}
model {
  // priors
  mu ~ normal(0, 2.5);
  tau ~ normal(0, 1);
  beta ~ normal(0, 2.5);
  z ~ std_normal();
  // likelihood
  y ~ bernoulli_logit(alpha[g] + X * beta);
}
