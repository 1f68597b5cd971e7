"""Thin adapter: gold-labeled pairs of pi_init's OOD samples (Mao's shift on new prompts)."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.data import labels

s = settings.OODPairs(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
labels.ood_pairs(s, snakemake.input.gold_norm, snakemake.input.prompts, snakemake.output[0])
