"""Proxy reward models, trained with TRL's ``RewardTrainer`` on the first ``data_size``
gold-labeled training pairs, then held-out metrics through the same scoring path every later
stage uses.

Objectives (``train_proxy(objective=...)``):

``bt``
    Plain Bradley-Terry: ``-log sigmoid(r(x, y_w) - r(x, y_l))``, TRL's ``RewardTrainer`` as is.

``pfr``
    Prompt-free prioritized training (Mao et al. 2025; docs/science.md 4.8). Bradley-Terry
    with one stop-gradient weight per pair, recomputed at every step from the current RM:

    1. *Swapped-prompt gaps.* For pair i of a batch of B pairs, the same two responses are
       scored under the prompts of the next M pairs of the batch (cyclically: prompts of pairs
       (i + k) mod B, k = 1..M; ``M = min(hp["pfr_prompts"], B - 1)``, default 4):
       ``g_ik = r(x_{i+k}, y_w,i) - r(x_{i+k}, y_l,i)``. Prompt and response are spliced at the
       token level (the response part of ``prompt_i + response + EOS`` is moved behind the
       tokens of ``prompt_{i+k}``), all 2*B*M sequences in one batched no-grad forward pass.
       The batches are reshuffled every epoch, so the swapped prompts change as training goes.
    2. *Prompt-free gap.* ``c_i`` solves ``(1/M) sum_k sigmoid(g_ik - c) = 1/2`` (uniform
       weights over the swapped prompts), by bisection on ``[min_k g_ik, max_k g_ik]`` (the
       root always lies there), vectorized over the batch (:func:`prompt_free_gaps`). M = 1
       gives ``c = g``; gaps symmetric about a centre give the centre.
    3. *Weights.* ``w_i = B * softmax_i(-c_i / tau)`` over the batch (``tau = hp["pfr_tau"]``,
       default 1): decreasing in c, mean 1 over the batch, detached (:func:`pfr_weights`).
       A pair the RM already separates without looking at the prompt (large c) counts less;
       pairs whose label goes against the prompt-free preference count more.
    4. *Loss.* ``mean_i w_i * -log sigmoid(r(x_i, y_w,i) - r(x_i, y_l,i))`` on the true prompts.
       A batch of one pair gets w = 1 (no other prompt to swap in).

    Cost: the weights take one extra forward pass (no backward) over 2*B*M sequences per step,
    against a forward + backward over 2*B for ``bt``.

    Implemented as a ``RewardTrainer`` subclass (:func:`pfr_trainer_class`): it overrides only
    ``compute_loss`` (the parent's forward pass and logged metrics are reused; only the loss is
    reweighted), adds a ``prompt_len`` column (the token length of the prompt shared by the
    chosen and rejected sequences) in ``_prepare_dataset``, keeps that column in
    ``_set_signature_columns_if_needed``, and lets the collator pass it through. It logs the
    batch mean of c (``prompt_free_gap``) and the largest weight (``pfr_weight_max``).

    Notes. ``prompt_len`` is the common token prefix of ``tokenize(prompt)``, the chosen and the
    rejected sequence: exact for the world's word-level tokenizer (prompts end with a space);
    for a BPE tokenizer a boundary token merged across prompt and response stays with the
    response. Two pairs of a batch that share a prompt swap in the true prompt. tau is in the
    RM's raw score units, so the same tau is sharper for an RM with larger gaps. The estimator
    is a torch, batched copy of the evaluation-time prompt-free gap (``rm_eval``).
"""
from __future__ import annotations

import functools
import tempfile

import numpy as np
import pandas as pd

from overopt import runtime
from overopt.data.labels import flip_again, mix_pairs, plant_cue
from overopt.data.splits import heldout_pairs, read_pairs, training_pairs
from overopt.metrics.accuracy import pairwise_accuracy
from overopt.models import (
    RewardModel,
    count_params,
    gpt2_config,
    load_tokenizer,
    match_vocab,
)
from overopt.targets import PROXY
from overopt.train.pfr import pfr_trainer_class

