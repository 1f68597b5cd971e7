"""The RM-evaluation figures (STUDY.md 3.4-3.6; section 5, figures 6-8, and the report card),
drawn from the tidy tables only: which property of a proxy RM predicts how good a teacher it is.

Scores are in std units of each RM under pi_init; d = sqrt(KL) in sqrt(nats). Metrics and BoN
outcomes do not depend on the RL setting (rm_eval.csv repeats them per setting); RL outcomes
and curves are shown for one ``setting`` (the report card's). NaN and inf values are skipped,
and a panel with nothing to draw says so, because the workflow declares every figure.
"""
from __future__ import annotations

from itertools import cycle
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from scipy import stats

from overopt.figures import D_LABEL, _relative, _size_order, save
from overopt.rm_eval import regressional_goodhart
from overopt.rm_tables import METRICS, POLICY_PREFIX, RL_SETTING, policy_metrics
from overopt.tables import REFERENCES

ACCURACIES = {"acc_labeled": "held-out labeled pairs", "acc_pool": r"$\pi_{init}$ pool, all pairs",
              "acc_best_worst": "gold-best vs gold-worst", "acc_adjacent": "adjacent gold ranks",
              "acc_budget_all_pairs": "budget: all pairs, few prompts", "acc_budget_distinct":
              "budget: one pair per prompt", "acc_ood": "out-of-distribution prompts"}
OUTCOME_NAMES = {"ndr_bon": "NDR, BoN", "rl_gold_gain_step": "RL gold gain at step",
                 "rl_proxy_gain_step": "RL proxy gain at step", "ndr_rl_step": "NDR, RL at step",
                 "ndr_rl_kl": "NDR, RL at KL budget", "ndr_rl_final": "NDR, RL at end"}
OBJECTIVES = {"bt": "Bradley-Terry (bt)", "pfr": "prompt-free prioritized (pfr)"}
OBJ_COLORS = {"bt": "tab:blue", "pfr": "tab:orange"}
MARKERS = "osD^vPX<>"
REF_STYLE = {"gold": dict(marker="*", color="black", ms=15, label="gold RM (reference)"),
             "gold_flat": dict(marker="X", color="crimson", ms=11, label="flat teacher (accurate, low variance)")}
ACC_UNIT = "[fraction of pairs]"
NDR_UNIT = "[gold gain / gold-RM gain]"
VAR_LABEL = "reward variance under $\\pi_{init}$\n[(RM std units)$^2$, mean over prompts]"
GAIN_LABEL = "gold gain vs $\\pi_{init}$  [gold-RM std units]"


def _num(frame: pd.DataFrame, col: str) -> pd.Series:
    """A column as floats with inf as NaN; an absent column is all NaN (nothing drawn, no crash)."""
    if col not in frame:
        return pd.Series(np.nan, index=frame.index)
    return pd.to_numeric(frame[col], errors="coerce").replace([np.inf, -np.inf], np.nan)


def _first(frame: pd.DataFrame, col: str):
    """First finite value of a column (e.g. the BoN n or the RL step an outcome was read at), or None."""
    v = _num(frame, col).dropna()
    return v.iloc[0] if len(v) else None


def _in_setting(frame: pd.DataFrame, setting: dict) -> pd.DataFrame:
    """Rows of one RL setting; numbers compared as floats, since a CSV round trip turns 0 into 0.0."""
    keep = np.ones(len(frame), bool)
    for col in RL_SETTING:
        v = setting[col]
        if isinstance(v, str):
            keep &= (frame[col].astype(str) == v).to_numpy()
        else:
            keep &= np.isclose(pd.to_numeric(frame[col], errors="coerce").to_numpy(np.float64), float(v))
    return frame[keep]


def _setting_text(setting: dict) -> str:
    """The RL setting in words, for titles: the figures show one setting of several."""
    return (f"{str(setting['algorithm']).upper()} on policy {setting['policy']}, KL coef {float(setting['kl_coef']):g},"
            f" seed {float(setting['rl_seed']):g}")


