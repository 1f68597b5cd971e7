"""Thin adapter: Razin's off-policy pairs, pi_init at another temperature, gold-labeled."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.data import labels

s = settings.OffPolicyLabels(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
labels.make_pairs(s, snakemake.input.gold_norm, snakemake.input.prompts, snakemake.output[0], s.temperature,
                  s.data_size)
