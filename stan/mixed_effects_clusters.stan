// Linear mixed-effects model whose random effects fall into K clusters, each
// cluster with its own mean and variance ("varying coefficients").
//
// Notes, "Mixed effects with clusters of varying coefficients":
//   y ~ N(X beta + Z gamma, sigma^2 I),
//   p(beta) proportional to 1 (flat prior on the fixed effects),
//   gamma_q ~ N(alpha_{k[q]}, sigma_gamma_{k[q]}^2),  k[q] = cluster of
//                                                      column q of Z,
//   alpha_k ~ N(0, S^2), S = mean_prior_sd large (vague), or, in the nested
//   model (nested = 1), alpha_k ~ N(0, sigma_alpha^2).
// Priors on the scales (weakly informative, half-normal, s = scale_prior_sd
// chosen by the driver on the scale of y): sigma, sigma_gamma_k,
// sigma_alpha ~ half-normal(0, s).
//
// X, Z and the cluster of each column of Z come from the driver, so the same
// program fits complete pooling (Q = 0), no pooling (group indicators in X),
// varying intercepts (one cluster) and varying intercepts and slopes (two).
//
// Identification.  Under the flat prior the columns of X and the cluster
// means must not overlap.  The mean of cluster k enters the linear predictor
// as alpha_k * (sum of the Z columns in cluster k); for varying intercepts
// that sum is a column of ones, the same as an intercept column in X, and
// only the sum of the two would be identified.  So a cluster has a free mean
// (has_mean[k] = 1) only when its column sum is not in the span of X;
// otherwise has_mean[k] = 0 fixes alpha_k = 0 and the mean lives in X.
// The driver checks that [X, Z A] has full column rank (A maps each free
// mean to its cluster's columns) before sampling.
//
// Z is sparse; it is passed row-wise, R slots per row (R = most non-zeros
// in a row of Z): row i of Z has value z_val[r, i] in column z_col[r, i],
// unused slots have value 0.  Z gamma then costs O(N R), the number of
// non-zeros, not O(N Q).  (csr_matrix_times_vector would do the same, but
// in CmdStan 2.27.0 its reverse mode indexes the sparse matrix wrongly and
// corrupts memory: stan-dev/stan#3057, fixed in 2.28.)
//
// The fixed effects are sampled on the thin QR decomposition X = Q* R*
// (theta = R* beta): a flat prior on beta is a flat prior on theta, and the
// columns of Q* are orthogonal, which NUTS likes.  beta = R*^-1 theta.
// Random effects non-centred: gamma_q = alpha_k + sigma_gamma_k * z_q.
//
// Data: Minnesota household radon, log pCi/L (Gelman & Hill 2007,
// ch. 12-13); any other data set with its own X, Z and clusters.
data {
  int<lower=1> N;                              // observations
  vector[N] y;
  int<lower=0> P;                              // fixed effects
  matrix[N, P] X;
  int<lower=0> Q;                              // random effects (Z columns)
  int<lower=0> R;                              // non-zero slots per row of Z
  array[R, N] int<lower=1, upper=Q> z_col;
  array[R] vector[N] z_val;
  int<lower=0> K;                              // clusters
  array[Q] int<lower=1, upper=K> cluster;      // k[q]
  array[K] int<lower=0, upper=1> has_mean;     // 1: alpha_k free; 0: = 0
  int<lower=0, upper=1> nested;                // alpha_k ~ N(0, sigma_alpha^2)
  real<lower=0> mean_prior_sd;                 // S, vague prior sd of alpha_k
  real<lower=0> scale_prior_sd;                // s, half-normal scale
  int<lower=0, upper=1> prior_only;            // 1: ignore the likelihood
  int<lower=0, upper=1> pointwise;             // 1: write log_lik (for LOO)
  int<lower=0, upper=1> replicates;            // 1: write y_rep (for PPC)
}
transformed data {
  int M = 0;                        // free cluster means
  array[K] int mean_index;          // position of alpha_k among them
  matrix[N, P] Q_ast;
  matrix[P, P] R_ast_inverse;
  for (k in 1:K) {
    M += has_mean[k];
    mean_index[k] = has_mean[k] ? M : 0;
  }
  if (P > 0) {
    Q_ast = qr_thin_Q(X) * sqrt(N - 1.0);
    R_ast_inverse = inverse(qr_thin_R(X) / sqrt(N - 1.0));
  }
}
parameters {
  vector[P] theta;                     // R* beta
  vector[M] alpha_free;                // the free cluster means
  vector<lower=0>[nested] sigma_alpha; // sd of the cluster means (nested)
  vector<lower=0>[K] sigma_gamma;      // sd within each cluster
  vector[Q] z;                         // standardized random effects
  real<lower=0> sigma;                 // residual sd
}
transformed parameters {
  vector[K] alpha = rep_vector(0, K);  // cluster means
  vector[Q] gamma;                     // random effects
  for (k in 1:K) {
    if (has_mean[k]) {
      alpha[k] = alpha_free[mean_index[k]];
    }
  }
  gamma = alpha[cluster] + sigma_gamma[cluster] .* z;
}
model {
  vector[N] eta = rep_vector(0, N);   // X beta + Z gamma
  if (P > 0) {
    eta += Q_ast * theta;
  }
  for (r in 1:R) {
    eta += z_val[r] .* gamma[z_col[r]];
  }
  // p(beta) proportional to 1, hence p(theta) proportional to 1: nothing
  // adds to target.
  if (nested) {
    alpha_free ~ normal(0, sigma_alpha[1]);
    sigma_alpha ~ normal(0, scale_prior_sd);
  } else {
    alpha_free ~ normal(0, mean_prior_sd);
  }
  sigma_gamma ~ normal(0, scale_prior_sd);
  sigma ~ normal(0, scale_prior_sd);
  z ~ std_normal();
  if (!prior_only) {
    y ~ normal(eta, sigma);
  }
}
generated quantities {
  vector[P] beta;
  // pointwise log-likelihood and replicates (N each per draw; off when unused)
  vector[pointwise ? N : 0] log_lik;
  array[replicates ? N : 0] real y_rep;
  {
    vector[N] eta = rep_vector(0, N);
    if (P > 0) {
      beta = R_ast_inverse * theta;
      eta += Q_ast * theta;
    }
    for (r in 1:R) {
      eta += z_val[r] .* gamma[z_col[r]];
    }
    if (pointwise) {
      for (i in 1:N) {
        log_lik[i] = normal_lpdf(y[i] | eta[i], sigma);
      }
    }
    if (replicates) {
      y_rep = normal_rng(eta, sigma);
    }
  }
}
