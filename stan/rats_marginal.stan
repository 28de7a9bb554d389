// Rats growth: the conjugate varying-intercepts-and-slopes model with each
// rat's growth line integrated out analytically (same posterior, faster).
//
// Model as in rats_conjugate.stan (notes, "Varying intercepts and slopes";
// Gelfand et al. 1990, section 6):
//   y_i = X_i theta_i + e_i,  X_i = [1, age],  e_i ~ N(0, sigma^2 I),
//   theta_i ~ N(theta_0, Sigma),  sigma^2 ~ IG(a, b),  theta_0 ~ N(eta, C),
//   Sigma ~ Inv-Wishart(rho R, rho).
// Integrating theta_i out gives, for rat i's n_i weighings,
//   y_i ~ MVN(X_i theta_0, V_i),  V_i = X_i Sigma X_i' + sigma^2 I,
// so the sampler sees only theta_0, sigma^2 and Sigma (6 numbers, not 66).
// V_i is never formed: with the notes' D_i^-1 = Sigma^-1 + X_i'X_i / sigma^2,
// r_i = y_i - X_i theta_0 and q_i = X_i' r_i,
//   log |V_i| = n_i log sigma^2 + log |Sigma| + log |D_i^-1|
//   r_i' V_i^-1 r_i = r_i'r_i / sigma^2 - q_i' D_i q_i / sigma^4
// (determinant lemma, Woodbury identity): 2 x 2 algebra on per-rat sums,
// written out elementwise and vectorized over rats, any number of weighings.
// With age uncentred, intercept and slope are strongly correlated a
// posteriori, so NUTS moves in centred coordinates: theta_0c and Sigma_c are
// the population mean and covariance of (weight at the mean age, slope), and
// theta_0 = A theta_0c, Sigma = A Sigma_c A' with A = [1, -mean(x); 0, 1].
// The map is linear with determinant 1 (on theta_0 and on Sigma alike), so
// the priors above apply to theta_0 and Sigma with no Jacobian adjustment.
// Generated quantities draw theta_i from its full conditional (the notes'
// Gibbs step), theta_i ~ N(D_i d_i, D_i), d_i = X_i'y_i / sigma^2 +
// Sigma^-1 theta_0: with the hyperparameter draws, exact joint posterior draws.
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
}
transformed data {
  matrix[2, 2] rho_R = rho * R;
  matrix[2, 2] A = [[1, -mean(x)], [0, 1]];  // centred -> age-0 coefficients
  // per-rat sums: X_i'X_i = [n, sx; sx, sxx], X_i'y_i = [sy; sxy], y_i'y_i
  vector[J] n = rep_vector(0, J);
  vector[J] sx = rep_vector(0, J);
  vector[J] sxx = rep_vector(0, J);
  vector[J] sy = rep_vector(0, J);
  vector[J] sxy = rep_vector(0, J);
  vector[J] syy = rep_vector(0, J);
  for (k in 1:N) {
    n[rat[k]] += 1;
    sx[rat[k]] += x[k];
    sxx[rat[k]] += square(x[k]);
    sy[rat[k]] += y[k];
    sxy[rat[k]] += x[k] * y[k];
    syy[rat[k]] += square(y[k]);
  }
}
parameters {
  vector[2] theta_0c;                   // (weight at mean age, slope)
  real<lower=0> sigma_sq;
  cov_matrix[2] Sigma_c;                // between-rat covariance of those
}
transformed parameters {
  vector[2] theta_0 = A * theta_0c;     // population (intercept, slope)
  cov_matrix[2] Sigma = quad_form_sym(Sigma_c, A');
}
model {
  matrix[2, 2] Sigma_inv = inverse_spd(Sigma);
  // D_i^-1 = [p11, p12; p12, p22] for every rat
  vector[J] p11 = Sigma_inv[1, 1] + n / sigma_sq;
  vector[J] p12 = Sigma_inv[1, 2] + sx / sigma_sq;
  vector[J] p22 = Sigma_inv[2, 2] + sxx / sigma_sq;
  vector[J] det_D_inv = p11 .* p22 - square(p12);
  // q_i = X_i'(y_i - X_i theta_0) and r_i'r_i = |y_i - X_i theta_0|^2
  vector[J] q1 = sy - (n * theta_0[1] + sx * theta_0[2]);
  vector[J] q2 = sxy - (sx * theta_0[1] + sxx * theta_0[2]);
  vector[J] rr = syy - 2 * (sy * theta_0[1] + sxy * theta_0[2])
                 + n * square(theta_0[1]) + 2 * sx * theta_0[1] * theta_0[2]
                 + sxx * square(theta_0[2]);
  vector[J] qDq = (p22 .* square(q1) - 2 * p12 .* q1 .* q2
                   + p11 .* square(q2)) ./ det_D_inv;
  sigma_sq ~ inv_gamma(a, b);
  theta_0 ~ multi_normal(eta, C);
  Sigma ~ inv_wishart(rho, rho_R);
  // sum over rats of log MVN(y_i | X_i theta_0, V_i), constants dropped
  target += -0.5 * (N * log(sigma_sq) + J * log_determinant(Sigma)
                    + sum(log(det_D_inv)))
            - 0.5 * (sum(rr) / sigma_sq - sum(qDq) / square(sigma_sq));
}
generated quantities {
  array[J] vector[2] theta;             // (alpha_i, beta_i)
  real birth_weight;                    // average rat's weight at age 0 (g)
  real daily_gain;                      // average rat's gain (g per day)
  real sigma = sqrt(sigma_sq);
  real sd_alpha = sqrt(Sigma[1, 1]);    // between-rat sd of weight at birth
  real sd_beta = sqrt(Sigma[2, 2]);     // between-rat sd of daily gain
  real corr_theta = Sigma[1, 2] / (sd_alpha * sd_beta);
  vector[N] log_lik;                    // given the drawn theta_i
  array[N] real y_rep;
  birth_weight = theta_0[1];
  daily_gain = theta_0[2];
  {
    matrix[2, 2] Sigma_inv = inverse_spd(Sigma);
    vector[N] mu;
    for (j in 1:J) {
      matrix[2, 2] D = inverse_spd(Sigma_inv
                                   + [[n[j], sx[j]], [sx[j], sxx[j]]]
                                     / sigma_sq);
      theta[j] = multi_normal_rng(D * ([sy[j], sxy[j]]' / sigma_sq
                                       + Sigma_inv * theta_0), D);
    }
    mu = to_vector(theta[rat, 1]) + to_vector(theta[rat, 2]) .* x;
    for (k in 1:N) {
      log_lik[k] = normal_lpdf(y[k] | mu[k], sigma);
    }
    y_rep = normal_rng(mu, sigma);
  }
}
