"""Thin adapter: train pi_init with TRL's SFTTrainer."""
import _package  # noqa: F401  (puts overopt on sys.path)
import json

from overopt import policy_train, runtime

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
info = policy_train.train_policy(snakemake.input.corpus, snakemake.input.tokenizer, hp["arch"], hp["n_positions"],
                                 hp["train"], hp["seed"], snakemake.output[0])
runtime.log.info("pi_init: %s", json.dumps(info))
