// Logistic regression with the weakly informative prior of Gelman, Jakulin,
// Pittau & Su (2008), which keeps estimates finite under separation.
//
// Notes, "The problem of separation":
//   y_i ~ Bernoulli(logit^-1(alpha + z_i' beta_z)),
//   z: binary inputs centred (mean 0, still differing by 1), other inputs
//      scaled to mean 0 and sd 0.5,
//   beta_z,k ~ Student-t(prior_df, 0, prior_scale)  (Cauchy(0, 2.5) when
//              prior_df = 1, prior_scale = 2.5: the paper's default),
//   alpha_z ~ Cauchy(0, intercept_scale)            (default 10).
// prior_df = 7 gives the Student-t(7, 0, 2.5) alternative, whose lighter tails
// give beta_NV a finite posterior mean.  Under Cauchy(0, 2.5) and separation
// the posterior is proper but its tail in the separated direction is the
// prior's Cauchy tail, so its mean is infinite (Ghosh et al. 2018) and NUTS
// explores that tail slowly: read medians and intervals, run longer chains.
// Original-scale coefficients are recovered in generated quantities.
// Data: Heinze & Schemper (2002) endometrial cancer grade, 79 patients.
data {
  int<lower=0> N;                        // patients
  int<lower=1> K;                        // inputs (no intercept column)
  matrix[N, K] x;                        // inputs on their original scale
  array[K] int<lower=0, upper=1> binary; // 1 if input k takes only 0 and 1
  array[N] int<lower=0, upper=1> y;      // 1 = high histology grade
  real<lower=0> prior_df;                // 1 = Cauchy
  real<lower=0> prior_scale;             // 2.5 in Gelman et al. (2008)
  real<lower=0> intercept_scale;         // 10 in Gelman et al. (2008)
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
  // prior: Gelman et al. (2008)
  alpha_z ~ cauchy(0, intercept_scale);
  beta_z ~ student_t(prior_df, 0, prior_scale);
  // likelihood
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
