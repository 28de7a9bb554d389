// Hurdle Poisson regression: a logistic model for zero versus positive and
// a zero-truncated Poisson regression for the positive counts.
//
// Notes, "Count data: excess zeros":
//   y_i ~ p_i delta_0 + (1 - p_i) ZTPoisson(mu_i),
//   logit(p_i) = alpha_1 + X_i beta_1           (p_i = P(y_i = 0))
//   log(mu_i) = log(u_i) + alpha_2 + X_i beta_2  (exposure u_i: offset)
// where ZTPoisson(y | mu) = Poisson(y | mu) / (1 - exp(-mu)) for y >= 1.
// The two parts share no parameters, so they are two separate regressions:
// zeros against positives, and the sizes of the positive counts.
// Predictors are standardised in transformed data; priors
//   alpha_1c, alpha_2c ~ normal(0, 5), beta_1std, beta_2std ~ normal(0, 2.5),
// and the coefficients are recovered on the original scale.  The zero part
// uses bernoulli_logit_glm, Stan's specialised GLM function (faster than
// bernoulli_logit on alpha + X * beta).  The truncated count part needs
// its linear predictor for the normalising term log(1 - exp(-mu_i)) anyway,
// so it calls poisson_log_lupmf on that (CmdStan 2.27 has no T[,] truncation on
// vectorised statements).
// Data: roaches (Gelman & Hill 2007, sections 6.2 and 8.3); see
// data/README.md.
functions {
  // a draw from the zero-truncated Poisson with log rate eta
  int zero_truncated_poisson_log_rng(real eta) {
    // poisson_log_rng throws for a log rate above 30 log(2) = 20.79; a
    // larger one (a rate beyond 1e9) is capped
    real eta_capped = fmin(eta, 20.7);
    real mu = exp(eta_capped);
    int y = 1;
    if (mu >= 1) {
      // rejection: P(0) = exp(-mu) <= 0.37, so at least 63% are accepted
      y = poisson_log_rng(eta_capped);
      while (y == 0) {
        y = poisson_log_rng(eta_capped);
      }
    } else {
      // inverse CDF from y = 1 upward; terms shrink at least as fast as
      // mu^y / y!, and the loop also ends if they underflow to zero
      real u = uniform_rng(0, 1);
      real p = mu / expm1(mu);      // P(y = 1 | y > 0)
      real cdf = p;
      while (u > cdf && p > 0) {
        y += 1;
        p *= mu / y;
        cdf += p;
      }
    }
    return y;
  }
}
data {
  int<lower=1> N;                   // observations
  int<lower=1> K;                   // predictors (no intercept column)
  matrix[N, K] X;                   // predictors, original scale
  vector[N] log_exposure;           // offset log(u_i), count part only
  array[N] int<lower=0> y;          // counts
}
transformed data {
  vector[K] x_mean;
  vector[K] x_sd;
  matrix[N, K] Z;                   // standardised predictors
  array[N] int is_zero;             // zero indicator, outcome of part 1
  for (k in 1:K) {
    x_mean[k] = mean(X[, k]);
    x_sd[k] = sd(X[, k]);
    Z[, k] = (X[, k] - x_mean[k]) / x_sd[k];
  }
  for (i in 1:N) {
    is_zero[i] = y[i] == 0;
  }
  int N_pos = N - sum(is_zero);
  // rows with y > 0 (is_zero = 0 sorts first), for part 2
  array[N_pos] int pos = sort_indices_asc(is_zero)[1:N_pos];
  array[N_pos] int y_pos = y[pos];
  matrix[N_pos, K] Z_pos;
  vector[N_pos] log_exposure_pos;
  Z_pos = Z[pos];
  log_exposure_pos = log_exposure[pos];
}
parameters {
  real alpha_1c;                    // zero part: intercept at the means
  vector[K] beta_1std;              // zero part: per predictor sd
  real alpha_2c;                    // count part: intercept at the means
  vector[K] beta_2std;              // count part: per predictor sd
}
model {
  alpha_1c ~ normal(0, 5);
  beta_1std ~ normal(0, 2.5);
  alpha_2c ~ normal(0, 5);
  beta_2std ~ normal(0, 2.5);
  is_zero ~ bernoulli_logit_glm(Z, alpha_1c, beta_1std);
  {
    vector[N_pos] eta = log_exposure_pos + alpha_2c + Z_pos * beta_2std;
    // zero-truncated Poisson: Poisson(y | mu) / (1 - exp(-mu))
    target += poisson_log_lupmf(y_pos | eta) - sum(log1m_exp(-exp(eta)));
  }
}
generated quantities {
  vector[K] beta_1 = beta_1std ./ x_sd;               // original scale
  real alpha_1 = alpha_1c - dot_product(x_mean, beta_1);
  vector[K] beta_2 = beta_2std ./ x_sd;
  real alpha_2 = alpha_2c - dot_product(x_mean, beta_2);
  vector[N] log_lik;
  array[N] int y_rep;
  {
    vector[N] eta_1 = alpha_1c + Z * beta_1std;        // logit P(y = 0)
    vector[N] eta_2 = log_exposure + alpha_2c + Z * beta_2std;
    for (i in 1:N) {
      if (y[i] == 0) {
        log_lik[i] = bernoulli_logit_lpmf(1 | eta_1[i]);
      } else {
        log_lik[i] = bernoulli_logit_lpmf(0 | eta_1[i])
                     + poisson_log_lpmf(y[i] | eta_2[i])
                     - log1m_exp(-exp(eta_2[i]));
      }
      y_rep[i] = bernoulli_logit_rng(eta_1[i])
                 ? 0 : zero_truncated_poisson_log_rng(eta_2[i]);
    }
  }
}
