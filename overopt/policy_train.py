"""pi_init for the embedded world: a tiny GPT-2 trained with TRL's ``SFTTrainer`` on text
from the world's language (prompt + response + EOS)."""
from __future__ import annotations

import tempfile

import pandas as pd

from overopt import runtime
from overopt.world import gpt2_config


def train_policy(corpus_csv: str, tokenizer_dir: str, arch: dict, n_positions: int, hp: dict,
                 seed: int, out_dir: str) -> dict:
    from datasets import Dataset
    from transformers import GPT2LMHeadModel
    from trl import SFTConfig, SFTTrainer

    from overopt.models import count_params, load_tokenizer

    tok = load_tokenizer(tokenizer_dir)
    runtime.seed_all(seed)
    model = GPT2LMHeadModel(gpt2_config(len(tok), n_positions, arch, tok))
    data = Dataset.from_pandas(pd.read_csv(corpus_csv))
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(SFTConfig, tmp, seed, hp, max_length=n_positions, packing=False,
                                    dataset_num_proc=None)
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok,
                             callbacks=[runtime.progress_callback()])
        result = runtime.train_resumable(trainer, None)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return {"params": count_params(model), "train_loss": float(result.training_loss),
            "steps": int(result.global_step)}
