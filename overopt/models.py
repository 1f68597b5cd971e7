"""Loading policies and reward models by ``name_or_path`` (a local folder or a hub id), and
scoring text with a reward model through its *own* tokenizer, normalized.

Safetensors only; ``trust_remote_code`` is off unless the config turns it on.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from overopt import runtime


PAD_CANDIDATES = ("<|padding|>", "<pad>", "[PAD]", "<|pad|>", "<|finetune_right_pad_id|>")


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False, padding_side: str = "right"):
    """The model's tokenizer with a pad token distinct from EOS (sequence classifiers read the
    last non-pad token, so pad = EOS would hide the EOS the RM was trained to read). Many hub
    tokenizers (Pythia, Llama) have none: an existing pad-like token is used, else one is
    added (the model's embeddings are then resized by :func:`match_vocab`)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None or tok.pad_token == tok.eos_token:
        vocab = tok.get_vocab()
        found = next((t for t in PAD_CANDIDATES if t in vocab and t != tok.eos_token), None)
        if found:
            tok.pad_token = found
        else:
            tok.add_special_tokens({"pad_token": "<|pad|>"})
    tok.padding_side = padding_side
    return tok


def match_vocab(model, tok):
    """Resize the embeddings if the tokenizer gained a pad token, and tell the model its id."""
    if len(tok) > model.get_input_embeddings().num_embeddings:
        model.resize_token_embeddings(len(tok))
    model.config.pad_token_id = tok.pad_token_id
    return model


def _dtype():
    import torch

    return torch.bfloat16 if runtime.use_bf16() else torch.float32


def load_policy(name_or_path: str, trust_remote_code: bool = False):
    """(causal LM, tokenizer) from a folder or hub id, safetensors only, on the job's device."""
    from overopt.inputs import check_model_dir

    check_model_dir(name_or_path)  # a truncated or missing local model: an error naming its path
    from transformers import AutoModelForCausalLM

    tok = load_tokenizer(name_or_path, trust_remote_code)
    model = AutoModelForCausalLM.from_pretrained(
        name_or_path, use_safetensors=True, trust_remote_code=trust_remote_code, dtype=_dtype())
    runtime.log.info("policy %s on %s (%s)", name_or_path, runtime.device(), model.dtype)
    return match_vocab(model, tok).to(runtime.device()).eval(), tok


def load_rm_model(name_or_path: str, tok, trust_remote_code: bool = False):
    from overopt.inputs import check_model_dir

    check_model_dir(name_or_path)  # a truncated or missing local model: an error naming its path
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(
        name_or_path, num_labels=1, use_safetensors=True, trust_remote_code=trust_remote_code, dtype=_dtype())
    runtime.log.info("reward model %s on %s (%s)", name_or_path, runtime.device(), model.dtype)
    return match_vocab(model, tok).to(runtime.device()).eval()


def count_params(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


@dataclass
class Normalization:
    """Affine map making pi_init's scores on the eval prompts mean 0, std 1."""

    shift: float = 0.0
    scale: float = 1.0
    n: int = 0

    @classmethod
    def fit(cls, raw: np.ndarray) -> "Normalization":
        raw = np.asarray(raw, dtype=np.float64).ravel()
        scale = float(raw.std(ddof=1))
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError("reward model gives constant scores on pi_init's samples; cannot normalize")
        return cls(float(raw.mean()), scale, int(raw.size))

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return (np.asarray(raw, dtype=np.float64) - self.shift) / self.scale

    def save(self, path: str | Path, **extra) -> None:
        Path(path).write_text(json.dumps({
            "shift": self.shift, "scale": self.scale, "n": self.n, **extra,
            "definition": "score = (raw - shift) / scale; pi_init samples on eval prompts have mean 0, std 1",
        }, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> "Normalization":
        from overopt.inputs import load_normalization

        d = load_normalization(path)  # finite shift, positive finite scale, or an error naming the path
        return cls(float(d["shift"]), float(d["scale"]), int(d.get("n", 0)))


class RewardModel:
    """A sequence-classification RM that scores (prompt, response) text.

    The text is re-tokenized with the RM's own tokenizer, and the EOS string is appended
    exactly as TRL's ``RewardTrainer`` appends it in training: the RM scores what it was
    trained on, whatever tokenizer the policy uses.
    """

    def __init__(self, model, tokenizer, norm: Normalization | None = None, batch_size: int = 256):
        self.model, self.tokenizer = model, tokenizer
        self.norm = norm or Normalization()
        self.batch_size = batch_size
        model.config.pad_token_id = tokenizer.pad_token_id

    @classmethod
    def load(cls, name_or_path: str, normalization: str | Path | None = None,
             trust_remote_code: bool = False, batch_size: int = 256) -> "RewardModel":
        norm = Normalization.load(normalization) if normalization else None
        tok = load_tokenizer(name_or_path, trust_remote_code)
        return cls(load_rm_model(name_or_path, tok, trust_remote_code), tok, norm, batch_size)

    def texts(self, prompts: list[str], responses: list[str]) -> list[str]:
        eos = self.tokenizer.eos_token or ""  # RewardTrainer appends EOS; a BERT-style RM has none
        return [p + r + eos for p, r in zip(prompts, responses)]

    def raw_scores(self, prompts: list[str], responses: list[str], progress: str | None = None) -> np.ndarray:
        import torch

        texts = self.texts(prompts, responses)
        out = np.empty(len(texts), dtype=np.float64)
        bar = runtime.Progress(progress, len(texts)) if progress else None
        with torch.inference_mode():
            for i in range(0, len(texts), self.batch_size):
                # special tokens as TRL adds them in training (none for GPT-2; [CLS]/[SEP] for BERT)
                enc = self.tokenizer(texts[i:i + self.batch_size], return_tensors="pt",
                                     padding=True).to(self.model.device)
                logits = self.model(**enc).logits[:, 0]
                out[i:i + len(logits)] = logits.float().cpu().numpy()
                if bar:
                    bar.update(i + len(logits))
        return out

    def scores(self, prompts: list[str], responses: list[str], progress: str | None = None) -> np.ndarray:
        return self.norm.apply(self.raw_scores(prompts, responses, progress))


def gpt2_config(vocab_size: int, n_positions: int, arch: dict, tokenizer, **extra):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab_size, n_positions=n_positions, n_embd=arch["n_embd"], n_layer=arch["n_layer"],
        n_head=arch["n_head"], n_inner=arch.get("n_inner"), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id, **extra,
    )
