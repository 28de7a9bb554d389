// Logistic regression: the logit counterpart of probit_regression.stan,
// with the same data, predictors and prior.
//
// Notes, "Probit as a latent variable model" (comparison with the logit):
//   y_i ~ Bernoulli(logit^-1(alpha + x_i' beta)),
//   alpha, beta_k ~ N(0, prior_sd^2) independently.
// Equivalently u_i ~ Logistic(alpha + x_i' beta, 1), y_i = 1 if u_i > 0; the
// logistic distribution has sd pi / sqrt(3) = 1.81, against 1 for the probit's
// normal, so logit coefficients are about 1.6-1.8 times the probit ones.
// Data: Crowder (1978) Orobanche seed germination (BUGS Examples Vol. 1
// "Seeds"), one Bernoulli row per seed.
data {
  int<lower=0> N;                      // seeds
  int<lower=1> K;                      // predictors (no intercept column)
  matrix[N, K] x;
  array[N] int<lower=0, upper=1> y;    // 1 = germinated
  real<lower=0> prior_sd;              // sd of the normal prior
  int<lower=1> G;                      // covariate patterns for predictions
  matrix[G, K] x_new;
  int<lower=0, upper=1> pointwise;     // 1: write log_lik and y_rep (N each)
}
parameters {
  real alpha;                          // intercept
  vector[K] beta;                      // coefficients on the logit scale
}
model {
  // prior: normal(0, prior_sd) on every coefficient, as in the probit fit
  alpha ~ normal(0, prior_sd);
  beta ~ normal(0, prior_sd);
  // likelihood: y_i ~ Bernoulli(logit^-1(alpha + x_i' beta))
  y ~ bernoulli_logit_glm(x, alpha, beta);
}
generated quantities {
  vector[G] p_new = inv_logit(alpha + x_new * beta);  // Pr(germinate)
  // per-seed log-likelihood and replicated outcome, when asked for: they are
  // 2N values per draw, and writing them dominates the run time
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta = alpha + x * beta;
    for (i in 1:N) {
      log_lik[i] = bernoulli_logit_lpmf(y[i] | eta[i]);
      y_rep[i] = bernoulli_logit_rng(eta[i]);
    }
  }
}
