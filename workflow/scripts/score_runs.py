"""Thin adapter: one RM of the role swap scores the evaluation samples of its views' RL runs."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.data.run_scores import score_runs

s = settings.RunScores(**snakemake.params.hp)
runtime.job(snakemake, 0)
i = snakemake.input
score_runs(s, i.norm, i.prompts, list(i.samples), snakemake.output[0])
