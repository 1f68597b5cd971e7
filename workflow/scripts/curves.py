"""Thin adapter: every method's curve rows in one table."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, settings
from overopt.tables import curves

s = settings.Curves(**snakemake.params.hp)
runtime.job(snakemake, 0)
curves.concat_csv(snakemake.input.curves, s.rl_steps).to_csv(snakemake.output[0], index=False)
