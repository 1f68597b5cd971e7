"""Figures, drawn from the tables only (STUDY.md section 5). Each is saved as PNG and PDF."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from overopt.fit import predict  # noqa: E402

D_LABEL = r"$d=\sqrt{\mathrm{KL}(\pi\,\|\,\pi_{\mathrm{init}})}$  [$\sqrt{\mathrm{nats}}$]"
Y_LABEL = "score vs $\\pi_{init}$  [gold-RM std units]"


def save(fig, stem: str | Path) -> None:
    fig.savefig(f"{stem}.png", dpi=150, bbox_inches="tight")
    fig.savefig(f"{stem}.pdf", bbox_inches="tight")
    plt.close(fig)


def _seed_mean(df: pd.DataFrame, by: list[str], cols: list[str]) -> pd.DataFrame:
    return df.groupby(by, dropna=False, as_index=False)[cols].mean()


def _size_order(df: pd.DataFrame) -> list[str]:
    return list(df.sort_values("params")["rm_size"].drop_duplicates())


def _label(col: str, v) -> str:
    if col == "data_size":
        return f"{int(v):,} pairs"
    if col == "kl_coef":
        return f"KL coef {v:g}"
    return str(v)


def score_panels(curves: pd.DataFrame, fits: pd.DataFrame, method: str, panel: str, line: str, stem: str | Path,
                 title: str, where: dict | None = None) -> None:
    """Gold (solid) and proxy (dashed) score vs d: one panel per value of ``panel``, one
    colour per value of ``line``, seeds averaged; thin dotted lines are the fitted gold curves
    (mean of the per-run fits); black is the same method against the gold RM itself.
    ``where`` fixes other columns (e.g. one KL coefficient)."""
    x, form = ("n", "bon") if method == "bon" else ("step", "rl")
    c, f = curves[curves["method"] == method], fits[(fits["method"] == method) & (fits["curve"] == "gold")]
    for col, v in (where or {}).items():
        c, f = c[c[col] == v], f[f[col] == v]
    gold = c[c["rm"] == "gold"]
    c, f = c[c["rm"] != "gold"], f[f["rm"] != "gold"]
    group = ["rm_size", "params", "data_size"] + (["kl_coef"] if "kl_coef" in (panel, line) else [])
    pc = _seed_mean(c, [*group, x], ["d", "gold", "proxy"])
    fm = _seed_mean(f, group, ["alpha", "beta"])
    panels = _size_order(pc) if panel == "rm_size" else sorted(pc[panel].unique())
    lines = _size_order(pc) if line == "rm_size" else sorted(pc[line].unique())
    colors = plt.cm.viridis(np.linspace(0.05, 0.9, len(lines)))
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.8), sharey=True, squeeze=False)
    for ax, pv in zip(axes[0], panels):
        for col, lv in zip(colors, lines):
            s = pc[(pc[panel] == pv) & (pc[line] == lv)].sort_values(x)
            if s.empty:
                continue
            lab = f"{lv} ({int(s['params'].iloc[0]):,} params)" if line == "rm_size" else _label(line, lv)
            ax.plot(s["d"], s["gold"] - s["gold"].iloc[0], "-o", ms=3, color=col, label=lab)
            ax.plot(s["d"], s["proxy"] - s["proxy"].iloc[0], "--", color=col, alpha=0.8)
            fr = fm[(fm[panel] == pv) & (fm[line] == lv)]
            if not fr.empty:
                dd = np.linspace(1e-3, s["d"].max(), 100)
                ax.plot(dd, predict(dd, fr["alpha"].iloc[0], fr["beta"].iloc[0], form), ":", color=col, lw=1)
        if not gold.empty and line != "kl_coef":
            g = gold.groupby(x, as_index=False)[["d", "gold"]].mean().sort_values(x)
            ax.plot(g["d"], g["gold"] - g["gold"].iloc[0], "-", color="black", lw=1.2, label="gold RM itself")
        ax.set_title(f"{panel.replace('_', ' ')} = {_label(panel, pv)}")
        ax.set_xlabel(D_LABEL)
        ax.axhline(0, color="grey", lw=0.5)
    axes[0][0].set_ylabel(Y_LABEL)
    axes[0][-1].legend(fontsize=7, title="solid: gold, dashed: proxy,\ndotted: fit", title_fontsize=7)
    fig.suptitle(title)
    save(fig, stem)


def coefficients(fits: pd.DataFrame, scaling: pd.DataFrame, stem: str | Path) -> None:
    """Fitted alpha and beta (with 95% CIs) vs proxy-RM parameters, per data size, with the
    log-linear fits of the scaling table (Gao Fig. 3)."""
    f = fits[(fits["method"] == "bon") & (fits["curve"] == "gold") & (fits["rm"] != "gold")]
    s = scaling[(scaling["method"] == "bon") & (scaling["curve"] == "gold")
                & (scaling["predictor"] == "log10_params") & (scaling["within"] == "data_size")]
    sizes = sorted(f["data_size"].unique())
    colors = plt.cm.plasma(np.linspace(0.05, 0.85, len(sizes)))
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.8))
    for ax, coef in zip(axes, ("alpha", "beta")):
        for col, ds in zip(colors, sizes):
            g = f[f["data_size"] == ds]
            err = np.abs(np.vstack([g[coef] - g[f"{coef}_ci_low"], g[f"{coef}_ci_high"] - g[coef]]))
            ax.errorbar(g["params"], g[coef], yerr=err, fmt="o", color=col, ms=4, capsize=2,
                        label=f"{int(ds):,} pairs")
            r = s[(s["coefficient"] == coef) & (s["group"] == str(ds))]
            if not r.empty:
                x = np.geomspace(g["params"].min(), g["params"].max(), 50)
                ax.plot(x, r["intercept"].iloc[0] + r["slope"].iloc[0] * np.log10(x), "-", color=col, lw=1)
        ax.set_xscale("log")
        ax.set_xlabel("proxy RM parameters")
        ax.set_ylabel(rf"$\{coef}_{{\mathrm{{bon}}}}$")
        ax.set_title(rf"$\{coef}$ of $R(d) = d(\alpha - \beta d)$ (95% CI)")
    axes[0].legend(fontsize=7)
    save(fig, stem)


def make_all(curves_csv: str, fits_csv: str, scaling_csv: str, out_dir: str) -> None:
    """Every figure of the study into ``out_dir``."""
    curves, fits, scaling = pd.read_csv(curves_csv), pd.read_csv(fits_csv), pd.read_csv(scaling_csv)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bon = "Best-of-n against proxy reward models"
    score_panels(curves, fits, "bon", "data_size", "rm_size", out / "bon_by_rm_size", bon)
    score_panels(curves, fits, "bon", "rm_size", "data_size", out / "bon_by_data_size", bon)
    coefficients(fits, scaling, out / "bon_coefficients")
    rl = curves[curves["method"] == "rl"]
    low_kl, low_data = rl["kl_coef"].min(), rl["data_size"].min()
    score_panels(curves, fits, "rl", "data_size", "rm_size", out / "rl_by_rm_size",
                 f"RL (RLOO) against proxy reward models, KL coefficient {low_kl:g}", {"kl_coef": low_kl})
    score_panels(curves, fits, "rl", "rm_size", "kl_coef", out / "rl_by_kl",
                 f"RL per KL coefficient, proxies trained on {int(low_data):,} pairs", {"data_size": low_data})
