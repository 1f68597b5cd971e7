"""Thin adapter: one shift proxy's accuracies on the OOD prompts' pairs (Mao's shift on new prompts)."""
import _package  # noqa: F401  (puts overopt on sys.path)
import json

from overopt import runtime, settings
from overopt.train import rms

s = settings.ShiftScores(**snakemake.params.hp)
runtime.job(snakemake, 0)
row = rms.ood_shift(s, snakemake.input.pairs)
with open(snakemake.output[0], "w") as f:
    json.dump(row, f, indent=2)
runtime.log.info("OOD shift: %s", json.dumps(row))
