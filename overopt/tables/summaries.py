"""Summaries of the RM evaluation: correlations across proxies, the headlines, the report card
and the predictor ranking.
"""
from __future__ import annotations
import numpy as np
import pandas as pd
from scipy import stats
from overopt.metrics import correlate
from overopt.targets import FLAT, GOLD, PROXY
from overopt.tables.rm_eval import COMBOS, METRICS, OUTCOMES, RL_SETTING, policy_metrics, variant_metrics


def correlation_table(rm_eval_frame: pd.DataFrame, n_boot: int, level: float, seed: int) -> pd.DataFrame:
    """Every metric vs every outcome across the proxies, per RL setting run against at least 3
    proxies (BoN outcomes repeat in each; they do not depend on it)."""
    proxies = rm_eval_frame[rm_eval_frame["kind"] == PROXY]
    proxies = proxies[proxies.groupby(RL_SETTING, dropna=False)["rm"].transform("nunique") >= 3]
    proxies = correlate.add_combos(proxies, COMBOS, by=RL_SETTING)
    metrics = [*METRICS, *policy_metrics(proxies.columns), *variant_metrics(proxies.columns),
               *(correlate.combo_name(c) for c in COMBOS)]
    return correlate.correlations(proxies, metrics, OUTCOMES, by=RL_SETTING, n_boot=n_boot, level=level, seed=seed)


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
    proxies = rm_eval_frame[rm_eval_frame["kind"] == PROXY]
    refs = rm_eval_frame[rm_eval_frame["kind"] != PROXY].set_index(["family", *RL_SETTING])["rl_gold_gain_step"]
    rows = []
    for key, group in proxies.groupby([*RL_SETTING, "seed"], dropna=False, sort=True):
        if group["rm"].nunique() < 3:
            continue
        ident = {**dict(zip(RL_SETTING, key[:-1])), "proxy_seed": int(key[-1])}
        for headline, metric, outcome in HEADLINES:
            c = correlate.correlations(group, [metric], [outcome], n_boot=n_boot, level=level, seed=seed,
                                     stat_names=["spearman"]).iloc[0]
            rows.append({**ident, "headline": headline, "stat": "spearman",
                         **{k: c[k] for k in ("value", "ci_low", "ci_high", "n")}})
        flat, gold = (refs.get((family, *key[:-1]), np.nan) for family in (FLAT, GOLD))
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
    cols = ["rm", "kind", "family", "rm_size", "params", "data_size", "objective", "seed", *RL_SETTING, "acc_labeled", "acc_pool",
            "acc_ood", "variance", "pf_share", "bon_d_star", "bon_r_star", "rl_d_star", "rl_r_star", "bon_gold",
            "ndr_bon", "rl_gold_gain_step", "rl_gold_gain_final", "ndr_rl_step", "ndr_rl_final"]
    proxies = card[card["kind"] == PROXY]
    ranks = [correlate.best_predictor(proxies, METRICS, outcome, combos=COMBOS, n_boot=n_boot, level=level, seed=seed)
             for outcome in ("ndr_bon", "rl_gold_gain_step", "ndr_rl_final")]
    predictors = pd.concat(ranks, ignore_index=True)
    for c in RL_SETTING:
        predictors.insert(0, c, first[c])
    return card[cols], predictors


def write_all(s, inputs, outputs) -> None:
    """The rm_eval job (``settings.RMEval``): rm_eval.csv, correlations, headlines, report card
    and predictors, from the reference and extra scores, the identities and the curves."""
    from pathlib import Path

    from overopt.data.splits import eval_prompts
    from overopt.inputs import load_array, load_npz, read_table
    from overopt.tables.curves import read_curves, target_meta
    from overopt.tables.rm_eval import rm_eval_table, rm_scales

    prompts = eval_prompts(inputs.prompts)["prompt"].tolist()
    scores = {Path(p).stem: load_array(p, (len(prompts), None)) for p in inputs.pool}
    extra = {Path(p).stem: load_npz(p, {"ood": None, "swapped": (None, 2, None)}) for p in inputs.extra}
    meta = pd.concat([read_table(inputs.meta, {"rm": "str", "kind": "str", "params": "int"}),
                      pd.DataFrame([target_meta(inputs.gold_meta)])], ignore_index=True)
    params = meta.set_index("rm")["params"]
    refs = [{**r["identity"], "params": params[r["base"]]} for r in s.references.values()]
    if refs:
        meta = pd.concat([meta, pd.DataFrame(refs)], ignore_index=True)
    frame = rm_eval_table(meta, scores, extra, read_curves(inputs.curves), prompts, s, scales=rm_scales(inputs.norms))
    frame.to_csv(outputs.rm_eval, index=False)
    correlation_table(frame, s.n_boot, s.level, s.seed).to_csv(outputs.correlations, index=False)
    headlines(frame, s.n_boot, s.level, s.seed).to_csv(outputs.headlines, index=False)
    fits = read_table(inputs.fits, {"method": "str", "rm": "str", "curve": "str", "form": "str"})
    card, predictors = report_card(frame, fits, s.setting, s.n_boot, s.level, s.seed)
    card.to_csv(outputs.report_card, index=False)
    predictors.to_csv(outputs.predictors, index=False)
