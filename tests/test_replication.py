"""The replication scorecard (overopt/tables/replication.py): verdicts on synthetic tables
whose answer is known by construction, reduced designs, and the real tiny-preset tables."""
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from overopt.fit import fit_form, fit_rl_shared_alpha, rmse_alternatives
from overopt.tables import replication as rep
from overopt.tables.replication import (
    COLUMNS,
    INCONCLUSIVE,
    NOT_REPLICATED,
    REPLICATED,
    VERDICTS,
    replication_table,
)

TINY = Path(__file__).parent / "data" / "replication_tiny"
NS = [1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256]
SIZES = {"xs": 1_000, "s": 3_000, "m": 10_000, "l": 30_000}
ID = ["rm", "kind", "family", "rm_size", "params", "data_size", "objective", "seed", "policy"]
SETTING = ["algorithm", "kl_coef", "rl_seed", "loss", "daa_beta", "daa_seed"]


def _rm(size, data, objective="bt", seed=0):
    return {"rm": f"{size}-d{data}-{objective}-s{seed}", "kind": "proxy", "family": "grid", "rm_size": size,
            "params": SIZES[size], "data_size": data, "objective": objective, "seed": seed}


GOLD = {"rm": "gold", "kind": "gold", "family": "gold", "rm_size": "gold", "params": 100_000, "data_size": np.nan,
        "objective": "gold", "seed": 0}


def bon(rm, alpha, beta, noise=0.002, rng_seed=0, policy="small"):
    n = np.array(NS, dtype=float)
    d = np.sqrt(np.log(n) - (n - 1) / n)
    gold = d * (alpha - beta * d) + np.random.default_rng(rng_seed).normal(0, noise, d.size) * (d > 0)
    return pd.DataFrame({"method": "bon", **rm, "policy": policy, "n": n, "kl": d**2, "d": d, "gold": gold,
                         "proxy": 1.3 * d, "gold_se": 0.01, "proxy_se": 0.01})


def rl(rm, alpha, beta, kl_coef=0.0, policy="small", d_max=3.0, points=11, noise=0.002, rng_seed=0, seed=0,
       algorithm="rloo", gold_fn=None):
    d = np.linspace(0, d_max, points)
    with np.errstate(divide="ignore", invalid="ignore"):
        gold = np.where(d > 0, d * (alpha - beta * np.log(d)), 0.0) if gold_fn is None else gold_fn(d)
    gold = gold + np.random.default_rng(rng_seed).normal(0, noise, d.size) * (d > 0)
    return pd.DataFrame({"method": "rl", **rm, "policy": policy, "step": np.arange(points) * 10.0, "kl": d**2,
                         "kl_se": 0.01 * d**2 + 1e-4, "d": d, "gold": gold, "proxy": gold + (1 + kl_coef) * 0.1 * d,
                         "gold_se": 0.01, "proxy_se": 0.01, "algorithm": algorithm, "kl_coef": kl_coef,
                         "rl_seed": float(seed)})


def daa(loss, beta, epochs, gold, acc, d=None, se=0.02, rm=None):
    epochs = np.asarray([0.0, *epochs])
    d = np.linspace(0, 2.5, epochs.size) if d is None else np.asarray(d, dtype=float)
    return pd.DataFrame({"method": "daa", **(rm or _rm("l", 6000)), "policy": "small", "step": epochs * 100,
                         "epoch": epochs, "kl": d**2, "kl_se": 0.01, "d": d, "gold": [0.0, *gold], "proxy": 0.0,
                         "gold_se": se, "proxy_se": se, "implicit_acc": [0.5, *acc], "loss": loss, "daa_beta": beta,
                         "daa_seed": 0.0})


@pytest.fixture(autouse=True)
def _quiet_fits():
    with warnings.catch_warnings():  # fit_form's NLS cross-check on exact synthetic curves
        warnings.simplefilter("ignore")
        yield


