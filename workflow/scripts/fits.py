"""Thin adapter: functional-form fits with bootstrap CIs, their coefficient scaling, and the
length regressions of the evaluation samples."""
import _package  # noqa: F401  (puts overopt on sys.path)

from overopt import runtime, settings
from overopt.inputs import read_table
from overopt.tables import fits, length
from overopt.tables.curves import read_curves, read_samples

s = settings.Fit(**snakemake.params.hp)
runtime.job(snakemake, 0)
i = snakemake.input
samples = read_samples(i.samples)
table = fits.fits_table(read_curves(i.curves), read_table(i.bon_fits, {"method": "str", "rm": "str", "curve": "str"}),
                        samples, s)
table.to_csv(snakemake.output.fits, index=False)
fits.scaling_table(fits.per_proxy_runs(table), s.level).to_csv(snakemake.output.scaling, index=False)
length.length_table(samples, s.level).to_csv(snakemake.output.length, index=False)
