"""Thin adapter: gold-labeled pairs from pi_init samples."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import labels, runtime

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
labels.make_pairs(hp["policy"], hp["gold"], snakemake.input.gold_norm, snakemake.input.prompts, hp["n_train"],
                  hp["heldout"], hp["mode"], hp["flip_rate"], hp["response_len"], hp["sample_batch_size"],
                  hp["score_batch_size"], hp["seed"], snakemake.output[0], hp["trust_remote_code"])
