"""Figures, drawn from the tables only (STUDY.md section 5). Each is saved as PNG and PDF."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from overopt.fit import predict  # noqa: E402
from overopt.tables import REFERENCES  # noqa: E402

D_LABEL = r"$d=\sqrt{\mathrm{KL}(\pi\,\|\,\pi_{\mathrm{init}})}$  [$\sqrt{\mathrm{nats}}$]"
Y_LABEL = "score vs $\\pi_{init}$  [gold-RM std units]"


def save(fig, stem: str | Path) -> None:
    fig.savefig(f"{stem}.png", dpi=150, bbox_inches="tight")
    fig.savefig(f"{stem}.pdf", bbox_inches="tight")
    plt.close(fig)


def _panel(ax, title: str) -> None:
    ax.set_title(title)
    ax.set_xlabel(D_LABEL)
    ax.axhline(0, color="grey", lw=0.5)


def _finish(fig, axes, ylabel: str, legend_title: str | None, title: str, stem, fontsize: int = 7) -> None:
    """Y label on the first panel, legend on the last, title, save."""
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=fontsize, title=legend_title, title_fontsize=7)
    fig.suptitle(title)
    save(fig, stem)


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
        _panel(ax, f"{panel.replace('_', ' ')} = {_label(panel, pv)}")
    _finish(fig, axes, Y_LABEL, "solid: gold, dashed: proxy,\ndotted: fit", title, stem)


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


def _relative(c: pd.DataFrame, by: list[str], order: str) -> pd.DataFrame:
    """Seed-averaged curves with gold and proxy measured from each curve's pi_init point."""
    m = _seed_mean(c, [*by, order], ["d", "gold", "proxy"]).sort_values([*by, order])
    first = m.groupby(by, dropna=False)[["gold", "proxy"]].transform("first")
    return m.assign(gold=m["gold"] - first["gold"], proxy=m["proxy"] - first["proxy"])


def gap_by_kl(rl: pd.DataFrame, stem: str | Path, title: str) -> None:
    """Proxy minus gold gain vs d, one panel per proxy size, one colour per KL coefficient:
    Gao's claim is that a KL penalty does not close the gap at equal d."""
    r = _relative(rl[rl["rm"] != "gold"], ["rm_size", "params", "kl_coef"], "step")
    sizes, kls = _size_order(r), sorted(r["kl_coef"].unique())
    colors = plt.cm.viridis(np.linspace(0.05, 0.9, len(kls)))
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.6), sharey=True, squeeze=False)
    for ax, size in zip(axes[0], sizes):
        for col, kl in zip(colors, kls):
            s = r[(r["rm_size"] == size) & (r["kl_coef"] == kl)]
            ax.plot(s["d"], s["proxy"] - s["gold"], "-o", ms=3, color=col, label=_label("kl_coef", kl))
        _panel(ax, f"proxy size {size}")
    _finish(fig, axes, "proxy gain - gold gain  [std units]", None, title, stem)


def daa_panels(daa: pd.DataFrame, fits: pd.DataFrame, stem: str | Path) -> None:
    """DAA gold (solid) and proxy (dashed) gain vs d, one panel per loss, one colour per beta,
    the fitted RL form dotted; points within the first epoch are labeled with their epoch
    fraction (Rafailov et al.)."""
    key = ["loss", "daa_beta"]
    r = _relative(daa, key, "step").merge(_seed_mean(daa, [*key, "step"], ["epoch"]), on=[*key, "step"])
    fm = _seed_mean(fits[(fits["method"] == "daa") & (fits["curve"] == "gold")], key, ["alpha", "beta"])
    losses, betas = sorted(r["loss"].unique()), sorted(r["daa_beta"].unique())
    colors = plt.cm.plasma(np.linspace(0.05, 0.8, len(betas)))
    fig, axes = plt.subplots(1, len(losses), figsize=(4.2 * len(losses), 3.8), sharey=True, squeeze=False)
    for ax, loss in zip(axes[0], losses):
        for col, b in zip(colors, betas):
            s = r[(r["loss"] == loss) & (r["daa_beta"] == b)]
            ax.plot(s["d"], s["gold"], "-o", ms=3, color=col, label=rf"$\beta$ = {b:g}")
            ax.plot(s["d"], s["proxy"], "--", color=col, alpha=0.8)
            f = fm[(fm["loss"] == loss) & (fm["daa_beta"] == b)].dropna()
            if not f.empty:
                dd = np.linspace(1e-3, s["d"].max(), 100)
                ax.plot(dd, predict(dd, f["alpha"].iloc[0], f["beta"].iloc[0], "rl"), ":", color=col, lw=1)
            for _, pt in s[(s["epoch"] > 0) & (s["epoch"] <= 1)].iterrows():
                ax.annotate(f"{pt['epoch']:.2g}", (pt["d"], pt["gold"]), fontsize=6, color=col,
                            xytext=(2, 3), textcoords="offset points")
        _panel(ax, f"loss {loss}")
    _finish(fig, axes, Y_LABEL, "solid: gold, dashed: proxy, dotted: fit;\nlabels: epoch fraction",
            f"Direct alignment on {int(daa['pairs'].iloc[0]):,} gold-labeled pairs (proxy column: {daa['rm'].iloc[0]})",
            stem)


