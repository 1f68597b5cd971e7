"""Thin adapter: one of Razin's teachers scores the off-policy held-out pairs and the other students' samples."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.data.teacher_scores import score_teacher

s = settings.TeacherScores(**snakemake.params.hp)
runtime.job(snakemake, 0)
i = snakemake.input
score_teacher(s, i.norm, i.prompts, i.offpolicy, list(i.policy_pools), snakemake.output[0])
