"""What every figure shares: axis labels, panel set-up, the legend/title/save finish, seed
averaging and curve normalization. Figures are drawn from the tables only; each is saved as
PNG and PDF.
"""
from __future__ import annotations
from pathlib import Path
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


D_LABEL = r"$d=\sqrt{\mathrm{KL}(\pi\,\|\,\pi_{\mathrm{init}})}$  [$\sqrt{\mathrm{nats}}$]"


Y_LABEL = "score vs $\\pi_{init}$  [gold-RM std units]"


def save(fig, stem: str | Path) -> None:
    fig.savefig(f"{stem}.png", dpi=150, bbox_inches="tight")
    fig.savefig(f"{stem}.pdf", bbox_inches="tight")
    plt.close(fig)


def _panel_row(n_panels: int, n_colors: int, cmap=None, span=(0.05, 0.9), height: float = 3.8):
    """One row of ``n_panels`` panels sharing y (4.2 in wide each), and one colour per line."""
    colors = (cmap or plt.cm.viridis)(np.linspace(*span, n_colors))
    fig, axes = plt.subplots(1, n_panels, figsize=(4.2 * n_panels, height), sharey=True, squeeze=False)
    return fig, axes, colors


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


def _bands(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per point, the standard error of its gold and proxy mean: over the seeds behind it where
    there are several, else the row's own SE over prompts (``gold_se``, ``proxy_se``)."""
    g = df.groupby(by, dropna=False)
    out = g[["gold", "proxy"]].sem().rename(columns=lambda c: f"{c}_band")
    n = g.size()
    for c in ("gold", "proxy"):
        if f"{c}_se" in df.columns:
            one = n <= 1
            out.loc[one, f"{c}_band"] = g[f"{c}_se"].mean()[one]
    return out.reset_index()


def _band(ax, x, y, se, color) -> None:
    """A shaded +-1 SE band around a curve."""
    if se is not None and np.isfinite(se).any():
        ax.fill_between(x, y - se, y + se, color=color, alpha=0.18, lw=0)


def _size_order(df: pd.DataFrame) -> list[str]:
    return list(df.sort_values("params")["rm_size"].drop_duplicates())


def _label(col: str, v) -> str:
    if col == "data_size":
        return f"{int(v):,} pairs"
    if col == "kl_coef":
        return f"KL coef {v:g}"
    return str(v)


def _relative(c: pd.DataFrame, by: list[str], order: str) -> pd.DataFrame:
    """Seed-averaged curves with gold and proxy measured from each curve's pi_init point, and
    their bands (``gold_band``, ``proxy_band``: :func:`_bands`)."""
    m = _seed_mean(c, [*by, order], ["d", "gold", "proxy"]).merge(_bands(c, [*by, order]), on=[*by, order])
    m = m.sort_values([*by, order])
    first = m.groupby(by, dropna=False)[["gold", "proxy"]].transform("first")
    return m.assign(gold=m["gold"] - first["gold"], proxy=m["proxy"] - first["proxy"])
