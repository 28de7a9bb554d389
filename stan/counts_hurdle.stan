// Hurdle Poisson regression: a logistic regression for zero versus positive
// and a zero-truncated Poisson regression for the positive counts.
//
// Notes, "Count data: excess zeros":
//   y_i ~ p_i delta_0 + (1 - p_i) ZTPoisson(mu_i),
//   logit(p_i) = alpha_1 + X_i beta_1              (p_i = P(y_i = 0)),
//   log(mu_i) = log_exposure_i + alpha_2 + X_i beta_2,
// where ZTPoisson(y | mu) = Poisson(y | mu) / (1 - exp(-mu)) for y >= 1,
// i = 1, ..., N, with K predictors X_i (no intercept column) and the offset
// log_exposure_i (the log of the exposure; count part only).  The two parts
// share no parameters, so they are two separate regressions: zeros against
// positives, and the sizes of the positive counts.  The predictors are
// standardised (centred at their means, divided by their sds); the priors
// are on that scale:
//   alpha_1c, alpha_2c ~ normal(0, 5)      (intercepts at the means)
//   beta_1std, beta_2std ~ normal(0, 2.5)  (per predictor sd)
// and alpha_1, beta_1, alpha_2, beta_2 are reported on the original scale
// (beta = beta_std / sd(X), alpha = alpha_c - mean(X) beta).
// Predictions: the N_pred rows X_pred, log_exposure_pred (data, empty while
// sampling; filled for generate_quantities) get mu_pred = E[y] =
// (1 - p) mu / (1 - exp(-mu)) and y_pred, a new count, per draw.
// Data: roaches (Gelman & Hill 2007, sections 6.2 and 8.3); see
// data/README.md.
// The prior sds and rate above are the notes' values of the data fields
// alpha_prior_sd = 5, beta_prior_sd = 2.5 and scale_prior_rate = 1; for a
// user's formula (pystan_models.counts) they are rstanarm's data-scaled
// defaults times --prior-scale s: 2.5 s, 2.5 s (normal(0, 2.5 s / sd(x)) on
// the original scale) and 1 / s.
functions {
  #include standardise.stanfunctions
  #include safe_rng.stanfunctions

  // A draw from the zero-truncated Poisson with log rate eta (a log rate
  // beyond 20.7, a rate of about 1e9, is capped as in poisson_log_safe_rng).
  int zero_truncated_poisson_log_rng(real eta) {
    real mu = exp(fmin(eta, 20.7));
    int draw = 1;
    if (mu >= 1) {
      // rejection: P(0) = exp(-mu) <= 0.37, so at least 63% are accepted
      draw = poisson_log_safe_rng(eta);
      while (draw == 0) {
        draw = poisson_log_safe_rng(eta);
      }
    } else {
      // inverse CDF from 1 upward; terms shrink at least as fast as
      // mu^draw / draw!, and the loop also ends if they underflow to zero
      real u = uniform_rng(0, 1);
      real pmf = mu / expm1(mu);    // P(draw = 1 | draw > 0)
      real cdf = pmf;
      while (u > cdf && pmf > 0) {
        draw += 1;
        pmf *= mu / draw;
        cdf += pmf;
      }
    }
    return draw;
  }
}
data {
  int<lower=1> N;                   // observations
  int<lower=1> K;                   // predictors (no intercept column)
  matrix[N, K] X;                   // predictors, original scale
  vector[N] log_exposure;           // offset, count part only
  array[N] int<lower=0> y;          // counts
  // priors (the notes' run: 5, 2.5, 1; a user's data: data-scaled defaults)
  real<lower=0> alpha_prior_sd;     // intercepts at the means ~ N(0, this)
  real<lower=0> beta_prior_sd;      // standardised coefficients ~ N(0, this)
  real<lower=0> scale_prior_rate;   // sds ~ exponential(this)
  int<lower=0, upper=1> prior_only; // 1: no likelihood (prior predictive)
  int<lower=0, upper=1> pointwise;  // 1: write log_lik and y_rep
  // rows to predict (pystan_models.predict: generate_quantities on the fitted
  // draws); N_pred = 0 while sampling
  int<lower=0> N_pred;
  matrix[N_pred, K] X_pred;         // like X, on X's scale
  vector[N_pred] log_exposure_pred; // their offsets, count part
}
transformed data {
  vector[K] x_mean = column_means(X);
  vector[K] x_sd = column_sds(X);
  matrix[N, K] X_std = standardise(X, x_mean, x_sd);
  array[N] int is_zero;             // zero indicator, outcome of part 1
  for (i in 1:N) {
    is_zero[i] = y[i] == 0;
  }
  int N_pos = N - sum(is_zero);
  // rows with y > 0 (is_zero = 0 sorts first), for part 2
  array[N_pos] int pos = sort_indices_asc(is_zero)[1:N_pos];
  array[N_pos] int y_pos = y[pos];
  matrix[N_pos, K] X_std_pos = X_std[pos];
  vector[N_pos] log_exposure_pos = log_exposure[pos];
}
parameters {
  real alpha_1c;                    // zero part: intercept at the means
  vector[K] beta_1std;              // zero part: per predictor sd
  real alpha_2c;                    // count part: intercept at the means
  vector[K] beta_2std;              // count part: per predictor sd
}
model {
  alpha_1c ~ normal(0, alpha_prior_sd);
  beta_1std ~ normal(0, beta_prior_sd);
  alpha_2c ~ normal(0, alpha_prior_sd);
  beta_2std ~ normal(0, beta_prior_sd);
  if (!prior_only) {
    // the zero part by bernoulli_logit_glm (analytic gradients)
    is_zero ~ bernoulli_logit_glm(X_std, alpha_1c, beta_1std);
    // the count part needs its linear predictor for the normalising term
    // log(1 - exp(-mu_i)) anyway, so it calls poisson_log_lupmf on that
    // (CmdStan 2.27 has no T[,] truncation on vectorised statements)
    vector[N_pos] eta = log_exposure_pos + alpha_2c + X_std_pos * beta_2std;
    target += poisson_log_lupmf(y_pos | eta) - sum(log1m_exp(-exp(eta)));
  }
}
generated quantities {
  vector[K] beta_1 = beta_1std ./ x_sd;               // original scale
  real alpha_1 = alpha_1c - dot_product(x_mean, beta_1);
  vector[K] beta_2 = beta_2std ./ x_sd;
  real alpha_2 = alpha_2c - dot_product(x_mean, beta_2);
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] int y_rep;
  if (pointwise) {
    vector[N] eta_1 = alpha_1c + X_std * beta_1std;        // logit P(y = 0)
    vector[N] eta_2 = log_exposure + alpha_2c + X_std * beta_2std;
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
  // predictions for the rows X_pred, standardised as X was
  vector[N_pred] mu_pred;                             // E[y]
  array[N_pred] int y_pred;                           // a new count
  if (N_pred > 0) {
    matrix[N_pred, K] X_std_pred = standardise(X_pred, x_mean, x_sd);
    vector[N_pred] eta_1 = alpha_1c + X_std_pred * beta_1std;
    vector[N_pred] eta_2 = log_exposure_pred + alpha_2c
                           + X_std_pred * beta_2std;
    for (i in 1:N_pred) {
      // P(y > 0) times the zero-truncated mean mu / (1 - exp(-mu)), which
      // tends to 1 as mu -> 0
      real mu = exp(eta_2[i]);
      mu_pred[i] = inv_logit(-eta_1[i]) * (mu > 0 ? mu / -expm1(-mu) : 1);
      y_pred[i] = bernoulli_logit_rng(eta_1[i])
                  ? 0 : zero_truncated_poisson_log_rng(eta_2[i]);
    }
  }
}
