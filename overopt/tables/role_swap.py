"""Wen et al. 2024's role swap (docs/science.md, "Wen"): every RM of a family serves as the
golden RM and every other as the proxy, and the proxy's accuracy against the golden RM's
preferences is set beside its normalized drop ratio (NDR) against the same golden RM.

Per ordered pair (golden g, proxy p), ``g != p``:

- ``accuracy``: p's pairwise accuracy against g's preferences on the reference pool's disjoint
  pairs (samples 2i and 2i+1) of the odd-numbered eval prompts (ties as in ``metrics.accuracy``).
- Wen's accuracy variants on the same prompts, against g's preferences, as the RM evaluation
  computes them against gold (``metrics.accuracy.variants`` on the first ``rm_eval.k``
  responses): the rank-bin grid ``acc_bin<i>_<j>`` (chosen from g's rank bin i, rejected from
  bin j) and the responses-per-prompt sweep ``acc_budget_k<k>`` at a budget of
  min(``rm_eval.budget``, the odd prompts) pairs (k = 2 needs one prompt a pair).
- BoN: ``ndr = (E g[BoN_n by p] - E g[pi_init]) / (E g[BoN_n by g] - E g[pi_init])``, exact from
  the one pool scored by every RM (``metrics.bon.per_prompt``; no new sampling), over the
  even-numbered eval prompts: accuracy and NDR share no sample, so their noise does not
  correlate.
- RL: the run against p and the run against g (same settings), both scored by g:
  ``ndr = gain_g(run p) / gain_g(run g)``, the gain of g's mean score over its step-0 value, at
  a fixed step and at a KL budget (interpolated along the run's KL; NaN where the run never
  reaches it).

Two views: ``flip`` (the family of one size and data size with labels flipped at several rates,
Wen's design) and ``grid`` (the gold RM and Gao's grid of proxies; its RL rows from the grid's
own runs of pi_init against gold and each proxy RL optimizes, scored by each of those:
``role_swap.grid_rl``). The
correlation of accuracy with NDR over the ordered pairs is not a correlation of independent
points (each RM appears in 2(N-1) pairs), so its interval is a
bootstrap over RMs: draw N members with replacement, keep every ordered pair of two different
draws that are different RMs (:func:`pair_correlation`; coverage: tests/test_role_swap.py).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from overopt.inputs import load_array, load_npz, read_json
from overopt.metrics.accuracy import ndr, pairwise_accuracy, variants
from overopt.metrics.bon import per_prompt
from overopt.tables.curves import read_samples, target_meta
from overopt.targets import GOLD

COLUMNS = ["view", "golden", "proxy", "golden_flip_rate", "proxy_flip_rate", "golden_gold_accuracy",
           "proxy_gold_accuracy", "method", "n", "rl_point", "rl_step", "kl_budget", "policy", "algorithm", "kl_coef",
           "rl_seed", "accuracy", "proxy_gain", "golden_gain", "ndr"]
RL_SETTING = ["policy", "algorithm", "kl_coef", "rl_seed"]


def pool_accuracy(proxy: np.ndarray, golden: np.ndarray) -> float:
    """Accuracy of ``proxy`` against ``golden``'s preferences on the pool's disjoint pairs."""
    m = proxy.shape[1] // 2 * 2
    return pairwise_accuracy(proxy[:, 0:m:2] - proxy[:, 1:m:2], golden[:, 0:m:2] - golden[:, 1:m:2])


def split_accuracy(proxy: np.ndarray, golden: np.ndarray) -> float:
    """:func:`pool_accuracy` on the odd-numbered prompts (the even ones are BoN's)."""
    return pool_accuracy(proxy[1::2], golden[1::2])


def bon_rows(scores: dict[str, np.ndarray], ns: list[int]) -> list[dict]:
    """BoN rows of every ordered pair of ``scores`` (id -> pool scores [prompts, N]): NDR on the
    even-numbered prompts, accuracy on the odd ones."""
    ns = sorted(set(ns))
    half = {g: s[0::2] for g, s in scores.items()}
    own = {g: per_prompt(s, s, ns)[1].mean(0) - s.mean() for g, s in half.items()}  # BoN by g itself
    rows = []
    for g, sg in half.items():
        for p, sp in half.items():
            if p == g:
                continue
            gain = per_prompt(sg, sp, ns)[1].mean(0) - sg.mean()
            acc = split_accuracy(scores[p], scores[g])
            rows += [{"golden": g, "proxy": p, "method": "bon", "n": n, "accuracy": acc, "proxy_gain": gain[i],
                      "golden_gain": own[g][i], "ndr": ndr(gain[i], 0.0, own[g][i])} for i, n in enumerate(ns)]
    return rows


def _at(frame: pd.DataFrame, step: int | None, kl_budget: float) -> tuple[int, float, float]:
    """(step used, gain at that step, gain at the KL budget) of one run's per-step means."""
    r = frame.sort_values("step")
    gain = r["score"] - r["score"].iloc[0]
    at = r["step"].iloc[-1] if step is None else step
    kl = r["kl"].cummax()
    at_kl = float(np.interp(kl_budget, kl, gain)) if kl.iloc[-1] >= kl_budget else np.nan
    return int(at), float(gain[r["step"] == at].iloc[0]), at_kl


def rl_rows(runs: dict[str, pd.DataFrame], run_scores: dict[str, dict[str, np.ndarray]], pool: dict[str, np.ndarray],
            step: int | None, kl_budget: float) -> list[dict]:
    """RL rows of every ordered pair: ``runs`` (target id -> its samples), ``run_scores``
    (golden id -> target id -> golden's scores of that run's samples), ``pool`` for accuracy."""
    means = {}  # (golden, target) -> per-step mean golden score and KL
    for g, by_run in run_scores.items():
        for t, sc in by_run.items():
            r = runs[t]
            if len(sc) != len(r):
                raise ValueError(f"{g}'s scores of the run against {t}: {len(sc)} values for {len(r)} samples")
            means[g, t] = r.assign(score=sc).groupby("step", as_index=False)[["score", "kl"]].mean()
    rows = []
    for g in run_scores:
        at, own_step, own_kl = _at(means[g, g], step, kl_budget)
        for p in run_scores:
            if p == g:
                continue
            _, gain_step, gain_kl = _at(means[g, p], at, kl_budget)
            setting = {c: runs[p][c].iloc[0] for c in RL_SETTING}
            acc = split_accuracy(pool[p], pool[g])
            common = {"golden": g, "proxy": p, "method": "rl", **setting, "accuracy": acc}
            rows.append({**common, "rl_point": "step", "rl_step": at, "proxy_gain": gain_step,
                         "golden_gain": own_step, "ndr": ndr(gain_step, 0.0, own_step)})
            rows.append({**common, "rl_point": "kl", "kl_budget": kl_budget, "proxy_gain": gain_kl,
                         "golden_gain": own_kl, "ndr": ndr(gain_kl, 0.0, own_kl)})
    return rows


def pair_variants(pool: dict[str, np.ndarray], s) -> pd.DataFrame:
    """Every ordered pair's accuracy variants (module docstring): golden, proxy, acc_* columns."""
    odd = {rm: sc[1::2, : s.k] for rm, sc in pool.items()}
    budget = min(s.budget, *(sc.shape[0] for sc in odd.values()))
    return pd.DataFrame([{"golden": g, "proxy": p, **variants(odd[p], odd[g], s.rank_bins, budget, s.budget_ks, s.seed)}
                         for g in odd for p in odd if p != g])


def _run_scores(views: dict[str, list[str]], runs: dict[str, pd.DataFrame], paths: dict[str, str]
                ) -> dict[str, dict[str, np.ndarray]]:
    """Golden id -> target id -> golden's scores of that run's samples, for every RM of a view
    with RL rows (``views``: view -> its RMs, each with its run): from the scorers' files
    (``paths``, checked against the runs' sample counts), and gold's from every run's own
    ``gold`` column (the evaluator scored it)."""
    need: dict[str, dict] = {}
    for ids in views.values():
        missing = [t for t in ids if t not in runs]
        if missing:
            raise ValueError(f"no RL samples among the inputs for the role swap's runs against {missing}")
        for g in ids:
            need.setdefault(g, {}).update({t: (len(runs[t]),) for t in ids})
    out = {}
    for g, keys in need.items():
        if g == GOLD:
            out[g] = {t: runs[t]["gold"].to_numpy(float) for t in keys}
        elif g not in paths:
            raise ValueError(f"no scores of the role-swap RL runs by {g!r} among the inputs")
        else:
            out[g] = load_npz(paths[g], keys)
    return out


def _identity(frame: pd.DataFrame, metas: dict[str, dict], view: str) -> pd.DataFrame:
    for role in ("golden", "proxy"):
        frame[f"{role}_flip_rate"] = frame[role].map(lambda r: metas[r]["flip_rate"])
        frame[f"{role}_gold_accuracy"] = frame[role].map(lambda r: metas[r].get("gold_accuracy", np.nan))
    return frame.assign(view=view)


def role_swap_table(s, pool_scores: dict[str, str], metas: dict[str, str], samples: list[str],
                    run_scores: dict[str, str]) -> pd.DataFrame:
    """The role-swap table (columns ``COLUMNS`` and the accuracy variants; ``settings.RoleSwap``): ``pool_scores`` and
    ``metas`` by RM id (every RM of both views), ``samples`` the role-swap RL runs' sample files,
    ``run_scores`` by member id (``data.run_scores``; empty without the RL arm)."""
    meta = {rm: {**target_meta(path), "gold_accuracy": read_json(path).get("gold_accuracy", np.nan)}
            for rm, path in metas.items()}
    pool = {rm: load_array(path, (None, s.N)) for rm, path in pool_scores.items()}
    runs = {}
    for path in samples:
        r = read_samples([path])
        runs[r["rm"].iloc[0]] = r
    scored = _run_scores(s.rl, runs, run_scores)
    frames = []
    for view, ids in (("flip", s.family), ("grid", s.grid)):
        if len(ids) < 2:
            continue
        rows = bon_rows({rm: pool[rm] for rm in ids}, s.bon_n)
        swapped = s.rl.get(view, [])  # the view's RMs with an RL run (the grid's: those RL optimizes)
        if swapped:
            rows += rl_rows(runs, {g: {t: scored[g][t] for t in swapped} for g in swapped}, pool, s.rl_step,
                            s.kl_budget)
        extra = pair_variants({rm: pool[rm] for rm in ids}, s)
        frames.append(_identity(pd.DataFrame(rows).merge(extra, on=["golden", "proxy"], how="left"), meta, view))
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    return out.reindex(columns=COLUMNS + [c for c in out.columns if c.startswith("acc_")])


# --- correlations over ordered pairs ---------------------------------------------------------

def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman over the finite pairs; NaN below 3 of them or with a constant side."""
    return float(spearman_rows(np.asarray(a, float), np.asarray(b, float)))


def spearman_rows(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman along the last axis of ``a`` and ``b`` (same shape) over the entries finite in
    both: Pearson of their average ranks, as scipy's ``spearmanr``; NaN below 3 such entries or
    with a constant side. One call for every bootstrap draw and column at once."""
    ok = np.isfinite(a) & np.isfinite(b)
    ranks = [stats.rankdata(np.where(ok, v, np.nan), axis=-1, nan_policy="omit") for v in (a, b)]
    n = ok.sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        centred = [np.where(ok, r - np.nansum(r, -1, keepdims=True) / n[..., None], 0.0) for r in ranks]
        ss = [(c ** 2).sum(-1) for c in centred]  # 0 (to rounding) for a constant side; >= 0.5 otherwise
        rho = (centred[0] * centred[1]).sum(-1) / np.sqrt(ss[0] * ss[1])
    return np.where((n >= 3) & (ss[0] > 1e-6) & (ss[1] > 1e-6), np.clip(rho, -1.0, 1.0), np.nan)


def pair_correlations(frame: pd.DataFrame, xs: list[str], y: str = "ndr", *, n_boot: int = 1000,
                      seed: int = 0) -> tuple[dict[str, float], np.ndarray, int]:
    """Spearman of each column of ``xs`` with ``y`` over the ordered pairs of one view, method
    and point, and the same on ``n_boot`` draws of RMs with replacement (module docstring), one
    draw shared by every column, so differences between columns are paired. Returns the values,
    the replicates [n_boot, len(xs)] (NaN where a draw leaves fewer than 3 pairs) and the RMs."""
    rms = sorted(set(frame["golden"]) | set(frame["proxy"]))
    index = {r: i for i, r in enumerate(rms)}
    k = len(rms)
    gi, pi = frame["golden"].map(index).to_numpy(), frame["proxy"].map(index).to_numpy()

    def matrix(col):
        m = np.full((k, k), np.nan)
        m[gi, pi] = frame[col].to_numpy(float)
        return m

    X, Y = [matrix(x) for x in xs], matrix(y)
    values = {x: spearman(m[gi, pi], Y[gi, pi]) for x, m in zip(xs, X)}
    draws = np.random.default_rng(seed).integers(0, k, (n_boot, k))
    a, c = draws[:, :, None], draws[:, None, :]
    drop = np.broadcast_to(a == c, (n_boot, k, k)).reshape(n_boot, -1)  # two draws of one RM are not a pair
    ys = np.where(drop, np.nan, Y[a, c].reshape(n_boot, -1))
    boots = np.stack([spearman_rows(np.where(drop, np.nan, m[a, c].reshape(n_boot, -1)), ys) for m in X], axis=1)
    return values, boots.reshape(n_boot, len(xs)), k


def pair_correlation(frame: pd.DataFrame, x: str = "accuracy", y: str = "ndr", *, n_boot: int = 1000,
                     level: float = 0.95, seed: int = 0) -> dict:
    """Spearman of ``x`` with ``y`` over the ordered pairs of one view, method and point, and
    its percentile interval from a bootstrap over RMs (:func:`pair_correlations`). Returns value,
    ci_low, ci_high, n_pairs, n_rms, n_boot_ok."""
    values, boots, k = pair_correlations(frame, [x], y, n_boot=n_boot, seed=seed)
    boots = boots[:, 0][np.isfinite(boots[:, 0])]
    lo, hi = (np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]) if boots.size >= 10 else (np.nan, np.nan))
    n_pairs = int(np.isfinite(frame[x].to_numpy(float) + frame[y].to_numpy(float)).sum())
    return {"value": values[x], "ci_low": float(lo), "ci_high": float(hi), "n_pairs": n_pairs, "n_rms": k,
            "n_boot_ok": int(boots.size)}
