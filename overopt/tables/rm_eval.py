"""The RM-evaluation tables (docs/science.md 4.6-4.8): which property of a proxy predicts how good a
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

from overopt.metrics import accuracy, bon, prompt_free, ranking, variance
from overopt.targets import GOLD
from overopt.teachers import transform

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


def rm_scales(norm_paths) -> dict[str, float]:
    """RM id -> its normalization std (``scale``), from the ``results/rms/<rm>/normalization.json``
    files of the scored targets (the id is the folder name): what ``rm_eval_table`` needs to
    compute ECE on the RMs' raw gaps."""
    from pathlib import Path

    from overopt.inputs import load_normalization

    return {Path(p).parent.name: float(load_normalization(p)["scale"]) for p in norm_paths}


def variant_metrics(columns) -> list[str]:
    """Wen's accuracy variants of an rm_eval frame: the rank-bin grid (``acc_bin<i>_<j>``: chosen
    from gold-rank bin i, rejected from bin j) and the budget sweep (``acc_budget_k<k>``)."""
    return [c for c in columns if c.startswith(("acc_bin", "acc_budget_k"))]


def rm_metrics(proxy: np.ndarray, gold: np.ndarray, extra: dict, gold_extra: dict, k: int, budget: int,
               test_sizes: list[int], seed: int, scale: float | None = None, rank_bins: int = 1,
               budget_ks: list[int] = ()) -> dict:
    """Every metric of one RM from its pool scores [prompts, N], the gold RM's, and both
    ``score_eval`` bundles (``ood`` [prompts, k'], ``policy_<name>`` [prompts, k],
    ``swapped`` [P, 2, 1 + M]). Under each other policy: ``variance_policy_<name>`` (Razin: the
    same RM can teach two students differently) and ``acc_policy_<name>`` (pairs from another
    distribution than the pool's: Wen's off-policy accuracy). Scores are normalized; ``scale``
    is the RM's normalization std, which turns its gaps back into raw logits for ``ece`` (the
    RM's own Bradley-Terry probabilities); None: ``ece`` is NaN."""
    p, g = proxy[:, :k], gold[:, :k]
    out = {f"acc_{m}": accuracy.rank_pair_accuracy(p, g, m) for m in ("best_worst", "adjacent")}
    rank = ranking.ranking_metrics(p, g, ece_scale=scale)
    out["acc_pool"] = rank.pop("accuracy")
    out.update(rank, variance=variance.reward_variance(p))
    b = accuracy.budget_accuracy(p, g, budget, k, seed)
    out.update(acc_budget_all_pairs=b["all_pairs"], acc_budget_distinct=b["distinct"])
    out.update(accuracy.variants(p, g, rank_bins, budget, budget_ks, seed))
    out["acc_ood"] = accuracy.rank_pair_accuracy(extra["ood"], gold_extra["ood"], "all")
    for key in sorted(k for k in extra if k.startswith(POLICY_PREFIX)):
        out[f"variance_{key}"] = variance.reward_variance(extra[key])
        out[f"acc_{key}"] = accuracy.rank_pair_accuracy(extra[key], gold_extra[key], "all")
    i, j = np.triu_indices(k, 1)
    sizes = accuracy.accuracy_vs_size((p[:, i] - p[:, j]).ravel(), (g[:, i] - g[:, j]).ravel(), test_sizes, seed=seed)
    for n, s in sizes.groupby("size")["accuracy"]:
        out[f"acc_n{n}_mean"], out[f"acc_n{n}_sd"] = float(s.mean()), float(s.std(ddof=1))
    sw, gsw = extra["swapped"], gold_extra["swapped"]
    gaps, gold_gap = sw[:, 0] - sw[:, 1], gsw[:, 0, 0] - gsw[:, 1, 0]
    pf = prompt_free.prompt_free_diagnostics(gaps[:, 0], gaps[:, 1:], gold_gap=gold_gap)
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
    budget and at the end; NDRs against the run against the gold RM in the same setting."""
    rows = []
    for key, run in curves[curves["method"] == "rl"].groupby(["rm", "kind", *RL_SETTING], dropna=False):
        run = run.sort_values("step")
        first, at, last = run.iloc[0], _at_step(run, step), run.iloc[-1]
        rows.append({**dict(zip(["rm", "kind", *RL_SETTING], key)), "rl_step": int(at["step"]),
                     "rl_gold_gain_step": at["gold"] - first["gold"],
                     "rl_proxy_gain_step": at["proxy"] - first["proxy"],
                     "rl_gold_gain_kl": _at_kl(run, kl_budget), "rl_kl_budget": kl_budget,
                     "rl_gold_gain_final": last["gold"] - first["gold"], "rl_final_step": int(last["step"])})
    out = pd.DataFrame(rows)
    ref = out[out["kind"] == GOLD].set_index(RL_SETTING)
    for what, col in (("step", "rl_gold_gain_step"), ("kl", "rl_gold_gain_kl"), ("final", "rl_gold_gain_final")):
        den = ref[col].reindex(pd.MultiIndex.from_frame(out[RL_SETTING])).to_numpy()
        out[f"ndr_rl_{what}"] = accuracy.ndr(out[col].to_numpy(), 0.0, den)
    return out.drop(columns="kind")


def bon_outcomes(pool: dict, gold_id: str, n: int) -> pd.DataFrame:
    """Gold of best-of-n by each target at ``n`` (exact, from the pool) and its NDR against
    best-of-n by the gold RM (``gold_id``) itself."""
    gold = pool[gold_id]
    at = {rm: float(bon.best_of_n(gold, s, [n])["gold"].iloc[0]) for rm, s in pool.items()}
    base = float(gold.mean())
    return pd.DataFrame([{"rm": rm, "bon_n": n, "bon_gold": g, "ndr_bon": accuracy.ndr(g, base, at[gold_id])}
                         for rm, g in at.items()])


def rm_eval_table(meta: pd.DataFrame, pool: dict, extra: dict, curves: pd.DataFrame, prompts: list[str],
                  s, scales: dict | None = None) -> pd.DataFrame:
    """One row per target RM x RL run setting: identity, metrics and outcomes (``settings.RMEval``).
    ``meta`` has every target's identity columns (the proxies' with their held-out
    ``gold_accuracy``), ``pool``/``extra`` map the scored targets' ids to pool scores and
    ``score_eval`` bundles, ``prompts`` are the eval prompts (for score transforms). A reference
    teacher's scores are its base's, transformed; it is not a BoN target. ``scales`` maps the
    scored targets' ids to their normalization std (``rm_scales``): ``ece`` is computed on raw
    gaps, and is NaN for a target without a scale and for a reference teacher (a transform of
    normalized scores has no Bradley-Terry probabilities of its own)."""
    gold_id, pool, scales = meta.loc[meta["kind"] == GOLD, "rm"].iloc[0], dict(pool), scales or {}
    metrics = {rm: rm_metrics(pool[rm], pool[gold_id], extra[rm], extra[gold_id], s.k, s.budget, s.test_sizes,
                              s.seed, scales.get(rm), s.rank_bins, s.budget_ks) for rm in pool}
    scored = dict(pool)
    for rm, ref in s.references.items():  # rankings as the base's; variance under the transform
        base, spec = ref["base"], ref["transform"]
        pool[rm] = transform(pool[base], prompts, spec)
        metrics[rm] = {**metrics[base], "ece": float("nan"),
                       "variance": variance.reward_variance(pool[rm][:, :s.k])}
        for key in (k for k in extra[base] if k.startswith(POLICY_PREFIX)):
            metrics[rm][f"variance_{key}"] = variance.reward_variance(transform(extra[base][key], prompts, spec))
    m = pd.DataFrame([{"rm": rm, **v} for rm, v in metrics.items()])
    ident = meta[["rm", "kind", "family", "rm_size", "params", "data_size", "objective", "seed", "gold_accuracy"]]
    m = m.merge(ident.rename(columns={"gold_accuracy": "acc_labeled"}), on="rm", how="left")
    out = m.merge(bon_outcomes(scored, gold_id, s.bon_n), on="rm", how="left")
    rl = rl_outcomes(curves, s.rl_step, s.kl_budget)
    # an RM without RL runs (rl.objectives) joins every pi_init setting with empty RL outcomes,
    # so BoN and metric columns still enter each setting's correlations
    settings = rl.loc[rl["policy"] == s.setting["policy"], RL_SETTING].drop_duplicates()
    no_rl = out[~out["rm"].isin(rl["rm"])].merge(settings, how="cross")
    return pd.concat([out.merge(rl, on="rm", how="inner"), no_rl], ignore_index=True)
