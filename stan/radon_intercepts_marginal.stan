// Varying-intercept linear model with the group effects integrated out,
// evaluated from per-group sufficient statistics: each gradient costs
// O(J P^2) (groups x house-level predictors squared), not O(N).
//
// Notes, "Mixed effects with clusters of varying coefficients", one cluster
// of varying intercepts (the radon model of Gelman & Hill 2007, sec. 12.6):
//   y_i ~ N(X_i beta + W_{j[i]} beta_county + gamma_{j[i]}, sigma^2),
//   gamma_j ~ N(alpha, sigma_gamma^2),
//   p(beta, beta_county) proportional to 1 (flat), alpha ~ N(0, S^2) vague,
//   sigma, sigma_gamma ~ half-normal(0, s).
// The same model and priors as mixed_effects_clusters.stan with
// X = [house predictors, county predictors], one intercept cluster with a
// free mean and nested = 0, so the two posteriors must agree.
//
// Integrating gamma_j out, county j's houses are jointly normal with
// covariance sigma^2 I + sigma_gamma^2 1 1'.  With r_i = y_i - X_i beta and
// its county mean rbar_j, the log density splits into
//   within:  -(n_j - 1) log sigma - sum_i (r_i - rbar_j)^2 / (2 sigma^2),
//   between: rbar_j ~ N(alpha + W_j beta_county, sigma^2/n_j + sigma_gamma^2)
// (up to a constant).  sum_i (r_i - rbar_j)^2 = Syy_j - 2 Sxy_j' beta
// + beta' Sxx_j beta with within-county centred sums of squares and cross
// products, computed once in transformed data.  gamma_j is drawn from its
// normal full conditional in generated quantities.
//
// Data: Minnesota household radon (log pCi/L), floor, county log uranium;
// Gelman & Hill (2007), ch. 12.
data {
  int<lower=1> N;                          // houses
  int<lower=1> J;                          // counties
  int<lower=0> P;                          // house-level predictors
  int<lower=0> L;                          // county-level predictors
  vector[N] y;
  matrix[N, P] X;
  matrix[J, L] W;
  array[N] int<lower=1, upper=J> county;
  real<lower=0> mean_prior_sd;             // S
  real<lower=0> scale_prior_sd;            // s
  int<lower=0, upper=1> pointwise;         // 1: write log_lik and y_rep
}
transformed data {
  vector[J] n = rep_vector(0, J);
  vector[J] ybar = rep_vector(0, J);
  matrix[J, P] xbar = rep_matrix(0, J, P);
  vector[J] syy = rep_vector(0, J);        // sum (y - ybar)^2
  matrix[J, P] sxy = rep_matrix(0, J, P);  // sum (x - xbar) (y - ybar)
  matrix[J, P * P] sxx = rep_matrix(0, J, P * P);  // vec of sum dx dx'
  for (i in 1:N) {
    n[county[i]] += 1;
    ybar[county[i]] += y[i];
    xbar[county[i]] += X[i];
  }
  for (j in 1:J) {
    if (n[j] == 0) {
      reject("county ", j, " has no houses");
    }
  }
  ybar = ybar ./ n;
  xbar = diag_pre_multiply(inv(n), xbar);
  for (i in 1:N) {
    real dy = y[i] - ybar[county[i]];
    row_vector[P] dx = X[i] - xbar[county[i]];
    syy[county[i]] += square(dy);
    sxy[county[i]] += dx * dy;
    sxx[county[i]] += to_row_vector(dx' * dx);
  }
}
parameters {
  vector[P] beta;                 // house-level coefficients
  vector[L] beta_county;          // county-level coefficients
  real alpha;                     // mean of the county effects
  real<lower=0> sigma_gamma;      // sd of the county effects
  real<lower=0> sigma;            // residual sd
}
model {
  vector[J] within = syy - 2 * (sxy * beta) + sxx * to_vector(beta * beta');
  vector[J] rbar = ybar - xbar * beta;
  // p(beta, beta_county) proportional to 1: nothing adds to target.
  alpha ~ normal(0, mean_prior_sd);
  sigma_gamma ~ normal(0, scale_prior_sd);
  sigma ~ normal(0, scale_prior_sd);
  target += -(N - J) * log(sigma) - 0.5 * sum(within) / square(sigma);
  rbar ~ normal(alpha + W * beta_county,
                sqrt(square(sigma) ./ n + square(sigma_gamma)));
}
generated quantities {
  vector[J] gamma;                // county effects, drawn given the rest
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] real y_rep;
  {
    vector[J] precision = n / square(sigma) + 1 / square(sigma_gamma);
    vector[J] data_mean = ybar - xbar * beta - W * beta_county;
    vector[J] post_mean = (n .* data_mean / square(sigma)
                           + alpha / square(sigma_gamma)) ./ precision;
    vector[J] county_mean;          // W_j beta_county + gamma_j
    gamma = to_vector(normal_rng(post_mean, inv_sqrt(precision)));
    county_mean = W * beta_county + gamma;
    if (pointwise) {
      vector[N] eta = X * beta + county_mean[county];
      for (i in 1:N) {
        log_lik[i] = normal_lpdf(y[i] | eta[i], sigma);
      }
      y_rep = normal_rng(eta, sigma);
    }
  }
}
