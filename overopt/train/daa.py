"""Direct alignment (DAA; Rafailov et al. 2024, docs/science.md 4.9): DPO, IPO and SLiC/hinge with
TRL's ``DPOTrainer`` on the gold-labeled pairs, evaluated at checkpoints inside the first
epoch and at every epoch end.

A DAA has no reward model in the loop: it fits the policy's *implicit* reward
``beta * (log pi(y|x) - log pi_ref(y|x))`` to the preference labels. Over-optimization shows
up the same way as in RL, so each checkpoint is measured exactly as the RL arm measures its
own (:class:`overopt.train.evaluate.Evaluator`: fresh temperature-1 samples on the held-out eval prompts,
sequence KL to pi_init as k1 and k3, normalized gold and proxy score, length). The proxy is an
RM trained on the same pairs, so proxy vs gold is comparable with RL against that proxy. Each
row also carries the implicit-reward accuracy on held-out labeled pairs, which the paper finds
does not predict the gold gain.

pi_ref is pi_init itself (one loaded copy serves as DPO's reference and as the KL reference of
the evaluation), given to ``DPOTrainer`` explicitly rather than rebuilt from
``config._name_or_path``: the tokenizer may have gained a pad token (resized embeddings) that
a fresh load from disk would lack.

Losses, with h = log pi/pi_ref (y_w) - log pi/pi_ref (y_l), log-probs summed over the response
tokens and the appended EOS: ``dpo`` -log sigmoid(beta h); ``ipo`` (h' - 1/(2 beta))^2 where TRL
divides each log ratio by its response's token count (TRL's convention, which buys a far larger
KL budget per beta); ``ipo_sum`` (h - 1/(2 beta))^2 on the summed log ratios, the IPO paper's
form (Azar et al. 2023), which TRL does not offer (:func:`summed_ipo_trainer`); ``hinge``
max(0, 1 - beta h) (SLiC).
"""
from __future__ import annotations

import math
import tempfile

import numpy as np
import pandas as pd

from overopt import runtime
from overopt.data.splits import eval_prompts, heldout_pairs, read_pairs, training_pairs
from overopt.metrics.accuracy import pairwise_accuracy
from overopt.models import RewardModel, load_policy
from overopt.scoring import fast_gelu
from overopt.train.evaluate import (
    SAMPLES,
    Evaluator,
    eval_callback,
    resumed_rows,
    split_samples,
    token_logprobs,
)

LOSSES = {"dpo": "sigmoid", "ipo": "ipo", "ipo_sum": "ipo", "hinge": "hinge"}  # ours -> TRL's loss_type


def summed_ipo_trainer():
    """``DPOTrainer`` with the IPO paper's loss (h - 1/(2 beta))^2 on the *summed* log ratios h.

    Why a subclass: TRL 1.12's ``ipo`` divides each log ratio by its completion length inside
    ``_compute_loss`` and has no switch for the paper's form; the loss here reads the same batch
    (TRL's collator: chosen then rejected, ``completion_mask``) and the same log-probs."""
    import torch
    from trl import DPOTrainer

    from overopt.train.evaluate import token_logprobs

    class SummedIPOTrainer(DPOTrainer):
        def _compute_loss(self, model, inputs, return_outputs):
            ids, attn, comp = inputs["input_ids"], inputs["attention_mask"], inputs["completion_mask"][:, 1:]
            logps = (token_logprobs(model, ids, attn) * comp).sum(1)
            with torch.no_grad():
                ref = (token_logprobs(self.ref_model, ids, attn) * comp).sum(1)
            chosen, rejected = (logps - ref).chunk(2, dim=0)
            loss = ((chosen - rejected - 1 / (2 * self.beta)) ** 2).mean()
            return (loss, None) if return_outputs else loss

    return SummedIPOTrainer


COLUMNS = ["step", "epoch", "kl", "kl_k3", "kl_se", "d", "gold", "proxy", "gold_se", "proxy_se", "length",
           "eval_samples", "policy_params", "implicit_acc"]


def steps_per_epoch(n_pairs: int, batch_size: int) -> int:
    """Optimizer steps in one epoch: one process, no gradient accumulation, last batch kept
    (the ``Trainer`` defaults that :func:`overopt.runtime.trainer_args` leaves alone)."""
    return max(1, math.ceil(n_pairs / batch_size))


