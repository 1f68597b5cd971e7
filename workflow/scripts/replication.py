"""Thin adapter: the replication scorecard, from the study's own tables."""
import _package  # noqa: F401  (puts overopt on sys.path)

from overopt import runtime, settings
from overopt.inputs import read_table
from overopt.tables.curves import read_curves
from overopt.tables.replication import replication_table

s = settings.Replication(**snakemake.params.hp)
runtime.job(snakemake, 0)
fits = read_table(snakemake.input.fits, {"method": "str", "rm": "str", "curve": "str", "form": "str"})
replication_table(read_curves(snakemake.input.curves), fits, **s.options()).to_csv(snakemake.output[0], index=False)
