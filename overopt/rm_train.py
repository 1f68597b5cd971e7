"""Proxy reward models, trained with TRL's ``RewardTrainer`` on the first ``data_size``
gold-labeled training pairs, then held-out metrics through the same scoring path every later
stage uses.

Objectives (``train_proxy(objective=...)``):

``bt``
    Plain Bradley-Terry: ``-log sigmoid(r(x, y_w) - r(x, y_l))``, TRL's ``RewardTrainer`` as is.

``pfr``
    Prompt-free prioritized training (Mao et al. 2025; STUDY.md section 3.6). Bradley-Terry
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
from overopt.models import RewardModel, count_params, load_tokenizer, match_vocab
from overopt.world import gpt2_config

OBJECTIVES = ("bt", "pfr")
PFR_DEFAULTS = {"pfr_prompts": 4, "pfr_tau": 1.0}


def init_proxy(size: dict, tokenizer_dir: str, n_positions: int, trust_remote_code: bool = False):
    """A fresh proxy RM: a GPT-2 of the given ``arch`` on the world tokenizer, or a pretrained
    ``name_or_path`` with a new scalar head."""
    from transformers import (
        AutoModelForSequenceClassification,
        GPT2ForSequenceClassification,
    )

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
        "n_heldout": len(heldout),
    }


# --- pfr: the training-time prompt-free-gap estimator and weights (torch, batched) ----------

def prompt_free_gaps(gaps, weights=None, iters: int = 60):
    """Prompt-free gap per row: the c solving ``sum_m w_m sigmoid(g_m - c) = 1/2``.

    ``gaps``: tensor (B, M), one row per pair, its gaps under M swapped prompts; ``weights``:
    (M,) or (B, M), normalized per row (uniform if None). Bisection on ``[min g, max g]``
    (the left side is decreasing in c and crosses 1/2 there), in float64, ``iters`` halvings.
    Returns a detached (B,) tensor in the gaps' dtype."""
    import torch

    g = gaps.detach().to(torch.float64)
    w = torch.ones_like(g) if weights is None else torch.as_tensor(weights, dtype=torch.float64,
                                                                   device=g.device).expand_as(g)
    w = w / w.sum(-1, keepdim=True)
    lo, hi = g.min(-1).values, g.max(-1).values
    for _ in range(iters):
        mid = (lo + hi) / 2
        above = (w * torch.sigmoid(g - mid[:, None])).sum(-1) > 0.5  # root lies right of mid
        lo, hi = torch.where(above, mid, lo), torch.where(above, hi, mid)
    return ((lo + hi) / 2).to(gaps.dtype)


def pfr_weights(c, tau: float = 1.0):
    """``B * softmax(-c / tau)`` over the batch: decreasing in c, mean 1, detached."""
    import torch

    c = c.detach()
    return c.numel() * torch.softmax(-c / tau, dim=0)


def swap_prompts(input_ids, attention_mask, prompt_len, m: int, pad_token_id: int):
    """The 2*B*M spliced sequences ``prompt_{(i+k) mod B} + response_{s,i}`` of a TRL
    preference batch (rows 0..B-1 chosen, B..2B-1 rejected, right-padded), ordered
    (side s, k, i) and right-padded: returns (input_ids, attention_mask)."""
    import torch

    dev = input_ids.device
    b = input_ids.shape[0] // 2
    width = input_ids.shape[1]
    lengths = attention_mask.sum(-1)
    i = torch.arange(b, device=dev)
    k = torch.arange(1, m + 1, device=dev)
    p_row = ((i[None, :] + k[:, None]) % b).expand(2, m, b)                      # prompt source row
    r_row = (torch.arange(2, device=dev)[:, None, None] * b + i).expand(2, m, b)  # response source row
    p_len = prompt_len[p_row]
    r_start = prompt_len[i].expand(2, m, b)
    new_len = p_len + lengths[r_row] - r_start
    t = torch.arange(int(new_len.max()), device=dev)
    in_prompt = t < p_len[..., None]
    prompt_tok = input_ids[p_row[..., None], t.clamp(max=width - 1)]
    resp_tok = input_ids[r_row[..., None], (r_start[..., None] + t - p_len[..., None]).clamp(0, width - 1)]
    mask = t < new_len[..., None]
    ids = torch.where(in_prompt, prompt_tok, resp_tok).masked_fill(~mask, pad_token_id)
    return ids.reshape(2 * m * b, -1), mask.reshape(2 * m * b, -1).to(attention_mask.dtype)


class _WithPromptLen:
    """Wraps TRL's preference collator: also passes each pair's ``prompt_len``."""

    def __init__(self, base):
        self.base = base

    def __call__(self, examples):
        import torch

        out = self.base(examples)
        out["prompt_len"] = torch.tensor([e["prompt_len"] for e in examples], dtype=torch.long)
        return out


def _common_prefix(*seqs) -> int:
    n = 0
    for toks in zip(*seqs, strict=False):
        if any(t != toks[0] for t in toks[1:]):
            break
        n += 1
    return n


