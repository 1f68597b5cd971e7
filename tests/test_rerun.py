"""Exact partial reruns, proved by planning (snakemake -n) against a finished tiny run: a
config edit or a module edit plans exactly the jobs it affects."""
import os
import re
from collections import Counter

import pytest
import yaml
from conftest import run_snakemake

pytestmark = pytest.mark.slow
AGGREGATES = {"bon_curves": 1, "rm_metrics": 1, "curves": 1, "fits": 1, "figures": 1, "all": 1}
PROXY_RL = {"train_rl": 4 * 2}  # the tiny preset: 4 proxies x 2 KL coefficients
RL_ONLY = {"curves": 1, "fits": 1, "figures": 1, "all": 1}


def planned(snakemake_bin, repo, work, tmp_path, overlay=None) -> Counter:
    overlays = []
    if overlay:
        (tmp_path / "edit.yaml").write_text(yaml.safe_dump(overlay))
        overlays.append(tmp_path / "edit.yaml")
    out = run_snakemake(snakemake_bin, repo, work, "-n", overlays=overlays, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    text = out.stdout + out.stderr
    if "Nothing to be done" in text:
        return Counter()
    stats = text.split("Job stats:")[1].split("total")[0]
    return Counter({m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", stats, re.M)})


def test_fit_option_plans_fits_and_figures_only(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    assert planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"fit": {"level": 0.9}}) == \
        Counter({"fits": 1, "figures": 1, "all": 1})


def test_gold_labeling_plans_everything_downstream_of_labels(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"labels": {"flip_rate": 0.1}})
    assert plan == Counter({"label_pairs": 1, "train_rm": 4, "score_pool": 4, **PROXY_RL, **AGGREGATES})
    # the world, pi_init, the pool, the gold RM's scores and RL against the gold RM are untouched


def test_new_seed_plans_only_the_new_proxies(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"proxy": {"seeds": [0, 1]}})
    assert plan == Counter({"train_rm": 4, "score_pool": 4, **PROXY_RL, **AGGREGATES})


def test_proxy_hyperparameter_plans_proxies_and_downstream(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"proxy": {"train": {"learning_rate": 0.002}}})
    assert plan == Counter({"train_rm": 4, "score_pool": 4, **PROXY_RL, **AGGREGATES})


def test_new_kl_coefficient_plans_only_new_rl_runs(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"rl": {"kl_coefs": [0.0, 0.1, 0.3]}})
    assert plan == Counter({"train_rl": 5, **RL_ONLY})  # gold + 4 proxies at the new coefficient


def test_rl_hyperparameter_plans_rl_runs_and_readers(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"rl": {"train": {"learning_rate": 0.001}}})
    assert plan == Counter({"train_rl": 10, **RL_ONLY})


def test_checkpoint_frequency_is_not_a_change(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    assert planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"checkpoint_steps": 7}) == Counter()


@pytest.mark.parametrize("module,expected", [
    ("fit", {"fits": 1, "figures": 1, "all": 1}),
    ("figures", {"figures": 1, "all": 1}),
    ("labels", {"label_pairs": 1, "train_rm": 4, "score_pool": 4, **PROXY_RL, **AGGREGATES}),
    ("rl", {"train_rl": 10, **RL_ONLY}),
])
def test_module_edit_reruns_the_rules_that_import_it(snakemake_bin, tiny_repo, tiny_run, tmp_path, module, expected):
    src = tiny_repo / "overopt" / f"{module}.py"
    text, st = src.read_text(), src.stat()
    src.write_text(text + "\n# an edit\n")  # Snakemake compares checksums: a bare touch is no edit
    try:
        assert planned(snakemake_bin, tiny_repo, tiny_run, tmp_path) == Counter(expected)
    finally:
        src.write_text(text)
        os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns))
