"""Thin adapter: one row per proxy RM."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, tables

runtime.job(snakemake, 0)
tables.rm_metrics(snakemake.input.metrics).to_csv(snakemake.output[0], index=False)
