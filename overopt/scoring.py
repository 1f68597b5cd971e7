"""The machinery of fast RM scoring (``overopt.models.RewardModel.raw_scores``): token batches cut
by a token budget, the shared-prefix key/value cache of causal RMs, a faster GELU while scoring,
and a Python tokenizer for word-level vocabularies (checked against the real one). Measured by
``python -m overopt.bench_scoring`` (docs/running.md, "RM scoring speed")."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PREFIX_CACHED = ("gpt2", "gpt_neox", "llama", "qwen2", "qwen3")
CPU_BATCH_FLOATS = 2 ** 18  # 1 MiB of fp32 per [tokens, hidden] tensor of a CPU batch


@dataclass
class Tokens:
    """Texts' tokens: each key's tokens of all texts end to end, and each text's length and start."""

    flat: dict
    lengths: np.ndarray
    starts: np.ndarray


def batches(lengths: np.ndarray, extra: np.ndarray, budget: int, extra_budget: int):
    """Batches of indices sorted by ``lengths``: each at most ``budget`` padded tokens (rows x
    (longest + largest ``extra``)) and, with ``extra_budget``, rows x largest extra at most that."""
    order = np.lexsort((extra, lengths))
    i, n = 0, len(order)
    while i < n:
        j, e = i + 1, int(extra[order[i]])
        while j < n:
            e2 = max(e, int(extra[order[j]]))
            if (j + 1 - i) * (int(lengths[order[j]]) + e2) > budget or (extra_budget and (j + 1 - i) * e2 > extra_budget):
                break
            e, j = e2, j + 1
        yield order[i:j]
        i = j


class fast_gelu:
    """Without gradients (scoring, evaluation), swap GPT-2's tanh GELU (Python ``gelu_new``,
    five elementwise passes, or torch's fused kernel) for the same function computed faster:
    torch's fused tanh GELU on a GPU; on the CPU, where torch's tanh is slow, x * sigmoid(2u)
    in place (= 0.5 x (1 + tanh u)), 1.6x faster than the fused kernel. Differences ~1e-7 in
    fp32; the modules are put back after."""

    def __init__(self, model):
        self.model, self.swapped = model, []

    def __enter__(self):
        from transformers.activations import GELUTanh, NewGELUActivation

        device = next(self.model.parameters()).device.type
        for parent in self.model.modules():
            for name, child in parent.named_children():
                if type(child) is NewGELUActivation or (device == "cpu" and type(child) is GELUTanh):
                    self.swapped.append((parent, name, child))
        if self.swapped:
            fast = gelu_module(device)
            for parent, name, _ in self.swapped:
                setattr(parent, name, fast)
        return self

    def __exit__(self, *exc):
        for parent, name, child in self.swapped:
            setattr(parent, name, child)
        self.swapped = []
        return False


def gelu_module(device_type: str):
    import math

    import torch
    from transformers.activations import GELUTanh

    if device_type != "cpu":
        return GELUTanh()
    c = 2.0 * math.sqrt(2.0 / math.pi)

    class _SigmoidGELU(torch.nn.Module):
        def forward(self, x):
            u = x * x
            u.mul_(0.044715 * c).add_(c).mul_(x)  # 2u = c (x + 0.044715 x^3)
            return u.sigmoid_().mul_(x)

    return _SigmoidGELU()


def word_level_ids(tokenizer, spec, texts: list[str]) -> list[list[int]] | None:
    """The embedded world's tokenizer (a word-level vocabulary split on whitespace, special
    tokens matched anywhere, nothing added around the text) done in Python, ~10x faster than
    the tokenizers call for short texts; None (use the tokenizer) for any other tokenizer, for
    non-ASCII text, or when a sample of the texts tokenizes differently."""
    import re

    if spec is None:
        return None
    table, split = spec
    joined = "\x1c".join(texts)  # \x1c: no token's character (checked), a separator here
    # str.split's ASCII whitespace is Rust's is_whitespace plus \x1c-\x1f: texts holding those are left to the tokenizer
    if not joined.isascii() or joined.count("\x1c") != len(texts) - 1 or re.search("[\x1d-\x1f]", joined):
        return None
    if split is not None:  # special tokens are split out wherever they occur, then the rest on whitespace
        joined = split.sub(r" \g<0> ", joined)
    get = table.__getitem__
    out = [list(map(get, t.split())) for t in joined.split("\x1c")]
    sample = list(range(min(len(texts), 64))) + [max(range(len(texts)), key=lambda i: len(texts[i]))]
    check = tokenizer([texts[i] for i in sample], padding=False, truncation=False, return_attention_mask=False)
    if set(check) != {"input_ids"} or any(check["input_ids"][j] != out[i] for j, i in enumerate(sample)):
        return None
    return out


class _WordTable(dict):
    """A word-level vocabulary: unknown words map to the unknown token."""

    def __init__(self, vocab: dict, unk: int):
        super().__init__(vocab)
        self.unk = unk

    def __missing__(self, key):
        return self.unk


def word_level_spec(tokenizer):
    import json
    import re

    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is None or getattr(tokenizer, "split_special_tokens", False) \
            or type(getattr(backend, "model", None)).__name__ != "WordLevel":
        return None
    try:
        spec = json.loads(backend.to_str())
    except (AttributeError, TypeError, ValueError):
        return None
    model, post = spec.get("model") or {}, spec.get("post_processor")
    adds_nothing = post is None or (post.get("type") == "TemplateProcessing"
                                    and [list(x) for x in post.get("single", [])] == [["Sequence"]])
    if (model.get("type") != "WordLevel" or spec.get("normalizer") is not None or not adds_nothing
            or spec.get("pre_tokenizer") != {"type": "WhitespaceSplit"}):  # padding, truncation: set per call
        return None
    vocab = model["vocab"]
    if model.get("unk_token") not in vocab:
        return None
    added = {}
    for a in spec.get("added_tokens") or []:
        c = a["content"]
        if a.get("single_word") or a.get("lstrip") or a.get("rstrip") or a.get("normalized") or not c or not c.isascii() \
                or any(ch.isspace() or ch == "\x1c" for ch in c):
            return None
        added[c] = a["id"]
    split = re.compile("|".join(map(re.escape, sorted(added, key=len, reverse=True)))) if added else None
    table = _WordTable(vocab, vocab[model["unk_token"]])
    table.update(added)
    return table, split