def eval_steps(steps_in_epoch: int, epochs: int, fractions: list[float]) -> list[int]:
    """Step 0, each fraction of the first epoch rounded half up to a step >= 1, and the end of
    every epoch (the first one included, so the trained policy is always measured)."""
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"num_train_epochs must be an integer >= 1, got {epochs!r}")
    if any(not 0 < f <= 1 for f in fractions):
        raise ValueError(f"fractions must lie in (0, 1], got {fractions!r}")
    inside = {max(1, math.floor(f * steps_in_epoch + 0.5)) for f in fractions}
    ends = {steps_in_epoch * e for e in range(1, int(epochs) + 1)}
    return sorted({0} | inside | ends)


def tokenize_pairs(tok, prompts: list[str], responses: list[str]) -> tuple[list[list[int]], list[list[int]]]:
    """(prompt ids, completion ids) exactly as ``DPOTrainer`` builds them for plain-text pairs:
    the EOS string is appended to the response, prompt + response is tokenized as one string,
    and the completion is what follows the first len(prompt ids) tokens of it. A BPE tokenizer
    may merge across the boundary (prompt + response does not start with the prompt's ids);
    TRL 1.12 then warns and cuts at the same length, and so does this, counting the cases."""
    eos = tok.eos_token or ""
    p_ids, c_ids, merged = [], [], 0
    for p, r in zip(prompts, responses):
        prompt = tok(text=p)["input_ids"]
        full = tok(text=p + (r if r.endswith(eos) else r + eos))["input_ids"]
        merged += full[:len(prompt)] != prompt
        p_ids.append(prompt)
        c_ids.append(full[len(prompt):])
    if merged:
        runtime.log.warning("%d of %d pairs: the tokenizer merges prompt and response across their boundary; "
                            "cut at the prompt's token count, as TRL's DPOTrainer does", merged, len(prompts))
    return p_ids, c_ids


def completion_logps(model, prompt_ids: list[list[int]], completion_ids: list[list[int]], pad_id: int,
                     batch_size: int = 256) -> np.ndarray:
    """Summed log-prob of each completion given its prompt (right padding, as TRL's collator)."""
    import torch

    out = np.empty(len(prompt_ids), dtype=np.float64)
    with torch.inference_mode(), fast_gelu(model):
        for i in range(0, len(prompt_ids), batch_size):
            seqs = [p + c for p, c in zip(prompt_ids[i:i + batch_size], completion_ids[i:i + batch_size])]
            width = max(map(len, seqs))
            ids = torch.full((len(seqs), width), pad_id, dtype=torch.long)
            attn = torch.zeros_like(ids)
            comp = torch.zeros_like(ids)
            for j, (s, p) in enumerate(zip(seqs, prompt_ids[i:i + batch_size])):
                ids[j, :len(s)], attn[j, :len(s)], comp[j, len(p):len(s)] = torch.tensor(s), 1, 1
            ids, attn, comp = (t.to(model.device) for t in (ids, attn, comp))
            out[i:i + len(seqs)] = (token_logprobs(model, ids, attn) * comp[:, 1:]).sum(1).cpu().numpy()
    return out


class ImplicitAccuracy:
    """Accuracy of the implicit reward on held-out labeled pairs. pi_ref's log-probs are fixed,
    so they are computed once; each call scores the current policy only."""

    def __init__(self, ref, tok, heldout: pd.DataFrame, beta: float, batch_size: int):
        self.beta, self.batch_size, self.pad = beta, batch_size, tok.pad_token_id
        prompts = heldout["prompt"].tolist()
        self.chosen = tokenize_pairs(tok, prompts, heldout["chosen"].tolist())
        self.rejected = tokenize_pairs(tok, prompts, heldout["rejected"].tolist())
        self.ref_margin = self._margin(ref) if len(heldout) else None

    def _margin(self, model) -> np.ndarray:
        return (completion_logps(model, *self.chosen, self.pad, self.batch_size)
                - completion_logps(model, *self.rejected, self.pad, self.batch_size))

    def __call__(self, model) -> float:
        if self.ref_margin is None:
            return float("nan")
        margin = self.beta * (self._margin(model) - self.ref_margin)
        return pairwise_accuracy(margin, np.ones_like(margin))  # a tie counts 1/2: pi == pi_ref gives 0.5


