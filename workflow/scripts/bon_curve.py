"""Thin adapter: the best-of-n curve against one target RM."""
import _package  # noqa: F401  (puts overopt on sys.path)
from overopt import runtime, tables

hp = snakemake.params.hp
runtime.setup(snakemake.threads, hp["seed"], snakemake.log[0])
rm = snakemake.wildcards.rm
meta = tables.gold_meta(snakemake.input.meta, hp) if rm == "gold" else tables.proxy_meta(snakemake.input.meta)
tables.bon_curve(meta, snakemake.input.gold, snakemake.input.proxy, hp["bon"]["N"],
                 hp["bon"]["per_octave"]).to_csv(snakemake.output[0], index=False)
