"""Thin adapter: the embedded world's tokenizer and pi_init's training corpus."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.world import language

s = settings.World(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
language.build(s.world, s.response_len, s.seed, snakemake.output.tokenizer, snakemake.output.corpus)
