"""PPO with TRL 1.12's ``trl.experimental.ppo``, scored through the same ``RewardModel`` path as RLOO.
"""
from __future__ import annotations

import gc
import tempfile
from contextlib import contextmanager

from overopt import runtime
from overopt.models import RewardModel, load_policy, match_vocab
from overopt.train.evaluate import eval_callback, every


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


def train_ppo(s, tok, ref, proxy: RewardModel, train_prompts: list[str], evaluate,
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
    batch, steps = s.train["per_device_train_batch_size"], s.steps
    if len(train_prompts) < batch:  # PPO's loader drops the last partial batch and would then loop forever
        raise ValueError(f"PPO needs at least {batch} training prompts, got {len(train_prompts)}")
    model, _ = load_policy(s.policy, s.trust_remote_code)
    value = AutoModelForSequenceClassification.from_pretrained(
        s.policy, num_labels=1, use_safetensors=True, trust_remote_code=s.trust_remote_code, dtype=model.dtype)
    value = match_vocab(value, tok).to(model.device)
    tok.padding_side = "left"  # PPO appends responses to the padded queries
    adapter = ppo_reward(proxy, tok, train_prompts)
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(
            PPOConfig, tmp, s.seed, s.train, 0, kl_coef=s.kl_coef, kl_estimator="k1", total_episodes=steps * batch,
            response_length=s.evaluation["response_len"], temperature=1.0, stop_token="eos",
            missing_eos_penalty=None, num_sample_generations=0, gradient_checkpointing=False)
        trainer = PPOTrainer(
            args=args, processing_class=tok, model=model, ref_model=ref, reward_model=adapter, value_model=value,
            train_dataset=Dataset.from_dict({"input_ids": tok(train_prompts)["input_ids"]}),
            # the callbacks get TRL's policy+value wrapper; evaluate the policy itself
            callbacks=[runtime.progress_callback(),
                       eval_callback(lambda _, step: evaluate(model, step), every(s.eval_every), rows, None)])
        trainer.remove_callback(PrinterCallback)
        if args.num_total_batches != steps:
            raise ValueError(f"PPO would run {args.num_total_batches} updates, not {steps}")
        gc.freeze()  # TRL collects garbage twice per update: 0.25 s each over the loaded libraries' objects
        try:
            with ppo_reward_route(adapter):
                trainer.train()
        finally:
            gc.unfreeze()
    return rows