def train_daa(s, pairs_csv: str, gold_norm: str, proxy_norm: str, prompts_csv: str,
              checkpoint_dir: str | None = None, save_steps: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One DAA run (``settings.DAA``) from ``s.policy`` (pi_init, also pi_ref) on the first
    ``s.data_size`` labeled training pairs; returns one row per evaluation point (columns
    :data:`COLUMNS`) and the evaluation samples. With ``checkpoint_dir`` and ``save_steps`` a killed run resumes where it was,
    exactly (``Trainer``'s sampler orders each epoch by seed and epoch, and the checkpoint holds
    the RNG states), from a checkpoint of the same settings and inputs only
    (:func:`overopt.runtime.checkpoint_folder`)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    if s.loss not in LOSSES:
        raise ValueError(f"loss must be one of {sorted(LOSSES)}, got {s.loss!r}")
    if not s.beta > 0:
        raise ValueError(f"beta must be > 0, got {s.beta!r}")
    ev, hp = s.evaluation, s.train
    pairs = read_pairs(pairs_csv)
    train = training_pairs(pairs, s.data_size, pairs_csv)
    spe = steps_per_epoch(len(train), hp["per_device_train_batch_size"])
    steps = eval_steps(spe, hp["num_train_epochs"], s.fractions)
    runtime.seed_all(s.seed)
    proxy_rm = RewardModel.load(s.proxy, proxy_norm, s.trust_remote_code, ev["score_batch_size"])
    gold_rm = proxy_rm if s.proxy == s.gold else RewardModel.load(s.gold, gold_norm, s.trust_remote_code,
                                                                  ev["score_batch_size"])
    ref, tok = load_policy(s.policy, s.trust_remote_code)
    model, _ = load_policy(s.policy, s.trust_remote_code)
    implicit = ImplicitAccuracy(ref, tok, heldout_pairs(pairs, s.heldout_pairs), s.beta, ev["score_batch_size"])
    sampler = Evaluator(ref, tok, eval_prompts(prompts_csv, "eval")["prompt"].tolist()[:ev["eval_prompts"]],
                        ev["eval_samples"], ev["response_len"], gold_rm, proxy_rm, s.seed)

    def evaluate(m, step: int) -> dict:
        row = sampler(m, step)
        was_training = m.training
        m.eval()
        row.update(epoch=step / spe, implicit_acc=implicit(m))
        if was_training:
            m.train()
        return {k: row[k] for k in (*COLUMNS, SAMPLES)}

    def check_plan(state):
        if state.max_steps != max(steps):
            raise RuntimeError(f"trainer plans {state.max_steps} steps, the schedule {max(steps)} "
                               f"({spe} per epoch): multi-process or gradient accumulation?")

    inputs = (pairs_csv, gold_norm, proxy_norm, prompts_csv, s.policy, s.proxy, s.gold)
    ckpt = runtime.checkpoint_folder(checkpoint_dir, save_steps, runtime.fingerprint(s, *inputs))
    rows = resumed_rows(ckpt)
    data = Dataset.from_pandas(train[["prompt", "chosen", "rejected"]], preserve_index=False)
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(
            DPOConfig, ckpt or tmp, s.seed, {**hp, "num_train_epochs": int(hp["num_train_epochs"])},
            save_steps if ckpt else 0, beta=s.beta, loss_type=[LOSSES[s.loss]], max_length=None,
            precompute_ref_log_probs=False, disable_dropout=True)
        trainer_class = summed_ipo_trainer() if s.loss == "ipo_sum" else DPOTrainer
        trainer = trainer_class(model=model, ref_model=ref, args=args, train_dataset=data, processing_class=tok,
                             callbacks=[runtime.progress_callback(),
                                        eval_callback(evaluate, lambda step, _: step in steps, rows, ckpt, check_plan)])
        runtime.train_resumable(trainer, ckpt)
    curve, samples = split_samples(rows)
    return curve[COLUMNS], samples
