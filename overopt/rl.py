"""RL against a reward model with TRL (RLOO; Gao's objective: the KL penalty in the reward),
evaluated along the run on held-out prompts with fresh samples: sequence KL to pi_init (k1
and k3), gold and proxy score, response length (STUDY.md 3.2).

The reward is the target RM's normalized score of exactly what it was trained on: TRL
decodes completions without EOS, and :class:`overopt.models.RewardModel` appends the RM's
EOS string before scoring, as ``RewardTrainer`` did in training.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from overopt import runtime
from overopt.kl import kl_estimates, token_log_ratios
from overopt.models import RewardModel, load_policy
from overopt.pool import eval_prompts

ALGORITHMS = ("rloo",)


def response_logprobs(model, sequences, prompt_len: int, response_mask):
    """Per-token log-probs [n, T] of the response tokens of ``sequences`` under ``model``."""
    import torch

    with torch.inference_mode():
        attn = torch.ones_like(sequences)
        attn[:, prompt_len:] = response_mask
        logits = model(input_ids=sequences, attention_mask=attn).logits[:, prompt_len - 1:-1].float()
        logp = torch.log_softmax(logits, -1).gather(-1, sequences[:, prompt_len:, None])[..., 0]
    return logp.cpu().numpy()


class Evaluator:
    """Fresh samples of the current policy on the eval prompts, scored and compared with pi_init."""

    def __init__(self, ref, tok, prompts: list[str], samples: int, max_new_tokens: int, gold: RewardModel,
                 proxy: RewardModel, seed: int):
        self.ref, self.tok, self.gold, self.proxy = ref, tok, gold, proxy
        self.prompts = [p for p in prompts for _ in range(samples)]
        self.max_new_tokens, self.seed = max_new_tokens, seed

    def __call__(self, model, step: int) -> dict:
        import torch

        was_training = model.training
        model.eval()
        self.tok.padding_side = "left"
        enc = self.tok(self.prompts, return_tensors="pt", padding=True).to(model.device)
        torch.manual_seed(self.seed + step)
        with torch.inference_mode():
            seqs = model.generate(**enc, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                                  max_new_tokens=self.max_new_tokens, pad_token_id=self.tok.pad_token_id,
                                  eos_token_id=self.tok.eos_token_id)
        plen = enc["input_ids"].shape[1]
        resp = seqs[:, plen:]
        # response tokens up to and including the first EOS
        ended = (resp == self.tok.eos_token_id).int().cumsum(1)
        mask = ((ended == 0) | ((ended == 1) & (resp == self.tok.eos_token_id))).int()
        if (enc["attention_mask"] == 0).any():
            raise ValueError("evaluation prompts must tokenize to one length (left padding shifts positions)")
        lp, lr = response_logprobs(model, seqs, plen, mask), response_logprobs(self.ref, seqs, plen, mask)
        kl = kl_estimates(token_log_ratios(lp, lr, mask.cpu().numpy()))
        texts = self.tok.batch_decode(resp, skip_special_tokens=True)
        g, p = self.gold.scores(self.prompts, texts), self.proxy.scores(self.prompts, texts)
        lengths = (mask.sum(1) - (resp == self.tok.eos_token_id).any(1).int()).cpu().numpy()
        if was_training:
            model.train()
        n = len(texts)
        return {"step": step, "kl": kl["k1"], "kl_k3": kl["k3"], "kl_se": kl["k1_se"],
                "d": float(np.sqrt(max(kl["k1"], 0.0))), "gold": float(g.mean()), "proxy": float(p.mean()),
                "gold_se": float(g.std(ddof=1) / np.sqrt(n)), "proxy_se": float(p.std(ddof=1) / np.sqrt(n)),
                "length": float(lengths.mean()), "eval_samples": n}


def resumed_rows(checkpoint_dir: str | None) -> list[dict]:
    """Evaluation rows a killed run made up to its last checkpoint (none on a fresh start)."""
    from transformers.trainer_utils import get_last_checkpoint

    if not checkpoint_dir or not Path(checkpoint_dir).is_dir():
        return []
    last, saved = get_last_checkpoint(checkpoint_dir), Path(checkpoint_dir) / "eval_rows.json"
    if not last or not saved.exists():
        return []
    step = int(Path(last).name.split("-")[-1])
    return [r for r in json.loads(saved.read_text()) if r["step"] <= step]


def eval_callback(evaluate, every: int, rows: list, checkpoint_dir: str | None):
    """Evaluates at step 0 and every ``every`` steps. With a checkpoint folder the rows are
    saved there too, so a resumed run keeps the evaluations made before its last checkpoint."""
    from transformers import TrainerCallback

    saved = Path(checkpoint_dir) / "eval_rows.json" if checkpoint_dir else None

    class _Eval(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kw):
            if not rows:
                rows.append(evaluate(model, 0))

        def on_step_end(self, args, state, control, model=None, **kw):
            if state.global_step % every == 0 or state.global_step == state.max_steps:
                rows.append(evaluate(model, state.global_step))
                r = rows[-1]
                runtime.log.info("eval step %d: kl %.3f gold %.3f proxy %.3f length %.1f", r["step"], r["kl"],
                                 r["gold"], r["proxy"], r["length"])
                if saved:
                    saved.parent.mkdir(parents=True, exist_ok=True)
                    saved.write_text(json.dumps(rows))

    return _Eval()


def train_rl(policy: str, target: str, target_norm: str, gold: str, gold_norm: str, prompts_csv: str,
             algorithm: str, kl_coef: float, seed: int, hp: dict, max_new_tokens: int, score_batch: int,
             trust_remote_code: bool = False, checkpoint_dir: str | None = None, save_steps: int = 0) -> pd.DataFrame:
    """One RL run against ``target``; returns the evaluation rows (one per checkpoint). With
    ``checkpoint_dir`` and ``save_steps`` a killed run resumes where it was."""
    from datasets import Dataset
    from trl import RLOOConfig, RLOOTrainer

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    runtime.seed_all(seed)
    proxy = RewardModel.load(target, target_norm, trust_remote_code, score_batch)
    gold_rm = proxy if target == gold else RewardModel.load(gold, gold_norm, trust_remote_code, score_batch)
    ref, tok = load_policy(policy, trust_remote_code)
    train_prompts = eval_prompts(prompts_csv, "policy_train")["prompt"].tolist()
    evaluate = Evaluator(ref, tok, eval_prompts(prompts_csv, "eval")["prompt"].tolist()[:hp["eval_prompts"]],
                         hp["eval_samples"], max_new_tokens, gold_rm, proxy, seed)

    def reward(prompts, completions, **_):
        return proxy.scores(list(prompts), list(completions)).tolist()

    reward.__name__ = "proxy"
    ckpt = checkpoint_dir if checkpoint_dir and save_steps else None
    rows = resumed_rows(ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(
            RLOOConfig, ckpt or tmp, seed, hp, save_steps if ckpt else 0, beta=kl_coef, max_steps=hp["steps"],
            num_generations=hp["num_generations"],
            max_completion_length=max_new_tokens, temperature=1.0, top_k=0, top_p=1.0, disable_dropout=True,
            model_init_kwargs={"dtype": "bfloat16" if runtime.use_bf16() else "float32"})
        trainer = RLOOTrainer(model=policy, reward_funcs=[reward], args=args,
                              train_dataset=Dataset.from_dict({"prompt": train_prompts}), processing_class=tok,
                              callbacks=[runtime.progress_callback(),
                                         eval_callback(evaluate, hp["eval_every"], rows, ckpt)])
        runtime.train_resumable(trainer, ckpt)
    return pd.DataFrame(rows)
