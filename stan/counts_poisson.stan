// Poisson regression with a log link and an exposure offset.
//
// Notes, "Count data: Poisson regression":
//   y_i ~ Poisson(mu_i),  log(mu_i) = log(u_i) + alpha + X_i beta,
// where u_i is the exposure (log(u_i) is the offset; 0 when there is none).
// The K predictors are standardised in transformed data, so the priors are
// weakly informative on a common scale:
//   alpha_c ~ normal(0, 5)        (log rate at the predictor means, u = 1)
//   beta_std ~ normal(0, 2.5)     (change in log rate per predictor sd)
// and alpha, beta are recovered on the original scale in generated
// quantities.  The likelihood uses poisson_log_glm, Stan's specialised GLM
// function (analytic gradients, faster than poisson_log(alpha + X * beta));
// its intercept may be a vector, which carries the offset.
// Data: roaches (Gelman & Hill 2007, section 6.2), epilepsy (Thall & Vail
// 1990); see data/README.md.
data {
  int<lower=1> N;                   // observations
  int<lower=1> K;                   // predictors (no intercept column)
  matrix[N, K] X;                   // predictors, original scale
  vector[N] log_exposure;           // offset log(u_i)
  array[N] int<lower=0> y;          // counts
}
transformed data {
  // poisson_log_rng throws for a log rate above 30 log(2) = 20.79
  real max_log_rate = 20.7;
  vector[K] x_mean;
  vector[K] x_sd;
  matrix[N, K] Z;                   // standardised predictors
  for (k in 1:K) {
    x_mean[k] = mean(X[, k]);
    x_sd[k] = sd(X[, k]);
    Z[, k] = (X[, k] - x_mean[k]) / x_sd[k];
  }
}
parameters {
  real alpha_c;                     // intercept at the predictor means
  vector[K] beta_std;               // coefficients per predictor sd
}
model {
  alpha_c ~ normal(0, 5);
  beta_std ~ normal(0, 2.5);
  y ~ poisson_log_glm(Z, log_exposure + alpha_c, beta_std);
}
generated quantities {
  vector[K] beta = beta_std ./ x_sd;                  // original scale
  real alpha = alpha_c - dot_product(x_mean, beta);
  vector[N] log_lik;
  array[N] int y_rep;
  {
    vector[N] eta = log_exposure + alpha_c + Z * beta_std;
    for (i in 1:N) {
      log_lik[i] = poisson_log_lpmf(y[i] | eta[i]);
      // a log rate beyond max_log_rate (about 1e9) is capped, not thrown
      y_rep[i] = poisson_log_rng(fmin(eta[i], max_log_rate));
    }
  }
}