def rl_vs_bon(bon: pd.DataFrame, rl: pd.DataFrame, stem: str | Path, title: str) -> None:
    """Gold gain vs proxy gain for RL and BoN against the same proxies (Gao Fig. 8): at equal
    proxy gain, which method keeps more gold."""
    b = _relative(bon[bon["rm"] != "gold"], ["rm_size", "params", "data_size"], "n")
    r = _relative(rl[rl["rm"] != "gold"], ["rm_size", "params", "data_size"], "step")
    sizes, data = _size_order(r), sorted(r["data_size"].unique())
    colors = plt.cm.viridis(np.linspace(0.05, 0.9, len(data)))
    fig, axes = plt.subplots(1, len(sizes), figsize=(4.2 * len(sizes), 3.8), sharey=True, squeeze=False)
    for ax, size in zip(axes[0], sizes):
        for col, ds in zip(colors, data):
            for frame, style, method in ((r, "-o", "RL"), (b, "--s", "BoN")):
                s = frame[(frame["rm_size"] == size) & (frame["data_size"] == ds)]
                ax.plot(s["proxy"], s["gold"], style, ms=3, color=col, label=f"{method}, {_label('data_size', ds)}")
        _panel(ax, f"proxy size {size}")
        ax.set_xlabel("proxy gain vs $\\pi_{init}$  [proxy std units]")
    _finish(fig, axes, "gold gain vs $\\pi_{init}$  [gold std units]", None, title, stem, fontsize=6)


def by_policy(rl: pd.DataFrame, stem: str | Path, title: str) -> None:
    """Gold (solid) and proxy (dashed) gain vs d per policy size, one panel per target RM run
    with every policy size: does a larger policy over-optimize less."""
    shared = rl.groupby("rm")["policy"].nunique()
    r = _relative(rl[rl["rm"].isin(shared[shared > 1].index)], ["rm", "policy", "policy_params"], "step")
    rms = sorted(r["rm"].unique(), key=lambda x: (x != "gold", x))
    pols = list(r.sort_values("policy_params")["policy"].drop_duplicates())
    colors = plt.cm.cividis(np.linspace(0.1, 0.85, len(pols)))
    fig, axes = plt.subplots(1, len(rms), figsize=(4.2 * len(rms), 3.8), sharey=True, squeeze=False)
    for ax, rm in zip(axes[0], rms):
        for col, pol in zip(colors, pols):
            s = r[(r["rm"] == rm) & (r["policy"] == pol)]
            ax.plot(s["d"], s["gold"], "-o", ms=3, color=col,
                    label=f"{pol} ({int(s['policy_params'].iloc[0]):,} params)")
            if rm != "gold":
                ax.plot(s["d"], s["proxy"], "--", color=col, alpha=0.8)
        _panel(ax, f"target {rm}")
    _finish(fig, axes, Y_LABEL, "solid: gold, dashed: proxy", title, stem)


def _one_objective(frame: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Rows of proxies trained with ``objective``, and the references' (gold, flat teacher)."""
    return frame[frame["objective"].isin([objective, *REFERENCES])] if "objective" in frame else frame


def make_all(curves_csv: str, fits_csv: str, scaling_csv: str, out_dir: str, rl_algorithm: str,
             objective: str = "bt") -> None:
    """Every figure of the study into ``out_dir``. RL figures show ``rl_algorithm`` from
    pi_init (the policy the BoN pool comes from), except the policy-size one. Proxies are
    those trained with ``objective`` (the figures average over seeds only, so two objectives
    must not share a line; rm_figures.bt_vs_pfr compares them)."""
    curves, fits, scaling = (_one_objective(pd.read_csv(p), objective) for p in (curves_csv, fits_csv, scaling_csv))
    daa, all_fits = curves[curves["method"] == "daa"], fits
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    bon = "Best-of-n against proxy reward models"
    score_panels(curves, fits, "bon", "data_size", "rm_size", out / "bon_by_rm_size", bon)
    score_panels(curves, fits, "bon", "rm_size", "data_size", out / "bon_by_data_size", bon)
    coefficients(fits, scaling, out / "bon_coefficients")
    main = curves.loc[curves["method"] == "bon", "policy"].iloc[0]
    rl_all = curves[(curves["method"] == "rl") & (curves["algorithm"] == rl_algorithm) & (curves["rm"] != "gold_flat")]
    rl = rl_all[rl_all["policy"] == main]
    fits = fits[(fits["form"] != "rl_joint") & (fits["rm"] != "gold_flat")]
    fits = fits[(fits["method"] != "rl") | ((fits["algorithm"] == rl_algorithm) & (fits["policy"] == main))]
    curves = pd.concat([curves[curves["method"] == "bon"], rl])
    low_kl, low_data = rl["kl_coef"].min(), rl["data_size"].min()
    name = rl_algorithm.upper()
    score_panels(curves, fits, "rl", "data_size", "rm_size", out / "rl_by_rm_size",
                 f"RL ({name}) against proxy reward models, KL coefficient {low_kl:g}", {"kl_coef": low_kl})
    score_panels(curves, fits, "rl", "rm_size", "kl_coef", out / "rl_by_kl",
                 f"RL ({name}) per KL coefficient, proxies trained on {int(low_data):,} pairs", {"data_size": low_data})
    gap_by_kl(rl[rl["data_size"] == low_data], out / "rl_gap_by_kl",
              f"RL ({name}): proxy-gold gap per KL coefficient, proxies trained on {int(low_data):,} pairs")
    rl_vs_bon(curves[curves["method"] == "bon"], rl[rl["kl_coef"] == low_kl], out / "rl_vs_bon",
              f"RL ({name}, KL coefficient {low_kl:g}) vs best-of-n against the same proxies")
    by_policy(rl_all[rl_all["kl_coef"] == low_kl], out / "rl_by_policy_size",
              f"RL ({name}, KL coefficient {low_kl:g}) per policy size")
    if not daa.empty:
        daa_panels(daa, all_fits, out / "daa_by_loss")
