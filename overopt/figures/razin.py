"""Razin et al. 2025: reward variance vs gain, and the flat teacher.
"""
from __future__ import annotations
from pathlib import Path
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from overopt.figures.layout import D_LABEL, _relative, save
from overopt.tables.rm_eval import POLICY_PREFIX, policy_metrics
from overopt.targets import FLAT, GOLD, PROXY
from overopt.figures.rm_style import ACC_UNIT, GAIN_LABEL, REF_STYLE, VAR_LABEL, _first, _handles, _in_setting, _note, _num, _proxies, _rho, _scatter, _setting_text, _spearman, _style


def variance_vs_gain(frame: pd.DataFrame, corr: pd.DataFrame, setting: dict, stem: str | Path) -> None:
    """Razin et al. 2025: reward variance under pi_init vs how fast RL raises gold and proxy reward
    (gain after a fixed step), with accuracy alongside for contrast; the gold RM and the flat
    teacher (accuracy 1, low variance) are marked: variance, not accuracy, should set the pace."""
    cur = _in_setting(frame, setting)
    proxies, refs = _proxies(cur), cur[cur["kind"] != PROXY]
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
        for i, family in refs["family"].items():
            if np.isfinite(rx[i]) and np.isfinite(ry[i]):
                ax.plot(rx[i], ry[i], ls="none", **{k: v for k, v in REF_STYLE[family].items() if k != "label"})
                n += 1
        if not n:
            _note(ax, "no finite values")
        ax.axhline(0, color="grey", lw=0.6)
        if y.startswith("variance"):
            ax.axline((0, 0), slope=1, color="grey", lw=0.6, ls=":")  # the same variance under both students
        ax.set_xlabel(xl, fontsize=9.5)
        ax.set_ylabel(yl, fontsize=9.5)
        ax.set_title(title if y.startswith("variance") else f"{title}\n{_rho(corr, x, y)} (proxies)", fontsize=9.5)
    refs_h = [Line2D([], [], ls="none", **REF_STYLE[f]) for f in REF_STYLE if f in set(refs["family"])]
    fig.legend(handles=_handles(proxies, style) + refs_h, loc="outside right center", fontsize=9)
    fig.suptitle(f"Reward variance vs reward-maximization rate (Razin et al. 2025); {_setting_text(setting)}",
                 fontsize=13)
    save(fig, stem)


def flat_teacher(curves: pd.DataFrame, frame: pd.DataFrame, setting: dict, stem: str | Path) -> None:
    """Gold gain along RL against the gold RM, the flat teacher (gold shrunk on half the prompts:
    same rankings, accuracy 1, less variance) and the proxies (grey), vs step and vs d: does the
    accurate-but-flat teacher improve gold more slowly than the gold RM?"""
    rl = _in_setting(curves[curves["method"] == "rl"], setting)
    r = _relative(rl, ["rm", "kind", "family"], "step") if not rl.empty else rl
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.4), sharey=True, squeeze=False, layout="constrained")
    for ax, x, xl in zip(axes[0], ("step", "d"), ("RL step", D_LABEL)):
        proxy_label = "proxy RMs"
        for (_, kind, family), run in r.groupby(["rm", "kind", "family"]):
            s = REF_STYLE.get(family) if kind != PROXY else None
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
    ref = frame[frame["kind"] != PROXY].drop_duplicates("family").set_index("family")
    note = "no flat-teacher run in this setting"
    if not r.empty and (r["family"] == FLAT).any() and {GOLD, FLAT} <= set(ref.index):
        acc, var = _num(ref, "acc_pool"), _num(ref, "variance")
        note = (f"flat teacher: pool accuracy {acc[FLAT]:.2f}, reward variance {var[FLAT]:.2f} "
                f"vs the gold RM's {var[GOLD]:.2f} [std units$^2$]")
    fig.suptitle(f"Accurate but flat teacher (Razin et al. 2025); {_setting_text(setting)}\n{note}", fontsize=12)
    save(fig, stem)


def variance_vs_gain_figure(t, stem) -> None:
    s = t.settings.setting
    variance_vs_gain(t["rm_eval"], _in_setting(t["correlations"], s), s, stem)


def flat_teacher_figure(t, stem) -> None:
    flat_teacher(t["curves"], t["rm_eval"], t.settings.setting, stem)


