// One-way random-effects model for grouped data and its intraclass
// correlation.
//
// Notes, "Grouped data and the intraclass correlation":
//   Y_i ~ N(beta_{j[i]}, sigma^2),          i = 1..N
//   beta_j ~ N(alpha, sigma_beta^2),         j = 1..J
//   rho = sigma_beta^2 / (sigma^2 + sigma_beta^2),
// the correlation between two observations in the same group.
// Priors: p(alpha) proportional to 1 (flat, as in the notes);
// sigma, sigma_beta ~ half-normal(0, s) with s = scale_prior_sd from the
// driver (for log radon, 1: the total sd of y is 0.85, so s = 1 is weakly
// informative and the 85 counties dominate it).
// Non-centred: beta_j = alpha + sigma_beta * eta_j, because most groups are
// small (median 5 houses a county) and sigma_beta is small against sigma.
// Data: Minnesota household radon, log pCi/L, 919 houses in 85 counties
// (EPA SRRS, as in Gelman & Hill 2007, ch. 12).
data {
  int<lower=1> N;                         // observations (houses)
  int<lower=1> J;                         // groups (counties)
  array[N] int<lower=1, upper=J> group;   // j[i]
  vector[N] y;                            // Y_i
  real<lower=0> scale_prior_sd;           // s, half-normal scale of sigmas
  int<lower=0, upper=1> prior_only;       // 1: ignore the likelihood
}
parameters {
  real alpha;                 // population mean of the group means
  real<lower=0> sigma_beta;   // between-group sd
  real<lower=0> sigma;        // within-group sd
  vector[J] eta;              // standardized group effects
}
transformed parameters {
  vector[J] beta = alpha + sigma_beta * eta;   // group means
}
model {
  // p(alpha) proportional to 1: nothing adds to target.
  sigma_beta ~ normal(0, scale_prior_sd);
  sigma ~ normal(0, scale_prior_sd);
  eta ~ std_normal();
  if (!prior_only) {
    y ~ normal(beta[group], sigma);
  }
}
generated quantities {
  real rho = square(sigma_beta) / (square(sigma) + square(sigma_beta));
  vector[N] log_lik;
  array[N] real y_rep = normal_rng(beta[group], sigma);
  for (i in 1:N) {
    log_lik[i] = normal_lpdf(y[i] | beta[group[i]], sigma);
  }
}
