"""Thin adapter: one direct-alignment run; its rows carry the scored proxy's identity and the run's settings."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import daa, runtime, tables

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
rows = daa.train_daa(hp["policy"], snakemake.input.pairs, hp["gold"], snakemake.input.gold_norm, hp["proxy"],
                     snakemake.input.proxy_norm, snakemake.input.prompts, hp["loss"], hp["beta"], hp["seed"], hp,
                     hp["data_size"], hp["response_len"], hp["score_batch_size"], hp["trust_remote_code"],
                     snakemake.params.checkpoints, snakemake.config["checkpoint_steps"])
tables.tag(rows, "daa", tables.proxy_meta(snakemake.input.meta), policy=hp["policy_name"], loss=hp["loss"],
           daa_beta=hp["beta"], daa_seed=hp["seed"], pairs=hp["data_size"]).to_csv(snakemake.output[0], index=False)
