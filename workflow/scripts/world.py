"""Thin adapter: the embedded world's tokenizer and pi_init's training corpus."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, world

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
world.build(hp["world"], hp["response_len"], hp["seed"], snakemake.output.tokenizer, snakemake.output.corpus)
