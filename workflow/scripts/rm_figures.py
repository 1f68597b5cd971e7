"""Thin adapter: the RM-evaluation figures the output registry declares, from the tables."""
import _package  # noqa: F401  (puts overopt on sys.path)
from pathlib import Path

from overopt import runtime, settings
from overopt.figures import frames

s = settings.Figures(**snakemake.params.hp)
runtime.job(snakemake, 0)
i = snakemake.input
frames.draw({k: i[k] for k in ("rm_eval", "correlations", "report_card", "predictors", "role_swap", "teachers",
                               "teacher_correlations", "rm_metrics", "curves")}, s,
            str(Path(snakemake.output.pdfs[0]).parent))