def fits_of(curves: pd.DataFrame) -> pd.DataFrame:
    """fits.csv rows for synthetic curves: the per-run gold fit (fit_form), the quadratic-in-KL
    RMSE for RL-form curves, and Gao's joint fit of the RL proxies."""
    curves = curves.assign(**{c: np.nan for c in SETTING if c not in curves})
    rows, rel = [], []
    for _, c in curves.groupby(["method", "rm", "policy", *SETTING], dropna=False, sort=False):
        method = c["method"].iloc[0]
        c = c.sort_values("n" if method == "bon" else "step")
        form, r = ("bon" if method == "bon" else "rl"), c["gold"] - c["gold"].iloc[0]
        ident = {k: c[k].iloc[0] for k in ["method", *ID, *SETTING]}
        f = fit_form(c["d"], r, form).row()
        if form == "rl":
            f["rmse_quadratic_kl"] = rmse_alternatives(c["d"], r)["quadratic_kl"]
        rows.append({**ident, "curve": "gold", **f})
        if method == "rl" and ident["kind"] == "proxy":
            rel.append(c.assign(r=r))
    if rel:
        for _, g in pd.concat(rel).groupby(["policy", "algorithm", "kl_coef", "rl_seed"], sort=False):
            j = fit_rl_shared_alpha(g)
            for rm, b in j.betas.items():
                first = g[g["rm"] == rm].iloc[0]
                rows.append({**{k: first[k] for k in ["method", *ID, *SETTING]}, "curve": "gold", "form": "rl_joint",
                             "alpha": j.alpha, "beta": b, "d_star": j.d_star[rm], "n_points": j.n_points})
    return pd.DataFrame(rows)


def table(*frames, fits=None, **kw):
    curves = pd.concat(frames, ignore_index=True)
    return replication_table(curves, fits_of(curves) if fits is None else fits, n_boot=200, **kw)


def one(t: pd.DataFrame, claim: str, **setting) -> pd.Series:
    rows = t[t["claim"] == claim]
    for k, v in setting.items():
        rows = rows[rows[k] == v]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def grid(alpha_of, beta_of, sizes=("xs", "s", "m", "l"), datas=(1000, 4000)):
    """BoN curves of a size x data grid with alpha, beta given as functions of log10 params."""
    return [bon(_rm(s, k), alpha_of(np.log10(SIZES[s])), beta_of(np.log10(SIZES[s])), rng_seed=i)
            for i, (s, k) in enumerate((s, k) for s in sizes for k in datas)]


# --- the decision rules -------------------------------------------------------------------

def test_rules_read_the_interval_only():
    assert rep.above(0.1, 0.5) == REPLICATED and rep.above(-0.5, -0.1) == NOT_REPLICATED
    assert rep.above(-0.1, 0.5) == INCONCLUSIVE and rep.above(np.nan, 1.0) == INCONCLUSIVE
    assert rep.above(1.2, 3.0, 1.0) == REPLICATED and rep.above(0.5, 0.9, 1.0) == NOT_REPLICATED
    assert rep.below(-0.5, -0.1) == REPLICATED and rep.below(0.1, 0.5) == NOT_REPLICATED
    assert rep.below(-0.5, 0.1) == INCONCLUSIVE
    assert rep.inside(-0.05, 0.05, -0.1, 0.1) == REPLICATED
    assert rep.inside(0.2, 0.3, -0.1, 0.1) == NOT_REPLICATED and rep.inside(-0.3, -0.2, -0.1, 0.1) == NOT_REPLICATED
    assert rep.inside(0.05, 0.2, -0.1, 0.1) == INCONCLUSIVE and rep.inside(np.inf, np.inf, 0, 1) == NOT_REPLICATED
    assert rep.inside(0.0, np.inf, 0, 1) == INCONCLUSIVE


def test_paper_values_are_the_slopes_of_gao_figure_3():
    assert rep.gao_slope("alpha_bon") == pytest.approx(0.0622, abs=5e-4)
    assert rep.gao_slope("beta_bon") == pytest.approx(-0.0109, abs=5e-4)
    assert rep.gao_slope("beta_rl") == pytest.approx(-0.0210, abs=5e-4)


def test_fieller_interval_covers_the_peak_and_opens_when_beta_is_unresolved():
    cov = np.diag([0.01**2, 0.01**2])
    lo, hi = rep._dstar_fieller(1.0, 0.4, cov, 2.0, "bon")
    assert lo < 1.0 / 0.8 < hi and hi - lo < 0.2
    lo, hi = rep._dstar_fieller(0.5, 0.2, cov, 2.0, "rl")
    assert lo < np.exp(0.5 / 0.2 - 1) < hi
    assert rep._dstar_fieller(1.0, 0.01, cov, 2.0, "rl") == (0.0, np.inf)
    assert rep._dstar_fieller(1.0, -0.4, cov, 2.0, "bon") == (np.inf, np.inf)


# --- Gao: synthetic worlds with a known answer ----------------------------------------------

