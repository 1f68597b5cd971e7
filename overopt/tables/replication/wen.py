"""Wen et al. 2024's claims, on its own design: over the role-swapped ordered pairs of a family
of RMs, accuracy correlates only weakly with the downstream gain (Spearman 0.753 for BoN, 0.610
for PPO), and the same over the Gao grid (BoN, and the grid's own RL runs) as a second view;
and which of Wen's accuracy variants (the rank-bin grid, responses per prompt at a fixed
budget) predicts the BoN gain best, against plain accuracy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from overopt.tables.replication.common import WEN, _off, _row, above, inside

STAT = "Spearman of accuracy vs NDR over the ordered (golden, proxy) pairs"
RULE = ("replicated if the CI lies inside (0, weak_rho): positive but clearly short of a ranking; not replicated if it "
        "lies wholly outside; CI: percentile bootstrap over RMs (a draw of the view's RMs with replacement, "
        "every ordered pair of two different RMs; role_swap.pair_correlation)")
CLAIMS = [  # (claim, view, method, point, paper value, what)
    ("acc_ndr_weak_bon", "flip", "bon", None, 0.753, "BoN"),
    ("acc_ndr_weak_rl_step", "flip", "rl", "step", 0.610, "RL at a fixed step"),  # Wen's 0.610 is PPO's
    ("acc_ndr_weak_rl_kl", "flip", "rl", "kl", 0.610, "RL at a KL budget"),
    ("acc_ndr_weak_bon_grid", "grid", "bon", None, np.nan, "BoN, the Gao grid and gold role-swapped (a second view)"),
    ("acc_ndr_weak_rl_step_grid", "grid", "rl", "step", np.nan, "RL at a fixed step, the Gao grid and gold role-swapped"),
    ("acc_ndr_weak_rl_kl_grid", "grid", "rl", "kl", np.nan, "RL at a KL budget, the Gao grid and gold role-swapped"),
]
VARIANT_STAT = ("Spearman with BoN NDR over the role-swapped ordered pairs: the best accuracy variant's minus plain "
                "accuracy's")
VARIANT_RULE = ("replicated if ci_low > 0 (a variant predicts the downstream gain better than plain accuracy); not "
                "replicated if ci_high < 0; CI: percentile bootstrap over RMs, every variant's difference from accuracy "
                "on the same draws, Bonferroni over the variants (simultaneous, so the best one's interval holds after "
                "choosing it)")


def _wen(table: pd.DataFrame | None, level: float, n_boot: int, seed: int, weak_rho: float) -> list[dict]:
    from overopt.tables.role_swap import pair_correlation

    rule = RULE.replace("weak_rho", f"weak_rho = {weak_rho:g}")
    rows = []
    for claim, view, method, point, paper, what in CLAIMS:
        t = pd.DataFrame() if table is None else table[(table["view"] == view) & (table["method"] == method)]
        if method == "bon" and not t.empty:
            t = t[t["n"] == t["n"].min()]
            what = f"{what}, n = {int(t['n'].iloc[0])}"
        elif not t.empty:
            t = t[t["rl_point"] == point]
            at = (f"step {int(t['rl_step'].iloc[0])}" if point == "step" else f"{t['kl_budget'].iloc[0]:g} nats") \
                if not t.empty else ""
            what = f"{what} ({at})"
        if t.empty or np.isfinite(t["ndr"].astype(float)).sum() < 3:
            reason = {("flip", "bon"): "no role-swap family (role_swap.flip_rates)",
                      ("flip", "rl"): "no role-swap RL runs (role_swap.rl)", ("grid", "bon"): "fewer than two RMs",
                      ("grid", "rl"): "no RL role swap over the grid (role_swap.grid_rl, RL against the grid)"}[view, method]
            if not t.empty:
                reason = (f"{what}: fewer than 3 ordered pairs with a finite NDR"
                          + (" (the runs never reach the KL budget)" if point == "kl" else ""))
            rows.append(_off(WEN, claim, STAT, rule, reason, paper_value=paper))
            continue
        c = pair_correlation(t, n_boot=n_boot, level=level, seed=seed)
        desc = (f"{what}: accuracy against the golden RM's preferences vs NDR against it, over {c['n_pairs']} ordered "
                f"pairs of {c['n_rms']} RMs ({view} view)")
        ci = (c["ci_low"], c["ci_high"])
        rows.append(_row(WEN, claim, desc, STAT, rule, inside(*ci, 0.0, weak_rho), c["value"], ci, c["n_pairs"],
                         paper_value=paper))
    rows.append(_best_variant(table, level, n_boot, seed))
    return rows


def _best_variant(table: pd.DataFrame | None, level: float, n_boot: int, seed: int) -> dict:
    """Which of Wen's accuracy variants (role_swap.csv's acc_* columns) best predicts BoN NDR over
    the family's ordered pairs, and by how much over plain accuracy."""
    from overopt.tables.role_swap import pair_correlations

    claim = "best_accuracy_variant"
    t = pd.DataFrame() if table is None else table[(table["view"] == "flip") & (table["method"] == "bon")]
    cols = [c for c in t.columns if c.startswith("acc_") and np.isfinite(t[c].astype(float)).sum() >= 3]
    if t.empty or not cols or np.isfinite(t["ndr"].astype(float)).sum() < 3:
        return _off(WEN, claim, VARIANT_STAT, VARIANT_RULE, "no role-swap family with accuracy variants "
                    "(role_swap.flip_rates)")
    t = t[t["n"] == t["n"].min()]
    values, boots, k = pair_correlations(t, ["accuracy", *cols], n_boot=n_boot, seed=seed)
    gain = {c: values[c] - values["accuracy"] for c in cols if np.isfinite(values[c])}
    if not gain or not np.isfinite(values["accuracy"]):
        return _off(WEN, claim, VARIANT_STAT, VARIANT_RULE, "no finite Spearman (a constant column)")
    best = max(gain, key=gain.get)
    diff = boots[:, 1 + cols.index(best)] - boots[:, 0]
    diff = diff[np.isfinite(diff)]
    a = (1 - level) / len(cols)  # Bonferroni over the variants the best is chosen from
    lo, hi = np.quantile(diff, [a / 2, 1 - a / 2]) if diff.size >= 10 else (np.nan, np.nan)
    desc = (f"BoN n = {int(t['n'].iloc[0])}: of {len(cols)} variants the best is {best} (Spearman {values[best]:.3f} "
            f"vs accuracy's {values['accuracy']:.3f}), over {len(t)} ordered pairs of {k} RMs")
    return _row(WEN, claim, desc, VARIANT_STAT, VARIANT_RULE, above(lo, hi), gain[best], (float(lo), float(hi)),
                len(t))
