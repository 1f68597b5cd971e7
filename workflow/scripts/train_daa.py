"""Thin adapter: one direct-alignment run; its rows carry the scoring proxy's identity and the run's settings."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.tables import curves
from overopt.train import daa

s = settings.DAA(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
i = snakemake.input
rows = daa.train_daa(s, i.pairs, i.gold_norm, i.proxy_norm, i.prompts, snakemake.params.checkpoints,
                     snakemake.config["checkpoint_steps"])
curves.tag(rows, "daa", curves.target_meta(i.meta), policy=s.policy_name, loss=s.loss, daa_beta=s.beta,
           daa_seed=s.seed, pairs=s.data_size).to_csv(snakemake.output[0], index=False)
