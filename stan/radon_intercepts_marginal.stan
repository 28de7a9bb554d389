// Varying-intercept linear model with the group effects integrated out,
// evaluated from per-group sufficient statistics: each gradient costs
// O(J K^2) (groups x row-level predictors squared), not O(N).
//
// Notes, "Mixed effects with clusters of varying coefficients", one cluster
// of varying intercepts (the radon model of Gelman & Hill 2007, sec. 12.6):
//   y_i ~ N(X_i beta + W_{group[i]} beta_county + gamma_{group[i]}, sigma^2),
//   gamma_j ~ N(alpha, sigma_gamma^2),  j = 1..J,
// X (row-level predictors) and W (group-level predictors, one row per
// group) without intercept columns: the intercepts are the gamma_j.
// Priors:
//   p(beta, beta_county) proportional to 1 (flat, the notes' prior;
//     beta_prior_sd = 0), or beta_k, beta_county_l ~ N(0, beta_prior_sd^2)
//     when beta_prior_sd > 0 (proper, for prior predictive draws and for
//     a user's y ~ x + (1 | g), scaled to the data by the driver);
//   alpha ~ N(0, mean_prior_sd^2) (vague);
//   sigma, sigma_gamma ~ half-normal(0, scale_prior_sd).
// The same model and priors as mixed_effects_clusters.stan with its X =
// [X, W_{group[i]}], one intercept cluster with a free mean and nested = 0,
// so the two posteriors must agree.
//
// Integrating gamma_j out, group j's rows are jointly normal with
// covariance sigma^2 I + sigma_gamma^2 1 1'.  With r_i = y_i - X_i beta and
// its group mean rbar_j, the log density splits into
//   within:  -(n_j - 1) log sigma - sum_i (r_i - rbar_j)^2 / (2 sigma^2),
//   between: rbar_j ~ N(alpha + W_j beta_county, sigma^2/n_j + sigma_gamma^2)
// (up to a constant).  sum_i (r_i - rbar_j)^2 = Syy_j - 2 Sxy_j' beta
// + beta' Sxx_j beta with within-group centred sums of squares and cross
// products, computed once in transformed data.  gamma_j is drawn from its
// normal full conditional in generated quantities (from its prior when
// prior_only = 1).
//
// Switches: prior_only = 1 drops the likelihood (prior predictive draws;
// proper only with beta_prior_sd > 0); pointwise = 1 writes log_lik (for
// LOO) and y_rep (replicated data).
// Predictions: the N_pred rows X_pred, W_pred (the row's group-level
// predictors), group_pred (data, empty while sampling; filled for
// generate_quantities) get mu_pred = X beta + W beta_county + gamma_j with
// the drawn gamma_j, and y_pred ~ N(mu_pred, sigma^2), per draw;
// group_pred = 0, a group not in the data, draws a new gamma ~ N(alpha,
// sigma_gamma^2) for the row.
//
// Parameter order.  beta (K = 0: y ~ 1 + (1 | g)) and beta_county (L = 0:
// a user's y ~ x + (1 | g)) can have size 0, so they come last: CmdStan
// 2.27's standalone generate_quantities pairs the names of the nonzero-size
// parameters with the sizes of the first declared ones, and a size-0
// parameter before a nonzero one makes it read past an empty vector (a
// segfault; stan-dev/cmdstan#990, fixed in Stan 2.32).  K = 0 with L > 0
// would still crash it; the driver never asks for that design.
//
// Data: Minnesota household radon (log pCi/L), floor, county log uranium;
// Gelman & Hill (2007), ch. 12 (data/radon_mn.csv; groups are counties).
data {
  int<lower=1> N;                          // rows (houses)
  int<lower=0> K;                          // row-level predictors
  matrix[N, K] X;                          // no intercept column
  vector[N] y;
  int<lower=1> J;                          // groups (counties)
  array[N] int<lower=1, upper=J> group;    // group of each row
  int<lower=0> L;                          // group-level predictors
  matrix[J, L] W;                          // one row per group
  real<lower=0> beta_prior_sd;             // 0: flat prior on the betas
  real<lower=0> mean_prior_sd;             // vague prior sd of alpha
  real<lower=0> scale_prior_sd;            // half-normal scale of sds
  int<lower=0, upper=1> prior_only;        // 1: ignore the likelihood
  int<lower=0, upper=1> pointwise;         // 1: write log_lik and y_rep
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;                // like X
  matrix[N_pred, L] W_pred;                // the row's group's row of W
  array[N_pred] int<lower=0, upper=J> group_pred;   // 0: a new group
}
transformed data {
  vector[J] n = rep_vector(0, J);
  vector[J] ybar = rep_vector(0, J);
  matrix[J, K] xbar = rep_matrix(0, J, K);
  vector[J] syy = rep_vector(0, J);        // sum (y - ybar)^2
  matrix[J, K] sxy = rep_matrix(0, J, K);  // sum (x - xbar) (y - ybar)
  matrix[J, K * K] sxx = rep_matrix(0, J, K * K);  // vec of sum dx dx'
  vector[J] n_used;
  for (i in 1:N) {
    n[group[i]] += 1;
    ybar[group[i]] += y[i];
    xbar[group[i]] += X[i];
  }
  for (j in 1:J) {
    if (n[j] == 0) {
      reject("group ", j, " has no rows");
    }
  }
  ybar = ybar ./ n;
  xbar = diag_pre_multiply(inv(n), xbar);
  for (i in 1:N) {
    real dy = y[i] - ybar[group[i]];
    row_vector[K] dx = X[i] - xbar[group[i]];
    syy[group[i]] += square(dy);
    sxy[group[i]] += dx * dy;
    sxx[group[i]] += to_row_vector(dx' * dx);
  }
  // rows per group in the full conditional of gamma: none without the data
  n_used = n;
  if (prior_only) {
    n_used = rep_vector(0, J);
  }
}
parameters {
  // in this order, so that the ones that can have size 0 come last (see the
  // header)
  real alpha;                     // mean of the group effects
  real<lower=0> sigma_gamma;      // sd of the group effects
  real<lower=0> sigma;            // residual sd
  vector[K] beta;                 // row-level coefficients
  vector[L] beta_county;          // group-level coefficients
}
model {
  vector[J] within = syy - 2 * (sxy * beta) + sxx * to_vector(beta * beta');
  vector[J] rbar = ybar - xbar * beta;
  // p(beta, beta_county) proportional to 1: nothing adds to target,
  // unless beta_prior_sd > 0.
  if (beta_prior_sd > 0) {
    beta ~ normal(0, beta_prior_sd);
    beta_county ~ normal(0, beta_prior_sd);
  }
  alpha ~ normal(0, mean_prior_sd);
  sigma_gamma ~ normal(0, scale_prior_sd);
  sigma ~ normal(0, scale_prior_sd);
  if (!prior_only) {
    target += -(N - J) * log(sigma) - 0.5 * sum(within) / square(sigma);
    rbar ~ normal(alpha + W * beta_county,
                  sqrt(square(sigma) ./ n + square(sigma_gamma)));
  }
}
generated quantities {
  vector[J] gamma;                // group effects, drawn given the rest
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] real y_rep;
  {
    vector[J] precision = n_used / square(sigma) + 1 / square(sigma_gamma);
    vector[J] data_mean = ybar - xbar * beta - W * beta_county;
    vector[J] post_mean = (n_used .* data_mean / square(sigma)
                           + alpha / square(sigma_gamma)) ./ precision;
    vector[J] group_mean;           // W_j beta_county + gamma_j
    gamma = to_vector(normal_rng(post_mean, inv_sqrt(precision)));
    group_mean = W * beta_county + gamma;
    if (pointwise) {
      vector[N] eta = X * beta + group_mean[group];
      for (i in 1:N) {
        log_lik[i] = normal_lpdf(y[i] | eta[i], sigma);
      }
      y_rep = normal_rng(eta, sigma);
    }
  }
  // predictions for the rows X_pred (each row's group effect, or a new one)
  vector[N_pred] mu_pred;                  // X beta + W beta_county + gamma
  array[N_pred] real y_pred;               // a new observation
  if (N_pred > 0) {
    for (i in 1:N_pred) {
      real gamma_i = group_pred[i] > 0 ? gamma[group_pred[i]]
                     : normal_rng(alpha, sigma_gamma);
      mu_pred[i] = X_pred[i] * beta + W_pred[i] * beta_county + gamma_i;
    }
    y_pred = normal_rng(mu_pred, sigma);
  }
}
