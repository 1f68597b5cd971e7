"""Thin adapter: the seeded random teacher reward model (the gold RM)."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, world

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
world.save_gold(hp["gold"], snakemake.input.tokenizer, hp["n_positions"], hp["seed"], snakemake.output[0])