OBJECTIVES = ("bt", "pfr")


def init_proxy(size: dict, tokenizer_dir: str, n_positions: int, trust_remote_code: bool = False):
    """A fresh proxy RM: a GPT-2 of the given ``arch`` on the world tokenizer, or a pretrained
    ``name_or_path`` with a new scalar head."""
    import torch
    from transformers import (
        AutoModelForSequenceClassification,
        GPT2ForSequenceClassification,
    )

    if size.get("name_or_path"):
        path = size["name_or_path"]
        tok = load_tokenizer(path, trust_remote_code)
        # fp32 master weights whatever the checkpoint stores (a hub Pythia is fp16, which "auto" would
        # train in); the Trainer's bf16 autocast does the rest where the job's dtype is bf16
        model = AutoModelForSequenceClassification.from_pretrained(
            path, num_labels=1, use_safetensors=True, trust_remote_code=trust_remote_code, dtype=torch.float32)
        return match_vocab(model, tok), tok
    tok = load_tokenizer(tokenizer_dir, trust_remote_code)
    return GPT2ForSequenceClassification(gpt2_config(len(tok), n_positions, size["arch"], tok, num_labels=1)), tok


def heldout_metrics(rm: RewardModel, heldout: pd.DataFrame) -> dict:
    """Loss and accuracy on held-out pairs, against the (noisy) labels and the gold preference."""
    rc = rm.raw_scores(heldout["prompt"].tolist(), heldout["chosen"].tolist())
    rr = rm.raw_scores(heldout["prompt"].tolist(), heldout["rejected"].tolist())
    margin = rc - rr
    gold_gap = heldout["gold_chosen"].to_numpy() - heldout["gold_rejected"].to_numpy()
    return {
        "val_loss": float(np.mean(np.logaddexp(0.0, -margin))),
        "val_accuracy": pairwise_accuracy(margin, np.ones_like(margin)),  # against the (noisy) labels
        "gold_accuracy": pairwise_accuracy(margin, gold_gap),
        "n_heldout": len(heldout),
    }


def shift_metrics(rm: RewardModel, heldout: pd.DataFrame, cue: str, prefix: str = "") -> dict:
    """Accuracy against gold on held-out pairs with the training cue on the rejected
    response (``shift_accuracy``: the cue now points the wrong way) and on the chosen one
    (``cue_accuracy``): a prompt-blind RM that learned the cue fails the first. With a
    ``prefix`` (other pairs than the proxy's own held-out ones), the clean accuracy too
    (``<prefix>gold_accuracy``)."""
    prompts, gold_gap = heldout["prompt"].tolist(), heldout["gold_chosen"].to_numpy() - heldout["gold_rejected"].to_numpy()
    chosen, rejected = heldout["chosen"].tolist(), heldout["rejected"].tolist()
    clean_c, clean_r = rm.raw_scores(prompts, chosen), rm.raw_scores(prompts, rejected)
    cued_c, cued_r = rm.raw_scores(prompts, [r + cue for r in chosen]), rm.raw_scores(prompts, [r + cue for r in rejected])
    out = {"shift_accuracy": pairwise_accuracy(clean_c - cued_r, gold_gap),
           "cue_accuracy": pairwise_accuracy(cued_c - clean_r, gold_gap)}
    if prefix:
        out["gold_accuracy"] = pairwise_accuracy(clean_c - clean_r, gold_gap)
    return {prefix + k: v for k, v in out.items()}