def _proxies(frame: pd.DataFrame) -> pd.DataFrame:
    """Proxy rows (references dropped), ordered by params, data size, objective and seed."""
    p = frame[~frame["rm"].isin(REFERENCES)]
    return p.sort_values(["params", "data_size", "objective", "seed"], na_position="last")


def _style(proxies: pd.DataFrame) -> tuple[dict, dict]:
    """Colour per proxy size (ordered by params) and marker per data size."""
    sizes = _size_order(proxies)
    colors = dict(zip(sizes, plt.cm.viridis(np.linspace(0.05, 0.9, max(len(sizes), 1)))))
    return colors, dict(zip(sorted(proxies["data_size"].dropna().unique()), cycle(MARKERS)))


def _scatter(ax, proxies: pd.DataFrame, x: str, y: str, style: tuple[dict, dict]) -> int:
    """One point per proxy where both values are finite (hollow for `pfr`); returns how many."""
    colors, markers = style
    xs, ys, n = _num(proxies, x), _num(proxies, y), 0
    for i, row in proxies.iterrows():
        if np.isfinite(xs[i]) and np.isfinite(ys[i]):
            c = colors.get(row["rm_size"], "grey")
            ax.plot(xs[i], ys[i], ls="none", marker=markers.get(row["data_size"], "o"), ms=8, color=c, mew=1.6,
                    mfc="none" if row["objective"] == "pfr" else c, alpha=0.9)
            n += 1
    return n


def _handles(proxies: pd.DataFrame, style: tuple[dict, dict]) -> list:
    """Legend entries for ``_scatter``: sizes (colour), data sizes (marker), objectives (fill)."""
    colors, markers = style
    params = proxies.groupby("rm_size")["params"].first()
    h = [Line2D([], [], ls="none", marker="o", ms=8, color=c, label=f"proxy {s} ({params[s]:,.0f} params)")
         for s, c in colors.items()]
    h += [Line2D([], [], ls="none", marker=m, ms=8, color="dimgrey", label=f"{ds:,.0f} training pairs")
          for ds, m in markers.items()]
    objectives = [o for o in OBJECTIVES if o in set(proxies["objective"])]
    if len(objectives) > 1:
        h += [Line2D([], [], ls="none", marker="o", ms=8, color="dimgrey", mfc="none" if o == "pfr" else "dimgrey",
                     mew=1.6, label=OBJECTIVES[o]) for o in objectives]
    return h


