"""Thin adapter: the prompt splits (embedded language or a prompt dataset)."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, world

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
world.write_prompts(hp["world"], hp["seed"], snakemake.output[0])