def train_proxy(s, pairs_csv: str, out_dir: str, checkpoint_dir: str | None = None, save_steps: int = 0,
                offpolicy_csv: str | None = None) -> dict:
    """Train one proxy (``settings.Proxy``) with ``s.objective`` (``bt`` or ``pfr``, see the
    module docstring; ``pfr`` reads ``s.pfr``); with ``checkpoint_dir`` and ``save_steps`` a
    killed run resumes, exactly: the same weights, and the same ``train_loss`` (the mean loss
    over every step, carried through the checkpoints, see :func:`overopt.runtime.train_resumable`),
    from a checkpoint of the same settings and inputs only. Returns the proxy's identity row
    and held-out metrics. A member of Razin's mix (``s.onpolicy`` < 1) takes the rest of its
    training pairs from ``offpolicy_csv`` (its off-policy accuracy is the teachers table's, for
    every teacher alike)."""
    if s.objective not in OBJECTIVES:
        raise ValueError(f"unknown proxy objective {s.objective!r}; expected one of {', '.join(OBJECTIVES)}")
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    pairs = read_pairs(pairs_csv)
    train = flip_again(training_pairs(pairs, s.data_size, pairs_csv), s.flip, s.seed)
    if s.cue:
        train = plant_cue(train, s.cue["text"], s.cue["rate"], s.seed)
    off = None
    if s.onpolicy < 1:
        if offpolicy_csv is None:
            raise ValueError(f"{s.id}: an on-policy share of {s.onpolicy} needs the off-policy pairs")
        off = read_pairs(offpolicy_csv)
        train = mix_pairs(train, training_pairs(off, s.data_size, offpolicy_csv), s.onpolicy)
    runtime.seed_all(s.seed)
    model, tok = init_proxy(s.size, s.tokenizer, s.n_positions, s.trust_remote_code)
    data = Dataset.from_pandas(train[["prompt", "chosen", "rejected"]], preserve_index=False)
    if s.objective == "pfr":
        trainer_cls = functools.partial(pfr_trainer_class(), pfr_prompts=s.pfr["prompts"], pfr_tau=s.pfr["tau"])
    else:
        trainer_cls = RewardTrainer
    inputs = [pairs_csv, s.tokenizer, *([offpolicy_csv] if off is not None else []),
              *([s.size["name_or_path"]] if s.size.get("name_or_path") else [])]
    ckpt = runtime.checkpoint_folder(checkpoint_dir, save_steps, runtime.fingerprint(s, *inputs))
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(RewardConfig, ckpt or tmp, s.seed, s.train, save_steps if ckpt else 0,
                                    max_length=None, center_rewards_coefficient=None)
        trainer = trainer_cls(model=model, args=args, train_dataset=data, processing_class=tok,
                              callbacks=[runtime.progress_callback()])
        result = runtime.train_resumable(trainer, ckpt)
    model.eval()
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    rm = RewardModel(model, tok)
    metrics = heldout_metrics(rm, heldout_pairs(pairs))
    if s.cue:
        metrics |= shift_metrics(rm, heldout_pairs(pairs), s.cue["text"])
    base = s.labels["flip_rate"]  # the labeling's own flips, then the member's: the share flipped against gold
    return {"rm": s.id, "kind": PROXY, "family": s.family, "rm_size": s.size["name"], "data_size": s.data_size,
            "objective": s.objective, "seed": s.seed, "onpolicy_fraction": s.onpolicy, "label_mode": s.labels["mode"],
            "flip_rate": base + s.flip - 2 * base * s.flip, "params": count_params(model),
            "train_loss": float(result.training_loss), "steps": int(result.global_step), **metrics}


def ood_shift(s, ood_csv: str) -> dict:
    """Mao's shift on new prompts for one shift proxy (``settings.ShiftScores``): its accuracy on
    the OOD prompts' pairs (:func:`overopt.data.labels.ood_pairs`) clean and with the cue on
    either side (``ood_*``). Its own job, after training, so the OOD pairs' settings retrain nothing."""
    rm = RewardModel.load(s.rm, None, s.trust_remote_code, s.score_batch_size)
    return {"rm": s.id, **shift_metrics(rm, heldout_pairs(read_pairs(ood_csv)), s.cue, prefix="ood_")}
