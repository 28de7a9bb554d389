// Probit regression, the latent-variable model of the notes, fitted with the
// latent variables integrated out.
//
// Notes, "Probit as a latent variable model" (Albert & Chib 1993):
//   u_i ~ N(alpha + x_i' beta, 1),  y_i = 1 if u_i > 0 and 0 otherwise,
// so Pr(y_i = 1) = Pr(u_i > 0) = Phi(alpha + x_i' beta) and
//   y_i ~ Bernoulli(Phi(alpha + x_i' beta)).
// Prior: alpha, beta_k ~ N(0, prior_sd^2) independently: the conjugate normal
// prior b ~ N(b0, B0) of the Albert-Chib Gibbs sampler with b0 = 0 and
// B0 = prior_sd^2 I, so NUTS and Gibbs target the same posterior.
// Data: Crowder (1978) Orobanche seed germination (BUGS Examples Vol. 1
// "Seeds"), one Bernoulli row per seed; x = (seed type, root extract, their
// product).
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
  vector[K] beta;                      // coefficients on the probit scale
}
model {
  // prior: normal(0, prior_sd) on every coefficient (conjugate for Gibbs)
  alpha ~ normal(0, prior_sd);
  beta ~ normal(0, prior_sd);
  // likelihood: y_i ~ Bernoulli(Phi(alpha + x_i' beta))
  y ~ bernoulli(Phi(alpha + x * beta));
}
generated quantities {
  vector[G] p_new = Phi(alpha + x_new * beta);  // Pr(germinate | pattern)
  // per-seed log-likelihood and replicated outcome, when asked for: they are
  // 2N values per draw, and writing them dominates the run time
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] p = Phi(alpha + x * beta);
    for (i in 1:N) {
      log_lik[i] = bernoulli_lpmf(y[i] | p[i]);
      y_rep[i] = bernoulli_rng(p[i]);
    }
  }
}
