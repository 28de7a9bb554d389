"""A program's generated quantities on the draws of any fit, by cmdstanpy's
``generate_quantities``: replicates after sampling, predictions for new rows.

CmdStan's standalone generated quantities reads a fit's Stan CSV files.  A fit that
has none gets them written from its parameter draws:

* a Gibbs sampler's (its draws carry the program's parameter names and shapes);
* a fit rebuilt from a saved run (``--from DIR``), which keeps the draws, not
  CmdStan's files: the draws as read from the run's ``<fit>.nc``, before the
  example rescales them (``Fit.as_sampled``).

CmdStan 2.27 reads the parameters block's values after seven sampler columns
(``lp__`` to ``energy__``), in the program's column order (each variable's
elements column-major, as CmdStan writes them); cmdstanpy reads the method and
the number of draws from the comments.  Values are written with 17 significant
digits, so the doubles CmdStan reads are the draws themselves: a rebuilt run
predicts exactly what the run it was saved from predicted, with the same seed.
"""
from __future__ import annotations

import itertools
import logging
import tempfile
from pathlib import Path

import cmdstanpy
import numpy as np
import xarray as xr

from . import programs
from .errors import PystanModelsError

SAMPLER_COLUMNS = ("lp__", "accept_stat__", "stepsize__", "treedepth__",
                   "n_leapfrog__", "divergent__", "energy__")

# after the draws, as CmdStan ends its files (cmdstanpy counts the draws up to it)
TIMING = ("# \n#  Elapsed Time: 0 seconds (Warm-up)\n#                0 seconds "
          "(Sampling)\n#                0 seconds (Total)\n# ")


def generated(f, data: dict, seed: int, names: list[str], dim: tuple[str, np.ndarray],
              program: str | None = None) -> dict[str, xr.DataArray]:
    """The generated quantities ``names`` of ``program`` (default: the fit's own)
    run on the draws of the fit ``f`` with Stan data ``data``: each chain x draw x
    ``dim`` (its name and coordinates; the values flattened as cmdstanpy gives
    them), with the chain and draw coordinates of the fit's posterior."""
    program = program or f.program
    model = programs.load(program, quiet=True)
    with tempfile.TemporaryDirectory(prefix="pystan_models-draws-") as tmp, \
            programs.cmdstanpy_log_level(logging.ERROR):
        previous = f.fit if f.fit is not None else csv_fit(model, parameters(f), tmp)
        chains, draws = previous.chains, previous.num_draws_sampling
        try:
            gq = model.generate_quantities(data=data, previous_fit=previous, seed=seed)
            values = {name: np.asarray(gq.stan_variable(name), float)
                      .reshape(chains, draws, -1) for name in names}
        except (RuntimeError, ValueError) as exc:    # ValueError: CmdStan crashed,
            raise PystanModelsError(                 # its output file is empty
                f"{programs.stan_file(program)}: CmdStan failed in generated "
                f"quantities on the draws of {f.program}: "
                f"{str(exc).splitlines()[0]}") from None
    post = f.idata["posterior"]
    coords = {"chain": post["chain"].values, "draw": post["draw"].values, dim[0]: dim[1]}
    return {name: xr.DataArray(v, dims=("chain", "draw", dim[0]), coords=coords)
            for name, v in values.items()}


def parameters(f) -> xr.Dataset:
    """The fit's draws as sampled (``Fit.as_sampled`` where they were rescaled)."""
    return f.as_sampled if f.as_sampled is not None else f.idata["posterior"].to_dataset()


def csv_fit(model: cmdstanpy.CmdStanModel, posterior: xr.Dataset, folder: str
            ) -> cmdstanpy.CmdStanMCMC:
    """Stan CSV files in ``folder``, one per chain, of the model's parameters'
    draws in ``posterior`` (chain x draw x the declared shape), read back by
    cmdstanpy as a fit.  A declared parameter the draws lack has size 0 (ArviZ
    keeps no size-0 variable, and CmdStan writes no column for one); if it has
    not, CmdStan refuses the files' columns (:func:`generated` names the program)."""
    declared = [name for name in model.src_info()["parameters"] if name in posterior]
    names, columns = list(SAMPLER_COLUMNS), []
    for name in declared:
        v = np.asarray(posterior[name].values, float)
        shape = v.shape[2:]
        # column-major: the first index runs fastest, as CmdStan writes containers
        columns.append(v.transpose(0, 1, *range(v.ndim - 1, 1, -1))
                       .reshape(v.shape[0], v.shape[1], -1))
        names += [".".join([name, *map(str, reversed(index))])
                  for index in itertools.product(*(range(1, n + 1)
                                                   for n in reversed(shape)))]
    values = np.concatenate(columns, axis=2)
    # num_warmup = 1: cmdstanpy refuses 0 with adaptation on, its default; no
    # warmup draw is saved, so none is read
    chains, draws = values.shape[:2]
    files = []
    for c in range(chains):
        path = Path(folder) / f"{model.name}-draws-{c + 1}.csv"
        header = (f"# model = {model.name}_model\n# method = sample (Default)\n"
                  f"#   sample\n#     num_samples = {draws}\n#     num_warmup = 1\n"
                  f"#     save_warmup = 0 (Default)\n#     thin = 1 (Default)\n"
                  f"#     algorithm = fixed_param\n# id = {c + 1}\n" + ",".join(names))
        rows = np.hstack([np.zeros((draws, len(SAMPLER_COLUMNS))), values[c]])
        np.savetxt(path, rows, fmt="%.17g", delimiter=",", header=header, comments="",
                   footer=TIMING)
        files.append(str(path))
    return cmdstanpy.from_csv(files, method="sample")
