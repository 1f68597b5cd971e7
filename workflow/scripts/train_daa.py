"""Thin adapter: one direct-alignment run; its rows and samples carry the scoring proxy's identity and the run's settings."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.tables import curves
from overopt.train import daa

s = settings.DAA(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
i = snakemake.input
rows, samples = daa.train_daa(s, i.pairs, i.gold_norm, i.proxy_norm, i.prompts, snakemake.params.checkpoints,
                              snakemake.config["checkpoint_steps"])
meta = curves.target_meta(i.meta)
run = dict(policy=s.policy_name, loss=s.loss, daa_beta=s.beta, daa_seed=s.seed, pairs=s.data_size)
curves.tag(samples, "daa", meta, **run).to_csv(snakemake.output.samples, index=False)
curves.tag(rows, "daa", meta, **run).to_csv(snakemake.output.curve, index=False)
