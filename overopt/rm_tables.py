"""The RM-evaluation tables (STUDY.md 3.4-3.6): which property of a proxy predicts how good a
teacher it is. Everything here reuses scores already computed (the BoN pool, the OOD pool and
the swapped-prompt scores of ``score_eval``) and the curves; nothing is sampled again.

- ``rm_eval.csv``: one row per target RM x policy x RL setting: the RM's metrics (on pi_init's
  samples) beside the downstream outcomes of optimizing it (BoN at a fixed n; RL at a fixed
  step, at a fixed KL budget and at the end of the run). The gold RM and the flat teacher
  have rows too (references); correlations use the proxies only.
- ``correlations.csv``: every metric vs every outcome across proxies, per policy and RL
  setting, Pearson / Spearman / Kendall with bootstrap CIs.
- ``headlines.csv``: the answers to the issue's questions, one row per question x proxy seed x
  RL setting: Spearman of accuracy vs NDR (BoN, RL) and of variance vs gold gain, whether the
  flat teacher is slower than the gold RM, whether ``pfr`` beats ``bt`` out of distribution.
- ``report_card.csv``: one row per proxy (first policy, algorithm, KL coefficient and seed)
  with its headline numbers, and ``predictors.csv``: which metric, or the mean of standardized
  variance and accuracy, best predicts each downstream gold outcome (Spearman, CIs).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from overopt import bon, rm_eval
from overopt.tables import REFERENCES
from overopt.teachers import flat_half

METRICS = ["acc_labeled", "acc_pool", "acc_best_worst", "acc_adjacent", "acc_budget_all_pairs",
           "acc_budget_distinct", "acc_ood", "pearson", "spearman", "kendall", "mrr", "ndcg", "ece", "best_of_k",
           "variance", "pf_share", "pf_accuracy_swapped"]
OUTCOMES = ["ndr_bon", "rl_gold_gain_step", "rl_proxy_gain_step", "ndr_rl_step", "ndr_rl_kl", "ndr_rl_final"]
COMBOS = [("variance", "acc_labeled")]
RL_SETTING = ["policy", "algorithm", "kl_coef", "rl_seed"]
POLICY_PREFIX = "policy_"  # score_eval's scores of another policy's samples


def policy_metrics(columns) -> list[str]:
    """The per-other-policy metric columns of an rm_eval frame (``variance_policy_<p>``,
    ``acc_policy_<p>``)."""
    return [c for c in columns if c.startswith(("variance_" + POLICY_PREFIX, "acc_" + POLICY_PREFIX))]


def rm_metrics(proxy: np.ndarray, gold: np.ndarray, extra: dict, gold_extra: dict, k: int, budget: int,
               test_sizes: list[int], seed: int) -> dict:
    """Every metric of one RM from its pool scores [prompts, N], the gold RM's, and both
    ``score_eval`` bundles (``ood`` [prompts, k'], ``policy_<name>`` [prompts, k],
    ``swapped`` [P, 2, 1 + M]). Under each other policy: ``variance_policy_<name>`` (Razin: the
    same RM can teach two students differently) and ``acc_policy_<name>`` (pairs from another
    distribution than the pool's: Wen's off-policy accuracy)."""
    p, g = proxy[:, :k], gold[:, :k]
    out = {f"acc_{m}": rm_eval.rank_pair_accuracy(p, g, m) for m in ("best_worst", "adjacent")}
    rank = rm_eval.ranking_metrics(p, g)
    out["acc_pool"] = rank.pop("accuracy")
    out.update(rank, variance=rm_eval.reward_variance(p))
    b = rm_eval.budget_accuracy(p, g, budget, k, seed)
    out.update(acc_budget_all_pairs=b["all_pairs"], acc_budget_distinct=b["distinct"])
    out["acc_ood"] = rm_eval.rank_pair_accuracy(extra["ood"], gold_extra["ood"], "all")
    for key in sorted(k for k in extra if k.startswith(POLICY_PREFIX)):
        out[f"variance_{key}"] = rm_eval.reward_variance(extra[key])
        out[f"acc_{key}"] = rm_eval.rank_pair_accuracy(extra[key], gold_extra[key], "all")
    i, j = np.triu_indices(k, 1)
    sizes = rm_eval.accuracy_vs_size((p[:, i] - p[:, j]).ravel(), (g[:, i] - g[:, j]).ravel(), test_sizes, seed=seed)
    for n, s in sizes.groupby("size")["accuracy"]:
        out[f"acc_n{n}_mean"], out[f"acc_n{n}_sd"] = float(s.mean()), float(s.std(ddof=1))
    sw, gsw = extra["swapped"], gold_extra["swapped"]
    gaps, gold_gap = sw[:, 0] - sw[:, 1], gsw[:, 0, 0] - gsw[:, 1, 0]
    pf = rm_eval.prompt_free_diagnostics(gaps[:, 0], gaps[:, 1:], gold_gap=gold_gap)
    out.update({f"pf_{key}": v for key, v in pf.items()})
    out["pf_share"] = out.pop("pf_prompt_free_share")
    return out


def _at_step(run: pd.DataFrame, step: int | None) -> pd.Series:
    """The evaluation row at ``step`` (None: the first after step 0)."""
    later = run[run["step"] > 0]
    return later.iloc[0] if step is None else later[later["step"] == step].iloc[0]


def _at_kl(run: pd.DataFrame, kl: float) -> float:
    """Gold gain at KL ``kl`` along the run, interpolated; NaN if the run never gets there."""
    r = run.sort_values("step")
    gain, k = r["gold"] - r["gold"].iloc[0], r["kl"].cummax()
    return float(np.interp(kl, k, gain)) if k.iloc[-1] >= kl else float("nan")


def rl_outcomes(curves: pd.DataFrame, step: int | None, kl_budget: float) -> pd.DataFrame:
    """Per RL run (target x setting): gold and proxy gain at a fixed step, gold gain at a KL
    budget and at the end; NDRs against the gold-RM run of the same setting."""
    rows = []
    for key, run in curves[curves["method"] == "rl"].groupby(["rm", *RL_SETTING], dropna=False):
        run = run.sort_values("step")
        first, at, last = run.iloc[0], _at_step(run, step), run.iloc[-1]
        rows.append({**dict(zip(["rm", *RL_SETTING], key)), "rl_step": int(at["step"]),
                     "rl_gold_gain_step": at["gold"] - first["gold"],
                     "rl_proxy_gain_step": at["proxy"] - first["proxy"],
                     "rl_gold_gain_kl": _at_kl(run, kl_budget), "rl_kl_budget": kl_budget,
                     "rl_gold_gain_final": last["gold"] - first["gold"], "rl_final_step": int(last["step"])})
    out = pd.DataFrame(rows)
    ref = out[out["rm"] == "gold"].set_index(RL_SETTING)
    for what, col in (("step", "rl_gold_gain_step"), ("kl", "rl_gold_gain_kl"), ("final", "rl_gold_gain_final")):
        den = ref[col].reindex(pd.MultiIndex.from_frame(out[RL_SETTING])).to_numpy()
        out[f"ndr_rl_{what}"] = rm_eval.ndr(out[col].to_numpy(), 0.0, den)
    return out


def bon_outcomes(pool: dict, n: int) -> pd.DataFrame:
    """Gold of best-of-n by each target at ``n`` (exact, from the pool) and its NDR against
    best-of-n by the gold RM itself."""
    gold = pool["gold"]
    at = {rm: float(bon.best_of_n(gold, s, [n])["gold"].iloc[0]) for rm, s in pool.items()}
    base = float(gold.mean())
    return pd.DataFrame([{"rm": rm, "bon_n": n, "bon_gold": g, "ndr_bon": rm_eval.ndr(g, base, at["gold"])}
                         for rm, g in at.items()])


def rm_eval_table(meta: pd.DataFrame, pool: dict, extra: dict, curves: pd.DataFrame, prompts: list[str],
                  flat_factor: float | None, hp: dict) -> pd.DataFrame:
    """One row per target RM x RL run setting: identity, metrics and outcomes. ``meta`` is
    rm_metrics.csv (the proxies' identities and held-out accuracy), ``pool``/``extra`` map RM
    ids (``gold`` included) to pool scores and ``score_eval`` bundles, ``prompts`` are the
    eval prompts (for the flat teacher's half)."""
    metrics = {rm: rm_metrics(pool[rm], pool["gold"], extra[rm], extra["gold"], hp["k"], hp["budget"],
                              hp["test_sizes"], hp["seed"]) for rm in pool}
    if flat_factor:  # the flat teacher: gold's scores shrunk on half the prompts (rankings unchanged)
        scale = np.where(flat_half(prompts), flat_factor, 1.0)[:, None]
        pool = {**pool, "gold_flat": pool["gold"] * scale}
        metrics["gold_flat"] = {**metrics["gold"], "variance": rm_eval.reward_variance(pool["gold_flat"][:, :hp["k"]])}
        for key in (k for k in extra["gold"] if k.startswith(POLICY_PREFIX)):
            metrics["gold_flat"][f"variance_{key}"] = rm_eval.reward_variance(extra["gold"][key] * scale)
    m = pd.DataFrame([{"rm": rm, **v} for rm, v in metrics.items()])
    ident = meta[["rm", "rm_size", "params", "data_size", "objective", "seed", "gold_accuracy"]]
    m = m.merge(ident.rename(columns={"gold_accuracy": "acc_labeled"}), on="rm", how="left")
    m["rm_size"] = m["rm_size"].fillna(m["rm"])
    out = m.merge(bon_outcomes({k: v for k, v in pool.items() if k != "gold_flat"}, hp["bon_n"]), on="rm", how="left")
    rl = rl_outcomes(curves, hp["rl_step"], hp["kl_budget"])
    # an RM without RL runs (rl.objectives) joins every pi_init setting with empty RL outcomes,
    # so BoN and metric columns still enter each setting's correlations
    settings = rl.loc[rl["policy"] == hp["setting"]["policy"], RL_SETTING].drop_duplicates()
    no_rl = out[~out["rm"].isin(rl["rm"])].merge(settings, how="cross")
    return pd.concat([out.merge(rl, on="rm", how="inner"), no_rl], ignore_index=True)


def correlation_table(rm_eval_frame: pd.DataFrame, n_boot: int, level: float, seed: int) -> pd.DataFrame:
    """Every metric vs every outcome across the proxies, per RL setting run against at least 3
    proxies (BoN outcomes repeat in each; they do not depend on it)."""
    proxies = rm_eval_frame[~rm_eval_frame["rm"].isin(REFERENCES)]
    proxies = proxies[proxies.groupby(RL_SETTING, dropna=False)["rm"].transform("nunique") >= 3]
    proxies = rm_eval.add_combos(proxies, COMBOS, by=RL_SETTING)
    metrics = [*METRICS, *policy_metrics(proxies.columns), *(rm_eval.combo_name(c) for c in COMBOS)]
    return rm_eval.correlations(proxies, metrics, OUTCOMES, by=RL_SETTING, n_boot=n_boot, level=level, seed=seed)


HEADLINES = [  # (headline, metric, outcome): Spearman across the proxies of one seed
    ("accuracy vs NDR, BoN", "acc_labeled", "ndr_bon"),
    ("accuracy vs NDR, RL at end", "acc_labeled", "ndr_rl_final"),
    ("variance vs RL gold gain at step", "variance", "rl_gold_gain_step"),
]
HEADLINE_COLS = [*RL_SETTING, "proxy_seed", "headline", "stat", "value", "ci_low", "ci_high", "n"]


def _pfr_vs_bt(proxies: pd.DataFrame, level: float) -> list[dict]:
    """``pfr`` minus ``bt`` out-of-distribution accuracy over the cells (size x data) trained
    both ways: the mean difference with a paired-t CI, and the share of cells ``pfr`` wins."""
    cell = ["rm_size", "data_size"]
    both = proxies.pivot_table(index=cell, columns="objective", values="acc_ood", aggfunc="first")
    if not {"bt", "pfr"} <= set(both.columns):
        return []
    diff = (both["pfr"] - both["bt"]).dropna().to_numpy(np.float64)
    if diff.size < 2:
        return []
    ci = stats.ttest_1samp(diff, 0.0).confidence_interval(level)
    return [{"headline": "pfr minus bt, OOD accuracy", "stat": "mean_difference", "value": float(diff.mean()),
             "ci_low": float(ci.low), "ci_high": float(ci.high), "n": diff.size},
            {"headline": "pfr minus bt, OOD accuracy", "stat": "share_pfr_better", "value": float((diff > 0).mean()),
             "ci_low": np.nan, "ci_high": np.nan, "n": diff.size}]


def headlines(rm_eval_frame: pd.DataFrame, n_boot: int, level: float, seed: int) -> pd.DataFrame:
    """One row per headline x proxy seed x RL setting (columns ``HEADLINE_COLS``): the Spearman
    of ``HEADLINES`` with bootstrap CIs, the flat teacher's gold gain at the fixed step minus
    the gold RM's (``stat`` gain_difference: < 0 means slower), and :func:`_pfr_vs_bt`."""
    proxies = rm_eval_frame[~rm_eval_frame["rm"].isin(REFERENCES)]
    refs = rm_eval_frame[rm_eval_frame["rm"].isin(REFERENCES)].set_index(["rm", *RL_SETTING])["rl_gold_gain_step"]
    rows = []
    for key, group in proxies.groupby([*RL_SETTING, "seed"], dropna=False, sort=True):
        if group["rm"].nunique() < 3:
            continue
        ident = {**dict(zip(RL_SETTING, key[:-1])), "proxy_seed": int(key[-1])}
        for headline, metric, outcome in HEADLINES:
            c = rm_eval.correlations(group, [metric], [outcome], n_boot=n_boot, level=level, seed=seed,
                                     stat_names=["spearman"]).iloc[0]
            rows.append({**ident, "headline": headline, "stat": "spearman",
                         **{k: c[k] for k in ("value", "ci_low", "ci_high", "n")}})
        flat, gold = (refs.get((rm, *key[:-1]), np.nan) for rm in ("gold_flat", "gold"))
        if np.isfinite(flat) and np.isfinite(gold):
            rows.append({**ident, "headline": "flat teacher minus gold RM, RL gold gain at step",
                         "stat": "gain_difference", "value": flat - gold, "ci_low": np.nan, "ci_high": np.nan, "n": 1})
        rows += [{**ident, **r} for r in _pfr_vs_bt(group, level)]
    return pd.DataFrame(rows, columns=HEADLINE_COLS)


def report_card(rm_eval_frame: pd.DataFrame, fits: pd.DataFrame, setting: dict, n_boot: int, level: float,
                seed: int):
    """The per-proxy card in one RL ``setting`` (policy, algorithm, kl_coef, rl_seed: the
    config's first) and the predictor ranking for each gold outcome."""
    first = pd.Series(setting)[RL_SETTING]
    card = rm_eval_frame[(rm_eval_frame[RL_SETTING] == first).all(axis=1)].copy()
    peaks = fits[(fits["curve"] == "gold") & fits["form"].isin(["bon", "rl"])]
    bon_peak = peaks[peaks["method"] == "bon"].set_index("rm")[["d_star", "r_star"]].add_prefix("bon_")
    sel = (peaks["method"] == "rl") & (peaks[RL_SETTING] == first[RL_SETTING]).all(axis=1)
    rl_peak = peaks[sel].set_index("rm")[["d_star", "r_star"]].add_prefix("rl_")
    card = card.join(bon_peak, on="rm").join(rl_peak, on="rm")
    cols = ["rm", "rm_size", "params", "data_size", "objective", "seed", *RL_SETTING, "acc_labeled", "acc_pool",
            "acc_ood", "variance", "pf_share", "bon_d_star", "bon_r_star", "rl_d_star", "rl_r_star", "bon_gold",
            "ndr_bon", "rl_gold_gain_step", "rl_gold_gain_final", "ndr_rl_step", "ndr_rl_final"]
    proxies = card[~card["rm"].isin(REFERENCES)]
    ranks = [rm_eval.best_predictor(proxies, METRICS, outcome, combos=COMBOS, n_boot=n_boot, level=level, seed=seed)
             for outcome in ("ndr_bon", "rl_gold_gain_step", "ndr_rl_final")]
    predictors = pd.concat(ranks, ignore_index=True)
    for c in RL_SETTING:
        predictors.insert(0, c, first[c])
    return card[cols], predictors
