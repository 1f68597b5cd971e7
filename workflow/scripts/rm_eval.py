"""Thin adapter: RM metrics beside downstream outcomes, their correlations, the headlines and the
report card."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.tables import summaries

s = settings.RMEval(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
summaries.write_all(s, snakemake.input, snakemake.output)
