"""RL against a reward model with TRL (RLOO, or PPO as Gao et al. used; both put the KL
penalty in the reward, k1 estimate), evaluated along the run on held-out prompts with fresh
samples: sequence KL to pi_init (k1 and k3), gold and proxy score, response length (STUDY.md 3.2).

The reward is the target RM's normalized score of exactly what it was trained on: TRL
decodes completions without EOS, and :class:`overopt.models.RewardModel` appends the RM's
EOS string before scoring, as ``RewardTrainer`` did in training. PPO scores token ids with
the RM's own backbone instead; :func:`ppo_reward` routes it through ``RewardModel`` too.
"""
from __future__ import annotations

import gc
import json
import tempfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from overopt import runtime
from overopt.kl import kl_estimates, token_log_ratios
from overopt.models import RewardModel, load_policy, match_vocab
from overopt.teachers import FlatTeacher
from overopt.pool import eval_prompts

ALGORITHMS = ("rloo", "ppo")
PPO_KEYS = ("num_ppo_epochs", "num_mini_batches")  # optional hp overrides; TRL defaults 4 and 1


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
        from overopt.models import count_params

        self.ref, self.tok, self.gold, self.proxy = ref, tok, gold, proxy
        self.prompts = [p for p in prompts for _ in range(samples)]
        self.max_new_tokens, self.seed, self.policy_params = max_new_tokens, seed, count_params(ref)

    def __call__(self, model, step: int) -> dict:
        import torch

        was_training = model.training
        model.eval()
        self.tok.padding_side = "left"
        enc = self.tok(self.prompts, return_tensors="pt", padding=True).to(model.device)
        # samples seeded per step in their own RNG scope: training never depends on the eval schedule
        devices = [torch.cuda.current_device()] if torch.cuda.is_available() else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(self.seed + step)
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
                "length": float(lengths.mean()), "eval_samples": n, "policy_params": self.policy_params}


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
            saved.write_text(json.dumps(rows))

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


def train_rl(policy: str, target: str, target_norm: str, gold: str, gold_norm: str, prompts_csv: str,
             algorithm: str, kl_coef: float, seed: int, hp: dict, max_new_tokens: int, score_batch: int,
             trust_remote_code: bool = False, checkpoint_dir: str | None = None, save_steps: int = 0,
             flat_factor: float | None = None) -> pd.DataFrame:
    """One RL run against ``target`` (made a :class:`FlatTeacher` with ``flat_factor``);
    returns the evaluation rows (one per checkpoint). With ``checkpoint_dir`` and
    ``save_steps`` a killed RLOO run resumes where it was; a PPO run starts again from
    scratch (see :func:`train_ppo`)."""
    from datasets import Dataset
    from trl import RLOOConfig, RLOOTrainer

    if algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {algorithm!r}")
    runtime.seed_all(seed)
    target_rm = RewardModel.load(target, target_norm, trust_remote_code, score_batch)
    gold_rm = target_rm if target == gold else RewardModel.load(gold, gold_norm, trust_remote_code, score_batch)
    proxy = FlatTeacher(target_rm, flat_factor) if flat_factor else target_rm
    ref, tok = load_policy(policy, trust_remote_code)
    train_prompts = eval_prompts(prompts_csv, "policy_train")["prompt"].tolist()
    evaluate = Evaluator(ref, tok, eval_prompts(prompts_csv, "eval")["prompt"].tolist()[:hp["eval_prompts"]],
                         hp["eval_samples"], max_new_tokens, gold_rm, proxy, seed)

    if algorithm == "ppo":
        return pd.DataFrame(train_ppo(policy, tok, ref, proxy, train_prompts, evaluate, kl_coef, seed, hp,
                                      max_new_tokens, trust_remote_code, checkpoint_dir))

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
                                         eval_callback(evaluate, every(hp["eval_every"]), rows, ckpt)])
        runtime.train_resumable(trainer, ckpt)
    return pd.DataFrame(rows)


