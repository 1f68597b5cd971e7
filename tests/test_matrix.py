"""The config matrix: the tiny preset with one arm switched off at a time, each run end to end
through Snakemake (like the ``.test`` configs of the snakemake-workflows repositories). A
switched-off arm declares nothing it cannot draw, crashes nothing, and every table and every
figure the output registry declares for the config is written. Each variant starts from a copy
of the tiny preset's finished run without its tables and figures, as a user who switches an arm
off in an existing folder does: Snakemake reruns what the change affects and every table and
figure. Each variant but ``ppo-only`` runs RLOO only and without the RL sweeps."""
import shutil

import pandas as pd
import pytest
import yaml

from conftest import copy_run, run_snakemake

pytestmark = pytest.mark.slow

RLOO = {"algorithms": ["rloo"], "sweeps": []}
VARIANTS = {
    "no-policy-sizes": {"policy": {"more_sizes": []}, "rl": RLOO},
    "no-daa": {"daa": {"losses": []}, "rl": RLOO},
    "no-flat-teacher": {"rm_eval": {"flat_factor": None}, "rl": RLOO},
    "bt-only": {"proxy": {"objectives": ["bt"]}, "rl": {**RLOO, "objectives": ["bt"]}},
    "one-size-one-data": {"proxy": {"sizes": [{"name": "xs", "arch": {"n_embd": 8, "n_layer": 1, "n_head": 2}}],
                                    "data_sizes": [200]}, "role_swap": {"size": "xs", "data_size": 200},
                          "shift": {"size": "xs", "data_size": 200}, "mix": {"size": "xs", "data_size": 200},
                          "rl": RLOO},
    "no-role-swap": {"role_swap": {"flip_rates": []}, "rl": RLOO},
    "no-mix": {"mix": {"onpolicy_fractions": []}, "rl": RLOO},
    "no-shift": {"shift": {"seeds": []}, "rl": RLOO},
    "ppo-only": {"rl": {"algorithms": ["ppo"], "sweeps": []}},
}


def variant_config(root, overlay):
    from snakemake.utils import update_config

    from overopt import config as C

    cfg = yaml.safe_load((root / "config.yaml").read_text())
    for layer in (yaml.safe_load((root / "config/presets/tiny.yaml").read_text()), overlay):
        update_config(cfg, layer)
    return C.validate(cfg)


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_variant_runs_end_to_end(name, root, tiny_repo, tiny_run, snakemake_bin, tmp_path):
    from overopt import outputs
    from overopt.targets import PROXY, Registry

    overlay = VARIANTS[name]
    cfg = variant_config(root, overlay)
    (tmp_path / "variant.yaml").write_text(yaml.safe_dump(overlay))
    work = copy_run(tiny_run, tmp_path / "work")
    for done in ("tables", "figures"):
        shutil.rmtree(work / "results" / done)
    out = run_snakemake(snakemake_bin, tiny_repo, work, "--cores", "2", overlays=[tmp_path / "variant.yaml"])
    assert out.returncode == 0, out.stderr[-4000:]
    tables = work / "results" / "tables"
    for table in outputs.TABLES:
        assert (tables / f"{table}.csv").stat().st_size > 0, table
    drawn = {p.stem for p in (work / "results" / "figures").glob("*.png")}
    assert drawn == {f.name for f in outputs.figures(cfg)}
    curves = pd.read_csv(tables / "curves.csv")
    registry = Registry(cfg)
    assert set(curves["rm"]) == set(registry.ids)  # every target has curves, no other
    assert set(curves.loc[curves["kind"] == PROXY, "rm"]) == {t.id for t in registry.proxies}
    assert set(curves.loc[curves["method"] == "rl", "algorithm"]) == set(cfg["rl"]["algorithms"])
    assert ("daa" in set(curves["method"])) == bool(cfg["daa"]["losses"])
