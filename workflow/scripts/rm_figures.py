"""Thin adapter: the RM-evaluation figures, from the tables."""
import _package  # noqa: F401  (puts overopt on sys.path)
from pathlib import Path

from overopt import rm_figures, runtime

runtime.job(snakemake, 0)
i = snakemake.input
rm_figures.make_all(i.rm_eval, i.correlations, i.report_card, i.predictors, i.curves,
                    str(Path(snakemake.output.pdfs[0]).parent), snakemake.params.hp["setting"])
