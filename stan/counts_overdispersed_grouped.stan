// Overdispersed Poisson regression with a group (patient) random effect:
// Breslow & Clayton (1993) model III, the BUGS "Epil" example.
//
// Notes, "Count data: overdispersion", with a second level:
//   y_i ~ Poisson(mu_i),
//   log(mu_i) = log(u_i) + alpha + X_i beta + b1_{g[i]} + epsilon_i,
//   b1_j ~ normal(0, sigma_group^2)     (subject effect; BUGS b1, sigma.b1)
//   epsilon_i ~ normal(0, sigma^2)      (subject-by-visit; BUGS b, sigma.b)
// Both effects are non-centred (b1_j = sigma_group * u_j,
// epsilon_i = sigma * z_i).  Predictors are standardised in transformed
// data (BUGS centres them; the slopes are the same); priors
//   alpha_c ~ normal(0, 5), beta_std ~ normal(0, 2.5),
//   sigma, sigma_group ~ exponential(1)
// (BUGS: normal(0, 100^2) on the coefficients and gamma(0.001, 0.001) on
// the precisions; with these data the posterior means agree with the
// published BUGS ones to within 0.2 posterior sd: tests/test_counts.py).
// alpha, beta are recovered on the original scale.  The likelihood uses
// poisson_log_glm, Stan's specialised GLM function (faster than poisson_log
// on alpha + X * beta); its vector intercept carries the offset and both
// random effects.
//
// log_lik[i] is log p(y_i | alpha, beta, sigma, b1), with epsilon_i
// integrated out by adaptive Gauss-Hermite quadrature (conditioning on
// epsilon_i would make PSIS-LOO unreliable); y_rep draws a fresh epsilon_i
// for the same subjects: a replication of new visits.
// Data: epilepsy (Thall & Vail 1990; BUGS Examples Vol. 1 "Epil"); see
// data/README.md.
functions {
  // log of the integral of Poisson(y | exp(eta + sigma * e)) normal(e | 0, 1)
  // over e.  The integrand is centred at its mode e0 (Newton's method on a
  // concave function, started to the right of the root so it converges
  // monotonically) and scaled by its curvature; gh_x, gh_log_w are the
  // Gauss-Hermite nodes and log weights for the weight function exp(-x^2).
  real poisson_lognormal_lpmf(int y, real eta, real sigma, vector gh_x,
                              vector gh_log_w) {
    int Q = rows(gh_x);
    real e0 = y > 0 ? fmax(0, (log(y) - eta) / sigma) : 0;
    real s;
    vector[Q] e;
    vector[Q] log_rate;
    for (iter in 1:100) {
      real m = exp(eta + sigma * e0);
      real step = (sigma * (y - m) - e0) / (square(sigma) * m + 1);
      e0 += step;
      if (square(step) < 1e-20) {
        break;
      }
    }
    // sqrt(2) times the sd of the Laplace approximation at e0
    s = sqrt(2 / (square(sigma) * exp(eta + sigma * e0) + 1));
    e = e0 + s * gh_x;
    log_rate = eta + sigma * e;
    return log(s) + log_sum_exp(gh_log_w + square(gh_x)
                                + y * log_rate - exp(log_rate) - lgamma(y + 1)
                                - 0.5 * square(e) - 0.5 * log(2 * pi()));
  }
}
data {
  int<lower=1> N;                   // observations
  int<lower=1> K;                   // predictors (no intercept column)
  matrix[N, K] X;                   // predictors, original scale
  vector[N] log_exposure;           // offset log(u_i)
  array[N] int<lower=0> y;          // counts
  int<lower=1> J;                   // groups (patients)
  array[N] int<lower=1, upper=J> group;
  int<lower=1> Q;                   // Gauss-Hermite nodes for log_lik
  vector[Q] gh_x;
  vector[Q] gh_log_w;
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
  real<lower=0> sigma;              // sd of epsilon
  real<lower=0> sigma_group;        // sd of the group effects b1
  vector[N] z;                      // epsilon / sigma
  vector[J] u;                      // b1 / sigma_group
}
model {
  alpha_c ~ normal(0, 5);
  beta_std ~ normal(0, 2.5);
  sigma ~ exponential(1);
  sigma_group ~ exponential(1);
  z ~ std_normal();
  u ~ std_normal();
  y ~ poisson_log_glm(Z, log_exposure + alpha_c + sigma_group * u[group]
                         + sigma * z, beta_std);
}
generated quantities {
  vector[K] beta = beta_std ./ x_sd;                  // original scale
  real alpha = alpha_c - dot_product(x_mean, beta);
  vector[J] b1 = sigma_group * u;                     // group effects
  vector[N] log_lik;
  array[N] int y_rep;
  {
    // linear predictor without epsilon
    vector[N] eta = log_exposure + alpha_c + b1[group] + Z * beta_std;
    for (i in 1:N) {
      log_lik[i] = poisson_lognormal_lpmf(y[i] | eta[i], sigma, gh_x,
                                          gh_log_w);
      // a log rate beyond max_log_rate (about 1e9) is capped, not thrown
      y_rep[i] = poisson_log_rng(fmin(eta[i] + normal_rng(0, sigma),
                                      max_log_rate));
    }
  }
}