def ppo_reward(rm: RewardModel, tok, prompts: list[str]):
    """The reward model handed to TRL's ``PPOTrainer``: it scores (prompt, response) text with
    ``rm.scores`` (the RM's own tokenizer, its EOS appended, normalized), as the RLOO path does.

    PPO calls ``get_reward(rm, ids, pad, context_length)`` on the *policy's* ids and reads
    the RM's backbone and score head, which is wrong for an RM with another tokenizer, its EOS
    or a normalization. :func:`ppo_reward_route` sends that call here. An adapter posing as a
    backbone cannot do it: the backbone is not given ``context_length``, so it cannot split
    prompt from response. The prompt is looked up as the original string (RLOO scores that, and
    a word-level tokenizer does not decode it back exactly); the response is the policy's ids up
    to the first pad (PPO pads after the stop token), decoded without special tokens (EOS)."""
    import torch

    class _PPOReward(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rm, self.tok = rm, tok  # not a Module: TRL's .to() and dropout changes leave it alone
            self.prompts = {tuple(ids): p for p, ids in zip(prompts, tok(prompts)["input_ids"])}

        def texts(self, query_responses, pad_token_id: int, context_length: int):
            ps, rs = [], []
            for row in query_responses.tolist():
                query = tuple(t for t in row[:context_length] if t != pad_token_id)
                if query not in self.prompts:
                    raise ValueError("PPO query is not one of the training prompts")
                resp = row[context_length:]
                ps.append(self.prompts[query])
                rs.append(resp[:resp.index(pad_token_id)] if pad_token_id in resp else resp)
            return ps, self.tok.batch_decode(rs, skip_special_tokens=True)

        def forward(self, query_responses, pad_token_id: int, context_length: int):
            ps, rs = self.texts(query_responses, pad_token_id, context_length)
            return torch.as_tensor(self.rm.scores(ps, rs), dtype=torch.float32, device=query_responses.device)

    return _PPOReward()


@contextmanager
def ppo_reward_route(adapter):
    """While active, TRL's PPO module calls ``adapter`` for the reward and TRL's ``get_reward``
    for everything else (the value model). Patched in ``ppo_trainer``'s namespace only and
    restored on exit. Fails loudly if TRL changes: the adapter has no backbone or score head."""
    from trl.experimental.ppo import ppo_trainer

    original = ppo_trainer.get_reward

    def get_reward(model, query_responses, pad_token_id, context_length):
        if model is adapter:
            return None, adapter(query_responses, pad_token_id, context_length), None
        return original(model, query_responses, pad_token_id, context_length)

    ppo_trainer.get_reward = get_reward
    try:
        yield
    finally:
        ppo_trainer.get_reward = original


def train_ppo(policy: str, tok, ref, proxy: RewardModel, train_prompts: list[str], evaluate, kl_coef: float,
              seed: int, hp: dict, max_new_tokens: int, trust_remote_code: bool = False,
              checkpoint_dir: str | None = None) -> list[dict]:
    """PPO with TRL 1.12's ``trl.experimental.ppo``; returns the evaluation rows.

    One step is one PPO update: a rollout of ``per_device_train_batch_size`` prompts, one sample
    each, then ``num_ppo_epochs`` (4) passes over ``num_mini_batches`` (1) minibatches, so
    ``hp["steps"]`` updates see as many completions as RLOO's steps, with 4 gradient steps each
    (RLOO: 1), so at one learning rate PPO moves further per step. Sampling at temperature 1
    (TRL's default is 0.7), stopping at EOS, at most ``max_new_tokens``, no missing-EOS penalty
    (as RLOO). KL: ``kl_coef`` times the k1 estimate, in the reward. Value model: a fresh
    scalar head on a copy of the policy's backbone; reference: ``ref`` (pi_init from disk). TRL's
    PPO clips no gradients (``max_grad_norm`` is ignored) and logs every update.

    Not resumable: ``PPOTrainer.train`` takes no ``resume_from_checkpoint`` and resets its state,
    so with ``checkpoint_dir`` a killed run starts again from scratch (nothing is written there)."""
    from datasets import Dataset
    from transformers import AutoModelForSequenceClassification, PrinterCallback
    from trl.experimental.ppo import PPOConfig, PPOTrainer

    if checkpoint_dir:
        runtime.log.info("PPO cannot resume from checkpoints (TRL 1.12): training from scratch")
    batch = hp["per_device_train_batch_size"]
    if len(train_prompts) < batch:  # PPO's loader drops the last partial batch and would then loop forever
        raise ValueError(f"PPO needs at least {batch} training prompts, got {len(train_prompts)}")
    model, _ = load_policy(policy, trust_remote_code)
    value = AutoModelForSequenceClassification.from_pretrained(
        policy, num_labels=1, use_safetensors=True, trust_remote_code=trust_remote_code, dtype=model.dtype)
    value = match_vocab(value, tok).to(model.device)
    tok.padding_side = "left"  # PPO appends responses to the padded queries
    adapter = ppo_reward(proxy, tok, train_prompts)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(
            PPOConfig, tmp, seed, hp, 0, kl_coef=kl_coef, kl_estimator="k1", total_episodes=hp["steps"] * batch,
            response_length=max_new_tokens, temperature=1.0, stop_token="eos", missing_eos_penalty=None,
            num_sample_generations=0, gradient_checkpointing=False, **{k: hp[k] for k in PPO_KEYS if k in hp})
        trainer = PPOTrainer(
            args=args, processing_class=tok, model=model, ref_model=ref, reward_model=adapter, value_model=value,
            train_dataset=Dataset.from_dict({"input_ids": tok(train_prompts)["input_ids"]}),
            # the callbacks get TRL's policy+value wrapper; evaluate the policy itself
            callbacks=[runtime.progress_callback(),
                       eval_callback(lambda _, step: evaluate(model, step), every(hp["eval_every"]), rows, None)])
        trainer.remove_callback(PrinterCallback)
        if args.num_total_batches != hp["steps"]:
            raise ValueError(f"PPO would run {args.num_total_batches} updates, not {hp['steps']}")
        gc.freeze()  # TRL collects garbage twice per update: 0.25 s each over the loaded libraries' objects
        try:
            with ppo_reward_route(adapter):
                trainer.train()
        finally:
            gc.unfreeze()
    return rows
