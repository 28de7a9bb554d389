// Linear mixed-effects model whose random effects fall into C clusters, each
// cluster with its own mean and variance ("varying coefficients").
//
// Notes, "Mixed effects with clusters of varying coefficients":
//   y ~ N(X_f beta + Z gamma, sigma^2 I),  X_f = [1, X] if intercept = 1,
//                                          X_f = X otherwise,
//   gamma_q ~ N(alpha_{c[q]}, sigma_gamma_{c[q]}^2),  q = 1..Q, c[q] = the
//                                          cluster of column q of Z.
// Priors:
//   p(beta) proportional to 1 (flat, the notes' prior; beta_prior_sd = 0),
//     or beta ~ N(0, beta_prior_sd^2) when beta_prior_sd > 0 (proper, for
//     prior predictive draws, and for a user's formula: rstanarm-style
//     defaults on standardised X and y - mean(y), set by the driver);
//   alpha_c ~ N(0, mean_prior_sd^2), mean_prior_sd large (vague), or, in
//     the nested model (nested = 1), alpha_c ~ N(0, sigma_alpha^2);
//   sigma, sigma_gamma_c, sigma_alpha ~ half-normal(0, scale_prior_sd),
//     scale_prior_sd chosen by the driver on the scale of y (weakly
//     informative).
//
// X (no intercept column), Z and the cluster of each column of Z come from
// the driver, so the same program fits complete pooling (Q = 0, intercept
// = 1), no pooling (group indicators in X), varying intercepts (one
// cluster) and varying intercepts and slopes (two).
//
// Identification.  Under the flat prior the fixed effects and the cluster
// means must not overlap.  The mean of cluster c enters the linear
// predictor as alpha_c * (sum of the Z columns in cluster c); for varying
// intercepts that sum is a column of ones, the same as the intercept of
// X_f, and only the sum of the two would be identified.  So a cluster has a
// free mean (has_mean[c] = 1) only when its column sum is not in the span
// of X_f; otherwise has_mean[c] = 0 fixes alpha_c = 0 and the mean lives in
// X_f.  The driver checks that [X_f, Z A] has full column rank (A maps each
// free mean to its cluster's columns) before sampling.
//
// Z is sparse; it is passed row-wise, S slots per row (S = most non-zeros
// in a row of Z): row i of Z has value z_val[r, i] in column z_col[r, i],
// unused slots have value 0.  Z gamma then costs O(N S), the number of
// non-zeros, not O(N Q).  (csr_matrix_times_vector would do the same, but
// in CmdStan 2.27.0 its reverse mode indexes the sparse matrix wrongly and
// corrupts memory: stan-dev/stan#3057, fixed in 2.28.)
//
// The fixed effects are sampled on the thin QR decomposition X_f = X_orth
// T, X_orth with orthogonal columns (which NUTS likes) and T upper
// triangular, both scaled by sqrt(N - 1): theta = T beta, so a flat prior
// on beta is a flat prior on theta, and beta = T^-1 theta.
// Random effects non-centred, gamma_q = alpha_c + sigma_gamma_c * z_q with
// z_q ~ N(0, 1), in a cluster with centred[c] = 0; centred, gamma_q = z_q ~
// N(alpha_c, sigma_gamma_c^2), in one with centred[c] = 1 (data-rich groups:
// pystan_models.centring's rule, one choice per cluster; with all flags 0 the
// program is the non-centred one, draw for draw).  A centred cluster's mean
// should be free (has_mean[c] = 1, the intercept or slope out of X_f): a
// fixed effect beside centred effects about 0 is a ridge.  Correlated
// clusters (1 + x | g) do not exist here: each varying coefficient is its
// own independent cluster (lme4's ||), with its own flag.
//
// Switches: prior_only = 1 drops the likelihood (prior predictive draws;
// proper only with beta_prior_sd > 0 or no fixed effects); pointwise = 1
// writes log_lik (for LOO) and y_rep (replicated data), and log_lik_only =
// 1 with it writes log_lik alone (LOO without N replicates per draw to
// write and read).
//
// Predictions: the N_pred rows X_pred and their Z rows (slots z_col_pred,
// z_val_pred, as for Z; data, empty while sampling, filled for
// generate_quantities) get mu_pred = X_f beta + Z gamma, on X's original
// scale, and y_pred ~ N(mu_pred, sigma^2), per draw.  A slot of a level not
// in the data (z_col_pred = 0, z_val_pred != 0) draws a new gamma ~
// N(alpha_c, sigma_gamma_c^2) for the row, c = z_cluster_pred.
//
// Parameter order.  Parameters that can have size 0 (alpha_free, M = 0;
// sigma_alpha, nested = 0; sigma_gamma and z, no clusters) come after the
// ones of nonzero size: CmdStan 2.27's standalone generate_quantities pairs
// the names of the nonzero-size parameters with the sizes of the first
// declared ones, and a size-0 parameter before a nonzero one makes it read
// element 1 of an empty vector (a segfault; stan-dev/cmdstan#990, fixed in
// Stan 2.32).  theta is first, so fits with no fixed effects (P = 0)
// still cannot run generate_quantities on 2.27.
//
// Data: Minnesota household radon, log pCi/L (Gelman & Hill 2007,
// ch. 12-13, data/radon_mn.csv); the benchmark's simulated data; any other
// data set with its own X, Z and clusters (radon --formula: each
// coefficient of each group term one cluster).
data {
  int<lower=1> N;                              // observations
  int<lower=0> K;                              // predictors (columns of X)
  matrix[N, K] X;                              // no intercept column
  vector[N] y;
  int<lower=0, upper=1> intercept;             // 1: X_f = [1, X]
  int<lower=0> Q;                              // random effects (Z columns)
  int<lower=0> S;                              // non-zero slots per row of Z
  array[S, N] int<lower=1, upper=Q> z_col;
  array[S] vector[N] z_val;
  int<lower=0> C;                              // clusters
  array[Q] int<lower=1, upper=C> cluster;      // c[q]
  array[C] int<lower=0, upper=1> has_mean;     // 1: alpha_c free; 0: = 0
  array[C] int<lower=0, upper=1> centred;      // 1: gamma_q sampled centred
  int<lower=0, upper=1> nested;                // alpha_c ~ N(0, sigma_alpha^2)
  real<lower=0> beta_prior_sd;                 // 0: flat prior on beta
  real<lower=0> mean_prior_sd;                 // vague prior sd of alpha_c
  real<lower=0> scale_prior_sd;                // half-normal scale of sds
  int<lower=0, upper=1> prior_only;            // 1: ignore the likelihood
  int<lower=0, upper=1> pointwise;             // 1: write log_lik and y_rep
  int<lower=0, upper=1> log_lik_only;          // 1: no y_rep (pointwise = 1)
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;                    // like X, no intercept column
  // Z's rows in slots, as z_col and z_val; z_col_pred = 0: a level not in
  // the data, of cluster z_cluster_pred (read only then)
  array[S, N_pred] int<lower=0, upper=Q> z_col_pred;
  array[S, N_pred] int<lower=0, upper=C> z_cluster_pred;
  array[S] vector[N_pred] z_val_pred;
}
transformed data {
  int P = K + intercept;            // fixed effects
  int M = 0;                        // free cluster means
  array[C] int mean_index;          // position of alpha_c among them
  matrix[N, P] X_orth;              // X_f = X_orth T
  matrix[P, P] beta_from_theta;     // T^-1
  int n_centred = sum(centred[cluster]);   // columns of Z sampled centred
  array[n_centred] int cc;          // those columns
  array[Q - n_centred] int nc;      // the others (non-centred)
  for (c in 1:C) {
    M += has_mean[c];
    mean_index[c] = has_mean[c] ? M : 0;
  }
  {
    int i = 0;
    for (q in 1:Q) {
      if (centred[cluster[q]]) {
        i += 1;
        cc[i] = q;
      } else {
        nc[q - i] = q;
      }
    }
  }
  if (P > 0) {
    matrix[N, P] X_f;
    if (intercept) {
      X_f = append_col(rep_vector(1, N), X);
    } else {
      X_f = X;
    }
    X_orth = qr_thin_Q(X_f) * sqrt(N - 1.0);
    beta_from_theta = inverse(qr_thin_R(X_f) / sqrt(N - 1.0));
  }
}
parameters {
  // in this order, so that size-0 ones come last (see the header)
  vector[P] theta;                     // T beta
  real<lower=0> sigma;                 // residual sd
  vector<lower=0>[C] sigma_gamma;      // sd within each cluster
  vector[Q] z;                         // standardized random effects;
                                       // gamma itself where centred
  vector[M] alpha_free;                // the free cluster means
  vector<lower=0>[nested] sigma_alpha; // sd of the cluster means (nested)
}
transformed parameters {
  vector[C] alpha = rep_vector(0, C);  // cluster means
  vector[Q] gamma;                     // random effects
  for (c in 1:C) {
    if (has_mean[c]) {
      alpha[c] = alpha_free[mean_index[c]];
    }
  }
  if (n_centred == 0) {
    gamma = alpha[cluster] + sigma_gamma[cluster] .* z;
  } else {
    gamma[cc] = z[cc];
    gamma[nc] = alpha[cluster[nc]] + sigma_gamma[cluster[nc]] .* z[nc];
  }
}
model {
  vector[N] eta = rep_vector(0, N);   // X_f beta + Z gamma
  if (P > 0) {
    eta += X_orth * theta;
  }
  for (r in 1:S) {
    eta += z_val[r] .* gamma[z_col[r]];
  }
  // p(beta) proportional to 1, hence p(theta) proportional to 1: nothing
  // adds to target.  A normal prior on beta = T^-1 theta, a linear map of
  // theta, needs no Jacobian.
  if (beta_prior_sd > 0) {
    beta_from_theta * theta ~ normal(0, beta_prior_sd);
  }
  if (nested) {
    alpha_free ~ normal(0, sigma_alpha[1]);
    sigma_alpha ~ normal(0, scale_prior_sd);
  } else {
    alpha_free ~ normal(0, mean_prior_sd);
  }
  sigma_gamma ~ normal(0, scale_prior_sd);
  sigma ~ normal(0, scale_prior_sd);
  if (n_centred == 0) {
    z ~ std_normal();
  } else {
    z[nc] ~ std_normal();
    z[cc] ~ normal(alpha[cluster[cc]], sigma_gamma[cluster[cc]]);
  }
  if (!prior_only) {
    y ~ normal(eta, sigma);
  }
}
generated quantities {
  vector[P] beta;
  // pointwise log-likelihood and replicates (N each per draw; off when unused)
  vector[pointwise ? N : 0] log_lik;
  array[pointwise && !log_lik_only ? N : 0] real y_rep;
  {
    vector[N] eta = rep_vector(0, N);
    if (P > 0) {
      beta = beta_from_theta * theta;
      eta += X_orth * theta;
    }
    for (r in 1:S) {
      eta += z_val[r] .* gamma[z_col[r]];
    }
    if (pointwise) {
      for (i in 1:N) {
        log_lik[i] = normal_lpdf(y[i] | eta[i], sigma);
      }
      if (!log_lik_only) {
        y_rep = normal_rng(eta, sigma);
      }
    }
  }
  // predictions for the rows X_pred: beta on X's original scale (X_orth is
  // for the fitted rows only), then Z gamma slot by slot
  vector[N_pred] mu_pred;                      // X_f beta + Z gamma
  array[N_pred] real y_pred;                   // a new observation
  if (N_pred > 0) {
    mu_pred = rep_vector(0, N_pred);
    if (P > 0) {
      mu_pred += (intercept ? beta[1] : 0) + X_pred * tail(beta, K);
    }
    for (r in 1:S) {
      for (i in 1:N_pred) {
        if (z_col_pred[r, i] > 0) {
          mu_pred[i] += z_val_pred[r, i] * gamma[z_col_pred[r, i]];
        } else if (z_val_pred[r, i] != 0) {
          // a new level: its effect from its cluster's distribution
          int c = z_cluster_pred[r, i];
          mu_pred[i] += z_val_pred[r, i]
                        * normal_rng(alpha[c], sigma_gamma[c]);
        }
      }
    }
    y_pred = normal_rng(mu_pred, sigma);
  }
}
