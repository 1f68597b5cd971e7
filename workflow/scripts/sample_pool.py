"""Thin adapter: a pool of N samples per prompt of one split (BoN: eval, generated once; RM evaluation: ood)."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import pool, runtime

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
pool.sample_pool(hp["policy"], snakemake.input.prompts, hp["N"], hp["response_len"], hp["sample_batch_size"],
                 hp["seed"], snakemake.output[0], hp["trust_remote_code"], hp.get("split", "eval"))
