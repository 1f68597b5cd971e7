"""Thin adapter: Wen's role-swap table, from pool scores and the members' scores of the runs."""
from pathlib import Path

import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.tables.role_swap import role_swap_table

s = settings.RoleSwap(**snakemake.params.hp)
runtime.job(snakemake, 0)
i = snakemake.input
ids = [*dict.fromkeys([*s.family, *s.grid])]
scorers = [Path(f).stem for f in i.run_scores]  # role_swap/scores/<rm>.npz
role_swap_table(s, dict(zip(ids, i.pool, strict=True)), dict(zip(ids, i.metas, strict=True)), list(i.samples),
                dict(zip(scorers, i.run_scores, strict=True))).to_csv(snakemake.output[0], index=False)
