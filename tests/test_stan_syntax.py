"""Every program passes stanc (CmdStan 2.27) and uses no form outside 2.27..current."""
import re
import subprocess

import pytest

from pystan_models.programs import STAN_DIR

PROGRAMS = sorted(STAN_DIR.glob("*.stan"))
INCLUDES = sorted((STAN_DIR / "include").glob("*.stanfunctions"))

# Removed in Stan 2.33+ or newer than 2.27 (see GUIDE.md).
FORBIDDEN = {
    # `real y[N];` or `real y[N] = ...;` (the name, not the type, carries the sizes)
    r"^\s*(real|int|vector|row_vector|matrix)\b[^=;(]*\b\w+\s*\[[^\]]*\]\s*[=;]":
        "old array syntax",
    r"<-": "<- assignment",
    r"increment_log_prob|get_lp\(|if_else\(|fabs\(|multiply_log\(": "removed function",
    r"binomial_coefficient_log\(": "removed function",
    r"(?<!poisson)_log\s*\(": "_log density suffix",
    r"^\s*#(?!include)": "# comment",
    r"\bto_int\(|std_normal_qf\(|fatal_error\(|sum_to_zero_vector|jacobian\s*\+=": "newer than 2.27",
    r"binomial_logit_glm|bernoulli_logit_glm_rng|\bcomplex\b|\btuple\(": "newer than 2.27",
    r"_cholesky_lpdf|wishart_cholesky|\bbinomial_logit_rng": "not in 2.27",
    # its gradient indexes the matrix wrongly on 2.27 (stan-dev/stan#3057)
    r"csr_matrix_times_vector": "broken on 2.27",
}


def test_there_are_programs():
    assert len(PROGRAMS) >= 3


@pytest.mark.parametrize("line, caught", [
    ("  real y[N];", True), ("  int n[N] = m;", True), ("  array[N] real y;", False),
    ("  matrix[N, K] Z_pos = Z[pos];", False), ("  y ~ normal_log(mu, 1);", True),
    ("  y ~ poisson_log(eta);", False), ("  int j = county[i];", False), ("  x <- 1;", True), ("  # old", True),
])
def test_forbidden_forms_check_itself(line, caught):
    hits = [w for pat, w in FORBIDDEN.items() if re.search(pat, line, re.MULTILINE)]
    assert bool(hits) == caught, hits


@pytest.mark.parametrize("path", PROGRAMS + INCLUDES, ids=lambda p: p.name)
def test_no_forbidden_forms(path):
    text = re.sub(r"//[^\n]*", "", path.read_text())
    for pattern, what in FORBIDDEN.items():
        match = re.search(pattern, text, re.MULTILINE)
        assert not match, f"{path.name}: {what}: {match.group(0)!r}"


@pytest.mark.parametrize("path", PROGRAMS + INCLUDES, ids=lambda p: p.name)
def test_style(path):
    lines = path.read_text().splitlines()
    assert lines[0].lstrip().startswith("//"), "first line: a comment saying what is modelled"
    long = [i + 1 for i, line in enumerate(lines) if len(line) > 80]
    assert not long, f"{path.name}: lines over 80 columns: {long}"
    assert not any("\t" in line for line in lines)


@pytest.mark.slow
@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: p.name)
def test_stanc_accepts(path, cmdstan_home):
    proc = subprocess.run([str(cmdstan_home / "bin" / "stanc"), "--warn-pedantic",
                           f"--include-paths={STAN_DIR},{STAN_DIR / 'include'}", str(path), "--o=/dev/null"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
