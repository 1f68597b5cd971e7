"""Thin adapter: one proxy RM, with its identity row and held-out metrics."""
import _package  # noqa: F401  (puts overopt on sys.path)
import json

from overopt import runtime, settings
from overopt.train import rms

s = settings.Proxy(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
row = rms.train_proxy(s, snakemake.input.pairs, snakemake.output.model, snakemake.params.checkpoints,
                      snakemake.config["checkpoint_steps"], next(iter(snakemake.input.offpolicy), None))
with open(snakemake.output.metrics, "w") as f:
    json.dump(row, f, indent=2)
runtime.log.info("metrics: %s", json.dumps(row))
