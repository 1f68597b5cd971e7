"""End to end through Snakemake on the tiny preset: lint, a real run, every table and figure,
and a second plan that finds nothing to do."""
import subprocess

import pandas as pd
import pytest
import yaml
from conftest import run_snakemake

from overopt import targets

pytestmark = pytest.mark.slow

TABLE_COLUMNS = {
    "rm_metrics": ["rm", "kind", "family", "rm_size", "params", "data_size", "objective", "seed", "label_mode", "flip_rate",
                   "val_loss", "val_accuracy", "gold_accuracy"],
    "curves": ["method", "rm", "kind", "family", "rm_size", "params", "data_size", "seed", "policy", "n", "kl", "d", "gold", "proxy",
               "algorithm", "kl_coef", "rl_seed", "step", "kl_k3", "length", "policy_params", "loss", "daa_beta",
               "daa_seed", "pairs", "epoch", "implicit_acc"],
    "fits": ["method", "rm", "params", "data_size", "policy", "curve", "form", "alpha", "beta", "alpha_ci_low",
             "alpha_ci_high", "beta_ci_low", "beta_ci_high", "d_star", "r_star", "rmse", "rmse_quadratic_kl",
             "rmse_rl_log1p", "extrap_cutoff", "extrap_rmse_out", "d_star_ci_low", "d_star_ci_high", "ci_method",
             "n_boot_ok", "n_seeds", "saturated"],
    "length": ["method", "rm", "policy", "step", "n_samples", "length", "gold_slope", "gold_ci_low", "gold_ci_high",
               "implicit_slope", "loss", "daa_beta"],
    "replication": ["paper", "claim", "description", "statistic", "value", "ci_low", "ci_high", "paper_value",
                    "verdict", "rule", "n"],
    "scaling": ["method", "coefficient", "predictor", "group", "slope", "slope_ci_low", "slope_ci_high", "n_saturated"],
    "rm_eval": ["rm", "kind", "family", "rm_size", "params", "data_size", "objective", "policy", "algorithm", "kl_coef", "rl_seed",
                "acc_labeled", "acc_pool", "acc_best_worst", "acc_adjacent", "acc_budget_all_pairs", "acc_ood",
                "spearman", "mrr", "ndcg", "ece", "variance", "pf_share", "bon_gold", "ndr_bon", "rl_gold_gain_step",
                "rl_proxy_gain_step", "ndr_rl_step", "ndr_rl_kl", "ndr_rl_final"],
    "correlations": ["policy", "algorithm", "kl_coef", "rl_seed", "metric", "outcome", "stat", "value", "ci_low",
                     "ci_high", "n"],
    "report_card": ["rm", "params", "data_size", "acc_labeled", "variance", "pf_share", "bon_d_star", "rl_r_star",
                    "ndr_bon", "ndr_rl_final"],
    "predictors": ["metric", "outcome", "stat", "value", "ci_low", "ci_high", "rank"],
    "headlines": ["policy", "algorithm", "kl_coef", "rl_seed", "proxy_seed", "headline", "stat", "value", "ci_low",
                  "ci_high", "n"],
    "role_swap": ["view", "golden", "proxy", "golden_flip_rate", "proxy_flip_rate", "golden_gold_accuracy",
                  "proxy_gold_accuracy", "method", "n", "rl_point", "rl_step", "kl_budget", "policy", "algorithm",
                  "kl_coef", "rl_seed", "accuracy", "proxy_gain", "golden_gain", "ndr"],
}
FIGURES = ["bon_by_rm_size", "bon_by_data_size", "bon_coefficients", "rl_by_rm_size", "rl_by_kl", "rl_gap_by_kl",
           "rl_vs_bon", "rl_by_policy_size", "daa_by_loss", "acc_vs_ndr", "acc_vs_test_size", "role_swap",
           "variance_vs_gain", "flat_teacher", "prompt_free", "bt_vs_pfr", "shift", "report_card", "replication"]


