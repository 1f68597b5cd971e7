"""Thin adapter: one RM scores pi_init's OOD samples, the other policies' samples and pool pairs
under swapped prompts."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.data import extra_scores

s = settings.ExtraScores(**snakemake.params.hp)
runtime.job(snakemake, 0)
i = snakemake.input
extra_scores.score_eval(s, i.norm, i.prompts, i.pool, i.ood, list(i.policy_pools), snakemake.output[0])
