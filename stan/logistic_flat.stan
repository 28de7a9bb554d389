// FAILING CASE, kept on purpose: logistic regression with flat priors on data
// with quasi-complete separation.  The posterior is improper and the sampler
// cannot converge; compare logistic_weakly_informative.stan.
//
// Notes, "The problem of separation":
//   y_i ~ Bernoulli(logit^-1(alpha + x_i' beta)),
//   p(alpha, beta) proportional to 1.
// When an input separates the outcomes (here every patient with
// neovasculization, NV = 1, has high-grade histology) the likelihood keeps
// rising as beta_NV -> infinity, so the maximum-likelihood estimate is
// infinite and, under a flat prior, so is the posterior mass: the draws of
// beta_NV drift without bound.
// Inputs are shifted and scaled exactly as in the weakly informative program
// (Gelman et al. 2008), so the two programs differ only in the prior.
// Data: Heinze & Schemper (2002) endometrial cancer grade, 79 patients.
data {
  int<lower=0> N;                        // patients
  int<lower=1> K;                        // inputs (no intercept column)
  matrix[N, K] x;                        // inputs on their original scale
  array[K] int<lower=0, upper=1> binary; // 1 if input k takes only 0 and 1
  array[N] int<lower=0, upper=1> y;      // 1 = high histology grade
}
transformed data {
  // binary inputs: centred; other inputs: mean 0 and sd 0.5
  vector[K] centre;
  vector[K] scale;
  matrix[N, K] z;
  for (k in 1:K) {
    centre[k] = mean(x[ : , k]);
    scale[k] = binary[k] ? 1.0 : 2 * sd(x[ : , k]);
    z[ : , k] = (x[ : , k] - centre[k]) / scale[k];
  }
}
parameters {
  real alpha_z;                          // intercept for the scaled inputs
  vector[K] beta_z;                      // coefficients for the scaled inputs
}
model {
  // prior: p(alpha_z, beta_z) proportional to 1 (flat, improper): nothing
  // adds to target.  With separated data the posterior is improper too.
  y ~ bernoulli_logit_glm(z, alpha_z, beta_z);
}
generated quantities {
  // coefficients on the original scale of the inputs
  vector[K] beta = beta_z ./ scale;
  real alpha = alpha_z - dot_product(centre, beta);
  vector[N] log_lik;
  array[N] int y_rep;
  {
    vector[N] eta = alpha_z + z * beta_z;
    for (i in 1:N) {
      log_lik[i] = bernoulli_logit_lpmf(y[i] | eta[i]);
      y_rep[i] = bernoulli_logit_rng(eta[i]);
    }
  }
}
