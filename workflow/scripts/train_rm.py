"""Thin adapter: one proxy RM of the grid, with its held-out metrics."""
import _package  # noqa: F401  (puts overopt on sys.path)
import json

from overopt import rm_train, runtime

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
pfr = {"pfr_prompts": hp["pfr"]["prompts"], "pfr_tau": hp["pfr"]["tau"]} if "pfr" in hp else {}
metrics = rm_train.train_proxy(snakemake.input.pairs, hp["tokenizer"], hp["size"], hp["data_size"], hp["seed"],
                               {**hp["train"], **pfr}, hp["n_positions"], snakemake.output.model,
                               snakemake.params.checkpoints, snakemake.config["checkpoint_steps"], hp["objective"])
row = {"rm": hp["id"], "rm_size": hp["size"]["name"], "data_size": hp["data_size"], "objective": hp["objective"],
       "seed": hp["seed"], "label_mode": hp["labels"]["mode"], "flip_rate": hp["labels"]["flip_rate"], **metrics}
with open(snakemake.output.metrics, "w") as f:
    json.dump(row, f, indent=2)
runtime.log.info("metrics: %s", json.dumps(row))
