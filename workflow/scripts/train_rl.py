"""Thin adapter: one RL run; its evaluation rows and samples carry the target's identity and the run's settings."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.tables import curves
from overopt.train import rl

s = settings.RL(**snakemake.params.hp)
runtime.job(snakemake, s.seed)
rows, samples = rl.train_rl(s, snakemake.input.target_norm, snakemake.input.gold_norm, snakemake.input.prompts,
                            snakemake.params.checkpoints, snakemake.config["checkpoint_steps"])
meta = curves.target_meta(snakemake.input.meta, snakemake.params.identity)
run = dict(policy=s.policy_name, algorithm=s.algorithm, kl_coef=s.kl_coef, rl_seed=s.seed)
curves.tag(samples, "rl", meta, **run).to_csv(snakemake.output.samples, index=False)
curves.tag(rows, "rl", meta, **run).to_csv(snakemake.output.curve, index=False)
