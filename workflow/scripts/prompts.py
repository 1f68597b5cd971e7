"""Thin adapter: the prompt splits (embedded language or a prompt dataset)."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.world import prompts

s = settings.Prompts(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
prompts.write_prompts(s.world, s.seed, snakemake.output[0])
