"""Thin adapter: every method's curve rows in one table."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, tables

runtime.job(snakemake, 0)
tables.concat_csv(snakemake.input.curves).to_csv(snakemake.output[0], index=False)
