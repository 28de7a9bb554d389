// Beetle mortality (Bliss 1935): binomial regression with the probit link.
//
// Notes, "Binomial GLM: choice of link function":
//   r_i ~ Binomial(n_i, p_i),  Phi^-1(p_i) = alpha + beta * x_i,
//   p(alpha, beta) proportional to 1 (flat prior).
// We sample alpha_c, beta on the centred dose x_i - mean(x) (the posterior of
// (alpha, beta) is a long thin ridge on the original scale) and recover
// alpha = alpha_c - beta * mean(x) in generated quantities.
// Data: Bliss (1935), as in Dobson (1990) and BUGS Examples Vol. 2 "Beetles".
data {
  int<lower=1> N;                     // dose groups
  vector[N] dose;                     // log10 CS2 concentration, x_i
  array[N] int<lower=0> exposed;      // n_i
  array[N] int<lower=0> killed;       // r_i
  int<lower=1> G;                     // grid for the dose-response curve
  vector[G] dose_grid;
}
transformed data {
  real dose_mean = mean(dose);
  vector[N] x_c = dose - dose_mean;
}
parameters {
  real alpha_c;  // probit of death at the mean dose
  real beta;     // change in probit per unit log10 dose
}
model {
  // prior: p(alpha_c, beta) proportional to 1, as in the notes (improper,
  // but the posterior is proper with these data): nothing adds to target.
  // likelihood: r_i ~ Binomial(n_i, Phi(alpha + beta x_i))
  killed ~ binomial(exposed, Phi(alpha_c + beta * x_c));
}
generated quantities {
  // intercept on the original dose scale
  real alpha = alpha_c - beta * dose_mean;
  vector[N] p_hat = Phi(alpha_c + beta * x_c);  // E(r_i / n_i | x_i)
  vector[G] p_grid = Phi(alpha + beta * dose_grid);
  vector[N] log_lik;
  array[N] int y_rep;
  for (i in 1:N) {
    log_lik[i] = binomial_lpmf(killed[i] | exposed[i], p_hat[i]);
    y_rep[i] = binomial_rng(exposed[i], p_hat[i]);
  }
}
