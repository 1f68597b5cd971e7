"""Thin adapter: one row per proxy RM."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime
from overopt.tables import curves

runtime.job(snakemake, 0)
curves.rm_metrics(snakemake.input.metrics, snakemake.input.shift).to_csv(snakemake.output[0], index=False)