def test_gao_claims_replicated_by_construction():
    """Gold peaks inside the range for the smallest proxy (BoN and RL), alpha rises and beta
    falls with params, RL needs more KL, a KL penalty keeps the frontier, a larger policy
    peaks at the same d."""
    frames = grid(lambda x: 1.5 + 0.1 * x, lambda x: 0.9 - 0.05 * x)  # BoN: steep, peak d* = 1.2 .. 1.45
    targets = {"xs": _rm("xs", 1000), "s": _rm("s", 1000), "m": _rm("m", 1000), "gold": GOLD}
    for i, (name, rm) in enumerate(targets.items()):
        beta = 0.2 if name == "gold" else 0.3 - 0.08 * (np.log10(rm["params"]) - 3)  # linear in log10 params
        frames.append(rl(rm, 0.5, beta, rng_seed=10 + i, noise=0.001))  # d* = e^(0.5/b - 1) up to 1.65
        frames.append(rl(rm, 0.5, beta, kl_coef=0.1, d_max=1.5, points=8, rng_seed=20 + i, noise=0.001))
    frames.append(rl(GOLD, 0.5, 0.2, policy="large", rng_seed=30, noise=0.001))  # the same d* as pi_init's
    t = table(*frames)
    assert list(t.columns) == COLUMNS
    for claim in ("bon_gold_peaks_smallest_proxy", "alpha_bon_rises_with_params", "beta_bon_falls_with_params"):
        assert one(t, claim)["verdict"] == REPLICATED, one(t, claim)
    r = one(t, "rl_gold_peaks_smallest_proxy", kl_coef=0.0)
    assert r["verdict"] == REPLICATED and r["value"] == pytest.approx(np.exp(0.5 / 0.3 - 1) / 3.0, rel=0.05)
    assert one(t, "alpha_bon_rises_with_params")["value"] == pytest.approx(0.1, abs=0.01)
    assert one(t, "beta_bon_falls_with_params")["value"] == pytest.approx(-0.05, abs=0.01)
    assert one(t, "beta_rl_falls_with_params", kl_coef=0.0)["verdict"] == REPLICATED
    assert one(t, "rl_spends_more_kl_than_bon", kl_coef=0.0)["verdict"] == REPLICATED
    r = one(t, "kl_penalty_keeps_gold_frontier")
    assert r["verdict"] == REPLICATED and r["n"] == 4 and r["kl_coef"] == 0.1 and abs(r["value"]) < 0.02
    r = one(t, "larger_policy_peaks_at_same_kl", kl_coef=0.0)
    assert r["verdict"] == REPLICATED and r["policy"] == "large" and r["value"] == pytest.approx(1.0, abs=0.1)
    assert one(t, "bon_gold_peaks_smallest_proxy")["n"] == len(NS) - 1
    assert np.isnan(one(t, "bon_gold_peaks_smallest_proxy")["paper_value"])
    assert one(t, "alpha_bon_rises_with_params")["paper_value"] == pytest.approx(rep.gao_slope("alpha_bon"))


def test_gao_claims_not_replicated_by_construction():
    """Gold keeps rising (convex) for the smallest proxy, alpha falls and beta rises with
    params, BoN needs more KL than RL, the penalty lifts the frontier, the larger policy peaks
    three times further out."""
    frames = grid(lambda x: 1.2 - 0.1 * x, lambda x: -0.4 + 0.1 * x)  # xs: beta = -0.1, no peak
    frames.append(rl(_rm("xs", 1000), 3.0, -0.2, d_max=0.6, rng_seed=1))  # steep and convex: no peak
    for i, s in enumerate(("s", "m")):  # RL reaches the gold level at a fraction of BoN's KL (steep start)
        frames.append(rl(_rm(s, 4000), 3.0, 0.1, d_max=0.6, rng_seed=40 + i))
    frames.append(rl(GOLD, 0.5, 0.2, rng_seed=50))
    frames.append(rl(GOLD, 0.5, 0.2, kl_coef=0.1, d_max=1.5, points=8, rng_seed=60,  # 0.5 above at every d
                     gold_fn=lambda d: np.where(d > 0, d * (0.5 - 0.2 * np.log(d)) + 0.5, 0.0)))
    frames.append(rl(GOLD, 0.9, 0.2, policy="large", d_max=12.0, points=25, rng_seed=71))  # d* 3x pi_init's
    t = table(*frames)
    for claim in ("bon_gold_peaks_smallest_proxy", "alpha_bon_rises_with_params", "beta_bon_falls_with_params"):
        assert one(t, claim)["verdict"] == NOT_REPLICATED, one(t, claim)
    r = one(t, "rl_gold_peaks_smallest_proxy", kl_coef=0.0)
    assert r["verdict"] == NOT_REPLICATED and r["value"] == np.inf
    assert one(t, "rl_spends_more_kl_than_bon", kl_coef=0.0)["verdict"] == NOT_REPLICATED
    r = one(t, "kl_penalty_keeps_gold_frontier")  # one target: the interval from the curves' SEs
    assert r["verdict"] == NOT_REPLICATED and r["value"] == pytest.approx(0.5, abs=0.05) and r["n"] == 1
    r = one(t, "larger_policy_peaks_at_same_kl", kl_coef=0.0)
    assert r["verdict"] == NOT_REPLICATED and r["value"] > 2


