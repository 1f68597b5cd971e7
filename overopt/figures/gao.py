"""Gao et al. 2022's figures (best-of-n and RL against proxies, coefficients, KL penalty, RL
vs BoN, policy size) and Rafailov et al. 2024's DAA panels.
"""
from __future__ import annotations
from pathlib import Path
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from overopt.fit import predict  # noqa: E402
from overopt.targets import GOLD, PROXY, REFERENCE, gao_view
from overopt.figures.layout import (_band, _bands, _panel_row, Y_LABEL, _finish, _label, _panel, _relative, _seed_mean,
                                    _size_order, save)


def score_panels(curves: pd.DataFrame, fits: pd.DataFrame, method: str, panel: str, line: str, stem: str | Path,
                 title: str, where: dict | None = None) -> None:
    """Gold (solid, with a +-1 SE band) and proxy (dashed) score vs d: one panel per value of
    ``panel``, one colour per value of ``line``, seeds averaged; thin dotted lines are the fitted gold curves
    (mean of the per-run fits); black is the same method against the gold RM itself.
    ``where`` fixes other columns (e.g. one KL coefficient)."""
    x, form = ("n", "bon") if method == "bon" else ("step", "rl")
    c, f = curves[curves["method"] == method], fits[(fits["method"] == method) & (fits["curve"] == "gold")]
    for col, v in (where or {}).items():
        c, f = c[c[col] == v], f[f[col] == v]
    gold = c[c["kind"] == GOLD]
    c, f = c[c["kind"] == PROXY], f[f["kind"] == PROXY]
    group = ["rm_size", "params", "data_size"] + (["kl_coef"] if "kl_coef" in (panel, line) else [])
    pc = _seed_mean(c, [*group, x], ["d", "gold", "proxy"]).merge(_bands(c, [*group, x]), on=[*group, x])
    fm = _seed_mean(f, group, ["alpha", "beta"])
    panels = _size_order(pc) if panel == "rm_size" else sorted(pc[panel].unique())
    lines = _size_order(pc) if line == "rm_size" else sorted(pc[line].unique())
    fig, axes, colors = _panel_row(len(panels), len(lines))
    for ax, pv in zip(axes[0], panels):
        for col, lv in zip(colors, lines):
            s = pc[(pc[panel] == pv) & (pc[line] == lv)].sort_values(x)
            if s.empty:
                continue
            lab = f"{lv} ({int(s['params'].iloc[0]):,} params)" if line == "rm_size" else _label(line, lv)
            ax.plot(s["d"], s["gold"] - s["gold"].iloc[0], "-o", ms=3, color=col, label=lab)
            _band(ax, s["d"], s["gold"] - s["gold"].iloc[0], s["gold_band"], col)
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
    f = fits[(fits["method"] == "bon") & (fits["curve"] == "gold") & (fits["kind"] == PROXY)]
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


