"""Thin adapter: the gold RM (built here, or the configured model) and its identity row."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.world import gold

s = settings.Gold(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
gold.gold_stage(s, snakemake.input.get("tokenizer"), snakemake.output.meta, snakemake.output.get("model"))
