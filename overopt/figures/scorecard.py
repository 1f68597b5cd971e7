"""The replication scorecard as a figure: one line per claim (and setting), its statistic with
the interval, the paper's value and the verdict, coloured by verdict."""
from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from overopt.figures.layout import save

VERDICT_COLOR = {"replicated": "#b7e1b0", "not replicated": "#f4b6b0", "inconclusive": "#e6e6e6"}
SETTING = ["policy", "loss", "daa_beta", "algorithm", "kl_coef", "method"]


def _num(v) -> str:
    return "" if pd.isna(v) else f"{v:.3g}"


def _value(r) -> str:
    if pd.isna(r["value"]):
        return "-"
    ci = "" if pd.isna(r["ci_low"]) and pd.isna(r["ci_high"]) else f" [{_num(r['ci_low'])}, {_num(r['ci_high'])}]"
    return _num(r["value"]) + ci


def _setting(row) -> str:
    return ", ".join(f"{c} {row[c]:g}" if isinstance(row[c], float) else f"{c} {row[c]}"
                     for c in SETTING if c in row and pd.notna(row[c]))


def scorecard(card: pd.DataFrame, stem: str | Path) -> None:
    """The scorecard table, rows grouped by paper, the verdict cell coloured."""
    cols = ["paper", "claim", "setting", "value [CI]", "paper", "verdict", "n"]
    cells = [[r["paper"], r["claim"], _setting(r), _value(r),
              _num(r["paper_value"]), r["verdict"], str(int(r["n"])) if pd.notna(r["n"]) else ""]
             for _, r in card.iterrows()]
    fig, ax = plt.subplots(figsize=(15, 0.24 * (max(len(cells), 1) + 1) + 0.6))
    ax.set_axis_off()
    if not cells:
        ax.text(0.5, 0.5, "no claims", ha="center", va="center")
    else:
        table = ax.table(cellText=cells, colLabels=cols, cellLoc="left", colLoc="left", bbox=[0, 0, 1, 1])
        table.auto_set_font_size(False)
        table.set_fontsize(7)
        widths = np.array([0.06, 0.25, 0.31, 0.17, 0.06, 0.1, 0.05])
        for (i, j), cell in table.get_celld().items():
            cell.set_width(widths[j])
            if i > 0 and j == 5:
                cell.set_facecolor(VERDICT_COLOR.get(cells[i - 1][5], "white"))
    counts = card["verdict"].value_counts()
    ax.set_title("Replication scorecard: " + ", ".join(f"{counts.get(v, 0)} {v}" for v in VERDICT_COLOR), fontsize=9)
    save(fig, stem)


def replication_figure(t, stem) -> None:
    scorecard(t["replication"], stem)
