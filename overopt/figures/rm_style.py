"""Shared style and helpers of the RM-evaluation figures.
"""
from __future__ import annotations
from itertools import cycle
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from scipy import stats
from overopt.figures.layout import _size_order
from overopt.tables.rm_eval import POLICY_PREFIX, RL_SETTING, policy_metrics
from overopt.targets import FAMILY_STYLE, PROXY


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


REF_STYLE = {family: {k: v for k, v in style.items() if k != "short"} for family, style in FAMILY_STYLE.items()}


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
    p = frame[frame["kind"] == PROXY]
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


def _cell(v: float) -> str:
    """A report-card value: inf kept visible (a fitted curve with no peak), NaN as a dash."""
    return "–" if np.isnan(v) else ("∞" if v == np.inf else "-∞" if v == -np.inf else f"{v:.3g}")


def _short_name(row) -> str:
    """A row's target as the figures name it: proxies by id, the others by their family."""
    return row["rm"] if row["kind"] == PROXY else FAMILY_STYLE[row["family"]]["short"]
