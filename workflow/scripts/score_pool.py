"""Thin adapter: one RM scores the pool once; its normalization is fitted there."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import pool, runtime

hp = snakemake.params.hp
runtime.job(snakemake, 0)
pool.score_pool(hp["rm"], snakemake.input.prompts, snakemake.input.pool, hp["score_batch_size"],
                snakemake.output.scores, snakemake.output.norm, hp["trust_remote_code"])
