"""Exact partial reruns, proved by planning (snakemake -n) against a finished tiny run: a
config edit or a module edit plans exactly the jobs it affects."""
import os
import re
from collections import Counter

import pytest
import yaml
from conftest import run_snakemake

pytestmark = pytest.mark.slow
RL_ONLY = {"curves": 1, "fits": 1, "replication": 1, "figures": 1, "rm_eval": 1, "rm_figures": 1, "teachers": 1,
           "all": 1}
AGGREGATES = {"bon_curves": 1, "bon_fits": 1, "rm_metrics": 1, **RL_ONLY}
# the tiny preset: 8 proxies (2 sizes x 2 data sizes x bt/pfr) and 2 seed replicates (seed 1 of
# both sizes at 200 pairs, BoN and the RM evaluation only), the role-swap family's 3 members
# beside the grid's s-d600-bt-s0 and the shift's 4 (bt/pfr x 2 seeds); RL with 2 algorithms x 1
# KL coefficient from pi_init against the gold RM, the flat teacher and every grid proxy, plus
# the larger policy against the gold RM (the grid), rl.sweeps: 3 more RLOO runs against the gold
# RM, and RLOO runs against the 3 new role-swap members and the 4 shift proxies; DAA with 2
# losses from both policies, scored by one proxy; each proxy's extra RM-evaluation scores; every
# role-swap member's scores of the role-swap runs and every grid proxy's of the grid's first-setting
# runs against gold and the grid (the RM evaluation's extra scores: the grid's only);
# Razin's mix: 2 members beside the grid's s-d600-bt-s0, RLOO of both students against the 3, gold
# and the flat teacher (6 runs beyond the grid's), the members' and gold's scores of the off-policy
# pairs and of the larger policy's pool, and the teachers table (it reads curves)
PROXIES = {"train_rm": 10 + 3 + 4 + 2, "score_pool": 10 + 3 + 4 + 2, "score_eval": 10, "score_teachers": 3,
           "score_shift": 4}  # the shift proxies' accuracies on the OOD prompts' pairs
PROXY_RL = {"train_rl": 2 * 8 + 3 + 4 + 5}  # the mix: small vs 2 members, large vs the 3
GRID_RL = {"train_rl": 2 * 10 + 2}
ALL_RL = {"train_rl": 2 * 10 + 2 + 3 + 3 + 4 + 6}
DAA = {"train_daa": 2 * 2}
SWAP = {"score_runs": 4 + 8 - 1, "role_swap": 1}  # the role swap's scores of the runs (the family's, the grid's), its table


def planned(snakemake_bin, repo, work, tmp_path, overlay=None) -> Counter:
    overlays = []
    if overlay:
        (tmp_path / "edit.yaml").write_text(yaml.safe_dump(overlay, sort_keys=False))  # as a user edits it
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
        Counter({"bon_fits": 1, "fits": 1, "replication": 1, "figures": 1, "rm_eval": 1, "rm_figures": 1, "teachers": 1,
                 "all": 1})  # the teachers table's intervals are at fit.level


def test_gold_labeling_plans_everything_downstream_of_labels(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"labels": {"flip_rate": 0.1}})
    assert plan == Counter({"label_pairs": 1, "label_offpolicy": 1, **PROXIES, "score_teachers": 4, **PROXY_RL, **DAA,
                            **AGGREGATES, **SWAP})  # gold scores the relabeled off-policy pairs too
    # the world, the policies, the pool, the gold RM's scores and RL against the gold RM are untouched


def test_new_seed_plans_only_the_new_proxies(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"proxy": {"seeds": [0, 2]}})
    # DAA's proxy is seed 0, the family's seed is role_swap.seed; the grid view of the role swap grows:
    # its 8 new proxies score its runs, the 8 old ones score the new runs too
    assert plan == Counter({"train_rm": 8, "score_pool": 8, "score_eval": 8, "train_rl": 2 * 8, **AGGREGATES,
                            "score_runs": 8 + 8, "role_swap": 1})  # mix.seed stays


def test_new_extra_seed_cells_plan_their_proxies_and_no_rl(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"proxy": {"extra_seeds": {"data_sizes": [200, 600]}}})
    # seed 1 of both sizes at 600 pairs: trained, scored, in the tables and the grid view's BoN; no RL, no run scores
    assert plan == Counter({"train_rm": 2, "score_pool": 2, "score_eval": 2, **AGGREGATES, "role_swap": 1})


def test_proxy_hyperparameter_plans_proxies_and_downstream(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"proxy": {"train": {"learning_rate": 0.002}}})
    assert plan == Counter({**PROXIES, **PROXY_RL, **DAA, **AGGREGATES, **SWAP})