def test_scaling_slope_is_within_data_size():
    """An unbalanced grid where better-fed proxies are larger and score higher: pooling data
    sizes would read the data effect as a params slope; the fixed effects keep it out."""
    frames = [bon(_rm(s, k), 0.5 + 0.1 * np.log10(SIZES[s]) + (0.5 if k == 4000 else 0.0), 0.45, rng_seed=i)
              for i, (s, k) in enumerate([("xs", 1000), ("s", 1000), ("m", 1000), ("s", 4000), ("m", 4000),
                                          ("l", 4000)])]
    r = one(table(*frames), "alpha_bon_rises_with_params")
    assert r["value"] == pytest.approx(0.1, abs=0.01) and r["n"] == 6 and r["verdict"] == REPLICATED


def test_wide_intervals_are_inconclusive_whatever_the_point_estimate():
    """One target, huge standard errors: the penalized run sits 0.05 above (a point estimate
    inside the margin) yet the interval straddles it."""
    ref = rl(GOLD, 0.5, 0.2).assign(gold_se=1.0)
    pen = rl(GOLD, 0.5, 0.2, kl_coef=0.1, d_max=1.5, points=8).assign(gold_se=1.0)
    pen["gold"] += 0.05 * (pen["d"] > 0)
    r = one(table(bon(_rm("xs", 1000), 1.0, 0.4), ref, pen), "kl_penalty_keeps_gold_frontier")
    assert r["verdict"] == INCONCLUSIVE and abs(r["value"]) < 0.1 and r["ci_high"] - r["ci_low"] > 1


# --- Rafailov --------------------------------------------------------------------------------

def test_rafailov_claims_by_construction():
    inner_peak = daa("dpo", 0.01, [0.1, 0.25, 0.5, 1.0, 2.0], [0.6, 1.0, 0.9, 0.5, 0.3], [0.55, 0.6, 0.65, 0.7, 0.75],
                     d=[0, 0.5, 1.0, 1.5, 2.5, 4.0])
    late_peak = daa("ipo", 0.01, [0.1, 0.25, 0.5, 1.0, 2.0], [0.1, 0.2, 0.3, 0.6, 1.0], [0.74, 0.7, 0.65, 0.6, 0.55])
    big_beta = daa("dpo", 0.1, [0.1, 0.25, 0.5, 1.0, 2.0], [0.1, 0.2, 0.3, 0.4, 0.5], [0.8, 0.78, 0.76, 0.74, 0.72])
    t = table(bon(_rm("xs", 1000), 1.0, 0.4), inner_peak, late_peak, big_beta)
    r = one(t, "daa_small_beta_peaks_in_first_epoch", loss="dpo")
    assert r["verdict"] == REPLICATED and r["daa_beta"] == 0.01
    assert r["value"] == pytest.approx(0.5) and r["ci_low"] == pytest.approx(0.5 - 1.96 * 0.02 * np.sqrt(2), abs=1e-3)
    assert one(t, "daa_small_beta_peaks_in_first_epoch", loss="ipo")["verdict"] == NOT_REPLICATED
    assert one(t, "daa_gold_is_hump", loss="dpo")["value"] < 1
    # accuracy falls while gold rises over the late-peak runs, rises while gold falls after the
    # inner peak: Spearman well below 0 over the 15 checkpoints (it anti-tracks gold)
    r = one(t, "implicit_acc_does_not_track_gold")
    assert r["n"] == 15 and r["verdict"] == NOT_REPLICATED and r["ci_high"] < -0.3
    tracks = daa("hinge", 0.01, np.linspace(0.1, 2, 12), np.linspace(0.1, 1.2, 12), np.linspace(0.55, 0.8, 12))
    r = one(table(bon(_rm("xs", 1000), 1.0, 0.4), tracks), "implicit_acc_does_not_track_gold")
    assert r["value"] == pytest.approx(1.0) and r["verdict"] == NOT_REPLICATED
    # 100 checkpoints, accuracy a U-shaped function of gold: Spearman 0 by symmetry
    gold = np.linspace(-1, 1, 100)
    flat = daa("ipo", 0.01, np.linspace(0.02, 2, 100), gold, 0.6 + 0.1 * gold**2)
    r = one(table(bon(_rm("xs", 1000), 1.0, 0.4), flat), "implicit_acc_does_not_track_gold")
    assert r["value"] == pytest.approx(0.0, abs=0.01) and r["verdict"] == REPLICATED and r["n"] == 100


