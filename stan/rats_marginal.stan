// Rats growth: the conjugate varying-intercepts-and-slopes model with each
// rat's growth line integrated out analytically (same posterior, faster).
//
// Model as in rats_conjugate.stan (notes, "Varying intercepts and slopes";
// Gelfand et al. 1990, section 6), for rat j = 1..J and its n_j weighings
// y_j (the rows n with group[n] = j):
//   y_j = X_j theta_j + e_j,  X_j = [1, age],  e_j ~ N(0, sigma^2 I),
//   theta_j = (alpha_j, beta_j)' ~ N(theta_0, Sigma),
// age = X[n, 1] in days, uncentred (alpha_j is the weight at birth).
// Priors (conjugate; the hyperparameters are data):
//   sigma^2 ~ Inv-Gamma(a, b),  theta_0 ~ N(eta, C),
//   Sigma ~ Inv-Wishart(rho R, rho)   (density proportional to
//   |Sigma|^(-(rho + 3) / 2) exp(-tr(rho R Sigma^-1) / 2), as in Stan);
// the driver passes BUGS "Birats"'s vague values: a = b = 0.001, eta = 0,
// C = 10^6 I, rho = 2, rho R = diag(200, 0.2).
// For a user's data (the formula path, y ~ x + (x | g)) it passes
// hyperparameters chosen from the data's scale (pystan_models/rats.py,
// user_hyper).
// Centred coordinates.  With age uncentred, intercept and slope are strongly
// correlated a posteriori, so the program works with Xc_j = X_j A = [1, age -
// mean age], A = [1, -x_bar; 0, 1]: theta_0c = A^-1 theta_0 is (weight at the
// mean age, slope) and Sigma_c = A^-1 Sigma A^-T.  A linear map with
// determinant 1 carries the priors over exactly, with no Jacobian:
//   theta_0c ~ N(A^-1 eta, A^-1 C A^-T),
//   Sigma_c ~ Inv-Wishart(A^-1 rho R A^-T, rho)   (same degrees of freedom).
// Integrating theta_j out gives, for rat j's n_j weighings,
//   y_j ~ MVN(Xc_j theta_0c, V_j),  V_j = Xc_j Sigma_c Xc_j' + sigma^2 I,
// so the sampler sees only theta_0c, sigma^2 and Sigma_c (6 numbers, not 66).
// V_j is never formed: with the notes' D_j^-1 = Sigma_c^-1 + Xc_j'Xc_j /
// sigma^2, r_j = y_j - Xc_j theta_0c and q_j = Xc_j' r_j,
//   log |V_j| = n_j log sigma^2 + log |Sigma_c| + log |D_j^-1|
//   r_j' V_j^-1 r_j = r_j'r_j / sigma^2 - q_j' D_j q_j / sigma^4
// (determinant lemma, Woodbury identity): 2 x 2 algebra on per-rat sums.
// Rats weighed at the same ages share Xc_j'Xc_j, hence D_j and |V_j|; the
// program groups them into G designs and sums the quadratic forms over each
// design's rats through sufficient statistics, so a gradient costs O(G)
// whatever the number of rats (G = 1 for the Gelfand data; any number of
// weighings per rat works).
// Generated quantities draw theta_j from its full conditional (the notes'
// Gibbs step), theta_j ~ N(D_j d_j, D_j), d_j = Xc_j'y_j / sigma^2 +
// Sigma_c^-1 theta_0c, and map everything back to age-0 coefficients: with
// the hyperparameter draws, exact joint posterior draws of the notes' model.
// Predictions: the N_pred rows X_pred, group_pred (data, empty while
// sampling; filled for generate_quantities) get mu_pred = alpha_j + beta_j x
// with the drawn theta_j, and y_pred ~ N(mu_pred, sigma^2), per draw;
// group_pred = 0, a rat not in the data, draws a new theta ~ N(theta_0,
// Sigma) for the row (as in rats_conjugate.stan).
// prior_only = 1 drops the likelihood, and theta_j is then drawn from
// N(theta_0, Sigma) (prior predictive draws in y_rep); pointwise = 1 writes
// log_lik (for LOO, given the drawn theta_j) and y_rep.
// Data: 30 young rats weighed at 8, 15, 22, 29 and 36 days (grams);
// Gelfand et al. (1990); BUGS Examples Vol. 1 "Rats", Vol. 2 "Birats"
// (data/rats.csv).
functions {
  #include rats_predictions.stanfunctions
  // Entries (p11, p12, p22) of D_j^-1 = S^-1 + Xc_j'Xc_j / sigma^2 for every
  // rat (or design), from S = Sigma_c and the sums count = n_j, sx = sum(xc),
  // sxx = sum(xc^2); the 2 x 2 inverse of S written out.
  array[] vector precision_D(matrix S, real sigma_sq, vector count,
                             vector sx, vector sxx) {
    real det_S = S[1, 1] * S[2, 2] - square(S[1, 2]);
    return {S[2, 2] / det_S + count / sigma_sq,
            -S[1, 2] / det_S + sx / sigma_sq,
            S[1, 1] / det_S + sxx / sigma_sq};
  }

  // Design of each rat: rats with equal (count, sx, sxx) share a number 1..G.
  array[] int design_of(vector count, vector sx, vector sxx) {
    int J = rows(count);
    array[J] int id = rep_array(0, J);
    int G = 0;
    for (j in 1:J) {
      for (i in 1:(j - 1)) {
        if (id[j] == 0 && count[i] == count[j] && sx[i] == sx[j]
            && sxx[i] == sxx[j]) {
          id[j] = id[i];
        }
      }
      if (id[j] == 0) {
        G += 1;
        id[j] = G;
      }
    }
    return id;
  }
}
data {
  int<lower=1> N;                         // weighings
  int<lower=1, upper=1> K;                // predictors: the age only
  matrix[N, K] X;                         // age in days, X[n, 1]
  vector[N] y;                            // weight in grams
  int<lower=1> J;                         // rats
  array[N] int<lower=1, upper=J> group;   // rat of weighing n
  real<lower=0> a;                        // sigma^2 ~ Inv-Gamma(a, b)
  real<lower=0> b;
  vector[2] eta;                          // theta_0 ~ N(eta, C)
  cov_matrix[2] C;
  real<lower=1> rho;                      // Sigma ~ Inv-Wishart(rho R, rho)
  cov_matrix[2] R;
  int<lower=0, upper=1> prior_only;       // 1: leave the likelihood out
  int<lower=0, upper=1> pointwise;        // 1: write log_lik and y_rep
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;               // like X: the age in days
  // rat of each row; 0: a rat not in the data
  array[N_pred] int<lower=0, upper=J> group_pred;
}
transformed data {
  vector[N] x = col(X, 1);
  real x_bar = mean(x);
  vector[N] xc = x - x_bar;
  matrix[2, 2] A_inv = [[1, x_bar], [0, 1]];      // age-0 -> centred
  vector[2] eta_c = A_inv * eta;                  // the priors, centred
  matrix[2, 2] C_c = quad_form_sym(C, A_inv');
  matrix[2, 2] L_C_c = cholesky_decompose(C_c);
  matrix[2, 2] rho_R_c = quad_form_sym(rho * R, A_inv');
  // per-rat sums: Xc_j'Xc_j = [count, sx; sx, sxx], Xc_j'y_j = [sy; sxy]
  vector[J] count = rep_vector(0, J);
  vector[J] sx = rep_vector(0, J);
  vector[J] sxx = rep_vector(0, J);
  vector[J] sy = rep_vector(0, J);
  vector[J] sxy = rep_vector(0, J);
  real syy = dot_self(y);
  // 1 - prior_only: weight of the data in theta_j's full conditional
  real w = 1 - prior_only;
  for (n in 1:N) {
    count[group[n]] += 1;
    sx[group[n]] += xc[n];
    sxx[group[n]] += square(xc[n]);
    sy[group[n]] += y[n];
    sxy[group[n]] += xc[n] * y[n];
  }
  // per design g: its m rats' common (count, sx, sxx), and sums over those
  // rats of sy_j, sxy_j, sy_j^2, sxy_j^2 and sy_j sxy_j
  array[J] int design = design_of(count, sx, sxx);
  int G = max(design);
  vector[G] m = rep_vector(0, G);
  vector[G] count_g;
  vector[G] sx_g;
  vector[G] sxx_g;
  vector[G] sy_g = rep_vector(0, G);
  vector[G] sxy_g = rep_vector(0, G);
  vector[G] sy_sq_g = rep_vector(0, G);
  vector[G] sxy_sq_g = rep_vector(0, G);
  vector[G] sy_sxy_g = rep_vector(0, G);
  for (j in 1:J) {
    int g = design[j];
    m[g] += 1;
    count_g[g] = count[j];
    sx_g[g] = sx[j];
    sxx_g[g] = sxx[j];
    sy_g[g] += sy[j];
    sxy_g[g] += sxy[j];
    sy_sq_g[g] += square(sy[j]);
    sxy_sq_g[g] += square(sxy[j]);
    sy_sxy_g[g] += sy[j] * sxy[j];
  }
}
parameters {
  vector[2] theta_0c;                   // (weight at mean age, slope)
  real<lower=0> sigma_sq;
  cov_matrix[2] Sigma_c;                // between-rat covariance of those
}
model {
  // D_j^-1 of each design, and |D_j^-1|
  array[3] vector[G] p = precision_D(Sigma_c, sigma_sq, count_g, sx_g, sxx_g);
  vector[G] det_D_inv = p[1] .* p[3] - square(p[2]);
  // q_j = Xc_j'y_j - u_g with u_g = Xc_j'Xc_j theta_0c; Q_g = sum over the
  // design's rats of q_j q_j', from the sufficient statistics
  vector[G] u1 = count_g * theta_0c[1] + sx_g * theta_0c[2];
  vector[G] u2 = sx_g * theta_0c[1] + sxx_g * theta_0c[2];
  vector[G] Q11 = sy_sq_g - 2 * u1 .* sy_g + m .* square(u1);
  vector[G] Q22 = sxy_sq_g - 2 * u2 .* sxy_g + m .* square(u2);
  vector[G] Q12 = sy_sxy_g - u2 .* sy_g - u1 .* sxy_g + m .* u1 .* u2;
  // rr = sum_j |y_j - Xc_j theta_0c|^2
  real rr = syy - 2 * (sum(sy) * theta_0c[1] + sum(sxy) * theta_0c[2])
            + N * square(theta_0c[1]) + 2 * sum(sx) * theta_0c[1] * theta_0c[2]
            + sum(sxx) * square(theta_0c[2]);
  real det_Sigma_c = Sigma_c[1, 1] * Sigma_c[2, 2] - square(Sigma_c[1, 2]);
  // conjugate hyperpriors of the notes, carried to centred coordinates
  sigma_sq ~ inv_gamma(a, b);
  theta_0c ~ multi_normal_cholesky(eta_c, L_C_c);
  Sigma_c ~ inv_wishart(rho, rho_R_c);
  // sum over rats of log MVN(y_j | Xc_j theta_0c, V_j), constants dropped:
  // sum_j q_j' D_j q_j = sum_g tr(D_g Q_g)
  if (!prior_only) {
    target += -0.5 * (N * log(sigma_sq) + J * log(det_Sigma_c)
                      + dot_product(m, log(det_D_inv)))
              - 0.5 * (rr / sigma_sq
                       - sum((p[3] .* Q11 - 2 * p[2] .* Q12 + p[1] .* Q22)
                             ./ det_D_inv) / square(sigma_sq));
  }
}
generated quantities {
  array[J] vector[2] theta;             // (alpha_j, beta_j), age 0
  vector[2] theta_0 = [theta_0c[1] - x_bar * theta_0c[2], theta_0c[2]]';
  cov_matrix[2] Sigma = quad_form_sym(Sigma_c, [[1, -x_bar], [0, 1]]');
  real birth_weight = theta_0[1];       // average rat's weight at age 0 (g)
  real daily_gain = theta_0[2];         // average rat's gain (g per day)
  real sigma = sqrt(sigma_sq);
  real sd_alpha = sqrt(Sigma[1, 1]);    // between-rat sd of weight at birth
  real sd_beta = sqrt(Sigma[2, 2]);     // between-rat sd of daily gain
  real corr_theta = Sigma[1, 2] / (sd_alpha * sd_beta);
  vector[pointwise ? N : 0] log_lik;    // given the drawn theta_j
  array[pointwise ? N : 0] real y_rep;
  {
    // D_j^-1 (the data weighted by w = 1 - prior_only: the prior alone
    // when prior_only = 1)
    array[3] vector[J] p = precision_D(Sigma_c, sigma_sq, w * count, w * sx,
                                       w * sxx);
    vector[J] det_D_inv = p[1] .* p[3] - square(p[2]);
    // d_j = Xc_j'y_j / sigma^2 + Sigma_c^-1 theta_0c
    vector[2] pull = mdivide_left_spd(Sigma_c, theta_0c);
    vector[J] d1 = w * sy / sigma_sq + pull[1];
    vector[J] d2 = w * sxy / sigma_sq + pull[2];
    // D_j = [p22, -p12; -p12, p11] / det_D_inv; mean D_j d_j, and D_j's
    // Cholesky factor [l11, 0; l21, l22]
    vector[J] l11 = sqrt(p[3] ./ det_D_inv);
    vector[J] l21 = -p[2] ./ det_D_inv ./ l11;
    vector[J] l22 = inv_sqrt(p[3]);
    vector[J] z1 = to_vector(normal_rng(rep_vector(0, J), 1));
    vector[J] z2 = to_vector(normal_rng(rep_vector(0, J), 1));
    vector[J] slope = (p[1] .* d2 - p[2] .* d1) ./ det_D_inv
                      + l21 .* z1 + l22 .* z2;
    vector[J] level = (p[3] .* d1 - p[2] .* d2) ./ det_D_inv + l11 .* z1;
    for (j in 1:J) {
      theta[j] = [level[j] - x_bar * slope[j], slope[j]]';  // A theta_jc
    }
    if (pointwise) {
      vector[N] mu = to_vector(theta[group, 1])
                     + to_vector(theta[group, 2]) .* x;
      for (n in 1:N) {
        log_lik[n] = normal_lpdf(y[n] | mu[n], sigma);
      }
      y_rep = normal_rng(mu, sigma);
    }
  }
  // predictions for the rows X_pred (each row's rat's line, or a new rat's)
  vector[N_pred] mu_pred;                 // expected weight
  array[N_pred] real y_pred;              // a new weighing
  if (N_pred > 0) {
    mu_pred = growth_pred_rng(col(X_pred, 1), group_pred, theta, theta_0,
                              Sigma);
    y_pred = normal_rng(mu_pred, sigma);
  }
}
