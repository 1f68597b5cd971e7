"""The gold RM of the embedded world: a seeded random-init GPT-2 reward transformer (a fixed,
rich "teacher"), saved with its tokenizer like a hub model.
"""
from __future__ import annotations
from overopt.models import gpt2_config


def build_gold(tokenizer, arch: dict, n_positions: int, initializer_range: float, seed: int):
    """The gold RM: a seeded random-init GPT-2 reward transformer (a fixed, rich "teacher")."""
    import torch
    from transformers import GPT2ForSequenceClassification

    torch.manual_seed(seed)
    cfg = gpt2_config(len(tokenizer), n_positions, arch, tokenizer, num_labels=1,
                      initializer_range=initializer_range)
    return GPT2ForSequenceClassification(cfg).eval()


def gold_stage(s, tokenizer_dir: str | None, out_meta: str, out_model: str | None = None) -> dict:
    """The gold stage (``settings.Gold``): with ``out_model``, build the seeded teacher RM and
    save it with its tokenizer; then write the gold RM's identity row (its parameter count
    read off the model), which every table row about the gold RM carries."""
    import json

    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from overopt.models import count_params

    if out_model:
        tok = AutoTokenizer.from_pretrained(tokenizer_dir, trust_remote_code=s.trust_remote_code)
        model = build_gold(tok, s.gold["arch"], s.n_positions, s.gold["initializer_range"], s.seed)
        model.save_pretrained(out_model)
        tok.save_pretrained(out_model)
    else:
        model = AutoModelForSequenceClassification.from_pretrained(
            s.model, num_labels=1, use_safetensors=True, trust_remote_code=s.trust_remote_code)
    meta = {**s.identity, "params": count_params(model)}
    with open(out_meta, "w") as f:
        json.dump(meta, f, indent=2)
    return meta