def test_daa_policies_are_kept_apart():
    small = daa("dpo", 0.01, [0.25, 1.0, 2.0], [1.0, 0.5, 0.3], [0.6, 0.65, 0.7])
    large = daa("dpo", 0.01, [0.25, 1.0, 2.0], [0.2, 0.5, 1.0], [0.6, 0.65, 0.7]).assign(policy="large")
    t = table(bon(_rm("xs", 1000), 1.0, 0.4), small, large)
    epoch = t[t["claim"] == "daa_small_beta_peaks_in_first_epoch"].set_index("policy")
    assert epoch.loc["small", "verdict"] == REPLICATED and epoch.loc["large", "verdict"] == NOT_REPLICATED
    assert np.isnan(one(t, "implicit_acc_does_not_track_gold")["policy"])  # pooled over both policies


def test_rl_form_beats_quadratic_from_the_fits_rmse():
    curves = pd.concat([bon(_rm("xs", 1000), 1.0, 0.4), daa("dpo", 0.01, [0.1, 0.5, 1, 2], [0.5, 0.8, 0.7, 0.6],
                                                            [0.6, 0.6, 0.7, 0.7])])
    fits = fits_of(curves)
    base = fits[fits["method"] == "daa"].iloc[0]
    dpo = pd.DataFrame([base.to_dict() | {"loss": loss, "daa_beta": b, "rmse": r, "rmse_quadratic_kl": q}
                        for loss, b, r, q in [("dpo", 0.01, 0.02, 0.08), ("dpo", 0.1, 0.03, 0.09),
                                              ("ipo", 0.01, 0.02, 0.07), ("hinge", 0.01, 0.025, 0.1)]])
    fits2 = pd.concat([fits[fits["method"] != "daa"], dpo])
    r = one(replication_table(curves, fits2, n_boot=100), "daa_rl_form_beats_quadratic")
    assert r["verdict"] == REPLICATED and r["n"] == 4 and r["value"] == pytest.approx(
        np.exp(np.mean(np.log([4, 3, 3.5, 4]))))
    dpo["rmse"], dpo["rmse_quadratic_kl"] = dpo["rmse_quadratic_kl"], dpo["rmse"]
    r = one(replication_table(curves, pd.concat([fits[fits["method"] != "daa"], dpo]), n_boot=100),
            "daa_rl_form_beats_quadratic")
    assert r["verdict"] == NOT_REPLICATED


# --- reduced designs and newer fits columns ------------------------------------------------

ALL_CLAIMS = {"bon_gold_peaks_smallest_proxy", "rl_gold_peaks_smallest_proxy", "alpha_bon_rises_with_params",
              "beta_bon_falls_with_params", "beta_rl_falls_with_params", "rl_spends_more_kl_than_bon",
              "kl_penalty_keeps_gold_frontier", "kl_penalty_widens_gap", "larger_policy_peaks_at_same_kl",
              "daa_gold_is_hump", "daa_small_beta_peaks_in_first_epoch", "daa_rl_form_beats_quadratic",
              "implicit_acc_does_not_track_gold", "acc_ndr_weak_bon", "acc_ndr_weak_rl_step", "acc_ndr_weak_rl_kl",
              "acc_ndr_weak_bon_grid", "acc_ndr_weak_rl_step_grid", "acc_ndr_weak_rl_kl_grid", "best_accuracy_variant", "shift_hurts_bt", "pfr_beats_bt_under_shift", "shift_hurts_bt_ood",
              "pfr_beats_bt_under_ood_shift", "pfr_bon_gold_above_bt", "pfr_rl_gold_above_bt", "variance_predicts_gold_gain", "variance_and_accuracy_beat_accuracy",
              "flat_teacher_slower", "best_teacher_depends_on_student"}


