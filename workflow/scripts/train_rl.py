"""Thin adapter: one RL run; its evaluation rows carry the target RM's identity and the run's settings."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import rl, runtime, tables

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
rm = snakemake.wildcards.rm
meta = (tables.gold_meta(snakemake.input.meta, hp["study_seed"], rm) if rm in tables.REFERENCES
        else tables.proxy_meta(snakemake.input.meta))
rows = rl.train_rl(hp["policy"], hp["target"], snakemake.input.target_norm, hp["gold"], snakemake.input.gold_norm,
                   snakemake.input.prompts, hp["algorithm"], hp["kl_coef"], hp["seed"], hp, hp["response_len"],
                   hp["score_batch_size"], hp["trust_remote_code"], snakemake.params.checkpoints,
                   snakemake.config["checkpoint_steps"], hp.get("flat_factor"))
tables.tag(rows, "rl", meta, policy=hp["policy_name"], algorithm=hp["algorithm"], kl_coef=hp["kl_coef"],
           rl_seed=hp["seed"]).to_csv(
    snakemake.output[0], index=False)
