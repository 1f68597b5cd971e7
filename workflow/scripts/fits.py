"""Thin adapter: functional-form fits and their coefficient scaling."""
import _package  # noqa: F401  (puts overopt on sys.path)
import pandas as pd

from overopt import fit, runtime, settings

s = settings.Fit(**snakemake.params.hp)
runtime.job(snakemake, 0)
fits = fit.fits_table(pd.read_csv(snakemake.input.curves), s.level, s.min_n, s.extrapolate_from)
fits.to_csv(snakemake.output.fits, index=False)
fit.scaling_table(fit.per_proxy_runs(fits), s.level).to_csv(snakemake.output.scaling, index=False)
