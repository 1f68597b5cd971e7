"""Thin adapter: RM metrics beside downstream outcomes, their correlations, the headlines and the
report card."""
import _package  # noqa: F401  (puts overopt on sys.path)
from pathlib import Path

import numpy as np
import pandas as pd

from overopt import pool as pool_io
from overopt import rm_tables, runtime

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
scores = {Path(p).stem: np.load(p) for p in snakemake.input.pool}
extra = {Path(p).stem: dict(np.load(p)) for p in snakemake.input.extra}
prompts = pool_io.eval_prompts(snakemake.input.prompts)["prompt"].tolist()
frame = rm_tables.rm_eval_table(pd.read_csv(snakemake.input.meta), scores, extra, pd.read_csv(snakemake.input.curves),
                                prompts, hp["flat_factor"], hp)
frame.to_csv(snakemake.output.rm_eval, index=False)
rm_tables.correlation_table(frame, hp["n_boot"], hp["level"], hp["seed"]).to_csv(snakemake.output.correlations,
                                                                                   index=False)
rm_tables.headlines(frame, hp["n_boot"], hp["level"], hp["seed"]).to_csv(snakemake.output.headlines, index=False)
card, predictors = rm_tables.report_card(frame, pd.read_csv(snakemake.input.fits), hp["setting"], hp["n_boot"],
                                         hp["level"], hp["seed"])
card.to_csv(snakemake.output.report_card, index=False)
predictors.to_csv(snakemake.output.predictors, index=False)
