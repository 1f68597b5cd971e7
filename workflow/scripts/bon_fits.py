"""Thin adapter: best-of-n fits of every scored target, with bootstrap CIs over prompts."""
import _package  # noqa: F401  (puts overopt on sys.path)

from overopt import runtime, settings
from overopt.tables import fits

s = settings.BonFit(**snakemake.params.hp)
runtime.job(snakemake, 0)
fits.bon_fits(s, snakemake.input.scores, snakemake.input.metas).to_csv(snakemake.output[0], index=False)
