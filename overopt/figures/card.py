"""The RM report card figure.
"""
from __future__ import annotations
from pathlib import Path
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from overopt.figures.layout import save
from overopt.tables.rm_eval import METRICS, RL_SETTING
from overopt.targets import PROXY
from overopt.figures.rm_style import _short_name, OUTCOME_NAMES, _cell, _in_setting, _note, _num, _proxies, _setting_text


def report_card(card: pd.DataFrame, predictors: pd.DataFrame, setting: dict, stem: str | Path) -> None:
    """The report card as a heatmap (proxies by params then data size, the references below; each
    column z-scored over the proxies for colour, raw values printed), and beside it each metric's
    Spearman with each downstream outcome (bootstrap CI; a diamond marks the best predictor)."""
    ident = {"rm", "kind", "family", "rm_size", "params", "data_size", "objective", "seed", *RL_SETTING}
    cols = [c for c in card.columns if c not in ident]
    cols = [c for c in cols if c in METRICS] + [c for c in cols if c not in METRICS]
    proxies = _proxies(card)
    rows = pd.concat([proxies, card[card["kind"] != PROXY]])
    raw = rows[cols].apply(pd.to_numeric, errors="coerce")
    finite = raw.where(np.isfinite(raw))
    sd = finite.iloc[:len(proxies)].std(ddof=0)
    z = (finite - finite.iloc[:len(proxies)].mean()) / sd.where(sd > 0, np.inf)  # constant column: z = 0
    z.iloc[len(proxies):] = np.nan  # references: raw values only, their extremes would swamp the scale
    names = [_short_name(row) for _, row in rows.iterrows()]
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


def report_card_figure(t, stem) -> None:
    s = t.settings.setting
    report_card(t["report_card"], _in_setting(t["predictors"], s), s, stem)
