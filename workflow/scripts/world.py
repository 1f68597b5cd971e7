"""Thin adapter: the embedded world (tokenizer, prompt splits, pi_init's corpus)."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, world

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
world.build(hp["world"], hp["response_len"], hp["seed"], snakemake.output.tokenizer,
            snakemake.output.prompts, snakemake.output.corpus)