def test_lint_is_clean(root, snakemake_bin):
    out = subprocess.run([snakemake_bin, "--lint", "--snakefile", str(root / "Snakefile"), "--directory",
                          str(root)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Lints for" not in out.stdout + out.stderr


@pytest.fixture(scope="module")
def tiny_config(root):
    from snakemake.utils import update_config

    from overopt import config as C

    cfg = yaml.safe_load((root / "config.yaml").read_text())
    update_config(cfg, yaml.safe_load((root / "config/presets/tiny.yaml").read_text()))
    return C.validate(cfg)


@pytest.mark.parametrize("table", sorted(TABLE_COLUMNS))
def test_tables_have_documented_columns(tiny_run, table):
    df = pd.read_csv(tiny_run / "results" / "tables" / f"{table}.csv")
    assert not df.empty
    missing = set(TABLE_COLUMNS[table]) - set(df.columns)
    assert not missing, f"{table}.csv lacks {missing}"


def test_every_proxy_and_gold_has_rows(tiny_run, tiny_config):
    ids = {p["id"] for p in targets.trained(tiny_config)}  # the grid, the role-swap family, the shift proxies
    t = tiny_run / "results" / "tables"
    assert set(pd.read_csv(t / "rm_metrics.csv")["rm"]) == ids
    curves, fits = pd.read_csv(t / "curves.csv"), pd.read_csv(t / "fits.csv")
    assert set(curves["rm"]) == ids | {"gold", "gold_flat"} and set(fits["rm"]) == ids | {"gold", "gold_flat"}
    rl = curves[curves.method == "rl"]
    sweep = {k for s in tiny_config["rl"]["sweeps"] for k in s.get("kl_coefs", [])}
    replicates = {p["id"] for p in targets.proxies(tiny_config) if not p["rl"]}  # proxy.extra_seeds: BoN only
    assert replicates and replicates <= set(curves.loc[curves.method == "bon", "rm"])
    assert set(rl["rm"]) == (ids - replicates) | {"gold", "gold_flat"}
    assert set(rl["kl_coef"]) == set(tiny_config["rl"]["kl_coefs"]) | sweep
    steps = tiny_config["rl"]["steps"]
    for _, run in rl.groupby(["policy", "algorithm", "rm", "kl_coef", "rl_seed"]):
        assert list(run["step"]) == list(range(0, steps + 1, tiny_config["rl"]["eval_every"]))
        assert run["kl"].iloc[0] == 0 and (run["kl_k3"] >= 0).all() and run["length"].notna().all()
    joint = fits[fits.form == "rl_joint"]
    # one alpha shared by the unsaturated proxies of one objective (bt and pfr are separate laws)
    assert set(joint["rm"]) <= {p["id"] for p in targets.proxies(tiny_config)} and not joint.empty  # the grid only
    assert joint.groupby(["policy", "algorithm", "curve", "objective"])["alpha"].nunique().eq(1).all()
    key = ["rm", "policy", "algorithm", "kl_coef", "rl_seed", "curve"]
    runs = fits[(fits.method == "rl") & (fits.form == "rl") & (fits.n_seeds == 1)].set_index(key)["saturated"]
    assert not runs.loc[list(joint.set_index(key).index)].astype(bool).any()  # saturated runs left out
    assert runs.isin([True, False]).all()  # every RL run judged
    N = tiny_config["bon"]["N"]
    for _, c in curves[curves.method == "bon"].groupby("rm"):
        assert c["n"].min() == 1 and c["n"].max() == N
        assert abs(c.loc[c.n == 1, "gold"].iloc[0]) < 0.5  # pi_init's normalized mean
    gold = curves[(curves.rm == "gold") & (curves.method == "bon")].sort_values("n")
    assert gold["gold"].is_monotonic_increasing  # BoN against gold itself never hurts


def test_every_method_writes_rows(tiny_run, tiny_config):
    """PPO, RLOO (both policy sizes), and each DAA loss from both policy sizes leave their curves."""
    from overopt.train import daa

    curves = pd.read_csv(tiny_run / "results" / "tables" / "curves.csv")
    rl = curves[curves.method == "rl"]
    assert set(rl["algorithm"]) == {"rloo", "ppo"}
    sizes = rl.groupby("policy")["policy_params"].first()
    assert set(sizes.index) == {"small", "large"} and sizes["large"] > sizes["small"]
    assert set(rl.loc[rl.policy == "large", "rm"]) == {*tiny_config["policy"]["more_sizes_targets"],
                                                        *targets.teachers(tiny_config)}  # and Razin's teachers
    d, h = curves[curves.method == "daa"], tiny_config["daa"]
    assert set(d["loss"]) == set(h["losses"]) and set(d["policy"]) == {"small", "large"}
    spe = daa.steps_per_epoch(min(tiny_config["proxy"]["data_sizes"]), h["train"]["per_device_train_batch_size"])
    for _, run in d.groupby(["policy", "loss", "daa_beta"]):
        assert list(run["step"]) == daa.eval_steps(spe, h["train"]["num_train_epochs"], h["fractions"])
        assert run["implicit_acc"].iloc[0] == 0.5 and run["kl"].iloc[0] == 0 and run["implicit_acc"].between(0, 1).all()


def test_rm_evaluation_covers_every_proxy(tiny_run, tiny_config):
    from overopt.tables import summaries

    ids = {p["id"] for p in targets.proxies(tiny_config)}  # the grid (the papers' own families have their tables)
    t = tiny_run / "results" / "tables"
    ev = pd.read_csv(t / "rm_eval.csv")
    assert set(ev["rm"]) == ids | {"gold", "gold_flat"}
    proxies = ev[ev.rm.isin(ids)]
    for col in ("acc_labeled", "acc_pool", "acc_ood", "variance", "pf_share", "spearman", "ndr_bon", "ece"):
        assert proxies[col].notna().all(), col
    with_rl = proxies.rm.isin(targets.rl_targets(tiny_config))  # proxy.extra_seeds' replicates have BoN only
    assert proxies.loc[with_rl, "ndr_rl_step"].notna().all() and proxies.loc[~with_rl, "ndr_rl_step"].isna().all()
    assert (~with_rl).any()
    ref = ev.drop_duplicates("rm").set_index("rm")
    assert ref.loc["gold", "acc_pool"] == 1 and ref.loc["gold_flat", "acc_pool"] == 1  # rankings are gold's
    assert ref.loc["gold_flat", "variance"] < ref.loc["gold", "variance"]  # flat on half the prompts
    others = [s["name"] for s in tiny_config["policy"]["more_sizes"]]
    assert others
    for other in others:  # a second student's samples: off-policy accuracy, variance under it
        assert proxies[f"acc_policy_{other}"].between(0, 1).all() and proxies[f"variance_policy_{other}"].gt(0).all()
        assert ref.loc["gold", f"acc_policy_{other}"] == 1
        assert ref.loc["gold_flat", f"variance_policy_{other}"] < ref.loc["gold", f"variance_policy_{other}"]
    card = pd.read_csv(t / "report_card.csv")
    assert set(card["rm"]) >= ids and card["rm"].is_unique
    corr = pd.read_csv(t / "correlations.csv")
    assert {"acc_labeled", "variance", "combo:variance+acc_labeled"} <= set(corr["metric"])
    assert set(pd.read_csv(t / "predictors.csv")["outcome"]) == {"ndr_bon", "rl_gold_gain_step", "ndr_rl_final"}
    heads = pd.read_csv(t / "headlines.csv")  # every question answered for the report setting
    first = heads[(heads.algorithm == "rloo") & (heads.policy == "small")]
    assert set(first["headline"]) == {h[0] for h in summaries.HEADLINES} | {
        "flat teacher minus gold RM, RL gold gain at step", "pfr minus bt, OOD accuracy"}
    rho = first.loc[first.stat == "spearman", "value"]
    assert rho.notna().any() and rho.dropna().between(-1, 1).all()


def test_normalization_is_stored_with_each_rm(tiny_run, tiny_config):
    import json

    import numpy as np

    for rm in ["gold", *[p["id"] for p in targets.trained(tiny_config)]]:
        norm = json.loads((tiny_run / "results" / "rms" / rm / "normalization.json").read_text())
        scores = np.load(tiny_run / "results" / "reference" / "scores" / f"{rm}.npy")
        assert norm["scale"] > 0 and abs(scores.mean()) < 1e-9 and abs(scores.std(ddof=1) - 1) < 1e-9


def test_figures_exist(tiny_run):
    for f in FIGURES:
        for ext in ("png", "pdf"):
            p = tiny_run / "results" / "figures" / f"{f}.{ext}"
            assert p.stat().st_size > 5000, p


def test_every_job_logged_and_benchmarked(tiny_run):
    logs = list((tiny_run / "results" / "logs").rglob("*.log"))
    benches = list((tiny_run / "results" / "benchmarks").rglob("*.tsv"))
    assert len(logs) == len(benches) > 10
    train_log = next((tiny_run / "results" / "logs" / "train_rm").glob("*.log")).read_text()
    assert "train step" in train_log and "ETA" in train_log and "loss=" in train_log
    from overopt.prefork import TORCH_RULES

    for log in logs:  # a local run forks every torch job from the prefork server, and no other
        assert ("rss" in log.read_text()) and ((", preforked" in log.read_text()) == (log.parent.name in TORCH_RULES)), log


def test_second_plan_has_nothing_to_do(tiny_run, tiny_repo, snakemake_bin):
    out = run_snakemake(snakemake_bin, tiny_repo, tiny_run, "-n")
    assert out.returncode == 0 and "Nothing to be done" in out.stdout + out.stderr


def test_report_has_every_figure_and_table(tiny_run, tiny_repo, snakemake_bin):
    out = run_snakemake(snakemake_bin, tiny_repo, tiny_run, "--report", "results/report.html", timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    html = (tiny_run / "results" / "report.html").read_text()
    for name in [*FIGURES, "curves.csv", "fits.csv", "scaling.csv", "rm_metrics.csv", "role_swap.csv", "Gao et al. 2022",
                 "Rafailov et al. 2024", "Wen et al. 2024", "Mao et al. 2025"]:
        assert name in html, name


def test_the_papers_designs_run(tiny_run, tiny_config):
    """Wen's role swap over every ordered pair of the family and of the grid (BoN and RL); Mao's
    shift proxies with their shift and cue accuracies; Razin's teachers under both students;
    each paper's scorecard rows."""
    t = tiny_run / "results" / "tables"
    swap = pd.read_csv(t / "role_swap.csv")
    family = [m["id"] for m in targets.flip_family(tiny_config)]
    flip = swap[(swap.view == "flip") & (swap.method == "bon")]
    assert len(flip) == len(family) * (len(family) - 1) * len(tiny_config["role_swap"]["bon_n"])
    assert set(flip["golden"]) == set(family) and (flip["golden"] != flip["proxy"]).all()
    assert flip["accuracy"].between(0, 1).all() and flip["ndr"].notna().all()
    rl = swap[(swap.view == "flip") & (swap.method == "rl") & (swap.rl_point == "step")]
    assert len(rl) == len(family) * (len(family) - 1) and rl["ndr"].notna().all()
    grid = swap[swap.view == "grid"]  # BoN: gold + 8 proxies + 2 seed replicates; RL (no replicates) at a step and a KL budget
    assert len(grid[grid.method == "bon"]) == 11 * 10 * len(tiny_config["role_swap"]["bon_n"])
    assert len(grid[grid.method == "rl"]) == 9 * 8 * 2 and grid.loc[grid.rl_point == "step", "ndr"].notna().all()
    metrics = pd.read_csv(t / "rm_metrics.csv")
    cue = metrics[metrics.family == targets.CUE]
    assert len(cue) == 2 * 2 and cue[["shift_accuracy", "cue_accuracy"]].notna().all().all()
    assert (cue["cue_accuracy"] > cue["shift_accuracy"]).all()  # the planted cue was learned
    ood = ["ood_gold_accuracy", "ood_shift_accuracy", "ood_cue_accuracy"]  # the shift on the OOD prompts' pairs
    assert cue[ood].notna().all().all() and metrics.loc[metrics.family != targets.CUE, ood].isna().all().all()
    ood_pairs = pd.read_csv(tiny_run / "results" / "labels" / "ood_pairs.csv")
    n = tiny_config["world"]["prompts"]["ood"] * tiny_config["shift"]["ood_pairs"]
    assert len(ood_pairs) == n and (ood_pairs["split"] == "heldout").all()
    assert (ood_pairs["gold_chosen"] >= ood_pairs["gold_rejected"]).all() and ood_pairs["prompt_id"].str.startswith("ood-").all()
    mix = metrics[metrics.family == targets.MIX]
    assert sorted(mix["onpolicy_fraction"]) == [0.0, 0.5] and (metrics["onpolicy_fraction"].dropna() <= 1).all()
    teach = pd.read_csv(t / "teachers.csv")
    ids = [*targets.teachers(tiny_config)]
    assert len(teach) == 2 * len(ids) and set(teach["teacher"]) == set(ids) == {*(m["id"] for m in
                                                                                 targets.mix_family(tiny_config)),
                                                                                "gold", "gold_flat"}
    assert set(teach["student"]) == {"small", "large"} and teach["gold_gain"].notna().all()
    assert teach[["variance", "acc_onpolicy", "acc_offpolicy"]].notna().all().all()
    flat = teach[teach.family == "flat"]
    assert (flat["acc_onpolicy"] == 1).all() and (flat["variance"] < teach.loc[teach.family == "gold", "variance"].min()).all()
    t2 = pd.read_csv(t / "teacher_correlations.csv")
    assert set(t2["student"]) == {"small", "large"} and t2.loc[t2.over == "all", "value"].notna().any()
    card = pd.read_csv(t / "replication.csv")
    assert {"gao", "rafailov", "wen", "razin", "mao"} == set(card["paper"])
    assert not card.loc[card.paper == "razin", "description"].str.startswith("not run").any()
    assert card.loc[card.claim == "acc_ndr_weak_bon", "n"].iloc[0] == len(flip)