def _note(ax, text: str) -> None:
    """Say in the panel why it is empty, rather than leave a blank axis that looks like a bug."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=10, color="dimgrey",
            wrap=True)


def _rho(corr: pd.DataFrame, metric: str, outcome: str) -> str:
    """Spearman across proxies with its bootstrap CI, as correlations.csv has it."""
    r = corr[(corr["metric"] == metric) & (corr["outcome"] == outcome) & (corr["stat"] == "spearman")]
    if r.empty or not np.isfinite(r["value"].iloc[0]):
        return r"Spearman $\rho$ n/a"
    r = r.iloc[0]
    return rf"Spearman $\rho$ = {r['value']:.2f} [{r['ci_low']:.2f}, {r['ci_high']:.2f}], n={int(r['n'])}"


def _spearman(proxies: pd.DataFrame, x: str, y: str) -> str:
    """Spearman across proxies of two metric columns (no CI: a description, not a finding)."""
    a, b = _num(proxies, x), _num(proxies, y)
    ok = a.notna() & b.notna()
    if ok.sum() < 3:
        return r"Spearman $\rho$ n/a"
    return rf"Spearman $\rho$ = {stats.spearmanr(a[ok], b[ok]).statistic:.2f}, n={int(ok.sum())}"


def _ref_lines(ax) -> None:
    """NDR 0 (no better than pi_init) and 1 (as good as optimizing gold itself)."""
    ax.axhline(0, color="grey", lw=0.6)
    ax.axhline(1, color="grey", lw=0.6, ls=":")


def _accuracies(frame: pd.DataFrame) -> dict:
    """The accuracy variants to draw: the fixed ones, then pairs from each other policy size."""
    others = {c: f"pairs from policy {c[len('acc_' + POLICY_PREFIX):]} (off-policy)"
              for c in policy_metrics(frame.columns) if c.startswith("acc_")}
    return {**ACCURACIES, **others}


def acc_vs_ndr(frame: pd.DataFrame, corr: pd.DataFrame, setting: dict, stem: str | Path) -> None:
    """Wen et al. 2024: each accuracy variant vs the normalized drop ratio of BoN and of RL across
    proxies, one point per proxy, Spearman (bootstrap CI) per panel. The BoN panels carry the
    regressional-Goodhart prediction NDR = sin(pi (acc - 1/2)); the gap to it is the rest."""
    bon = _proxies(frame).drop_duplicates("rm")
    rl = _proxies(_in_setting(frame, setting))
    bon_n, step, final = _first(bon, "bon_n"), _first(rl, "rl_step"), _first(rl, "rl_final_step")
    rows = {"ndr_bon": (bon, "BoN" + (f", n = {bon_n:g}" if bon_n is not None else "")),
            "ndr_rl_step": (rl, "RL" + (f" at step {step:g}" if step is not None else ", fixed step")),
            "ndr_rl_final": (rl, "RL at end" + (f" (step {final:g})" if final is not None else ""))}
    style, accuracies = _style(bon), _accuracies(frame)
    fig, axes = plt.subplots(len(rows), len(accuracies), figsize=(3.1 * len(accuracies), 3.0 * len(rows)),
                             sharex="col", sharey="row", squeeze=False, layout="constrained")
    acc = np.linspace(0.5, 1.0, 100)
    for r, (outcome, (data, what)) in enumerate(rows.items()):
        for c, (metric, name) in enumerate(accuracies.items()):
            ax = axes[r, c]
            if outcome == "ndr_bon":
                ax.plot(acc, regressional_goodhart(acc), "--", color="black", lw=1.2)
            if not _scatter(ax, data, metric, outcome, style):
                _note(ax, "no finite values")
            _ref_lines(ax)
            ax.set_title(_rho(corr, metric, outcome), fontsize=8.5)
            ax.set_xlabel(f"accuracy: {name}\n{ACC_UNIT}" if r == len(rows) - 1 else "", fontsize=9)
        axes[r, 0].set_ylabel(f"NDR, {what}\n{NDR_UNIT}", fontsize=9.5)
    extra = [Line2D([], [], ls="--", color="black", label="regressional Goodhart:\nNDR = sin($\\pi$(acc - 1/2))"),
             Line2D([], [], ls=":", color="grey", label="NDR = 1 (gold RM itself)")]
    fig.legend(handles=_handles(bon, style) + extra, loc="outside right center", fontsize=9)
    fig.suptitle(f"Accuracy vs downstream gain across proxy RMs (Wen et al. 2024); RL: {_setting_text(setting)}",
                 fontsize=13)
    save(fig, stem)


def acc_vs_test_size(frame: pd.DataFrame, stem: str | Path) -> None:
    """Wen et al. 2024: accuracy of each proxy on random test sets of each size (mean +- SD over
    draws, the same pairs for every proxy), and the SD against the binomial sqrt(a(1-a)/n): on
    a small test set the accuracy differences between proxies sit inside the noise."""
    proxies = _proxies(frame).drop_duplicates("rm")
    sizes = sorted(int(c[len("acc_n"):-len("_mean")]) for c in frame.columns
                   if c.startswith("acc_n") and c.endswith("_mean"))
    style = _style(proxies)
    colors, markers = style
    fig, axes = plt.subplots(1, 2, figsize=(11.5, 4.6), squeeze=False, layout="constrained")
    means = np.column_stack([_num(proxies, f"acc_n{n}_mean") for n in sizes]) if sizes else np.empty((len(proxies), 0))
    sds = np.column_stack([_num(proxies, f"acc_n{n}_sd") for n in sizes]) if sizes else np.empty((len(proxies), 0))
    drawn = 0
    for j, (row, mean, sd) in enumerate(zip(proxies.itertuples(), means, sds)):
        ok = np.isfinite(mean) & np.isfinite(sd)
        if not ok.any():
            continue
        x = np.asarray(sizes, dtype=float)[ok] * (1 + 0.03 * (j - len(proxies) / 2))  # spread the error bars
        kw = dict(color=colors.get(row.rm_size, "grey"), marker=markers.get(row.data_size, "o"), ms=6,
                  mfc="none" if row.objective == "pfr" else None, alpha=0.85)
        axes[0, 0].errorbar(x, mean[ok], yerr=sd[ok], capsize=2, lw=1, **kw)
        axes[0, 1].plot(x, sd[ok], lw=1, **kw)
        drawn += 1
    if drawn and sizes:
        n = np.geomspace(min(sizes), max(sizes), 50)
        a = float(np.nanmean(means[:, -1]))
        axes[0, 1].plot(n, np.sqrt(a * (1 - a) / n), "--", color="black", lw=1.2,
                        label=f"binomial $\\sqrt{{a(1-a)/n}}$, a = {a:.2f}")
        axes[0, 1].legend(fontsize=9)
    for ax, ylabel, title in ((axes[0, 0], f"accuracy (mean $\\pm$ SD over draws)\n{ACC_UNIT}",
                               "accuracy vs test-set size"),
                              (axes[0, 1], "SD of accuracy over draws\n[fraction of pairs]",
                               "spread of the estimate vs test-set size")):
        ax.set_xscale("log")
        ax.set_xlabel("test-set size [pairs of $\\pi_{init}$ pool samples, log scale]", fontsize=10)
        ax.set_ylabel(ylabel, fontsize=10)
        ax.set_title(title, fontsize=10)
        if not drawn:
            _note(ax, "no accuracy-vs-size columns in rm_eval.csv")
    fig.legend(handles=_handles(proxies, style), loc="outside right center", fontsize=9)
    fig.suptitle("Accuracy vs test-set size (Wen et al. 2024): how many pairs it takes to rank proxies", fontsize=12)
    save(fig, stem)


def variance_vs_gain(frame: pd.DataFrame, corr: pd.DataFrame, setting: dict, stem: str | Path) -> None:
    """Razin et al. 2025: reward variance under pi_init vs how fast RL raises gold and proxy reward
    (gain after a fixed step), with accuracy alongside for contrast; the gold RM and the flat
    teacher (accuracy 1, low variance) are marked: variance, not accuracy, should set the pace."""
    cur = _in_setting(frame, setting)
    proxies, refs = _proxies(cur), cur[cur["rm"].isin(REFERENCES)]
    style = _style(proxies)
    step = _first(cur, "rl_step")
    at = f"after RL step {step:g}" if step is not None else "after the fixed RL step"
    panels = [("variance", "rl_gold_gain_step", "reward variance vs gold gain", VAR_LABEL,
               f"gold gain {at}\n[gold-RM std units]"),
              ("variance", "rl_proxy_gain_step", "reward variance vs gain of the optimized RM", VAR_LABEL,
               f"gain of the optimized RM {at}\n[that RM's std units]"),
              ("acc_pool", "rl_gold_gain_step", "accuracy vs gold gain (for contrast)",
               f"accuracy on the $\\pi_{{init}}$ pool\n{ACC_UNIT}", f"gold gain {at}\n[gold-RM std units]")]
    for col in (c for c in policy_metrics(cur.columns) if c.startswith("variance_")):
        other = col[len("variance_" + POLICY_PREFIX):]
        panels.append(("variance", col, f"the same RMs under two students:\n{_spearman(proxies, 'variance', col)}",
                       VAR_LABEL, f"reward variance under policy {other}\n[(RM std units)$^2$]"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5.0 * len(panels), 4.6), squeeze=False, layout="constrained")
    for ax, (x, y, title, xl, yl) in zip(axes[0], panels):
        n = _scatter(ax, proxies, x, y, style)
        rx, ry = _num(refs, x), _num(refs, y)
        for i, rm in refs["rm"].items():
            if np.isfinite(rx[i]) and np.isfinite(ry[i]):
                ax.plot(rx[i], ry[i], ls="none", **{k: v for k, v in REF_STYLE[rm].items() if k != "label"})
                n += 1
        if not n:
            _note(ax, "no finite values")
        ax.axhline(0, color="grey", lw=0.6)
        if y.startswith("variance"):
            ax.axline((0, 0), slope=1, color="grey", lw=0.6, ls=":")  # the same variance under both students
        ax.set_xlabel(xl, fontsize=9.5)
        ax.set_ylabel(yl, fontsize=9.5)
        ax.set_title(title if y.startswith("variance") else f"{title}\n{_rho(corr, x, y)} (proxies)", fontsize=9.5)
    refs_h = [Line2D([], [], ls="none", **REF_STYLE[rm]) for rm in REF_STYLE if rm in set(refs["rm"])]
    fig.legend(handles=_handles(proxies, style) + refs_h, loc="outside right center", fontsize=9)
    fig.suptitle(f"Reward variance vs reward-maximization rate (Razin et al. 2025); {_setting_text(setting)}",
                 fontsize=13)
    save(fig, stem)


def flat_teacher(curves: pd.DataFrame, frame: pd.DataFrame, setting: dict, stem: str | Path) -> None:
    """Gold gain along RL against the gold RM, the flat teacher (gold shrunk on half the prompts:
    same rankings, accuracy 1, less variance) and the proxies (grey), vs step and vs d: does the
    accurate-but-flat teacher improve gold more slowly than the gold RM?"""
    rl = _in_setting(curves[curves["method"] == "rl"], setting)
    r = _relative(rl, ["rm"], "step") if not rl.empty else rl
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True, squeeze=False, layout="constrained")
    for ax, x, xl in zip(axes[0], ("step", "d"), ("RL step", D_LABEL)):
        proxy_label = "proxy RMs"
        for rm, run in r.groupby("rm"):
            s = REF_STYLE.get(rm)
            if s:
                ax.plot(run[x], run["gold"], "-", marker=s["marker"], ms=s["ms"] * 0.6, color=s["color"], lw=2,
                        label=s["label"], zorder=3)
            else:
                ax.plot(run[x], run["gold"], "-", color="grey", lw=0.8, alpha=0.6, label=proxy_label)
                proxy_label = None
        if r.empty:
            _note(ax, "no RL curves in this setting")
        else:
            ax.legend(fontsize=9)
        ax.axhline(0, color="grey", lw=0.6)
        ax.set_xlabel(xl, fontsize=10)
        ax.set_title(f"gold gain vs {'RL step' if x == 'step' else 'd'}", fontsize=10)
    axes[0][0].set_ylabel(GAIN_LABEL, fontsize=10)
    ref = frame.drop_duplicates("rm").set_index("rm")
    note = "no flat-teacher run in this setting"
    if not r.empty and (r["rm"] == "gold_flat").any() and {"gold", "gold_flat"} <= set(ref.index):
        acc, var = _num(ref, "acc_pool"), _num(ref, "variance")
        note = (f"flat teacher: pool accuracy {acc['gold_flat']:.2f}, reward variance {var['gold_flat']:.2f} "
                f"vs the gold RM's {var['gold']:.2f} [std units$^2$]")
    fig.suptitle(f"Accurate but flat teacher (Razin et al. 2025); {_setting_text(setting)}\n{note}", fontsize=12)
    save(fig, stem)


def prompt_free(frame: pd.DataFrame, stem: str | Path) -> None:
    """Mao et al. 2025 diagnostics per proxy (ordered by params), the gold RM first as a reference:
    the prompt-free share of the gap, accuracy with the true prompt vs swapped prompts vs of the
    prompt-free gap alone, and mean gap sizes. An RM that ignores the prompt scores alike on all."""
    rows = pd.concat([frame[frame["rm"] == "gold"].drop_duplicates("rm"), _proxies(frame).drop_duplicates("rm")])
    x = np.arange(len(rows))
    colors = np.array([OBJ_COLORS.get(o, "black") for o in rows["objective"]], dtype=object)
    dots = [({"pf_accuracy_true_prompt": "true prompt", "pf_accuracy_swapped": "swapped prompts",
              "pf_accuracy_prompt_free": "prompt-free gap alone"}, f"accuracy vs gold\n{ACC_UNIT}", 0.5),
            ({"pf_mean_abs_gap": "true prompt", "pf_mean_abs_swapped_gap": "swapped prompts",
              "pf_mean_abs_prompt_free": "prompt-free gap"}, "mean |RM gap| of a pair\n[RM std units]", 0.0)]
    fig, axes = plt.subplots(1 + len(dots), 1, figsize=(max(7.0, 0.55 * len(rows) + 3), 9.5), sharex=True,
                             squeeze=False, layout="constrained")
    share = _num(rows, "pf_share").to_numpy()
    ok = np.isfinite(share)
    axes[0, 0].bar(x[ok], share[ok], color=colors[ok], alpha=0.8)
    axes[0, 0].axhline(1, color="grey", lw=0.6, ls=":")
    axes[0, 0].set_ylabel("prompt-free share of\nthe gap's variance [fraction]", fontsize=10)
    if not ok.any():
        _note(axes[0, 0], "no finite values")
    for ax, (cols, ylabel, line) in zip(axes[1:, 0], dots):
        drawn = 0
        for j, (col, name) in enumerate(cols.items()):
            v = _num(rows, col).to_numpy()
            ok = np.isfinite(v)
            ax.plot(x[ok] + (j - 1) * 0.2, v[ok], ls="none", marker=MARKERS[j], ms=7, label=name, color=f"C{j + 2}")
            drawn += ok.sum()
        ax.axhline(line, color="grey", lw=0.6, ls=":")
        ax.legend(fontsize=8.5, ncols=3, loc="best")
        if not drawn:
            _note(ax, "no finite values")
        ax.set_ylabel(ylabel, fontsize=10)
    ax = axes[-1, 0]
    ax.set_xticks(x, ["gold RM (ref.)" if rm == "gold" else rm for rm in rows["rm"]], rotation=40, ha="right",
                  fontsize=9)
    for tick, c in zip(ax.get_xticklabels(), colors):
        tick.set_color(c)
    ax.set_xlabel("target RM (ordered by params, then training pairs); label colour: "
                  + ", ".join(f"{c.split(':')[1]} = {o}" for o, c in OBJ_COLORS.items()) + ", black = reference",
                  fontsize=9.5)
    fig.suptitle("Prompt-free reward diagnostics (Mao et al. 2025): gap under the true prompt vs swapped prompts",
                 fontsize=12)
    save(fig, stem)


def bt_vs_pfr(frame: pd.DataFrame, setting: dict, stem: str | Path) -> None:
    """Mao et al. 2025: `pfr` vs plain `bt` proxies matched on size, data and seed, on accuracy in
    distribution, out of distribution and with swapped prompts, and on downstream gold (BoN; RL
    at the end in ``setting``); points above the diagonal favour `pfr`."""
    p = _proxies(frame)
    vals = p.drop_duplicates("rm").drop(columns=["ndr_rl_final"], errors="ignore").merge(
        _in_setting(p, setting)[["rm", "ndr_rl_final"]], on="rm", how="left")
    key = ["rm_size", "data_size", "seed"]
    pairs = vals[vals["objective"] == "bt"].merge(vals[vals["objective"] == "pfr"], on=key, suffixes=("_bt", "_pfr"))
    if pairs.empty:
        present = ", ".join(map(str, sorted(p["objective"].dropna().unique()))) or "none"
        fig, ax = plt.subplots(figsize=(7, 3.2), layout="constrained")
        _note(ax, f"No bt/pfr proxy pairs matched on (size, data size, seed):\nobjectives present: {present}.\n"
                  "Train both objectives to compare them.")
        ax.set_axis_off()
        fig.suptitle("bt vs pfr (Mao et al. 2025)", fontsize=12)
        save(fig, stem)
        return
    pairs = pairs.rename(columns={"params_bt": "params"}).assign(objective="bt")
    style = _style(pairs)
    panels = {"acc_pool": ("accuracy, $\\pi_{init}$ pool", ACC_UNIT), "acc_ood": ("accuracy, OOD prompts", ACC_UNIT),
              "pf_accuracy_swapped": ("accuracy, swapped prompts", ACC_UNIT), "ndr_bon": ("NDR, BoN", NDR_UNIT),
              "ndr_rl_final": ("NDR, RL at end", NDR_UNIT)}
    fig, axes = plt.subplots(1, len(panels), figsize=(3.7 * len(panels), 4.2), squeeze=False, layout="constrained")
    for ax, (col, (name, unit)) in zip(axes[0], panels.items()):
        pts = pairs.assign(x=_num(pairs, f"{col}_bt"), y=_num(pairs, f"{col}_pfr")).dropna(subset=["x", "y"])
        if pts.empty:
            _note(ax, "no pair with both values\n(RL: are the pfr proxies\nin rl.objectives?)"
                  if col == "ndr_rl_final" else "no pair with both values")
            ax.set_title(name, fontsize=9.5)
            continue
        _scatter(ax, pts, "x", "y", style)
        lo, hi = min(pts["x"].min(), pts["y"].min()), max(pts["x"].max(), pts["y"].max())
        pad = 0.05 * (hi - lo or 1)
        ax.plot([lo - pad, hi + pad], [lo - pad, hi + pad], "--", color="grey", lw=0.8)
        diff = pts["y"] - pts["x"]
        ax.set_title(f"{name}\npfr higher in {int((diff > 0).sum())}/{len(pts)} pairs, "
                     f"mean diff {diff.mean():+.3f}", fontsize=9)
        ax.set_xlabel(f"bt  {unit}", fontsize=9.5)
        ax.set_ylabel(f"pfr  {unit}", fontsize=9.5)
    fig.legend(handles=_handles(pairs, style) + [Line2D([], [], ls="--", color="grey", label="pfr = bt")],
               loc="outside right center", fontsize=9)
    fig.suptitle(f"bt vs pfr proxies matched on size, data and seed (Mao et al. 2025); RL: {_setting_text(setting)}",
                 fontsize=12)
    save(fig, stem)


def _cell(v: float) -> str:
    """A report-card value: inf kept visible (a fitted curve with no peak), NaN as a dash."""
    return "–" if np.isnan(v) else ("∞" if v == np.inf else "-∞" if v == -np.inf else f"{v:.3g}")


def report_card(card: pd.DataFrame, predictors: pd.DataFrame, setting: dict, stem: str | Path) -> None:
    """The report card as a heatmap (proxies by params then data size, the references below; each
    column z-scored over the proxies for colour, raw values printed), and beside it each metric's
    Spearman with each downstream outcome (bootstrap CI; a diamond marks the best predictor)."""
    ident = {"rm", "rm_size", "params", "data_size", "objective", "seed", *RL_SETTING}
    cols = [c for c in card.columns if c not in ident]
    cols = [c for c in cols if c in METRICS] + [c for c in cols if c not in METRICS]
    proxies = _proxies(card)
    rows = pd.concat([proxies, card[card["rm"].isin(REFERENCES)]])
    raw = rows[cols].apply(pd.to_numeric, errors="coerce")
    finite = raw.where(np.isfinite(raw))
    sd = finite.iloc[:len(proxies)].std(ddof=0)
    z = (finite - finite.iloc[:len(proxies)].mean()) / sd.where(sd > 0, np.inf)  # constant column: z = 0
    z.iloc[len(proxies):] = np.nan  # references: raw values only, their extremes would swamp the scale
    names = ["gold RM (ref.)" if rm == "gold" else "flat teacher (ref.)" if rm == "gold_flat" else rm
             for rm in rows["rm"]]
    metrics = [m for m in METRICS if m in set(predictors["metric"])]
    metrics += [m for m in dict.fromkeys(predictors["metric"]) if m not in metrics]
    height = max(4.5, 0.42 * max(len(rows), len(metrics)) + 2.5)
    fig = plt.figure(figsize=(0.8 * len(cols) + 9, height), layout="constrained")
    gs = fig.add_gridspec(1, 2, width_ratios=[max(len(cols), 1) * 0.8 + 2, 6])
    ax = fig.add_subplot(gs[0])
    if rows.empty or not cols:
        _note(ax, "empty report card")
        ax.set_axis_off()
    else:
        cmap = plt.get_cmap("coolwarm").with_extremes(bad="lightgrey")
        im = ax.imshow(z.to_numpy(np.float64), cmap=cmap, vmin=-2.5, vmax=2.5, aspect="auto")
        for (i, j), v in np.ndenumerate(raw.to_numpy(np.float64)):
            ax.text(j, i, _cell(v), ha="center", va="center", fontsize=9)
        ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right", fontsize=8.5)
        ax.set_yticks(range(len(rows)), names, fontsize=8.5)
        n_metrics = sum(c in METRICS for c in cols)
        ax.axvline(n_metrics - 0.5, color="black", lw=1.5)
        if len(proxies) < len(rows):
            ax.axhline(len(proxies) - 0.5, color="black", lw=1.5)
        ax.set_title("metrics (left of the line) and downstream outcomes (right)\ncolour: z-score per column over "
                     "proxies (grey: missing or reference); text: raw value (inf: no peak, -: missing)", fontsize=10)
        fig.colorbar(im, ax=ax, label="z-score over proxies", shrink=0.6, extend="both")
    side = fig.add_subplot(gs[1])
    outcomes = list(dict.fromkeys(predictors["outcome"]))
    y = np.arange(len(metrics))
    for j, outcome in enumerate(outcomes):
        g = predictors[predictors["outcome"] == outcome].set_index("metric").reindex(metrics)
        v, lo, hi = (_num(g, c).to_numpy() for c in ("value", "ci_low", "ci_high"))
        ok = np.isfinite(v)
        err = np.nan_to_num(np.abs(np.vstack([v - lo, hi - v])))[:, ok]
        yy = y + (j - (len(outcomes) - 1) / 2) * 0.22
        side.errorbar(v[ok], yy[ok], xerr=err, fmt="o", ms=4, capsize=2, color=f"C{j}",
                      label=OUTCOME_NAMES.get(outcome, outcome))
        best = ok & (_num(g, "rank").to_numpy() == 1)
        side.plot(v[best], yy[best], "D", ms=8, mfc="none", mec=f"C{j}", mew=1.5)
    if not outcomes:
        _note(side, "no predictor table for this setting")
    side.axvline(0, color="grey", lw=0.6)
    side.set_yticks(y, metrics, fontsize=8.5)
    side.set_ylim(max(len(metrics), 1) - 0.5, -0.5)
    side.set_xlim(-1.08, 1.08)
    side.set_xlabel("Spearman $\\rho$ with the outcome across proxies\n(bootstrap CI; diamond: best predictor)",
                    fontsize=9.5)
    side.set_title("which metric predicts the downstream gold outcome", fontsize=10)
    if outcomes:
        side.legend(fontsize=9, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncols=min(len(outcomes), 3))
    fig.suptitle(f"RM report card; RL: {_setting_text(setting)}", fontsize=13)
    save(fig, stem)


def make_all(rm_eval_csv: str, correlations_csv: str, report_card_csv: str, predictors_csv: str, curves_csv: str,
             out_dir: str, setting: dict) -> None:
    """Every RM-evaluation figure into ``out_dir``; RL outcomes and curves from ``setting``
    (policy, algorithm, kl_coef, rl_seed: the report card's)."""
    frame, curves = pd.read_csv(rm_eval_csv), pd.read_csv(curves_csv)
    corr = _in_setting(pd.read_csv(correlations_csv), setting)
    card, predictors = pd.read_csv(report_card_csv), _in_setting(pd.read_csv(predictors_csv), setting)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    acc_vs_ndr(frame, corr, setting, out / "acc_vs_ndr")
    acc_vs_test_size(frame, out / "acc_vs_test_size")
    variance_vs_gain(frame, corr, setting, out / "variance_vs_gain")
    flat_teacher(curves, frame, setting, out / "flat_teacher")
    prompt_free(frame, out / "prompt_free")
    bt_vs_pfr(frame, setting, out / "bt_vs_pfr")
    report_card(card, predictors, setting, out / "report_card")
