"""Thin adapter: best-of-n curves against every scored target (the gold RM and each proxy)."""
import _package  # noqa: F401  (puts overopt on sys.path)

from overopt import runtime, settings
from overopt.train import bon

s = settings.Bon(**snakemake.params.hp)
runtime.job(snakemake, 0)
bon.bon_curves(s, snakemake.input.scores, snakemake.input.metas).to_csv(snakemake.output[0], index=False)
