"""Thin adapter: functional-form fits and their coefficient scaling."""
import _package  # noqa: F401  (puts overopt on sys.path)
import pandas as pd

from overopt import fit, runtime, tables

hp = snakemake.params.hp
runtime.job(snakemake, 0)
fits = fit.fits_table(pd.read_csv(snakemake.input.curves), hp["level"], hp["min_n"], hp["extrapolate_from"])
fits.to_csv(snakemake.output.fits, index=False)
per_run = fits[~fits["rm"].isin(tables.REFERENCES) & (fits["form"] != "rl_joint")]
fit.scaling_table(per_run, hp["level"]).to_csv(snakemake.output.scaling, index=False)
