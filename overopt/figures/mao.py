"""Mao et al. 2025: prompt-free diagnostics, and bt vs pfr.
"""
from __future__ import annotations
from pathlib import Path
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from overopt.figures.layout import save
from overopt.targets import GOLD
from overopt.figures.rm_style import _short_name, ACC_UNIT, MARKERS, NDR_UNIT, OBJ_COLORS, _handles, _in_setting, _note, _num, _proxies, _scatter, _setting_text, _style


def prompt_free(frame: pd.DataFrame, stem: str | Path) -> None:
    """Mao et al. 2025 diagnostics per proxy (ordered by params), the gold RM first as a reference:
    the prompt-free share of the gap, accuracy with the true prompt vs swapped prompts vs of the
    prompt-free gap alone, and mean gap sizes. An RM that ignores the prompt scores alike on all."""
    rows = pd.concat([frame[frame["kind"] == GOLD].drop_duplicates("rm"), _proxies(frame).drop_duplicates("rm")])
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
    ax.set_xticks(x, [_short_name(row) for _, row in rows.iterrows()], rotation=40, ha="right",
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


def prompt_free_figure(t, stem) -> None:
    prompt_free(t["rm_eval"], stem)


def bt_vs_pfr_figure(t, stem) -> None:
    bt_vs_pfr(t["rm_eval"], t.settings.setting, stem)


SHIFT_ACC = {"gold_accuracy": "clean", "cue_accuracy": "cue on chosen\n(as in training)",
             "shift_accuracy": "cue on rejected\n(the shift)", "ood_gold_accuracy": "OOD prompts,\nclean",
             "ood_shift_accuracy": "OOD prompts,\ncue on rejected"}


def shift_figure(t, stem) -> None:
    """Mao et al. 2025's shift: the cue family's bt and pfr proxies (one point per seed, the
    mean as a bar) on held-out pairs clean, with the training cue on the chosen side, and with
    it on the rejected side, then on pairs of the OOD prompts clean and with the cue on the
    rejected side; and the gold of best-of-n against each (mean over seeds, ±1 SE
    over seeds where there are several)."""
    from overopt.targets import CUE

    m, curves = t["rm_metrics"], t["curves"]
    cue = m[m["family"] == CUE] if "family" in m else m.iloc[:0]
    fig, axes = plt.subplots(1, 2, figsize=(13.5, 4.4), squeeze=False, layout="constrained",
                             gridspec_kw={"width_ratios": [1.5, 1]})
    ax = axes[0, 0]
    width = 0.38
    for j, obj in enumerate(("bt", "pfr")):
        rows = cue[cue["objective"] == obj]
        for i, col in enumerate(SHIFT_ACC):
            v = _num(rows, col).dropna()
            if v.empty:
                continue
            x = i + (j - 0.5) * width
            ax.bar(x, v.mean(), width * 0.9, color=OBJ_COLORS[obj], alpha=0.5, label=obj if i == 0 else None)
            ax.plot(np.full(len(v), x), v, "o", color=OBJ_COLORS[obj], ms=4)
    ax.set_xticks(range(len(SHIFT_ACC)), list(SHIFT_ACC.values()), fontsize=8.5)
    ax.axhline(0.5, color="grey", lw=0.6, ls=":")
    ax.set_ylabel(f"held-out accuracy vs gold\n{ACC_UNIT}")
    ax.set_title("accuracy with a response-only cue (points: seeds)", fontsize=10)
    ax = axes[0, 1]
    has = {"family", "objective"} <= set(curves)
    bon = curves[(curves["method"] == "bon") & (curves["family"] == CUE)] if has else None
    for obj in ("bt", "pfr") if has else ():
        c = bon[bon["objective"] == obj].groupby("d")["gold"].agg(["mean", "sem", "count"]).reset_index()
        if c.empty:
            continue
        ax.plot(c["d"], c["mean"], "-o", color=OBJ_COLORS[obj], ms=3, label=f"{obj} ({int(c['count'].max())} seeds)")
        if c["count"].max() > 1:
            ax.fill_between(c["d"], c["mean"] - c["sem"], c["mean"] + c["sem"], color=OBJ_COLORS[obj], alpha=0.2)
    ax.set_xlabel(r"$d=\sqrt{\mathrm{KL}}$ of best-of-n  [$\sqrt{\mathrm{nats}}$]")
    ax.set_ylabel("gold score vs $\\pi_{init}$\n[gold-RM std units]")
    ax.set_title("best-of-n against the cue-trained proxies", fontsize=10)
    for a in axes[0]:
        if a.get_legend_handles_labels()[0]:
            a.legend(fontsize=9)
        else:
            _note(a, "not run (shift.seeds)")
    fig.suptitle("Mao et al. 2025's shift: a cue that predicted the label in training points the other way", fontsize=12)
    save(fig, stem)
