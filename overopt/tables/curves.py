"""The study's tidy curve and RM tables. Every row carries the configuration that produced it,
so tables join and filter without parsing paths (columns: docs/tables.md).
"""
from __future__ import annotations
from overopt.inputs import check_curve_rows, read_json, read_table
import numpy as np
import pandas as pd


# Columns that identify a reward model in every table.
RM_COLUMNS = ["rm", "kind", "family", "rm_size", "params", "data_size", "objective", "seed", "label_mode", "flip_rate"]


# Per method: the columns that identify one curve beyond the target RM, the column ordering
# its points (the first point is pi_init itself) and the functional form fitted to it. DAA
# curves carry the proxy they are scored with as their RM.
CURVE_KEYS = {"bon": (["policy"], "n", "bon"), "rl": (["policy", "algorithm", "kl_coef", "rl_seed"], "step", "rl"),
              "daa": (["policy", "loss", "daa_beta", "daa_seed", "pairs"], "step", "rl")}


def target_meta(metrics_json: str, identity: dict | None = None) -> dict:
    """A target's identity columns: its metrics.json (a proxy's training job or the gold stage
    wrote it), or, for a reference teacher, its registry ``identity`` with its base's params."""
    m = read_json(metrics_json, ["params"] if identity else RM_COLUMNS)
    if identity:
        m = {**identity, "params": m["params"]}
    return {k: (np.nan if m[k] is None and k != "label_mode" else m[k]) for k in RM_COLUMNS}


def tag(rows: pd.DataFrame, method: str, meta: dict, **settings) -> pd.DataFrame:
    """Prefix curve rows with the method, the target RM's identity and the run's settings."""
    front = pd.DataFrame({"method": method, **meta, **settings}, index=rows.index)
    return pd.concat([front, rows], axis=1)


CURVE = {"method": "str", "rm": "str", "kind": "str", "d": "float", "gold": "float", "proxy": "float"}


def read_curves(path: str) -> pd.DataFrame:
    """One method's curve file, or curves.csv: the identity and score columns present, d, gold
    and proxy finite, no cut-off last row."""
    return read_table(path, CURVE, finite=("d", "gold", "proxy"))


SAMPLE = {"method": "str", "rm": "str", "kind": "str", "step": "int", "prompt": "int", "kl": "float",
          "gold": "float", "proxy": "float"}


def read_samples(paths: list[str]) -> pd.DataFrame:
    """Every run's evaluation samples (``<run>.samples.csv``, tagged like its curve): one row
    per sample and evaluation step, scores and KL finite; the response text kept as text."""
    frames = [read_table(p, SAMPLE, text=("response",), finite=("kl", "gold", "proxy")) for p in paths]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*SAMPLE, "response"])


def concat_csv(paths: list[str], rl_steps: list[int] | None = None) -> pd.DataFrame:
    """Every method's curve rows; an RL run's file must hold exactly ``rl_steps`` (a run cut
    short is rejected, naming its file)."""
    frames = []
    for p in paths:
        frames.append(read_curves(p))
        if rl_steps is not None and (frames[-1]["method"] == "rl").all():
            check_curve_rows(frames[-1], p, "step", rl_steps)
    return pd.concat(frames, ignore_index=True)


def rm_metrics(paths: list[str], extra: list[str] = ()) -> pd.DataFrame:
    """One row per proxy from its metrics.json; ``extra``: JSON objects with an ``rm`` key and
    more columns of that proxy's row (the shift proxies' ``ood_shift.json``)."""
    table = pd.DataFrame([read_json(p, RM_COLUMNS) for p in paths])
    more = pd.DataFrame([read_json(p, ["rm"]) for p in extra])
    if more.empty:
        return table
    unknown = sorted(set(more["rm"]) - set(table["rm"]))
    if unknown:
        raise ValueError(f"extra metrics for RMs without a metrics.json: {unknown}")
    return table.merge(more, on="rm", how="left")
