"""Thin adapter: one RM scores pi_init's OOD samples, the other policies' samples and pool pairs
under swapped prompts."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import pool, runtime

hp = snakemake.params.hp
runtime.job(snakemake, 0)
pool.score_eval(hp["rm"], snakemake.input.norm, snakemake.input.prompts, snakemake.input.pool, snakemake.input.ood,
                hp["swap_prompts"], hp["swaps"], hp["score_batch_size"], snakemake.output[0], hp["trust_remote_code"],
                dict(zip(hp["policies"], snakemake.input.policy_pools)))
