"""pi_init for the embedded world: a tiny GPT-2 trained with TRL's ``SFTTrainer`` on text
from the world's language (prompt + response + EOS)."""
from __future__ import annotations

import tempfile

import pandas as pd

from overopt import runtime
from overopt.models import gpt2_config


def train_policy(corpus_csv: str, tokenizer_dir: str, s, out_dir: str) -> dict:
    """Train one policy size (``settings.Policy``) from scratch on the world's corpus."""
    from datasets import Dataset
    from transformers import GPT2LMHeadModel
    from trl import SFTConfig, SFTTrainer

    from overopt.models import count_params, load_tokenizer

    tok = load_tokenizer(tokenizer_dir)
    runtime.seed_all(s.seed)
    model = GPT2LMHeadModel(gpt2_config(len(tok), s.n_positions, s.arch, tok))
    data = Dataset.from_pandas(pd.read_csv(corpus_csv))
    with tempfile.TemporaryDirectory() as tmp:
        args = runtime.trainer_args(SFTConfig, tmp, s.seed, s.train, max_length=s.n_positions, packing=False,
                                    dataset_num_proc=None)
        trainer = SFTTrainer(model=model, args=args, train_dataset=data, processing_class=tok,
                             callbacks=[runtime.progress_callback()])
        result = runtime.train_resumable(trainer, None)
    model.save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
    return {"params": count_params(model), "train_loss": float(result.training_loss),
            "steps": int(result.global_step)}
