"""Thin adapter: one RM scores the reference pool once; its normalization is fitted there."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.data import reference

s = settings.Score(**snakemake.params.hp)
runtime.job(snakemake, 0)
reference.score_pool(s, snakemake.input.prompts, snakemake.input.pool, snakemake.output.scores, snakemake.output.norm)