TABLE2_LABELS = {"variance": "reward variance", "acc_onpolicy": "accuracy, student's samples",
                 "acc_offpolicy": "accuracy, off-policy pairs", "acc_labeled": "accuracy, pi_init pairs",
                 "combo:variance+acc_onpolicy": "variance + accuracy\n(z-scored mean)"}


def teachers(frame: pd.DataFrame, corr: pd.DataFrame, stem: str | Path) -> None:
    """Razin et al.'s own design, one row per student: Table 2 as a heat map (Pearson of each
    teacher property with the gold and proxy increase over every teacher, CIs in brackets) and
    reward variance vs gold increase per teacher (mix members coloured by on-policy share; the
    gold RM and the flat teacher marked; bars: one standard error)."""
    students = list(dict.fromkeys(frame["student"])) or [None]
    fig, axes = plt.subplots(len(students), 2, figsize=(12, 4.4 * len(students)), squeeze=False,
                             layout="constrained")
    cmap = plt.cm.viridis
    for (ax_h, ax_s), student in zip(axes, students):
        f = frame[frame["student"] == student]
        c = corr[(corr["student"] == student) & (corr["over"] == "all") & (corr["stat"] == "pearson")]
        props = [p for p in TABLE2_LABELS if p in set(c["metric"])]
        incs = ["gold_gain", "proxy_gain"]
        if f.empty or c.empty:
            _note(ax_h, "no teachers (mix.onpolicy_fractions) or no RL against them")
            _note(ax_s, "no teachers")
            continue
        grid = c.set_index(["metric", "outcome"])
        vals = np.array([[grid["value"].get((p, o), np.nan) for o in incs] for p in props], dtype=float)
        ax_h.imshow(vals, cmap="RdBu", vmin=-1, vmax=1, aspect="auto")
        for i, p in enumerate(props):
            for j, o in enumerate(incs):
                lo, hi = grid["ci_low"].get((p, o), np.nan), grid["ci_high"].get((p, o), np.nan)
                ax_h.text(j, i, f"{vals[i, j]:.2f}\n[{lo:.2f}, {hi:.2f}]", ha="center", va="center", fontsize=8.5)
        ax_h.set_xticks(range(len(incs)), ["gold increase", "proxy increase"])
        ax_h.set_yticks(range(len(props)), [TABLE2_LABELS[p] for p in props], fontsize=8.5)
        ax_h.set_title(f"student {student}: Pearson over {len(f)} teachers (Table 2)", fontsize=10)
        members = f[f["kind"] == PROXY]
        for _, r in members.iterrows():
            ax_s.errorbar(r["variance"], r["gold_gain"], yerr=r["gold_gain_se"], fmt="o", ms=8,
                          color=cmap(float(r["onpolicy_fraction"])), capsize=2)
            ax_s.annotate(f"{r['onpolicy_fraction']:.0%}", (r["variance"], r["gold_gain"]), fontsize=8,
                          xytext=(4, 4), textcoords="offset points")
        for _, r in f[f["kind"] != PROXY].iterrows():
            st = REF_STYLE[r["family"]]
            ax_s.errorbar(r["variance"], r["gold_gain"], yerr=r["gold_gain_se"], fmt=st["marker"], ms=st["ms"] * 0.8,
                          color=st["color"], capsize=2, label=st["label"])
        ax_s.axhline(0, color="grey", lw=0.6)
        ax_s.set_xlabel(f"reward variance under {student}\n[(teacher std units)$^2$]", fontsize=9.5)
        steps = pd.to_numeric(f["rl_step"], errors="coerce").dropna()
        at = f"at RL step {int(steps.max())}" if len(steps) else "(no RL runs: mix.rl)"
        ax_s.set_ylabel(f"gold increase {at}\n[gold-RM std units]", fontsize=9.5)
        ax_s.set_title("labels: on-policy share of the member's training pairs", fontsize=9.5)
        ax_s.legend(fontsize=8.5)
    fig.suptitle("Which RM is the better teacher (Razin et al. 2025's own design)", fontsize=13)
    save(fig, stem)


def teachers_figure(t, stem) -> None:
    teachers(t["teachers"], t["teacher_correlations"], stem)