def test_new_kl_coefficient_plans_only_new_rl_runs(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"rl": {"kl_coefs": [0.1, 0.3]}})
    assert plan == Counter({**GRID_RL, **RL_ONLY})  # every grid run again, at the new coefficient (not the role swap's)


def test_rl_hyperparameter_plans_rl_runs_and_readers(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"rl": {"train": {"learning_rate": 0.001}}})
    assert plan == Counter({**ALL_RL, **RL_ONLY, **SWAP})


def test_daa_hyperparameter_plans_daa_runs_and_readers(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"daa": {"betas": [0.1, 0.5]}})
    assert plan == Counter({**DAA, **RL_ONLY})  # the new beta's runs


def test_new_policy_size_plans_its_policy_and_rl_runs(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    sizes = [{"name": "large", "arch": {"n_embd": 48, "n_layer": 1, "n_head": 2}},
             {"name": "huge", "arch": {"n_embd": 64, "n_layer": 1, "n_head": 2}}]
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"policy": {"more_sizes": sizes}})
    # its runs, and its sample pool scored by every RM for the RM evaluation (variance under it)
    # and DAA from it (daa.policy_sizes); a third student of Razin's design: against the 3 mix
    # members and the flat teacher (gold is its run above), its pool scored by the teachers
    assert plan == Counter({"train_policy": 1, "train_rl": 2 + 4, "train_daa": 2, "sample_policy_pool": 1,
                            "score_eval": 11, "score_teachers": 4, **RL_ONLY})


def test_pfr_setting_plans_only_pfr_proxies_and_downstream(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"proxy": {"pfr": {"tau": 0.3}}})
    # the grid's 4 pfr proxies and the shift's 2; the role swap's grid view holds the grid's: every
    # grid proxy scores the new runs against the pfr proxies
    assert plan == Counter({"train_rm": 4 + 2, "score_pool": 4 + 2, "score_eval": 4, "train_rl": 2 * 4 + 2,
                            "score_shift": 2, **AGGREGATES, "score_runs": 8, "role_swap": 1})


@pytest.mark.parametrize("overlay,expected", [
    # RL drops the pfr proxies: only the readers rerun, and the grid's bt proxies score fewer runs
    ({"rl": {"objectives": ["bt"]}}, {**RL_ONLY, "score_runs": 4, "role_swap": 1}),
    # two pfr proxies fewer: nothing retrains; the grid's other 6 score fewer runs
    ({"proxy": {"pfr": {"data_sizes": [200]}}}, {**AGGREGATES, "score_runs": 6, "role_swap": 1}),
], ids=["rl-objectives", "pfr-data-sizes"])
def test_narrowing_the_grid_retrains_nothing(snakemake_bin, tiny_repo, tiny_run, tmp_path, overlay, expected):
    assert planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, overlay) == Counter(expected)


def test_rm_eval_option_plans_only_the_rm_evaluation(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"rm_eval": {"bon_n": 8}})
    assert plan == Counter({"rm_eval": 1, "rm_figures": 1, "all": 1})


def test_flat_teacher_factor_plans_its_runs_only(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    plan = planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"rm_eval": {"flat_factor": 0.2}})
    assert plan == Counter({"train_rl": 3, **RL_ONLY})  # gold_flat under both algorithms, and from the larger student


def test_checkpoint_frequency_is_not_a_change(snakemake_bin, tiny_repo, tiny_run, tmp_path):
    assert planned(snakemake_bin, tiny_repo, tiny_run, tmp_path, {"checkpoint_steps": 7}) == Counter()


@pytest.mark.parametrize("module,expected", [
    ("fit", {"bon_fits": 1, "fits": 1, "replication": 1, "figures": 1, "rm_eval": 1, "rm_figures": 1, "all": 1}),  # not teachers
    ("tables/rm_eval", {"rm_eval": 1, "figures": 1, "rm_figures": 1, "all": 1}),  # figure jobs reach every drawer
    ("figures/layout", {"figures": 1, "rm_figures": 1, "all": 1}),  # rm_figures draws with its helpers
    ("figures/wen", {"figures": 1, "rm_figures": 1, "all": 1}),  # both jobs draw through the registry
    ("data/labels", {"label_pairs": 1, "label_offpolicy": 1, "label_ood": 1, **PROXIES, "score_teachers": 4, **PROXY_RL, **DAA,
                     **AGGREGATES, **SWAP}),
    ("train/evaluate", {**ALL_RL, **DAA, **RL_ONLY, **SWAP}),  # RL and DAA measure their checkpoints with it
    ("train/rl", {**ALL_RL, **RL_ONLY, **SWAP}),
    ("train/daa", {**DAA, **RL_ONLY}),
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
