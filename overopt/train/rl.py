"""RL against a reward model with TRL (RLOO, or PPO as Gao et al. used; both put the KL
penalty in the reward, k1 estimate), evaluated along the run on held-out prompts with fresh
samples: sequence KL to pi_init (k1 and k3), gold and proxy score, response length (docs/science.md 4.3).

The reward is the target RM's normalized score of exactly what it was trained on: TRL
decodes completions without EOS, and :class:`overopt.models.RewardModel` appends the RM's
EOS string before scoring, as ``RewardTrainer`` did in training. PPO scores token ids with
the RM's own backbone instead; :func:`ppo_reward` routes it through ``RewardModel`` too.

Resuming. A killed RLOO run resumes exactly (the same evaluation rows and final weights as an
uninterrupted run): the checkpoint holds the model, optimizer, scheduler and RNG states (the
global RNGs drive generation and TRL's batch shuffle), and the prompt order of every pass over
the training prompts is a function of (seed, pass) (:func:`rloo_trainer_class`; TRL's own
sampler is not). PPO does not resume; a rerun starts from scratch.
"""
from __future__ import annotations

import shutil
import tempfile

import pandas as pd

from overopt import runtime
from overopt.data.splits import eval_prompts
from overopt.models import RewardModel, load_policy
from overopt.teachers import Transformed
from overopt.train.evaluate import Evaluator, eval_callback, every, resumed_rows, split_samples
from overopt.train.ppo import train_ppo

ALGORITHMS = ("rloo", "ppo")


def rloo_trainer_class():
    """TRL's ``RLOOTrainer`` with a training sampler whose order for pass ``e`` over the prompts
    is a pure function of (seed, e), so that a run resumed in a later pass sees the prompts in
    the order the uninterrupted run saw them.

    Why: TRL 1.12's ``RepeatSampler`` (``trl/trainer/utils.py``) seeds its own
    ``torch.Generator`` once, in ``__init__``, and draws a new ``randperm`` from it at every
    ``__iter__``, i.e. at every pass; it has no ``set_epoch`` and its generator is in no
    checkpoint. ``Trainer._inner_training_loop`` builds one sampler per ``train()`` call and
    (transformers 5.23) fast-forwards only the batches of the resumed pass
    (``skip_first_batches``), not the earlier passes. So a run resumed in pass e >= 1 got the
    order of pass 0 for pass e, of pass 1 for pass e + 1, and so on. Here ``set_epoch`` (which
    ``Trainer`` calls with the pass number before every pass, and accelerate forwards to the
    sampler) sets the pass, and each ``__iter__`` reseeds the generator with the seed and draws
    ``e`` permutations before the one it uses: the very orders TRL draws in an uninterrupted
    run, so a run that is never killed is unchanged."""
    import torch
    from trl import RLOOTrainer
    from trl.trainer.utils import RepeatSampler

    class PassSampler(RepeatSampler):
        def __init__(self, *args, **kw):
            super().__init__(*args, **kw)
            if self.shuffle and self.seed is None:
                raise ValueError("a resumable prompt order needs a seed")
            self.epoch = 0

        def set_epoch(self, epoch: int) -> None:
            self.epoch = int(epoch)

        def __iter__(self):
            if self.shuffle:
                self.generator.manual_seed(self.seed)
                for _ in range(self.epoch):
                    torch.randperm(self.num_samples, generator=self.generator)
            yield from super().__iter__()

    class ResumableRLOOTrainer(RLOOTrainer):
        def _get_train_sampler(self, dataset=None):
            base = super()._get_train_sampler(dataset)
            return PassSampler(base.data_source, base.mini_repeat_count, base.batch_size, base.repeat_count,
                               base.shuffle, base.seed)

    ResumableRLOOTrainer.sampler_class = PassSampler
    return ResumableRLOOTrainer


def train_rl(s, target_norm: str, gold_norm: str, prompts_csv: str, checkpoint_dir: str | None = None,
             save_steps: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One RL run (``settings.RL``) against ``s.target`` (a reference teacher: its base RM with
    the registry's score transform); returns the evaluation rows (one per checkpoint) and their
    samples (:func:`overopt.train.evaluate.split_samples`). With
    ``checkpoint_dir`` and ``save_steps`` a killed RLOO run resumes where it was (from a
    checkpoint of the same settings and inputs only, see :func:`overopt.runtime.checkpoint_folder`);
    a PPO run starts again from scratch (see :func:`train_ppo`)."""
    from datasets import Dataset
    from trl import RLOOConfig

    if s.algorithm not in ALGORITHMS:
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {s.algorithm!r}")
    ev = s.evaluation
    runtime.seed_all(s.seed)
    target_rm = RewardModel.load(s.target["model"], target_norm, s.trust_remote_code, ev["score_batch_size"])
    gold_rm = target_rm if s.target["model"] == s.gold else RewardModel.load(
        s.gold, gold_norm, s.trust_remote_code, ev["score_batch_size"])
    proxy = Transformed(target_rm, s.target["transform"]) if s.target["transform"] else target_rm
    ref, tok = load_policy(s.policy, s.trust_remote_code)
    train_prompts = eval_prompts(prompts_csv, "policy_train")["prompt"].tolist()[:s.prompts]
    evaluate = Evaluator(ref, tok, eval_prompts(prompts_csv, "eval")["prompt"].tolist()[:ev["eval_prompts"]],
                         ev["eval_samples"], ev["response_len"], gold_rm, proxy, s.seed)

    if s.algorithm == "ppo":
        if checkpoint_dir:  # PPO writes no checkpoint: whatever a folder of that name holds is never used
            shutil.rmtree(checkpoint_dir, ignore_errors=True)
        return split_samples(train_ppo(s, tok, ref, proxy, train_prompts, evaluate, checkpoint_dir))

    def reward(prompts, completions, **_):
        return proxy.scores(list(prompts), list(completions)).tolist()

    reward.__name__ = "proxy"
    inputs = (target_norm, gold_norm, prompts_csv, s.policy, s.target["model"], s.gold)
    ckpt = runtime.checkpoint_folder(checkpoint_dir, save_steps, runtime.fingerprint(s, *inputs))
    rows = resumed_rows(ckpt)
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(
            RLOOConfig, ckpt or tmp, s.seed, s.train, save_steps if ckpt else 0, beta=s.kl_coef, max_steps=s.steps,
            num_generations=s.num_generations,
            max_completion_length=ev["response_len"], temperature=1.0, top_k=0, top_p=1.0, disable_dropout=True,
            model_init_kwargs={"dtype": "bfloat16" if runtime.use_bf16() else "float32", "use_safetensors": True})
        if ckpt and args.steps_per_generation * args.num_iterations != 1:
            raise ValueError("exact resume assumes one generation per optimizer step (TRL keeps reused "
                             "generations in memory only): no gradient accumulation, num_iterations 1")
        trainer = rloo_trainer_class()(
            model=s.policy, reward_funcs=[reward], args=args,
            train_dataset=Dataset.from_dict({"prompt": train_prompts}), processing_class=tok,
            callbacks=[runtime.progress_callback(), eval_callback(evaluate, every(s.eval_every), rows, ckpt)])
        runtime.train_resumable(trainer, ckpt)
    return split_samples(rows)
