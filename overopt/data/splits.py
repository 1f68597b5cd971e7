"""Reading the study's shared inputs: one split of the prompt table, a sample pool, and the
first k gold-labeled training pairs (the nested subsets every proxy and DAA run train on).
"""
from __future__ import annotations

import pandas as pd

from overopt.inputs import read_table

PROMPTS = {"split": "str", "prompt_id": "str", "topic": "int", "prompt": "str"}
POOL = {"prompt_id": "str", "prompt_idx": "int", "sample": "int", "response": "str", "length": "int"}
PAIRS = {"split": "str", "prompt_id": "str", "prompt": "str", "chosen": "str", "rejected": "str",
         "gold_chosen": "float", "gold_rejected": "float"}


def eval_prompts(prompts_csv: str, split: str = "eval") -> pd.DataFrame:
    """The prompts of one split (``eval`` by default: the held-out prompts every method is measured on)."""
    p = read_table(prompts_csv, PROMPTS, text=("split", "prompt_id", "prompt"))
    out = p[p["split"] == split].reset_index(drop=True)
    if out.empty:
        raise ValueError(f"{prompts_csv}: no prompts in split {split!r}")
    return out


def read_pool(pool_csv: str) -> pd.DataFrame:
    return read_table(pool_csv, POOL, text=("prompt_id", "response"))


def read_pairs(pairs_csv: str) -> pd.DataFrame:
    return read_table(pairs_csv, PAIRS, text=("split", "prompt_id", "prompt", "chosen", "rejected"),
                      finite=("gold_chosen", "gold_rejected"))


def training_pairs(pairs: pd.DataFrame, data_size: int, path: str = "pairs") -> pd.DataFrame:
    """The first ``data_size`` ``train`` pairs: nested, so every proxy and DAA run of one data
    size sees the same pairs."""
    train = pairs[pairs["split"] == "train"].head(data_size)
    if len(train) < data_size:
        raise ValueError(f"{path}: {len(train)} training pairs, data size {data_size} asked")
    return train.reset_index(drop=True)


def heldout_pairs(pairs: pd.DataFrame, n: int | None = None) -> pd.DataFrame:
    """The held-out labeled pairs (the first ``n``; all with None), for accuracy."""
    held = pairs[pairs["split"] == "heldout"]
    return (held if n is None else held.head(n)).reset_index(drop=True)
