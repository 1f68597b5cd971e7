"""Proxy reward models: Bradley-Terry training with TRL's ``RewardTrainer`` on the first
``data_size`` gold-labeled training pairs, then held-out metrics through the same scoring
path every later stage uses."""
from __future__ import annotations

import tempfile

import numpy as np
import pandas as pd

from overopt import runtime
from overopt.models import RewardModel, count_params, load_tokenizer, match_vocab
from overopt.world import gpt2_config


def init_proxy(size: dict, tokenizer_dir: str, n_positions: int, trust_remote_code: bool = False):
    """A fresh proxy RM: a GPT-2 of the given ``arch`` on the world tokenizer, or a pretrained
    ``name_or_path`` with a new scalar head."""
    from transformers import AutoModelForSequenceClassification, GPT2ForSequenceClassification

    if size.get("name_or_path"):
        path = size["name_or_path"]
        tok = load_tokenizer(path, trust_remote_code)
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=1, use_safetensors=True, trust_remote_code=trust_remote_code)
        return match_vocab(model, tok), tok
    tok = load_tokenizer(tokenizer_dir)
    return GPT2ForSequenceClassification(gpt2_config(len(tok), n_positions, size["arch"], tok, num_labels=1)), tok


def heldout_metrics(rm: RewardModel, heldout: pd.DataFrame) -> dict:
    """Loss and accuracy on held-out pairs, against the (noisy) labels and the gold preference."""
    rc = rm.raw_scores(heldout["prompt"].tolist(), heldout["chosen"].tolist())
    rr = rm.raw_scores(heldout["prompt"].tolist(), heldout["rejected"].tolist())
    margin = rc - rr
    gold_gap = heldout["gold_chosen"].to_numpy() - heldout["gold_rejected"].to_numpy()
    untied = gold_gap != 0
    return {
        "val_loss": float(np.mean(np.logaddexp(0.0, -margin))),
        "val_accuracy": float(np.mean((margin > 0) + 0.5 * (margin == 0))),
        "gold_accuracy": float(np.mean((np.sign(margin) == np.sign(gold_gap))[untied]
                                       + 0.5 * (margin == 0)[untied])),
        "n_heldout": int(len(heldout)),
    }


def train_proxy(pairs_csv: str, tokenizer_dir: str, size: dict, data_size: int, seed: int, hp: dict,
                n_positions: int, out_dir: str, checkpoint_dir: str | None = None, save_steps: int = 0) -> dict:
    """Train one proxy; with ``checkpoint_dir`` and ``save_steps`` a killed run resumes."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    pairs = pd.read_csv(pairs_csv, keep_default_na=False)
    train = pairs[pairs["split"] == "train"].head(data_size)
    if len(train) < data_size:
        raise ValueError(f"{pairs_csv}: {len(train)} training pairs, data size {data_size} asked")
    runtime.seed_all(seed)
    model, tok = init_proxy(size, tokenizer_dir, n_positions)
    data = Dataset.from_pandas(train[["prompt", "chosen", "rejected"]], preserve_index=False)
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(RewardConfig, checkpoint_dir or tmp, seed, hp, save_steps if checkpoint_dir else 0,
                                    max_length=None, center_rewards_coefficient=None)
        trainer = RewardTrainer(model=model, args=args, train_dataset=data, processing_class=tok,
                                callbacks=[runtime.progress_callback()])
        result = runtime.train_resumable(trainer, checkpoint_dir)
    model.eval()
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    metrics = heldout_metrics(RewardModel(model, tok), pairs[pairs["split"] == "heldout"])
    return {"params": count_params(model), "train_loss": float(result.training_loss),
            "steps": int(result.global_step), **metrics}
