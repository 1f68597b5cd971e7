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
from overopt.scoring import (
    CPU_BATCH_FLOATS,
    PREFIX_CACHED,
    Tokens,
    batches,
    fast_gelu,
    word_level_ids,
    word_level_spec,
)

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
    chat: bool = False  # the RM scores chat-formatted text (its tokenizer's chat template): kept with the scale

    @classmethod
    def fit(cls, raw: np.ndarray) -> Normalization:
        raw = np.asarray(raw, dtype=np.float64).ravel()
        scale = float(raw.std(ddof=1))
        if not np.isfinite(scale) or scale <= 0:
            raise ValueError("reward model gives constant scores on pi_init's samples; cannot normalize")
        return cls(float(raw.mean()), scale, int(raw.size))

    def with_chat(self, chat: bool) -> Normalization:
        return Normalization(self.shift, self.scale, self.n, chat)

    def apply(self, raw: np.ndarray) -> np.ndarray:
        return (np.asarray(raw, dtype=np.float64) - self.shift) / self.scale

    def save(self, path: str | Path, **extra) -> None:
        Path(path).write_text(json.dumps({
            "shift": self.shift, "scale": self.scale, "n": self.n, "chat": self.chat, **extra,
            "definition": "score = (raw - shift) / scale; pi_init samples on eval prompts have mean 0, std 1",
        }, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> Normalization:
        from overopt.inputs import load_normalization

        d = load_normalization(path)  # finite shift, positive finite scale, or an error naming the path
        return cls(float(d["shift"]), float(d["scale"]), int(d.get("n", 0)), bool(d.get("chat", False)))


class RewardModel:
    """A sequence-classification RM that scores (prompt, response) text.

    The text is re-tokenized with the RM's own tokenizer, and the EOS string is appended
    exactly as TRL's ``RewardTrainer`` appends it in training: the RM scores what it was
    trained on, whatever tokenizer the policy uses. An RM trained on conversations (a hub
    reward model; ``gold.chat_template``) scores the user/assistant turns rendered by its own
    tokenizer's chat template instead (``chat``, carried by its normalization file).
    """

    def __init__(self, model, tokenizer, norm: Normalization | None = None, batch_size: int = 256):
        self.model, self.tokenizer = model, tokenizer
        self.norm = norm or Normalization()
        self.batch_size = batch_size
        model.config.pad_token_id = tokenizer.pad_token_id

    @classmethod
    def load(cls, name_or_path: str, normalization: str | Path | None = None,
             trust_remote_code: bool = False, batch_size: int = 256) -> RewardModel:
        norm = Normalization.load(normalization) if normalization else None
        tok = load_tokenizer(name_or_path, trust_remote_code)
        return cls(load_rm_model(name_or_path, tok, trust_remote_code), tok, norm, batch_size)

    @property
    def chat(self) -> bool:
        return self.norm.chat

    def texts(self, prompts: list[str], responses: list[str]) -> list[str]:
        if self.chat:
            if not getattr(self.tokenizer, "chat_template", None):
                raise ValueError(f"{self.tokenizer.name_or_path}: chat scoring asked for, but the tokenizer has no "
                                 "chat template")
            return [self.tokenizer.apply_chat_template([{"role": "user", "content": p},
                                                        {"role": "assistant", "content": r}], tokenize=False)
                    for p, r in zip(prompts, responses)]
        eos = self.tokenizer.eos_token or ""  # RewardTrainer appends EOS; a BERT-style RM has none
        return [p + r + eos for p, r in zip(prompts, responses)]

    def raw_scores(self, prompts: list[str], responses: list[str], progress: str | None = None) -> np.ndarray:
        """Raw logits, float64, in input order, equal (to float rounding) to scoring each text
        alone. Each distinct text is scored once; all are tokenized in one call, sorted by token
        length and cut into batches by a token budget (:meth:`_token_budget`), right-padded
        whatever the tokenizer's padding side (a GPT-2 RM reads the last non-pad token, and
        right padding keeps each text's positions as if it were alone). A causal RM in eval mode
        (:data:`PREFIX_CACHED`) runs the token prefix a prompt's texts share once, and the rest
        of each text on that prefix's key/value cache. ``docs/running.md`` (RM scoring speed)
        has the measured gains."""
        import torch

        texts = self.texts(prompts, responses)
        index: dict[str, int] = {}
        inverse = np.fromiter((index.setdefault(t, len(index)) for t in texts), dtype=np.int64, count=len(texts))
        distinct = list(index)  # first-seen order
        out = np.empty(len(distinct), dtype=np.float64)
        if not distinct:
            return out
        tokens = self._encode(distinct)
        first = np.unique(inverse, return_index=True)[1]
        prefix, group = self._shared_prefixes(tokens, [prompts[i] for i in first])
        budget = self._token_budget(int(tokens.lengths.max()))
        bar = runtime.Progress(progress, len(distinct)) if progress else None
        note = f"distinct texts of {len(texts)}"
        done = 0
        with torch.inference_mode(), fast_gelu(self.model):
            alone = np.flatnonzero(prefix == 0)
            for rows in batches(tokens.lengths[alone], np.zeros(len(alone), dtype=np.int64), budget, 0):
                rows = alone[rows]
                out[rows] = self._logits(self._feed(tokens, rows, 0, tokens.lengths[rows]))
                done += len(rows)
                if bar:
                    bar.update(done, note)
            for rows in self._prefixed(tokens, prefix, group, out, budget):
                done += len(rows)
                if bar:
                    bar.update(done, note)
        return out[inverse]

    def _token_budget(self, longest: int) -> int:
        """Padded tokens per batch: ``batch_size`` x the longest text (no more memory than
        the fullest fixed-count batch; more texts when they are shorter). On the CPU, batches of
        about :data:`CPU_BATCH_FLOATS` per hidden-state tensor, which stay in cache: fewer texts
        for wide models, more (up to 8x the tokens) for narrow ones."""
        budget = self.batch_size * longest
        if self.model.device.type == "cpu":
            hidden = getattr(self.model.config.get_text_config(), "hidden_size", None)
            if hidden:
                budget = min(8 * budget, max(longest, CPU_BATCH_FLOATS // int(hidden)))
        return budget

    def _encode(self, texts: list[str]) -> Tokens:
        """One tokenizer call, no padding, no tensors; special tokens as the tokenizer adds them
        (none for GPT-2; [CLS]/[SEP] for BERT), as TRL adds them in training."""
        from itertools import chain

        key = (id(self.tokenizer), len(self.tokenizer))
        if getattr(self, "_word_spec", (None,))[0] != key:  # read the tokenizer's spec once
            self._word_spec = (key, word_level_spec(self.tokenizer))
        ids = word_level_ids(self.tokenizer, self._word_spec[1], texts)
        if ids is not None:
            enc = {"input_ids": ids}
        else:
            enc = self.tokenizer(texts, padding=False, truncation=False, return_attention_mask=False)
            enc = {k: v for k, v in enc.items() if k != "attention_mask"}
        lengths = np.fromiter(map(len, enc["input_ids"]), dtype=np.int64, count=len(texts))
        total = int(lengths.sum())
        flat = {k: np.fromiter(chain.from_iterable(v), dtype=np.int64, count=total) for k, v in enc.items()}
        return Tokens(flat, lengths, np.cumsum(lengths) - lengths)

    def _logits(self, feed: dict, **kw) -> np.ndarray:
        return self.model(**feed, **kw).logits[:, 0].float().cpu().numpy()

    def _feed(self, tokens: Tokens, rows: np.ndarray, skip, n: np.ndarray) -> dict:
        """Tokens ``skip:skip+n`` of texts ``rows`` as right-padded tensors as wide as the
        longest, with their attention mask, on the model's device (``skip``: an int or one per row)."""
        import torch

        width = max(int(n.max()), 1)
        cols = np.arange(width)
        real = cols[None, :] < n[:, None]
        at = (tokens.starts[rows] + skip)[:, None] + cols[None, :]
        at = np.minimum(at, len(tokens.flat["input_ids"]) - 1)
        pads = {"input_ids": self.tokenizer.pad_token_id,
                "token_type_ids": getattr(self.tokenizer, "pad_token_type_id", 0)}
        if pads["input_ids"] is None and not real.all():
            raise ValueError("the reward model's tokenizer has no pad token; cannot batch texts of different lengths")
        feed = {k: torch.from_numpy(np.where(real, v[at], pads.get(k) or 0)) for k, v in tokens.flat.items()}
        feed["attention_mask"] = torch.from_numpy(real.astype(np.int64))
        return {k: v.to(self.model.device) for k, v in feed.items()}

    def _shared_prefixes(self, tokens: Tokens, prompt_of: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per distinct text: the length of the prefix it shares with the other texts of its
        prompt (the group's longest common token prefix, leaving each text at least one token
        of its own; 0: scored alone) and its group. Only for causal RMs in eval mode whose texts
        hold no pad token (a pad token inside a text would move the token the RM reads)."""
        n = len(prompt_of)
        prefix, group = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
        cfg = self.model.config
        if (getattr(cfg, "model_type", None) not in PREFIX_CACHED or getattr(cfg, "use_sliding_window", False)
                or getattr(cfg, "add_cross_attention", False)
                or self.model.training  # (a checkpointing model drops the cache in training mode)
                or set(tokens.flat) != {"input_ids"} or (tokens.flat["input_ids"] == self.tokenizer.pad_token_id).any()):
            return prefix, group
        members: dict[str, list[int]] = {}
        for i, p in enumerate(prompt_of):
            members.setdefault(p, []).append(i)
        ids = tokens.flat["input_ids"]
        for g, rows in enumerate(members.values()):
            if len(rows) < 2:
                continue
            rows = np.asarray(rows)
            m = int(tokens.lengths[rows].min())
            mat = ids[tokens.starts[rows][:, None] + np.arange(m)[None, :]]
            same = (mat == mat[:1]).all(0)
            k = min(m if same.all() else int(np.argmin(same)), m - 1)
            if k > 0:
                prefix[rows], group[rows] = k, g
        return prefix, group

    def _prefixed(self, tokens: Tokens, prefix: np.ndarray, group: np.ndarray, out: np.ndarray, budget: int):
        """Score the texts with a shared prefix (``prefix > 0``) into ``out``: per chunk of
        groups, one pass over the groups' prefixes keeps their key/value cache, then each
        text's remaining tokens run on its group's cache (prefix padding masked out, positions
        continuing from its own prefix length). Yields the rows scored."""
        import torch
        from transformers import DynamicCache

        rows_all = np.flatnonzero(prefix > 0)
        if not len(rows_all):
            return
        layers = int(self.model.config.get_text_config().num_hidden_layers)
        cache_budget = 4 * budget  # cached prefix tokens x layers held at once
        gids, first = np.unique(group[rows_all], return_index=True)
        k_of = dict(zip(gids.tolist(), prefix[rows_all[first]].tolist()))
        rep = dict(zip(gids.tolist(), rows_all[first].tolist()))  # a text holding the group's prefix
        order = sorted(k_of, key=k_of.get)
        i = 0
        while i < len(order):
            j, kmax = i, 0
            while j < len(order) and (j + 1 - i) * max(kmax, k_of[order[j]]) * max(layers, 1) <= cache_budget \
                    and (j + 1 - i) * max(kmax, k_of[order[j]]) <= budget:
                kmax = max(kmax, k_of[order[j]])
                j += 1
            j = max(j, i + 1)
            chunk = order[i:j]
            kmax = max(k_of[g] for g in chunk)
            slot = {g: s for s, g in enumerate(chunk)}
            reps = np.array([rep[g] for g in chunk])
            ks = np.array([k_of[g] for g in chunk])
            cache = self.model(**self._feed(tokens, reps, 0, ks), use_cache=True).past_key_values
            kv = [(layer.keys, layer.values) for layer in cache.layers]
            rows = rows_all[np.isin(group[rows_all], chunk)]
            k_rows = prefix[rows]
            s_rows = tokens.lengths[rows] - k_rows
            for b in batches(s_rows, k_rows, budget, cache_budget // max(layers, 1)):
                r, k, s = rows[b], k_rows[b], s_rows[b]
                feed = self._feed(tokens, r, k, s)
                sel = torch.as_tensor([slot[g] for g in group[r].tolist()], device=self.model.device)
                kpad = int(kv[0][0].shape[-2])
                pre_mask = torch.from_numpy((np.arange(kpad)[None, :] < k[:, None]).astype(np.int64))
                feed["attention_mask"] = torch.cat([pre_mask.to(feed["attention_mask"].device), feed["attention_mask"]], 1)
                cols = np.arange(feed["input_ids"].shape[1])[None, :]
                pos = np.where(cols < s[:, None], k[:, None] + cols, k[:, None])  # padding: any valid position
                feed["position_ids"] = torch.from_numpy(pos).to(self.model.device)
                past = DynamicCache(ddp_cache_data=[(key.index_select(0, sel), val.index_select(0, sel))
                                                    for key, val in kv])
                out[r] = self._logits(feed, past_key_values=past, use_cache=True)
                yield r
            i = j

    def scores(self, prompts: list[str], responses: list[str], progress: str | None = None) -> np.ndarray:
        return self.norm.apply(self.raw_scores(prompts, responses, progress))


# Causal RM families whose texts may share a prefix's key/value cache (``tests/test_scoring.py``
# checks each against scoring texts alone); any other model scores every text in full.
def gpt2_config(vocab_size: int, n_positions: int, arch: dict, tokenizer, **extra):
    """The embedded world's GPT-2s. Their activation is GPT-2's tanh GELU computed by torch's
    fused kernel (``gelu_pytorch_tanh``, the same function as ``gelu_new`` to ~1e-7): a training
    step's forward and backward cost 1.5x less than with ``gelu_new``'s five autograd ops."""
    from transformers import GPT2Config

    extra = {"activation_function": "gelu_pytorch_tanh", **extra}
    return GPT2Config(
        vocab_size=vocab_size, n_positions=n_positions, n_embd=arch["n_embd"], n_layer=arch["n_layer"],
        n_head=arch["n_head"], n_inner=arch.get("n_inner"), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id, **extra,
    )