@pytest.mark.parametrize("empty_fits", [False, True])
def test_reduced_design_keeps_every_claim_inconclusive_with_n_0(empty_fits):
    """BoN against one RM size only: no RL, no DAA, no second policy, no size axis."""
    curves = pd.concat([bon(_rm("xs", 1000), 1.0, 0.4), bon(_rm("xs", 4000), 1.1, 0.35)])
    t = replication_table(curves, pd.DataFrame() if empty_fits else fits_of(curves))
    assert list(t.columns) == COLUMNS and set(t["claim"]) == ALL_CLAIMS
    off = t[t["claim"] != "bon_gold_peaks_smallest_proxy"] if not empty_fits else t.iloc[1:]
    assert (off["verdict"] == INCONCLUSIVE).all() and (off["n"] == 0).all()
    assert off["description"].str.startswith("not run: ").all(), off["description"].tolist()
    reason = "no best-of-n fits" if empty_fits else "one RM size"
    assert reason in one(t, "alpha_bon_rises_with_params")["description"]
    assert "no DAA runs" in one(t, "daa_gold_is_hump")["description"]
    assert one(t, "bon_gold_peaks_smallest_proxy")["verdict"] == REPLICATED  # peak d* 1.25 < 2.13, from curves


def test_one_kl_coefficient_and_no_second_policy():
    t = table(*grid(lambda x: 0.5 + 0.1 * x, lambda x: 0.6 - 0.05 * x), rl(_rm("xs", 1000), 0.5, 0.3),
              rl(GOLD, 0.5, 0.2))
    for claim in ("kl_penalty_keeps_gold_frontier", "kl_penalty_widens_gap", "larger_policy_peaks_at_same_kl"):
        r = one(t, claim)
        assert r["verdict"] == INCONCLUSIVE and r["n"] == 0 and r["description"].startswith("not run: ")
    assert "only one KL coefficient" in one(t, "kl_penalty_keeps_gold_frontier")["description"]
    assert "no second policy size" in one(t, "larger_policy_peaks_at_same_kl")["description"]


def test_saturated_runs_are_left_out():
    curves = pd.concat([bon(_rm("xs", 1000), 1.0, 0.4), rl(_rm("xs", 1000), 0.5, 0.3), rl(_rm("s", 1000), 0.5, 0.2)])
    fits = fits_of(curves)
    assert one(replication_table(curves, fits), "rl_gold_peaks_smallest_proxy")["verdict"] == REPLICATED
    fits["saturated"] = (fits["method"] == "rl") & (fits["rm"] == "xs-d1000-bt-s0")
    r = one(replication_table(curves, fits.assign(saturated=fits["saturated"].astype(str))),
            "rl_gold_peaks_smallest_proxy")
    assert r["verdict"] == INCONCLUSIVE and r["n"] == 0 and "saturated" in r["description"]


def test_bootstrap_peak_interval_of_fits_is_used_when_present():
    curves = bon(_rm("xs", 1000), 1.0, 0.4)
    fits = fits_of(curves).assign(d_star_ci_low=0.5, d_star_ci_high=3.0)
    r = one(replication_table(curves, fits), "bon_gold_peaks_smallest_proxy")
    d_max = curves["d"].max()
    assert r["ci_low"] == pytest.approx(0.5 / d_max) and r["ci_high"] == pytest.approx(3.0 / d_max)
    assert r["verdict"] == INCONCLUSIVE and "bootstrap" in r["rule"]
    fits["d_star_ci_high"] = 1.5
    assert one(replication_table(curves, fits), "bon_gold_peaks_smallest_proxy")["verdict"] == REPLICATED


def test_seeds_are_averaged_not_crashed_on():
    rm0, rm1 = _rm("xs", 1000, seed=0), _rm("xs", 1000, seed=1)
    curves = pd.concat([bon(rm0, 1.0, 0.4, rng_seed=1), bon(rm1, 1.0, 0.4, rng_seed=2),
                        rl(rm0, 0.5, 0.3, seed=0, rng_seed=3), rl(rm0, 0.5, 0.3, seed=1, rng_seed=4)])
    t = replication_table(curves, fits_of(curves))
    assert one(t, "bon_gold_peaks_smallest_proxy")["verdict"] == REPLICATED
    # a second training seed of the cell is another RM with a fit of its own: the claim must hold for both
    bon_row = one(t, "bon_gold_peaks_smallest_proxy")
    assert "xs-d1000-bt-s0" in bon_row["description"] and "xs-d1000-bt-s1" in bon_row["description"]
    assert "every one of its 2 training seeds" in bon_row["description"] and bon_row["n"] == 2 * (len(NS) - 1)
    assert one(t, "rl_gold_peaks_smallest_proxy")["verdict"] == REPLICATED
    # newer fits.csv: per-seed rows plus a seed-pooled row with a bootstrap peak interval
    fits = fits_of(curves)
    rl_fit = fits[(fits["method"] == "rl") & (fits["form"] == "rl")]
    pooled = rl_fit.iloc[[0]].assign(rl_seed=np.nan, n_seeds=2, d_star_ci_low=0.3, d_star_ci_high=2.7)
    r = one(replication_table(curves, pd.concat([fits.assign(n_seeds=1), pooled])), "rl_gold_peaks_smallest_proxy")
    assert "bootstrap" in r["rule"] and r["ci_high"] == pytest.approx(2.7 / 3.0) and r["verdict"] == REPLICATED
    assert rep._pooled(pd.concat([fits.assign(n_seeds=1), pooled])).shape[0] == len(fits) - len(rl_fit) + 1


