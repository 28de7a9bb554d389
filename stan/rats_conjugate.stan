// Rats growth: varying intercepts and slopes with the conjugate hyperpriors.
//
// Notes, "Varying intercepts and slopes" (Gelfand et al. 1990, section 6):
//   Y_ij ~ N(alpha_i + beta_i x_ij, sigma^2),   x_ij = age in days (uncentred,
//                                               so alpha_i = weight at birth),
//   theta_i = (alpha_i, beta_i)' ~ N(theta_0, Sigma),   i = 1..J,
//   sigma^2 ~ IG(a, b),  theta_0 ~ N(eta, C),  Sigma ~ Inv-Wishart(rho R, rho).
// This is the faithful (centred, inverse Wishart) version that the notes'
// Gibbs sampler targets; the hyperparameters are data so the driver documents
// them (BUGS "Birats": a = b = 0.001, C = 1e6 I, rho = 2, rho R = diag(200,
// 0.2)).  Stan's inv_wishart(nu, S) has density proportional to
// |Sigma|^(-(nu + 3) / 2) exp(-tr(S Sigma^-1) / 2), so S = rho R.
// Data: Gelfand et al. (1990); BUGS Examples Vol. 1 "Rats", Vol. 2 "Birats".
data {
  int<lower=1> N;                       // weighings
  int<lower=1> J;                       // rats
  array[N] int<lower=1, upper=J> rat;   // rat of weighing n
  vector[N] x;                          // age in days
  vector[N] y;                          // weight in grams
  real<lower=0> a;                      // sigma^2 ~ IG(a, b)
  real<lower=0> b;
  vector[2] eta;                        // theta_0 ~ N(eta, C)
  cov_matrix[2] C;
  real<lower=1> rho;                    // Sigma ~ Inv-Wishart(rho R, rho)
  cov_matrix[2] R;
  int<lower=0, upper=1> pointwise;      // 1: write log_lik and y_rep (N each)
}
transformed data {
  matrix[2, 2] rho_R = rho * R;
}
parameters {
  array[J] vector[2] theta;             // (alpha_i, beta_i)
  vector[2] theta_0;                    // population (intercept, slope)
  real<lower=0> sigma_sq;
  cov_matrix[2] Sigma;
}
model {
  vector[J] alpha = to_vector(theta[:, 1]);
  vector[J] beta = to_vector(theta[:, 2]);
  // conjugate hyperpriors of the notes (vague: see the data block)
  sigma_sq ~ inv_gamma(a, b);
  theta_0 ~ multi_normal(eta, C);
  Sigma ~ inv_wishart(rho, rho_R);
  // population distribution of the rats' growth lines
  theta ~ multi_normal(theta_0, Sigma);
  // likelihood
  y ~ normal(alpha[rat] + beta[rat] .* x, sqrt(sigma_sq));
}
generated quantities {
  real birth_weight;                    // average rat's weight at age 0 (g)
  real daily_gain;                      // average rat's gain (g per day)
  real sigma = sqrt(sigma_sq);
  real sd_alpha = sqrt(Sigma[1, 1]);    // between-rat sd of weight at birth
  real sd_beta = sqrt(Sigma[2, 2]);     // between-rat sd of daily gain
  real corr_theta = Sigma[1, 2] / (sd_alpha * sd_beta);
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] real y_rep;
  birth_weight = theta_0[1];
  daily_gain = theta_0[2];
  if (pointwise) {
    vector[N] mu = to_vector(theta[rat, 1]) + to_vector(theta[rat, 2]) .* x;
    for (n in 1:N) {
      log_lik[n] = normal_lpdf(y[n] | mu[n], sigma);
    }
    y_rep = normal_rng(mu, sigma);
  }
}
