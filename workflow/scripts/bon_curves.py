"""Thin adapter: best-of-n curves against every target RM (the gold RM and each proxy)."""
import _package  # noqa: F401  (puts overopt on sys.path)
from pathlib import Path

import pandas as pd

from overopt import runtime, tables

hp = snakemake.params.hp
runtime.job(snakemake, hp["seed"])
metas = [tables.gold_meta(snakemake.input.gold_meta, hp["seed"]),
         *(tables.proxy_meta(m) for m in snakemake.input.metas)]
by_rm = {Path(s).stem: s for s in snakemake.input.scores}
curves = [tables.bon_curve(m, by_rm["gold"], by_rm[m["rm"]], hp["bon"]["N"], hp["bon"]["per_octave"],
                           hp["policy"]) for m in metas]
pd.concat(curves, ignore_index=True).to_csv(snakemake.output[0], index=False)
