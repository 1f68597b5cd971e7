"""The policy evaluator shared by RL and DAA: fresh temperature-1 samples of the current policy
on held-out eval prompts, sequence KL to pi_init (k1 and k3), gold and proxy score, length;
plus the Trainer callback that evaluates along a run and keeps its rows across a resume.

Every evaluation keeps its samples (prompt index, response, per-sequence KL, scores, length):
the fits bootstrap over eval prompts from them, and any RM can score them again later.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from overopt import runtime
from overopt.metrics.kl import kl_estimates, token_log_ratios
from overopt.models import RewardModel
from overopt.scoring import fast_gelu


def token_logprobs(model, ids, attention_mask):
    """log pi(ids[:, t + 1] | ids[:, :t + 1]) at every position, [n, T - 1] in float32: the one
    log-prob routine of the KL estimates (RL, DAA) and of DAA's implicit reward. Positions
    count real tokens only (``attention_mask``), so a left-padded prompt (dataset prompts of
    different token lengths) sits where it would alone; without padding they are 0, 1, ..."""
    import torch

    positions = (attention_mask.long().cumsum(1) - 1).clamp(min=0)
    logits = model(input_ids=ids, attention_mask=attention_mask, position_ids=positions,
                   use_cache=False).logits[:, :-1].float()
    return torch.log_softmax(logits, -1).gather(-1, ids[:, 1:, None])[..., 0]


def response_logprobs(model, sequences, prompt_mask, response_mask):
    """Per-token log-probs [n, T] of the response tokens of ``sequences`` (left-padded prompts,
    ``prompt_mask`` [n, P], then responses) under ``model``."""
    import torch

    prompt_len = prompt_mask.shape[1]
    with torch.inference_mode(), fast_gelu(model):
        attn = torch.ones_like(sequences)
        attn[:, :prompt_len] = prompt_mask
        attn[:, prompt_len:] = response_mask
        logp = token_logprobs(model, sequences, attn)[:, prompt_len - 1:]
    return logp.cpu().numpy()


SAMPLES = "samples"  # the key of an evaluation row that holds its samples


def split_samples(rows: list[dict]):
    """(curve rows, sample rows) of an evaluation's rows: one row per evaluation point, and
    one per sample and point (columns ``step, prompt, sample, response, kl, gold, proxy, length``)."""
    import pandas as pd

    curve = pd.DataFrame([{k: v for k, v in r.items() if k != SAMPLES} for r in rows])
    samples = pd.concat([pd.DataFrame(r[SAMPLES]).assign(step=r["step"]) for r in rows], ignore_index=True)
    return curve, samples[["step", "prompt", "sample", "response", "kl", "gold", "proxy", "length"]]


class Evaluator:
    """Fresh samples of the current policy on the eval prompts, scored and compared with pi_init."""

    def __init__(self, ref, tok, prompts: list[str], samples: int, max_new_tokens: int, gold: RewardModel,
                 proxy: RewardModel, seed: int):
        from overopt.models import count_params

        self.ref, self.tok, self.gold, self.proxy = ref, tok, gold, proxy
        self.prompts = [p for p in prompts for _ in range(samples)]
        self.prompt_index = [i for i in range(len(prompts)) for _ in range(samples)]
        self.sample_index = [j for _ in prompts for j in range(samples)]
        self.max_new_tokens, self.seed, self.policy_params = max_new_tokens, seed, count_params(ref)

    def __call__(self, model, step: int) -> dict:
        import torch

        was_training = model.training
        model.eval()
        self.tok.padding_side = "left"
        enc = self.tok(self.prompts, return_tensors="pt", padding=True).to(model.device)
        # samples seeded per step in their own RNG scope: training never depends on the eval schedule
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode(), fast_gelu(model):
            torch.manual_seed(self.seed + step)
            seqs = model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                  max_new_tokens=self.max_new_tokens, pad_token_id=self.tok.pad_token_id,
                                  eos_token_id=self.tok.eos_token_id)
        plen = enc["input_ids"].shape[1]
        resp = seqs[:, plen:]
        # response tokens up to and including the first EOS
        ended = (resp == self.tok.eos_token_id).int().cumsum(1)
        mask = ((ended == 0) | ((ended == 1) & (resp == self.tok.eos_token_id))).int()
        pmask = enc["attention_mask"]
        lp, lr = response_logprobs(model, seqs, pmask, mask), response_logprobs(self.ref, seqs, pmask, mask)
        ratios = token_log_ratios(lp, lr, mask.cpu().numpy())
        kl = kl_estimates(ratios)
        texts = self.tok.batch_decode(resp, skip_special_tokens=True)
        g, p = self.gold.scores(self.prompts, texts), self.proxy.scores(self.prompts, texts)
        lengths = (mask.sum(1) - (resp == self.tok.eos_token_id).any(1).int()).cpu().numpy()
        if was_training:
            model.train()
        n = len(texts)
        samples = {"prompt": self.prompt_index, "sample": self.sample_index, "response": texts,
                   "kl": [float(r.sum()) for r in ratios], "gold": g.tolist(), "proxy": p.tolist(),
                   "length": lengths.tolist()}
        return {"step": step, "kl": kl["k1"], "kl_k3": kl["k3"], "kl_se": kl["k1_se"],
                "d": float(np.sqrt(max(kl["k1"], 0.0))), "gold": float(g.mean()), "proxy": float(p.mean()),
                "gold_se": float(g.std(ddof=1) / np.sqrt(n)), "proxy_se": float(p.std(ddof=1) / np.sqrt(n)),
                "length": float(lengths.mean()), "eval_samples": n, "policy_params": self.policy_params,
                SAMPLES: samples}


def resumed_rows(checkpoint_dir: str | None) -> list[dict]:
    """Evaluation rows a killed run made up to its last complete checkpoint (none on a fresh start)."""
    last = runtime.last_checkpoint(checkpoint_dir)
    saved = Path(checkpoint_dir) / "eval_rows.json" if checkpoint_dir else None
    if not last or not saved.exists():
        return []
    step = int(Path(last).name.split("-")[-1])
    return [r for r in json.loads(saved.read_text()) if r["step"] <= step]


def eval_callback(evaluate, due, rows: list, checkpoint_dir: str | None, check_plan=None):
    """Evaluates at step 0 and after every step where ``due(step, max_steps)`` holds. With a
    checkpoint folder the rows are saved there too (read back by :func:`resumed_rows`), so a
    resumed run keeps the evaluations made before its last checkpoint. ``check_plan(state)``
    may veto the trainer's step plan before anything runs."""
    from transformers import TrainerCallback

    saved = Path(checkpoint_dir) / "eval_rows.json" if checkpoint_dir else None
    shown = ("epoch", "kl", "gold", "proxy", "length", "implicit_acc")

    def record(model, step):
        rows.append(evaluate(model, step))
        runtime.log.info("eval step %d: %s", step, ", ".join(f"{k} {rows[-1][k]:.3f}" for k in shown if k in rows[-1]))
        if saved:
            saved.parent.mkdir(parents=True, exist_ok=True)
            tmp = saved.with_suffix(".tmp")  # a kill mid-write must not leave half a file
            tmp.write_text(json.dumps(rows))
            tmp.replace(saved)

    class _Eval(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):
            if check_plan:
                check_plan(state)
            if not rows:
                record(model, 0)

        def on_step_end(self, args, state, control, model=None, **kw):
            if due(state.global_step, state.max_steps):
                record(model, state.global_step)

    return _Eval()


def every(k: int):
    """Due every ``k`` steps and at the last step."""
    return lambda step, max_steps: step % k == 0 or step == max_steps