@functools.cache
def pfr_trainer_class():
    """``RewardTrainer`` with the ``pfr`` loss (see the module docstring); built on first use
    so that importing this module does not import TRL."""
    import torch
    from trl import RewardTrainer

    class PromptFreeRewardTrainer(RewardTrainer):
        def __init__(self, *args, pfr_prompts: int = PFR_DEFAULTS["pfr_prompts"],
                     pfr_tau: float = PFR_DEFAULTS["pfr_tau"], **kwargs):
            if int(pfr_prompts) < 1 or not float(pfr_tau) > 0:
                raise ValueError(f"pfr needs pfr_prompts >= 1 and pfr_tau > 0, got {pfr_prompts}, {pfr_tau}")
            self.pfr_prompts, self.pfr_tau = int(pfr_prompts), float(pfr_tau)
            super().__init__(*args, **kwargs)
            self.data_collator = _WithPromptLen(self.data_collator)

        def _prepare_dataset(self, dataset, processing_class, args, dataset_name):
            dataset = super()._prepare_dataset(dataset, processing_class, args, dataset_name)
            if "prompt" not in dataset.column_names:
                raise ValueError("objective pfr needs an explicit 'prompt' column")

            def prompt_len(ex):
                prompt = processing_class(text=ex["prompt"])["input_ids"]
                return {"prompt_len": _common_prefix(prompt, ex["chosen_ids"], ex["rejected_ids"])}

            return dataset.map(prompt_len)

        def _set_signature_columns_if_needed(self):
            if self._signature_columns is None:
                self._signature_columns = ["chosen_ids", "rejected_ids", "margin", "prompt_len"]

        def prompt_free_weights(self, model, inputs, prompt_len):
            """(c, w) for a collated batch: prompt-free gaps and detached pfr weights (B,)."""
            b = prompt_len.shape[0]
            m = min(self.pfr_prompts, b - 1)
            if m < 1:  # one pair: no other prompt to swap in
                return torch.zeros(b, device=prompt_len.device), torch.ones(b, device=prompt_len.device)
            with torch.no_grad():
                ids, mask = swap_prompts(inputs["input_ids"], inputs["attention_mask"], prompt_len, m,
                                         self.processing_class.pad_token_id)
                s = model(input_ids=ids, attention_mask=mask, use_cache=False).logits.squeeze(-1).float()
                s = s.view(2, m, b)
                c = prompt_free_gaps((s[0] - s[1]).T)
            return c, pfr_weights(c, self.pfr_tau)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            prompt_len = inputs.pop("prompt_len")
            c, weights = self.prompt_free_weights(model, inputs, prompt_len)
            # the parent's forward pass and metrics; only the loss is reweighted
            _, outputs = super().compute_loss(model, inputs, return_outputs=True, num_items_in_batch=num_items_in_batch)
            chosen, rejected = torch.chunk(outputs.logits.squeeze(-1), chunks=2)
            margin = chosen - rejected - inputs["margin"] if "margin" in inputs else chosen - rejected
            loss = -(weights.to(margin.dtype) * torch.nn.functional.logsigmoid(margin)).mean()
            if self.args.center_rewards_coefficient is not None:
                loss = loss + self.args.center_rewards_coefficient * torch.mean((chosen + rejected) ** 2)
            mode = "train" if self.model.training else "eval"
            self._metrics[mode]["prompt_free_gap"].append(c.float().mean().item())
            self._metrics[mode]["pfr_weight_max"].append(weights.max().item())
            return (loss, outputs) if return_outputs else loss

    return PromptFreeRewardTrainer


def train_proxy(pairs_csv: str, tokenizer_dir: str, size: dict, data_size: int, seed: int, hp: dict,
                n_positions: int, out_dir: str, checkpoint_dir: str | None = None, save_steps: int = 0,
                objective: str = "bt") -> dict:
    """Train one proxy with ``objective`` (``bt`` or ``pfr``, see the module docstring; ``pfr``
    reads ``pfr_prompts`` and ``pfr_tau`` from ``hp``); with ``checkpoint_dir`` and
    ``save_steps`` a killed run resumes."""
    if objective not in OBJECTIVES:
        raise ValueError(f"unknown proxy objective {objective!r}; expected one of {', '.join(OBJECTIVES)}")
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    pairs = pd.read_csv(pairs_csv, keep_default_na=False)
    train = pairs[pairs["split"] == "train"].head(data_size)
    if len(train) < data_size:
        raise ValueError(f"{pairs_csv}: {len(train)} training pairs, data size {data_size} asked")
    runtime.seed_all(seed)
    model, tok = init_proxy(size, tokenizer_dir, n_positions)
    data = Dataset.from_pandas(train[["prompt", "chosen", "rejected"]], preserve_index=False)
    if objective == "pfr":
        trainer_cls = functools.partial(pfr_trainer_class(), **{k: hp.get(k, v) for k, v in PFR_DEFAULTS.items()})
    else:
        trainer_cls = RewardTrainer
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(RewardConfig, checkpoint_dir or tmp, seed, hp, save_steps if checkpoint_dir else 0,
                                    max_length=None, center_rewards_coefficient=None)
        trainer = trainer_cls(model=model, args=args, train_dataset=data, processing_class=tok,
                              callbacks=[runtime.progress_callback()])
        result = runtime.train_resumable(trainer, checkpoint_dir)
    model.eval()
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    metrics = heldout_metrics(RewardModel(model, tok), pairs[pairs["split"] == "heldout"])
    return {"params": count_params(model), "train_loss": float(result.training_loss),
            "steps": int(result.global_step), **metrics}
