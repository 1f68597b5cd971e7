"""Thin adapter: Razin's table of (student, teacher) and its Table 2, from scores and curves."""
import _package  # noqa: F401  (puts overopt on sys.path)
import numpy as np

from overopt import runtime, settings
from overopt.data.splits import eval_prompts
from overopt.inputs import read_table
from overopt.tables.curves import read_curves
from overopt.tables.teachers import correlation_table, teacher_table

s = settings.Teachers(**snakemake.params.hp)
runtime.job(snakemake, 0)
i = snakemake.input
ids = [*s.members, s.gold] if s.members else []
pool = {rm: np.load(p) for rm, p in zip(ids, i.pool, strict=True)}
extra = {rm: dict(np.load(p)) for rm, p in zip(ids, i.scores, strict=True)}
meta = read_table(i.meta, {"rm": "str", "kind": "str", "family": "str"})
frame = teacher_table(s, pool, extra, meta, read_curves(i.curves), eval_prompts(i.prompts)["prompt"].tolist())
frame.to_csv(snakemake.output.teachers, index=False)
correlation_table(frame, s.n_boot, s.level, s.seed).to_csv(snakemake.output.correlations, index=False)
