"""Thin adapter: the replication scorecard, from the study's own tables."""
import _package  # noqa: F401  (puts overopt on sys.path)

from overopt import runtime, settings
from overopt.inputs import read_table
from overopt.tables.curves import read_curves
from overopt.tables.replication import replication_table

s = settings.Replication(**snakemake.params.hp)
runtime.job(snakemake, 0)
fits = read_table(snakemake.input.fits, {"method": "str", "rm": "str", "curve": "str", "form": "str"})
role_swap = read_table(snakemake.input.role_swap, {"view": "str", "golden": "str", "proxy": "str", "method": "str"},
                       min_rows=0)
rm_metrics = read_table(snakemake.input.rm_metrics, {"rm": "str", "kind": "str", "family": "str", "objective": "str"})
teachers = read_table(snakemake.input.teachers, {"student": "str", "teacher": "str", "family": "str"}, min_rows=0)
replication_table(read_curves(snakemake.input.curves), fits, role_swap=role_swap, rm_metrics=rm_metrics, teachers=teachers,
                  **s.options()).to_csv(snakemake.output[0], index=False)
