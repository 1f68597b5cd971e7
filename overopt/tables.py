"""The study's tidy tables. Every row carries the configuration that produced it, so tables
join and filter without parsing paths. Columns are documented in the README."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from overopt import bon

# Columns that identify a reward model in every table.
RM_COLUMNS = ["rm", "rm_size", "params", "data_size", "objective", "seed", "label_mode", "flip_rate"]
# Per method: the columns that identify one curve beyond the target RM, the column ordering
# its points (the first point is pi_init itself) and the functional form fitted to it. DAA
# curves carry the proxy they are scored with as their RM.
CURVE_KEYS = {"bon": (["policy"], "n", "bon"), "rl": (["policy", "algorithm", "kl_coef", "rl_seed"], "step", "rl"),
              "daa": (["policy", "loss", "daa_beta", "daa_seed", "pairs"], "step", "rl")}


# Targets that are references, not proxies: the gold RM and Razin's flat teacher made from it.
REFERENCES = ("gold", "gold_flat")


def gold_meta(norm_json: str, seed: int, rm: str = "gold") -> dict:
    """The identity columns of a reference target (trained on no labels)."""
    info = json.loads(open(norm_json).read())
    return {"rm": rm, "rm_size": rm, "params": info["params"], "data_size": np.nan,
            "objective": rm, "seed": seed, "label_mode": None, "flip_rate": np.nan}


def proxy_meta(metrics_json: str) -> dict:
    m = json.loads(open(metrics_json).read())
    return {k: m[k] for k in RM_COLUMNS}


def tag(rows: pd.DataFrame, method: str, meta: dict, **settings) -> pd.DataFrame:
    """Prefix curve rows with the method, the target RM's identity and the run's settings."""
    front = pd.DataFrame({"method": method, **meta, **settings}, index=rows.index)
    return pd.concat([front, rows], axis=1)


def bon_curve(meta: dict, gold_npy: str, proxy_npy: str, N: int, per_octave: int, policy: str) -> pd.DataFrame:
    """Best-of-n rows for one target RM: n grid, analytic KL, expected gold and proxy score of
    ``policy``'s samples."""
    gold, proxy = np.load(gold_npy), np.load(proxy_npy)
    if gold.shape != proxy.shape or gold.shape[1] != N:
        raise ValueError(f"{gold_npy} {gold.shape} and {proxy_npy} {proxy.shape} must both be [prompts, {N}]")
    out = bon.best_of_n(gold, proxy, bon.n_grid(N, per_octave))
    out["N"], out["prompts"] = N, gold.shape[0]
    return tag(out, "bon", meta, policy=policy)


def concat_csv(paths: list[str]) -> pd.DataFrame:
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def rm_metrics(paths: list[str]) -> pd.DataFrame:
    return pd.DataFrame([json.loads(open(p).read()) for p in paths])
