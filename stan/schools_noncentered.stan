// Eight schools (Rubin 1981; BDA3 section 5.5), NON-CENTERED
// parameterization.
//
// Notes, "Random effects and the choice of hyperprior" (BDA3 section 5.5):
// one-way random effects with known standard errors,
//   y_j ~ N(theta_j, sigma_j^2),   sigma_j known,   j = 1, ..., J,
//   theta_j ~ N(mu, tau^2)          (tau is sigma_beta in the notes).
// Priors, chosen by data switches so that one program serves every case:
//   mu:  p(mu) proportional to 1 (flat, as in the notes) when mu_normal = 0;
//        mu ~ N(0, mu_sd^2) when mu_normal = 1.
//   tau, by tau_prior:
//     1: p(tau) proportional to 1 on (0, inf)       (uniform; BDA3 5.5)
//     2: tau^2 ~ Inv-chi^2(nu, s^2), the scaled inverse chi-squared,
//        i.e. Inv-gamma(nu / 2, nu s^2 / 2) on tau^2 (the density of tau
//        includes the Jacobian 2 tau)
//     3: tau ~ half-Cauchy(0, tau_scale)           (weakly informative)
//     4: p(log tau) proportional to 1, i.e. p(tau) proportional to 1 / tau:
//        the posterior is IMPROPER (infinite mass next to tau = 0); fitted
//        only to show how it fails.
// Non-centered: theta is declared with offset = mu and multiplier = tau,
// so the sampler works with eta_j = (theta_j - mu) / tau, whose prior
// N(0, 1) does not depend on tau: no funnel.  schools_centered.stan differs
// only in that one declaration.
// prior_only = 1 drops the likelihood (draws from the prior; y_rep from the
// prior predictive): it needs proper priors (mu_normal = 1, tau_prior 2
// or 3).  pointwise = 1 writes log_lik (for LOO) and y_rep (predictive
// draws); with 0 both are empty.
// Data: Rubin (1981), BDA3 Table 5.2: coaching effects on SAT-V scores in
// 8 schools and their standard errors (data/eight_schools.csv,
// data/README.md).
data {
  int<lower=1> J;                      // schools
  vector[J] y;                         // estimated coaching effects y_j
  vector<lower=0>[J] sigma;            // their known standard errors sigma_j
  int<lower=0, upper=1> mu_normal;     // 0: p(mu) flat; 1: mu ~ N(0, mu_sd^2)
  real<lower=0> mu_sd;                 // sd of the normal prior on mu
  int<lower=1, upper=4> tau_prior;     // hyperprior on tau, numbered as above
  real<lower=0> nu;                    // Inv-chi^2 degrees of freedom
  real<lower=0> s;                     // Inv-chi^2 scale (tau^2 near s^2)
  real<lower=0> tau_scale;             // half-Cauchy scale
  int<lower=0, upper=1> prior_only;    // 1: ignore the likelihood
  int<lower=0, upper=1> pointwise;     // 1: write log_lik and y_rep
}
parameters {
  real mu;                                    // population mean effect
  real<lower=0> tau;                          // between-school sd
  vector<offset=mu, multiplier=tau>[J] theta; // school effects (non-centered)
}
model {
  // hyperprior on mu; with mu_normal == 0 it is flat: nothing is added
  if (mu_normal == 1) {
    mu ~ normal(0, mu_sd);
  }
  // hyperprior on tau; tau_prior == 1 is flat on tau: nothing is added
  if (tau_prior == 2) {
    // density of tau^2, times the Jacobian |d tau^2 / d tau| = 2 tau
    target += scaled_inv_chi_square_lpdf(square(tau) | nu, s) + log(tau);
  } else if (tau_prior == 3) {
    tau ~ cauchy(0, tau_scale);  // half-Cauchy: tau is constrained positive
  } else if (tau_prior == 4) {
    target += -log(tau);         // flat on log tau: the improper case
  }
  theta ~ normal(mu, tau);
  if (!prior_only) {
    y ~ normal(theta, sigma);
  }
}
generated quantities {
  vector[pointwise ? J : 0] log_lik;
  array[pointwise ? J : 0] real y_rep;
  if (pointwise) {
    y_rep = normal_rng(theta, sigma);
    for (j in 1:J) {
      log_lik[j] = normal_lpdf(y[j] | theta[j], sigma[j]);
    }
  }
}
