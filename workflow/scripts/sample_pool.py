"""Thin adapter: a pool of N samples per prompt of one split (the reference pool, the OOD pool, another policy's)."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.data import reference

s = settings.Pool(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
reference.sample_pool(s, snakemake.input.prompts, snakemake.output[0])
