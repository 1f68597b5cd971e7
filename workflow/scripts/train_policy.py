"""Thin adapter: train one policy size with TRL's SFTTrainer."""
import _package  # noqa: F401  (puts overopt on sys.path)
import json

from overopt import runtime, settings
from overopt.world import policy

s = settings.Policy(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
info = policy.train_policy(snakemake.input.corpus, snakemake.input.tokenizer, s, snakemake.output[0])
runtime.log.info("policy: %s", json.dumps(info))
