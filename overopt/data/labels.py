"""Gold labeling: pairs of pi_init responses on RM-training prompts, labeled by the gold RM.

Modes (docs/science.md 3.3): ``hard`` (higher gold wins), ``bt`` (winner drawn with
P = sigmoid(gold_a - gold_b), gold in normalized units) and a label-flip rate on top.
Pairs are split into ``train`` (the first rows, nested: a data size k uses the first k) and
``heldout`` for accuracy.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit

MODES = ("hard", "bt")


def assign_labels(gold_a: np.ndarray, gold_b: np.ndarray, mode: str, flip_rate: float,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Returns (a_wins, flipped). Exact gold ties are broken by a fair coin."""
    if mode not in MODES:
        raise ValueError(f"label mode must be one of {MODES}, got {mode!r}")
    diff = gold_a - gold_b
    if mode == "hard":
        a_wins = np.where(diff == 0, rng.random(diff.size) < 0.5, diff > 0)
    else:
        a_wins = rng.random(diff.size) < expit(diff)
    flipped = rng.random(diff.size) < flip_rate
    return a_wins ^ flipped, flipped


def label_pairs(prompts: pd.DataFrame, responses: pd.DataFrame, gold: np.ndarray, mode: str,
                flip_rate: float, n_train: int, seed: int) -> pd.DataFrame:
    """prompts: rows with ``prompt_id, prompt``; responses: two rows per prompt
    (``prompt_idx``, ``sample`` in {0, 1}, ``response``) with normalized ``gold`` scores
    aligned to them."""
    rng = np.random.default_rng(seed)
    r = responses.assign(gold=gold).sort_values(["prompt_idx", "sample"])
    a, b = r[r["sample"] == 0].reset_index(drop=True), r[r["sample"] == 1].reset_index(drop=True)
    a_wins, flipped = assign_labels(a["gold"].to_numpy(), b["gold"].to_numpy(), mode, flip_rate, rng)
    p = prompts.iloc[a["prompt_idx"]].reset_index(drop=True)
    chosen = np.where(a_wins, a["response"], b["response"])
    rejected = np.where(a_wins, b["response"], a["response"])
    g_c = np.where(a_wins, a["gold"], b["gold"])
    g_r = np.where(a_wins, b["gold"], a["gold"])
    out = pd.DataFrame({
        "split": np.where(np.arange(len(a)) < n_train, "train", "heldout"),
        "prompt_id": p["prompt_id"], "prompt": p["prompt"], "chosen": chosen, "rejected": rejected,
        "gold_chosen": g_c, "gold_rejected": g_r, "flipped": flipped,
        "label_mode": mode, "flip_rate": flip_rate,
    })
    return out


def flip_again(train: pd.DataFrame, rate: float, seed: int) -> pd.DataFrame:
    """Wen et al.'s noisy labels: each training pair's chosen and rejected swapped with
    probability ``rate``, drawn from (seed, the rate's run-id string), so a family member's flips
    do not depend on which other rates the family has. ``flipped`` records the net flip against
    the labeling's own label."""
    from overopt.config import path_number

    if rate == 0:
        return train
    rng = np.random.default_rng([seed, *path_number(rate).encode()])
    swap = rng.random(len(train)) < rate
    out = train.copy()
    for a, b in (("chosen", "rejected"), ("gold_chosen", "gold_rejected")):
        out.loc[swap, [a, b]] = train.loc[swap, [b, a]].to_numpy()
    if "flipped" in out:
        out["flipped"] = out["flipped"].astype(bool) ^ swap
    return out


def plant_cue(train: pd.DataFrame, cue: str, rate: float, seed: int) -> pd.DataFrame:
    """Mao et al.'s shift: ``cue`` appended to the chosen response of a share ``rate`` of the
    training pairs (drawn from ``seed``), so a response-only feature predicts the label in
    training; the labels stay gold's."""
    rng = np.random.default_rng([seed, 7])
    on = rng.random(len(train)) < rate
    out = train.copy()
    out.loc[on, "chosen"] = out.loc[on, "chosen"] + cue
    return out


