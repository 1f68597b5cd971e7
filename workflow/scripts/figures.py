"""Thin adapter: every figure, from the tables."""
import _package  # noqa: F401  (puts overopt on sys.path)
from pathlib import Path

from overopt import figures, runtime

runtime.job(snakemake, 0)
figures.make_all(snakemake.input.curves, snakemake.input.fits, snakemake.input.scaling,
                 str(Path(snakemake.output[0]).parent), snakemake.params.hp["rl_algorithm"],
                 snakemake.params.hp["objective"])
