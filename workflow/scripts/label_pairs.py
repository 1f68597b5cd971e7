"""Thin adapter: gold-labeled pairs from pi_init samples."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.data import labels

s = settings.Labels(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
labels.make_pairs(s, snakemake.input.gold_norm, snakemake.input.prompts, snakemake.output[0])