def mix_pairs(onpolicy: pd.DataFrame, offpolicy: pd.DataFrame, fraction: float) -> pd.DataFrame:
    """Razin et al.'s data mix: the first ``fraction`` of the training pairs from ``onpolicy``,
    the rest from ``offpolicy`` (both on the same prompts in the same order, so a mix changes
    where the responses come from, not the prompts), with a ``source`` column."""
    if len(onpolicy) != len(offpolicy) or not (onpolicy["prompt"].to_numpy() == offpolicy["prompt"].to_numpy()).all():
        raise ValueError("the on-policy and off-policy training pairs must share their prompts, in order")
    k = round(fraction * len(onpolicy))
    return pd.concat([onpolicy.head(k).assign(source="onpolicy"), offpolicy.iloc[k:].assign(source="offpolicy")],
                     ignore_index=True)


def _gold_scored_pairs(s, gold_norm: str, prompts: pd.DataFrame, temperature: float = 1.0):
    """Two samples of ``s.policy`` per row of ``prompts`` and gold's normalized scores of them
    (``label_pairs``' ``responses`` and ``gold``)."""
    from overopt.data.sampling import sample_responses
    from overopt.models import RewardModel, load_policy

    model, tok = load_policy(s.policy, s.trust_remote_code)
    resp = sample_responses(model, tok, prompts["prompt"].tolist(), 2, s.response_len, s.sample_batch_size, s.seed,
                            progress="pair samples", temperature=temperature)
    gold = RewardModel.load(s.gold, gold_norm, s.trust_remote_code, s.score_batch_size)
    g = gold.scores(prompts["prompt"].to_numpy()[resp["prompt_idx"]].tolist(), resp["response"].tolist(),
                    progress="gold scores")
    return resp, g


def make_pairs(s, gold_norm: str, prompts_csv: str, out_csv: str, temperature: float = 1.0,
               n_train: int | None = None) -> None:
    """Sample two responses per RM-training prompt, score with gold, label, save
    (``settings.Labels``): pi_init's (on-policy) on the first ``s.n_train`` prompts, or, for
    Razin's off-policy source, pi_init at ``temperature`` on the first ``n_train``; the
    held-out pairs on the same ``s.heldout`` prompts after the first ``s.n_train`` either way."""
    from overopt.data.splits import eval_prompts

    n = s.n_train if n_train is None else n_train
    rm_train = eval_prompts(prompts_csv, "rm_train")
    prompts = pd.concat([rm_train.head(n), rm_train.iloc[s.n_train:s.n_train + s.heldout]], ignore_index=True)
    resp, g = _gold_scored_pairs(s, gold_norm, prompts, temperature)
    label_pairs(prompts, resp, g, s.mode, s.flip_rate, n, s.seed + 1).to_csv(out_csv, index=False)


def ood_pairs(s, gold_norm: str, prompts_csv: str, out_csv: str) -> None:
    """Held-out pairs on the OOD prompts (the held-out topic) for Mao's shift (``settings.OODPairs``):
    ``s.pairs_per_prompt`` pairs of fresh pi_init samples per OOD prompt (no response in two
    pairs), scored by gold and labeled hard, no flips (the higher gold is chosen). Sampled here,
    not taken from the RM evaluation's OOD pool, so no ``rm_eval`` key retrains the shift proxies."""
    from overopt.data.splits import eval_prompts

    ood = eval_prompts(prompts_csv, "ood")
    prompts = ood.iloc[np.repeat(np.arange(len(ood)), s.pairs_per_prompt)].reset_index(drop=True)
    resp, g = _gold_scored_pairs(s, gold_norm, prompts)
    label_pairs(prompts, resp, g, "hard", 0.0, 0, s.seed).to_csv(out_csv, index=False)