def _swept(rl: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """The RL runs of the targets run at more than one KL coefficient (rl.sweeps), the gold RM first."""
    n_kl = rl.groupby("rm")["kl_coef"].nunique()
    r = rl[rl["rm"].isin(n_kl[n_kl > 1].index)]
    kinds = r.drop_duplicates("rm").set_index("rm")["kind"]
    return r, sorted(kinds.index, key=lambda x: (kinds[x] != GOLD, x))


def kl_panels(rl: pd.DataFrame, stem: str | Path, title: str, gap: bool = False) -> None:
    """Gao's KL-penalty frontier: gold (solid, +-1 SE band over seeds or prompts) and proxy
    (dashed) gain vs d, or with ``gap`` proxy minus gold gain, one panel per target run at
    several KL coefficients, one colour per coefficient. Gao: a penalty acts like early
    stopping (the same gold-vs-d frontier) while the proxy-gold gap at equal d does not close."""
    swept, rms = _swept(rl)
    r = _relative(swept, ["rm", "kind", "kl_coef"], "step")
    kls = sorted(r["kl_coef"].unique())
    fig, axes, colors = _panel_row(max(len(rms), 1), len(kls), height=3.6)
    for ax, rm in zip(axes[0], rms):
        for col, kl in zip(colors, kls):
            s = r[(r["rm"] == rm) & (r["kl_coef"] == kl)]
            if s.empty:
                continue
            if gap:
                ax.plot(s["d"], s["proxy"] - s["gold"], "-o", ms=3, color=col, label=_label("kl_coef", kl))
            else:
                ax.plot(s["d"], s["gold"], "-o", ms=3, color=col, label=_label("kl_coef", kl))
                _band(ax, s["d"], s["gold"], s["gold_band"], col)
                ax.plot(s["d"], s["proxy"], "--", color=col, alpha=0.8)
        _panel(ax, f"target {rm}")
    if not rms:
        axes[0][0].text(0.5, 0.5, "no target run at several KL coefficients (rl.sweeps)", ha="center",
                        transform=axes[0][0].transAxes, fontsize=8)
    _finish(fig, axes, "proxy gain - gold gain  [std units]" if gap else Y_LABEL,
            None if gap else "solid: gold (band: \u00b11 SE), dashed: proxy", title, stem)


def daa_panels(daa: pd.DataFrame, fits: pd.DataFrame, stem: str | Path) -> None:
    """DAA gold (solid, +-1 SE band) and proxy (dashed) gain vs d: one panel per loss (columns)
    and policy size (rows), one colour per beta, the fitted RL form dotted. Checkpoints inside
    the first epoch get a marker per epoch fraction (legend), so nothing is written over the
    curves (Rafailov et al. evaluate inside the first epoch)."""
    key = ["policy", "loss", "daa_beta"]
    r = _relative(daa, key, "step").merge(_seed_mean(daa, [*key, "step"], ["epoch", "policy_params"]),
                                          on=[*key, "step"])
    fm = _seed_mean(fits[(fits["method"] == "daa") & (fits["curve"] == "gold")], key, ["alpha", "beta"])
    policies = list(r.sort_values("policy_params")["policy"].drop_duplicates())
    losses, betas = sorted(r["loss"].unique()), sorted(r["daa_beta"].unique())
    fractions = sorted(r.loc[(r["epoch"] > 0) & (r["epoch"] <= 1), "epoch"].round(3).unique())
    markers = dict(zip(fractions, "v^sDP*X<>"))
    colors = plt.cm.plasma(np.linspace(0.05, 0.8, len(betas)))
    fig, axes = plt.subplots(len(policies), len(losses), figsize=(4.2 * len(losses), 3.6 * len(policies)),
                             sharey=True, squeeze=False, layout="constrained")
    for row, pol in zip(axes, policies):
        for ax, loss in zip(row, losses):
            for col, b in zip(colors, betas):
                s = r[(r["policy"] == pol) & (r["loss"] == loss) & (r["daa_beta"] == b)]
                if s.empty:
                    continue
                ax.plot(s["d"], s["gold"], "-", color=col, label=rf"$\beta$ = {b:g}")
                _band(ax, s["d"], s["gold"], s["gold_band"], col)
                ax.plot(s["d"], s["proxy"], "--", color=col, alpha=0.8)
                for frac, m in markers.items():
                    pt = s[s["epoch"].round(3) == frac]
                    ax.plot(pt["d"], pt["gold"], m, color=col, ms=5)
                f = fm[(fm["policy"] == pol) & (fm["loss"] == loss) & (fm["daa_beta"] == b)].dropna()
                if not f.empty:
                    dd = np.linspace(1e-3, s["d"].max(), 100)
                    ax.plot(dd, predict(dd, f["alpha"].iloc[0], f["beta"].iloc[0], "rl"), ":", color=col, lw=1)
            _panel(ax, f"{loss}, policy {pol}")
    for frac, m in markers.items():  # the marker legend: epoch fractions
        axes[0][-1].plot([], [], m, color="grey", label=f"epoch {frac:g}")
    _finish(fig, axes, Y_LABEL, "solid: gold (band: \u00b11 SE), dashed: proxy,\ndotted: fit",
            f"Direct alignment on {int(daa['pairs'].iloc[0]):,} gold-labeled pairs (proxy column: {daa['rm'].iloc[0]})",
            stem)


def rl_vs_bon(bon: pd.DataFrame, rl: pd.DataFrame, stem: str | Path, title: str) -> None:
    """Gold gain vs proxy gain for RL and BoN against the same proxies (Gao Fig. 8): at equal
    proxy gain, which method keeps more gold."""
    b = _relative(bon[bon["kind"] == PROXY], ["rm_size", "params", "data_size"], "n")
    r = _relative(rl[rl["kind"] == PROXY], ["rm_size", "params", "data_size"], "step")
    sizes, data = _size_order(r), sorted(r["data_size"].unique())
    fig, axes, colors = _panel_row(len(sizes), len(data))
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
    r = _relative(rl[rl["rm"].isin(shared[shared > 1].index)], ["rm", "kind", "policy", "policy_params"], "step")
    kinds = r.drop_duplicates("rm").set_index("rm")["kind"]
    rms = sorted(kinds.index, key=lambda x: (kinds[x] != GOLD, x))
    pols = list(r.sort_values("policy_params")["policy"].drop_duplicates())
    fig, axes, colors = _panel_row(len(rms), len(pols), plt.cm.cividis, span=(0.1, 0.85))
    for ax, rm in zip(axes[0], rms):
        for col, pol in zip(colors, pols):
            s = r[(r["rm"] == rm) & (r["policy"] == pol)]
            ax.plot(s["d"], s["gold"], "-o", ms=3, color=col,
                    label=f"{pol} ({int(s['policy_params'].iloc[0]):,} params)")
            if kinds[rm] == PROXY:
                ax.plot(s["d"], s["proxy"], "--", color=col, alpha=0.8)
        _panel(ax, f"target {rm}")
    _finish(fig, axes, Y_LABEL, "solid: gold, dashed: proxy", title, stem)


def _one_objective(frame: pd.DataFrame, objective: str) -> pd.DataFrame:
    """Rows of the grid's proxies trained with ``objective``, and the other targets' (gold, references)."""
    frame = gao_view(frame)
    if "objective" not in frame:
        return frame
    keep = frame["objective"] == objective
    return frame[keep | (frame["kind"] != PROXY)] if "kind" in frame else frame[keep]


class Study:
    """The frames Gao's and Rafailov's figures share: one proxy objective (figures average over
    seeds only, so two objectives must not share a line; ``bt_vs_pfr`` compares them), RL of
    the first algorithm from pi_init (the policy the BoN pool comes from; the policy-size figure
    uses every policy), the per-run fits of those curves."""

    def __init__(self, tables):
        s = tables.settings
        curves, fits, self.scaling = (_one_objective(tables[n], s.objective) for n in ("curves", "fits", "scaling"))
        self.daa, self.all_fits, self.name = curves[curves["method"] == "daa"], fits, s.rl_algorithm.upper()
        self.bon = curves[curves["method"] == "bon"]
        main = self.bon["policy"].iloc[0]
        self.rl_all = curves[(curves["method"] == "rl") & (curves["algorithm"] == s.rl_algorithm)
                             & (curves["kind"] != REFERENCE)]
        self.rl = self.rl_all[self.rl_all["policy"] == main]
        fits = fits[(fits["form"] != "rl_joint") & (fits["kind"] != REFERENCE)]
        self.fits = fits[(fits["method"] != "rl") | ((fits["algorithm"] == s.rl_algorithm) & (fits["policy"] == main))]
        self.curves = pd.concat([self.bon, self.rl])
        # the grid's smallest KL coefficient (the report setting's): rl.sweeps add others for a few targets only
        self.low_kl, self.low_data = s.setting["kl_coef"], self.rl["data_size"].min()


BON = "Best-of-n against proxy reward models"


def bon_by_rm_size(t, stem) -> None:
    st = t.study
    score_panels(st.curves, st.fits, "bon", "data_size", "rm_size", stem, BON)


def bon_by_data_size(t, stem) -> None:
    st = t.study
    score_panels(st.curves, st.fits, "bon", "rm_size", "data_size", stem, BON)


def bon_coefficients(t, stem) -> None:
    coefficients(t.study.all_fits, t.study.scaling, stem)


def rl_by_rm_size(t, stem) -> None:
    st = t.study
    score_panels(st.curves, st.fits, "rl", "data_size", "rm_size", stem,
                 f"RL ({st.name}) against proxy reward models, KL coefficient {st.low_kl:g}", {"kl_coef": st.low_kl})


def rl_by_kl(t, stem) -> None:
    st = t.study
    kl_panels(st.rl, stem, f"RL ({st.name}) per KL coefficient: the gold-vs-d frontier")


def rl_gap_by_kl(t, stem) -> None:
    st = t.study
    kl_panels(st.rl[st.rl["kind"] == PROXY], stem, f"RL ({st.name}): proxy-gold gap per KL coefficient", gap=True)


def rl_vs_bon_figure(t, stem) -> None:
    st = t.study
    rl_vs_bon(st.bon, st.rl[st.rl["kl_coef"] == st.low_kl], stem,
              f"RL ({st.name}, KL coefficient {st.low_kl:g}) vs best-of-n against the same proxies")


def rl_by_policy_size(t, stem) -> None:
    st = t.study
    by_policy(st.rl_all[st.rl_all["kl_coef"] == st.low_kl], stem,
              f"RL ({st.name}, KL coefficient {st.low_kl:g}) per policy size")


def daa_by_loss(t, stem) -> None:
    daa_panels(t.study.daa, t.study.all_fits, stem)