def test_bon_peak_must_hold_for_every_training_seed():
    """Intersection-union over the cell's training seeds: replicated only if every seed's
    interval lies inside the range, not replicated only if every seed's lies beyond it."""
    rms = [_rm("xs", 1000, seed=s) for s in range(3)]

    def row(betas):
        curves = pd.concat([bon(rm, 1.0, b, rng_seed=i) for i, (rm, b) in enumerate(zip(rms, betas))])
        return one(replication_table(curves, fits_of(curves)), "bon_gold_peaks_smallest_proxy")

    def alone(beta, i):
        curves = bon(rms[i], 1.0, beta, rng_seed=i)
        return one(replication_table(curves, fits_of(curves)), "bon_gold_peaks_smallest_proxy")

    both = row([0.4, 0.45, 0.5])  # peaks at d 1.0-1.25 of 2.13
    assert both["verdict"] == REPLICATED and "intersection-union" in both["rule"]
    singles = [alone(b, i) for i, b in enumerate([0.4, 0.45, 0.5])]
    assert both["ci_low"] == pytest.approx(min(r["ci_low"] for r in singles))
    assert both["ci_high"] == pytest.approx(max(r["ci_high"] for r in singles))
    assert both["value"] == pytest.approx(np.median([r["value"] for r in singles]))
    assert row([0.4, 0.45, 0.05])["verdict"] == INCONCLUSIVE  # one seed peaks far beyond the range
    assert row([0.05, 0.06, 0.07])["verdict"] == NOT_REPLICATED
    short = pd.concat([bon(rm, 1.0, 0.4, rng_seed=i) for i, rm in enumerate(rms)])
    short = short[(short["n"] <= 3) | (short["seed"] != 1)]  # seed 1's curve has 2 points with d > 0
    r = one(replication_table(short, fits_of(short[short["seed"] != 1])), "bon_gold_peaks_smallest_proxy")
    assert r["verdict"] == INCONCLUSIVE and np.isnan(r["value"]) and "too few points" in r["description"]


# --- the real tiny-preset tables ----------------------------------------------------------

def test_real_tiny_tables():
    curves, fits = pd.read_csv(TINY / "curves.csv"), pd.read_csv(TINY / "fits.csv")
    t = replication_table(curves, fits)
    assert list(t.columns) == COLUMNS and set(t["claim"]) == ALL_CLAIMS
    assert t["verdict"].isin(VERDICTS).all() and (t["n"] >= 0).all()
    assert set(t["paper"]) == {"gao", "rafailov", "wen", "razin", "mao"}
    assert t["rule"].str.contains("replicated if").all()
    assert t["description"].str.len().gt(20).all() and t["statistic"].str.len().gt(10).all()
    # tiny runs one KL coefficient (0.1) for ppo and rloo: the penalty claims are off
    pen = t[t["claim"].str.startswith("kl_penalty")]
    assert len(pen) == 4 and (pen["n"] == 0).all() and pen["description"].str.contains("only one KL").all()
    assert set(t.loc[t["claim"] == "daa_small_beta_peaks_in_first_epoch", "loss"]) == {"dpo", "ipo", "hinge"}
    assert one(t, "larger_policy_peaks_at_same_kl", algorithm="rloo")["policy"] == "large"
    # the BoN coefficient slopes are what fits.csv implies (2 sizes x 2 data sizes of bt proxies)
    bon_fits = fits[(fits["form"] == "bon") & (fits["kind"] == "proxy") & (fits["objective"] == "bt")
                    & (fits["curve"] == "gold")]
    x = np.log10(bon_fits["params"])
    slope = np.polyfit(x - bon_fits.groupby("data_size")["params"].transform(lambda p: np.log10(p).mean()),
                       bon_fits["alpha"] - bon_fits.groupby("data_size")["alpha"].transform("mean"), 1)[0]
    assert one(t, "alpha_bon_rises_with_params")["value"] == pytest.approx(slope)
    # the verdict is the rule applied to the interval, row by row
    for _, r in t.iterrows():
        if np.isnan(r["ci_low"]) or np.isnan(r["ci_high"]):
            assert r["verdict"] == INCONCLUSIVE


