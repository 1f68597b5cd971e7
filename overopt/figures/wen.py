"""Wen et al. 2024: accuracy (each variant) vs NDR, and accuracy vs test-set size.
"""
from __future__ import annotations
from pathlib import Path
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from overopt.figures.layout import save
from overopt.metrics.accuracy import regressional_goodhart
from overopt.figures.rm_style import ACC_UNIT, NDR_UNIT, _accuracies, _first, _handles, _in_setting, _note, _num, _proxies, _ref_lines, _rho, _scatter, _setting_text, _style


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


def acc_vs_ndr_figure(t, stem) -> None:
    s = t.settings.setting
    acc_vs_ndr(t["rm_eval"], _in_setting(t["correlations"], s), s, stem)


def acc_vs_test_size_figure(t, stem) -> None:
    acc_vs_test_size(t["rm_eval"], stem)


ROLE_SWAP_PANELS = [("flip", "bon", None, "BoN"), ("flip", "rl", "step", "RL at a fixed step"),
                    ("flip", "rl", "kl", "RL at a KL budget"), ("grid", "bon", None, "BoN, Gao grid + gold (second view)"),
                    ("grid", "rl", "step", "RL at a fixed step, Gao grid + gold")]


def role_swap_figure(t, stem) -> None:
    """Wen et al. 2024's own design: accuracy against the golden RM's preferences vs NDR against
    it, one point per ordered (golden, proxy) pair, coloured by the golden RM; the point
    Spearman over the pairs in each title (its interval, a bootstrap over RMs, is in
    replication.csv)."""
    from overopt.tables.role_swap import spearman

    frame = t["role_swap"]
    fig, axes = plt.subplots(1, len(ROLE_SWAP_PANELS), figsize=(4.2 * len(ROLE_SWAP_PANELS), 4.2), squeeze=False,
                             layout="constrained")
    acc = np.linspace(0.5, 1.0, 100)
    for ax, (view, method, point, what) in zip(axes[0], ROLE_SWAP_PANELS):
        d = frame[(frame["view"] == view) & (frame["method"] == method)]
        d = d[d["n"] == d["n"].min()] if method == "bon" else d[d["rl_point"] == point]
        d = d[np.isfinite(_num(d, "accuracy")) & np.isfinite(_num(d, "ndr"))]
        if method == "bon":
            ax.plot(acc, regressional_goodhart(acc), "--", color="black", lw=1.2, label="regressional Goodhart")
            what += f", n = {int(d['n'].iloc[0])}" if len(d) else ""
        rate = d.groupby("golden")["golden_flip_rate"].first().fillna(-1.0)  # gold (no rate) first
        goldens = sorted(rate.index, key=lambda g: (rate[g], g))
        colors = plt.cm.viridis(np.linspace(0.05, 0.9, max(len(goldens), 1)))
        for g, color in zip(goldens, colors):
            rows = d[d["golden"] == g]
            ax.plot(rows["accuracy"], rows["ndr"], "o", color=color, ms=5, alpha=0.85,
                    label=f"{g} (flip {rate[g]:.2f})" if view == "flip" else None)
        rho = spearman(d["accuracy"].to_numpy(float), d["ndr"].to_numpy(float))
        ax.set_title(f"{what}\nSpearman {rho:.2f} over {len(d)} pairs", fontsize=9)
        ax.axhline(1, ls=":", color="grey")
        ax.set_xlabel(f"proxy accuracy vs the golden RM's preferences\n{ACC_UNIT}", fontsize=9)
        if not len(d):
            _note(ax, {("flip", "bon"): "not run (role_swap.flip_rates)", ("flip", "rl"): "not run (role_swap.rl)",
                       ("grid", "bon"): "not run (fewer than two RMs)",
                       ("grid", "rl"): "not run (role_swap.grid_rl)"}[view, method])
    axes[0, 0].set_ylabel("NDR against the golden RM\n[golden gain / golden RM's own gain]", fontsize=9.5)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, title="golden RM", loc="outside right center", fontsize=8)
    fig.suptitle("Role swap (Wen et al. 2024): every RM of a family as golden RM, every other as proxy", fontsize=12)
    save(fig, stem)
