// Rats growth: varying intercepts and slopes with the notes' conjugate
// hyperpriors, every rat's growth line a parameter.
//
// Notes, "Varying intercepts and slopes" (Gelfand et al. 1990, section 6),
// for the weighings n = 1..N of the rats j = 1..J, rat j = group[n]:
//   y_n ~ N(alpha_j + beta_j x_n, sigma^2),   x_n = X[n, 1], the age in days
//                                             (uncentred: alpha_j is rat j's
//                                             weight at birth, beta_j its
//                                             daily gain),
//   theta_j = (alpha_j, beta_j)' ~ N(theta_0, Sigma).
// Priors (conjugate; the hyperparameters are data):
//   sigma^2 ~ Inv-Gamma(a, b),
//   theta_0 ~ N(eta, C),
//   Sigma ~ Inv-Wishart(rho R, rho), i.e. Sigma^-1 ~ Wishart((rho R)^-1,
//   rho); Stan's inv_wishart(nu, S) has density proportional to
//   |Sigma|^(-(nu + 3) / 2) exp(-tr(S Sigma^-1) / 2), so S = rho R.
// The driver passes BUGS "Birats"'s vague values, which it says are
// equivalent to Gelfand et al.'s: a = b = 0.001, eta = 0, C = 10^6 I,
// rho = 2, rho R = diag(200, 0.2).  (Inv-Gamma(0.001, 0.001) is kept only
// because this program replicates the notes and BUGS.)
// For a user's data (the formula path, y ~ x + (x | g)) the driver passes
// hyperparameters chosen from the data's scale (pystan_models/rats.py,
// user_hyper); groups may have any number of rows, at any x.
// This is the faithful (centred, inverse Wishart) version that the notes'
// Gibbs sampler targets; rats_marginal.stan is the same posterior with the
// theta_j integrated out.
// prior_only = 1 drops the likelihood (prior predictive draws in y_rep);
// pointwise = 1 writes log_lik (for LOO) and y_rep (posterior predictive).
// Predictions: the N_pred rows X_pred, group_pred (data, empty while
// sampling; filled for generate_quantities) get mu_pred = alpha_j + beta_j x,
// the expected weight, and y_pred ~ N(mu_pred, sigma^2), per draw;
// group_pred = 0, a rat not in the data, draws a new theta ~ N(theta_0,
// Sigma) for the row.
// Data: 30 young rats weighed at 8, 15, 22, 29 and 36 days (grams);
// Gelfand et al. (1990); BUGS Examples Vol. 1 "Rats", Vol. 2 "Birats"
// (data/rats.csv).
functions {
  #include rats_predictions.stanfunctions
}
data {
  int<lower=1> N;                         // weighings
  int<lower=1, upper=1> K;                // predictors: the age only
  matrix[N, K] X;                         // x_n = X[n, 1], age in days
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
  matrix[2, 2] rho_R = rho * R;
}
parameters {
  array[J] vector[2] theta;               // (alpha_j, beta_j)
  vector[2] theta_0;                      // population (intercept, slope)
  real<lower=0> sigma_sq;
  cov_matrix[2] Sigma;
}
model {
  vector[J] alpha = to_vector(theta[:, 1]);
  vector[J] beta = to_vector(theta[:, 2]);
  // conjugate hyperpriors of the notes (vague: see the header)
  sigma_sq ~ inv_gamma(a, b);
  theta_0 ~ multi_normal(eta, C);
  Sigma ~ inv_wishart(rho, rho_R);
  // population distribution of the rats' growth lines
  theta ~ multi_normal(theta_0, Sigma);
  // likelihood
  if (!prior_only) {
    y ~ normal(alpha[group] + beta[group] .* x, sqrt(sigma_sq));
  }
}
generated quantities {
  real birth_weight;                      // average rat's weight at age 0 (g)
  real daily_gain;                        // average rat's gain (g per day)
  real sigma = sqrt(sigma_sq);
  real sd_alpha = sqrt(Sigma[1, 1]);      // between-rat sd of weight at birth
  real sd_beta = sqrt(Sigma[2, 2]);       // between-rat sd of daily gain
  real corr_theta = Sigma[1, 2] / (sd_alpha * sd_beta);
  vector[pointwise ? N : 0] log_lik;
  array[pointwise ? N : 0] real y_rep;
  birth_weight = theta_0[1];
  daily_gain = theta_0[2];
  if (pointwise) {
    vector[N] mu = to_vector(theta[group, 1])
                   + to_vector(theta[group, 2]) .* x;
    for (n in 1:N) {
      log_lik[n] = normal_lpdf(y[n] | mu[n], sigma);
    }
    y_rep = normal_rng(mu, sigma);
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