@pytest.mark.parametrize("arm, claims", [
    ("daa", ["daa_gold_is_hump", "daa_small_beta_peaks_in_first_epoch", "daa_rl_form_beats_quadratic",
             "implicit_acc_does_not_track_gold"]),
    ("rl", ["rl_gold_peaks_smallest_proxy", "beta_rl_falls_with_params", "rl_spends_more_kl_than_bon",
            "kl_penalty_keeps_gold_frontier", "larger_policy_peaks_at_same_kl"]),
    ("bon", ["bon_gold_peaks_smallest_proxy", "alpha_bon_rises_with_params", "rl_spends_more_kl_than_bon"]),
    ("large", ["larger_policy_peaks_at_same_kl"]),
    ("s", ["alpha_bon_rises_with_params", "beta_bon_falls_with_params", "beta_rl_falls_with_params"]),
])
def test_real_tiny_tables_with_an_arm_off(arm, claims):
    curves, fits = pd.read_csv(TINY / "curves.csv"), pd.read_csv(TINY / "fits.csv")
    if arm in ("daa", "rl", "bon"):
        curves, fits = curves[curves["method"] != arm], fits[fits["method"] != arm]
    elif arm == "large":
        curves, fits = curves[curves["policy"] != "large"], fits[fits["policy"] != "large"]
    else:  # one RM size
        curves, fits = curves[curves["rm_size"] != arm], fits[fits["rm_size"] != arm]
    t = replication_table(curves, fits)
    assert list(t.columns) == COLUMNS and set(t["claim"]) == ALL_CLAIMS
    off = t[t["claim"].isin(claims)]
    assert (off["verdict"] == INCONCLUSIVE).all() and (off["n"] == 0).all(), off[["claim", "description"]]
    assert off["description"].str.startswith("not run: ").all()


def test_mao_shift_claims_read_the_cue_family_by_seed_in_and_out_of_distribution():
    """Mao's accuracy claims are t-intervals over seeds of bt's drop and of pfr minus bt, on the
    proxies' own held-out pairs and on the OOD pairs (``ood_*``); other families are ignored."""
    rows = []
    for seed, (bt_ood, pfr_ood) in enumerate([(0.52, 0.60), (0.50, 0.61), (0.55, 0.62)]):
        for obj, shift_ood in (("bt", bt_ood), ("pfr", pfr_ood)):
            rows.append({"rm": f"s-d600-cue-{obj}-s{seed}", "family": "cue", "objective": obj, "seed": seed,
                         "gold_accuracy": 0.80, "shift_accuracy": 0.6 + 0.01 * seed + (obj == "pfr") * 0.05,
                         "ood_gold_accuracy": 0.75, "ood_shift_accuracy": shift_ood})
    rows.append({"rm": "s-d600-bt-s0", "family": "grid", "objective": "bt", "seed": 0, "gold_accuracy": 0.9})
    curves = pd.concat([bon(_rm("xs", 1000), 1.0, 0.4)])
    t = replication_table(curves, fits_of(curves), rm_metrics=pd.DataFrame(rows))
    r = one(t, "shift_hurts_bt_ood")
    assert r["value"] == pytest.approx(0.75 - np.mean([0.52, 0.50, 0.55])) and r["n"] == 3
    assert r["verdict"] == REPLICATED
    r = one(t, "pfr_beats_bt_under_ood_shift")
    assert r["value"] == pytest.approx(np.mean([0.08, 0.11, 0.07])) and r["verdict"] == REPLICATED
    assert one(t, "pfr_beats_bt_under_shift")["value"] == pytest.approx(0.05)
    old = pd.DataFrame(rows).drop(columns=["ood_gold_accuracy", "ood_shift_accuracy"])  # a run before the OOD pairs
    r = one(replication_table(curves, fits_of(curves), rm_metrics=old), "shift_hurts_bt_ood")
    assert r["n"] == 0 and r["verdict"] == INCONCLUSIVE and one(t, "shift_hurts_bt")["n"] == 3
    assert "score_shift" in r["description"]
