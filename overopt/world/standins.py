"""Offline stand-ins for the real-model preset (``config/presets/pythia.yaml``), small enough to
train on a CPU in seconds, built here from a seed with nothing downloaded.

    python -m overopt.world.standins --out standins [--seed 0] [--dtype hub|float32]

Run it in the run folder (the one Snakemake's ``--directory`` names), then run
``config/presets/pythia-offline.yaml``, which points at these folders (``./standins/...``).
See ``docs/standins.md``. What is built under ``--out``, each as its hub counterpart is laid out:

``policy/``, ``policy-1b/``
    pi_init (``EleutherAI/pythia-410m``) and the policy-size axis (``pythia-1b``):
    ``GPTNeoXForCausalLM`` (parallel residual, 25% rotary, untied output layer, as Pythia),
    random init, with the *policy tokenizer*.
``proxy-14m/``, ``proxy-70m/``, ``proxy-160m/``
    proxy backbones (``pythia-14m`` ..): ``GPTNeoXForCausalLM`` checkpoints, as the hub's are;
    the project puts a new scalar head on them when it trains a proxy from ``name_or_path``.
``gold/``
    the gold RM (``Skywork/Skywork-Reward-V2-Qwen3-0.6B``): ``Qwen3ForSequenceClassification``
    (num_labels=1, tied embeddings), a seeded random "teacher" with a large initializer range
    (as the embedded world's gold, ``overopt/world/gold.py``), with its *own* tokenizer.
``ultrafeedback/``, ``alpaca/``
    ``datasets.DatasetDict.save_to_disk`` folders in the hub datasets' layout:
    ``HuggingFaceH4/ultrafeedback_binarized`` (split ``train_prefs``: ``prompt``, ``prompt_id``,
    ``chosen``/``rejected``/``messages`` message lists, ``score_chosen``/``score_rejected``) and
    ``tatsu-lab/alpaca`` (split ``train``: ``instruction``, ``input``, ``output``, ``text``).
``manifest.json``
    what was built: seed, dtype, and per model its class, shape, parameters and vocabulary.

The tokenizers mirror the real ones where the project's code can tell the difference:

- policy tokenizer (Pythia's GPT-NeoX BPE): byte-level BPE, ``<|endoftext|>`` (id 0) as BOS, EOS
  and UNK, ``<|padding|>`` (id 1) in the vocabulary but **no pad token set**, nothing added
  around a text; the models' embeddings are padded to a multiple of 128 rows beyond the
  tokenizer (Pythia: 50,277 tokens, 50,304 rows).
- gold tokenizer (Qwen3's): a separately trained byte-level BPE of another vocabulary size,
  special tokens appended after the merges (``<|endoftext|>`` = pad, ``<|im_start|>``,
  ``<|im_end|>`` = EOS), no BOS, and a Qwen-style **chat template**; embeddings padded as well.

Both are trained with ``tokenizers`` on the same generated text: English-like sentences from a
small seeded grammar (prompts in the UltraFeedback style, instructions in the Alpaca style, and
responses). Weights are written as safetensors; ``--dtype hub`` (the default) stores them in the
hub checkpoints' dtypes (float16 Pythia, bfloat16 gold), ``--dtype float32`` in float32.
Everything is deterministic given the seed (the models' bytes too).
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

# ---------------------------------------------------------------------------------------------
# The text: a small seeded grammar of English-like sentences.

NOUNS = [  # (singular, plural)
    ("garden", "gardens"), ("river", "rivers"), ("teacher", "teachers"), ("city", "cities"),
    ("computer", "computers"), ("recipe", "recipes"), ("student", "students"), ("bridge", "bridges"),
    ("company", "companies"), ("song", "songs"), ("forest", "forests"), ("engine", "engines"),
    ("library", "libraries"), ("planet", "planets"), ("market", "markets"), ("doctor", "doctors"),
    ("story", "stories"), ("window", "windows"), ("team", "teams"), ("letter", "letters"),
    ("mountain", "mountains"), ("program", "programs"), ("child", "children"), ("village", "villages"),
    ("painting", "paintings"), ("machine", "machines"), ("school", "schools"), ("island", "islands"),
    ("question", "questions"), ("friend", "friends"), ("language", "languages"), ("animal", "animals"),
]
ADJECTIVES = [
    "small", "large", "quiet", "bright", "old", "new", "simple", "careful", "strange", "useful",
    "green", "busy", "cheap", "famous", "gentle", "modern", "ancient", "clever", "heavy", "warm",
]
VERBS = [  # (base, third person, past)
    ("build", "builds", "built"), ("explain", "explains", "explained"), ("visit", "visits", "visited"),
    ("improve", "improves", "improved"), ("describe", "describes", "described"), ("find", "finds", "found"),
    ("protect", "protects", "protected"), ("change", "changes", "changed"), ("write", "writes", "wrote"),
    ("clean", "cleans", "cleaned"), ("measure", "measures", "measured"), ("grow", "grows", "grew"),
    ("plan", "plans", "planned"), ("compare", "compares", "compared"), ("repair", "repairs", "repaired"),
    ("teach", "teaches", "taught"), ("share", "shares", "shared"), ("choose", "chooses", "chose"),
]
ADVERBS = ["quickly", "slowly", "carefully", "often", "rarely", "easily", "always", "together", "safely"]
PLACES = ["near the river", "in the city", "at school", "on the island", "in the morning", "after lunch",
          "during the winter", "by the market", "in a small village", "every weekend"]
NAMES = ["Anna", "Ben", "Clara", "David", "Elena", "Farid", "Grace", "Hugo", "Ines", "Jonas"]
NUMBERS = ["two", "three", "four", "five", "ten"]
TONES = ["formal", "friendly", "short", "detailed", "funny", "polite"]


def _np(rng, plural=None):
    """A noun phrase: (the | a | ADJ) noun, singular or plural."""
    sing, plur = rng.choice(NOUNS)
    plural = rng.random() < 0.4 if plural is None else plural
    adj = rng.choice(ADJECTIVES) + " " if rng.random() < 0.5 else ""
    if plural:
        return rng.choice(["the ", "some ", "many ", ""]) + adj + plur
    art = "the " if rng.random() < 0.5 else ("an " if (adj or sing)[0] in "aeiou" else "a ")
    return art + adj + sing


def _statement(rng) -> str:
    """A declarative sentence, with an optional place and a second clause."""
    subj = rng.choice([_np(rng, plural=False), rng.choice(NAMES)])
    _, third, past = rng.choice(VERBS)
    verb = third if rng.random() < 0.5 else past
    s = f"{subj} {verb} {_np(rng)}"
    if rng.random() < 0.5:
        s += " " + rng.choice(PLACES)
    if rng.random() < 0.3:
        s += " " + rng.choice(ADVERBS)
    if rng.random() < 0.3:
        b2, t2, p2 = rng.choice(VERBS)
        s += f", {rng.choice(['and', 'but', 'because', 'so'])} {_np(rng)} {rng.choice([t2, p2, 'can ' + b2])} {_np(rng)}"
    return s[0].upper() + s[1:] + "."


def _question(rng) -> str:
    base, _, _ = rng.choice(VERBS)
    b2, _, _ = rng.choice(VERBS)
    forms = [
        lambda: f"How can I {base} {_np(rng)} {rng.choice(PLACES)}?",
        lambda: f"Why do {_np(rng, plural=True)} {base} {_np(rng)} {rng.choice(ADVERBS)}?",
        lambda: f"What is the best way to {base} {_np(rng)}?",
        lambda: f"Can you {base} how {_np(rng)} can {b2} {_np(rng)}?",
        lambda: f"Is it true that {_np(rng, plural=True)} {base} {_np(rng)}?",
        lambda: f"Write a {rng.choice(TONES)} story about {_np(rng)} that wants to {base} {_np(rng)}.",
        lambda: f"Give me {rng.choice(NUMBERS)} ideas to {base} {_np(rng)} for {_np(rng)}.",
        lambda: f"Explain to {rng.choice(NAMES)} why {_np(rng)} {rng.choice(VERBS)[1]} {_np(rng)}.",
    ]
    return rng.choice(forms)()


def _instruction(rng) -> str:
    """An Alpaca-style instruction: imperative, another register than the in-distribution prompts."""
    base, _, past = rng.choice(VERBS)
    forms = [
        lambda: f"Generate a list of {rng.choice(NUMBERS)} {rng.choice(NOUNS)[1]} that {base} {_np(rng)}.",
        lambda: f"Rewrite the following sentence in a {rng.choice(TONES)} tone: {_statement(rng)}",
        lambda: f"Classify the following as {_np(rng)} or {_np(rng)}: {_np(rng)}.",
        lambda: f"Summarize how {_np(rng)} {past} {_np(rng)}.",
        lambda: f"Name {rng.choice(NUMBERS)} reasons to {base} {_np(rng)}.",
        lambda: f"Translate this sentence into simple words: {_statement(rng)}",
        lambda: f"Compose a {rng.choice(TONES)} letter to {rng.choice(NAMES)} about {_np(rng)}.",
        lambda: f"Identify the main idea of this text. {_statement(rng)} {_statement(rng)}",
    ]
    return rng.choice(forms)()


def _prompt(rng) -> str:
    """An UltraFeedback-style prompt: a question or request, sometimes after some context."""
    parts = [_statement(rng) for _ in range(rng.choice([0, 0, 0, 1, 1, 2]))] + [_question(rng)]
    return " ".join(parts)


def _response(rng, lo: int = 1, hi: int = 4) -> str:
    return " ".join(_statement(rng) for _ in range(rng.randint(lo, hi)))


def _distinct(rng, make, n: int) -> list[str]:
    seen: dict[str, None] = {}
    for _ in range(50 * n):
        if len(seen) == n:
            break
        seen.setdefault(make(rng), None)
    if len(seen) < n:
        raise RuntimeError(f"the grammar gave only {len(seen)} distinct texts of {n}")
    return list(seen)


def ultrafeedback_rows(n: int, seed: int) -> dict[str, list]:
    """``n`` rows of ``HuggingFaceH4/ultrafeedback_binarized``'s columns, distinct prompts."""
    import hashlib

    rng = random.Random(f"ultrafeedback-{seed}")
    prompts = _distinct(rng, _prompt, n)
    cols: dict[str, list] = {k: [] for k in ("prompt", "prompt_id", "chosen", "rejected", "messages",
                                             "score_chosen", "score_rejected")}
    for p in prompts:
        good, bad = _response(rng, 2, 5), _response(rng, 1, 3)
        chosen = [{"content": p, "role": "user"}, {"content": good, "role": "assistant"}]
        cols["prompt"].append(p)
        cols["prompt_id"].append(hashlib.sha256(p.encode()).hexdigest())
        cols["chosen"].append(chosen)
        cols["rejected"].append([{"content": p, "role": "user"}, {"content": bad, "role": "assistant"}])
        cols["messages"].append(chosen)
        hi = float(rng.randint(6, 10))
        cols["score_chosen"].append(hi)
        cols["score_rejected"].append(float(rng.randint(1, int(hi) - 1)))
    return cols


def alpaca_rows(n: int, seed: int) -> dict[str, list]:
    """``n`` rows of ``tatsu-lab/alpaca``'s columns, distinct instructions."""
    rng = random.Random(f"alpaca-{seed}")
    cols: dict[str, list] = {"instruction": _distinct(rng, _instruction, n), "input": [], "output": [], "text": []}
    for ins in cols["instruction"]:
        inp = _statement(rng) if rng.random() < 0.3 else ""
        out = _response(rng, 1, 3)
        cols["input"].append(inp)
        cols["output"].append(out)
        head = ("Below is an instruction that describes a task, paired with an input that provides further "
                "context. " if inp else "Below is an instruction that describes a task. ")
        cols["text"].append(head + "Write a response that appropriately completes the request.\n\n"
                            f"### Instruction:\n{ins}\n\n" + (f"### Input:\n{inp}\n\n" if inp else "")
                            + f"### Response:\n{out}")
    return cols


# ---------------------------------------------------------------------------------------------
# Tokenizers

POLICY_SPECIALS = ("<|endoftext|>", "<|padding|>")  # Pythia's ids 0 and 1
GOLD_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>")  # Qwen's, after the merges
CHAT_TEMPLATE = (
    "{%- for message in messages %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def _bpe(texts: list[str], vocab_size: int, specials: tuple = ()):
    """A byte-level BPE (all 256 bytes in the alphabet, GPT-2's split regex), trained on ``texts``."""
    from tokenizers import (
        Tokenizer,
        decoders,
        models,
        normalizers,
        pre_tokenizers,
        processors,
        trainers,
    )

    tok = Tokenizer(models.BPE())
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=list(specials),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer, length=len(texts))
    return tok


def policy_tokenizer(texts: list[str], vocab_size: int = 750):
    """Pythia's tokenizer in small: BOS = EOS = UNK = ``<|endoftext|>``, ``<|padding|>`` in the
    vocabulary, no pad token set, nothing added around a text."""
    from transformers import PreTrainedTokenizerFast

    tok = _bpe(texts, vocab_size, POLICY_SPECIALS)
    eot = POLICY_SPECIALS[0]
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=eot, eos_token=eot, unk_token=eot,
                                   add_bos_token=False, add_eos_token=False, clean_up_tokenization_spaces=False,
                                   model_max_length=2048)


def gold_tokenizer(texts: list[str], vocab_size: int = 500):
    """Qwen3's tokenizer in small: another BPE, special tokens appended after the merges,
    pad ``<|endoftext|>``, EOS ``<|im_end|>``, no BOS, a Qwen-style chat template."""
    from tokenizers import AddedToken
    from transformers import PreTrainedTokenizerFast

    tok = _bpe(texts, vocab_size)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in GOLD_SPECIALS])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="<|endoftext|>", eos_token="<|im_end|>",
                                   additional_special_tokens=["<|im_start|>", "<|im_end|>"],
                                   clean_up_tokenization_spaces=False, model_max_length=40960)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def _rows(n: int, multiple: int = 128) -> int:
    """Embedding rows: the vocabulary rounded up, as the hub checkpoints pad theirs."""
    return -(-n // multiple) * multiple


# ---------------------------------------------------------------------------------------------
# Models

# name: (hidden, layers, heads, intermediate); head size 16, 25% rotary (4 dims), as Pythia's shape rules
POLICIES = {"policy": (32, 2, 2, 128), "policy-1b": (64, 2, 4, 256)}
PROXIES = {"proxy-14m": (16, 1, 1, 64), "proxy-70m": (32, 2, 2, 128), "proxy-160m": (48, 2, 3, 192)}
GOLD = (64, 2, 4, 128)  # hidden, layers, heads (2 KV heads, head size 16), intermediate
GOLD_INIT = 0.5  # std of the random teacher's weights (see gold_model)
HUB_DTYPES = {"neox": "float16", "gold": "bfloat16"}  # Pythia checkpoints: fp16; Skywork-Reward-V2: bf16


def neox_model(tok, shape: tuple, seed: int):
    """A Pythia-shaped ``GPTNeoXForCausalLM``, random init (std 0.02, as Pythia's)."""
    import torch
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    hidden, layers, heads, inter = shape
    cfg = GPTNeoXConfig(
        vocab_size=_rows(len(tok)), hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=inter, hidden_act="gelu", rotary_pct=0.25, rotary_emb_base=10000,
        max_position_embeddings=2048, initializer_range=0.02, layer_norm_eps=1e-5, use_parallel_residual=True,
        tie_word_embeddings=False, attention_dropout=0.0, hidden_dropout=0.0,
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    torch.manual_seed(seed)
    return GPTNeoXForCausalLM(cfg).eval()


def gold_model(tok, seed: int, initializer_range: float = GOLD_INIT):
    """The gold RM: a seeded random-init ``Qwen3ForSequenceClassification`` (one label). As the
    embedded world's GPT-2 gold, a large initializer range makes it a rich, fixed teacher whose
    score depends on the whole text, not only on its length."""
    import torch
    from transformers import Qwen3Config, Qwen3ForSequenceClassification

    hidden, layers, heads, inter = GOLD
    cfg = Qwen3Config(
        vocab_size=_rows(len(tok)), hidden_size=hidden, intermediate_size=inter, num_hidden_layers=layers,
        num_attention_heads=heads, num_key_value_heads=heads // 2, head_dim=hidden // heads,
        max_position_embeddings=40960, rms_norm_eps=1e-6, tie_word_embeddings=True, use_sliding_window=False,
        attention_dropout=0.0, initializer_range=initializer_range, num_labels=1,
        pad_token_id=tok.pad_token_id, bos_token_id=None, eos_token_id=tok.eos_token_id)
    torch.manual_seed(seed)
    return Qwen3ForSequenceClassification(cfg).eval()


def _save(model, tok, out: Path, dtype: str) -> dict:
    import torch

    model = model.to(getattr(torch, dtype))
    model.save_pretrained(out, safe_serialization=True)
    tok.save_pretrained(out)
    c = model.config
    return {"class": type(model).__name__, "model_type": c.model_type, "dtype": dtype,
            "params": int(sum(p.numel() for p in model.parameters())), "hidden_size": c.hidden_size,
            "num_hidden_layers": c.num_hidden_layers, "num_attention_heads": c.num_attention_heads,
            "tokenizer_tokens": len(tok), "embedding_rows": c.vocab_size}


# ---------------------------------------------------------------------------------------------


def build(out: str | Path, seed: int = 0, dtype: str = "hub", ultrafeedback: int = 4000, alpaca: int = 2000) -> dict:
    """Build every stand-in under ``out`` (see the module docstring); returns the manifest."""
    import datasets

    if dtype not in ("hub", "float32"):
        raise ValueError(f"dtype must be 'hub' or 'float32', got {dtype!r}")
    dt = HUB_DTYPES if dtype == "hub" else dict.fromkeys(HUB_DTYPES, "float32")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    uf, al = ultrafeedback_rows(ultrafeedback, seed), alpaca_rows(alpaca, seed)
    datasets.DatasetDict({"train_prefs": datasets.Dataset.from_dict(uf)}).save_to_disk(str(out / "ultrafeedback"))
    datasets.DatasetDict({"train": datasets.Dataset.from_dict(al)}).save_to_disk(str(out / "alpaca"))
    # the tokenizers' training text: the datasets' prompts, instructions and responses
    text = [*uf["prompt"], *(m[1]["content"] for m in uf["chosen"]), *(m[1]["content"] for m in uf["rejected"]),
            *al["instruction"], *al["output"]]
    ptok, gtok = policy_tokenizer(text), gold_tokenizer(text)
    manifest = {"seed": seed, "dtype": dtype, "stands_in_for": {}, "models": {},
                "datasets": {"ultrafeedback": {"train_prefs": ultrafeedback}, "alpaca": {"train": alpaca}}}
    hub = {"policy": "EleutherAI/pythia-410m", "policy-1b": "EleutherAI/pythia-1b",
           "proxy-14m": "EleutherAI/pythia-14m", "proxy-70m": "EleutherAI/pythia-70m",
           "proxy-160m": "EleutherAI/pythia-160m", "gold": "Skywork/Skywork-Reward-V2-Qwen3-0.6B",
           "ultrafeedback": "HuggingFaceH4/ultrafeedback_binarized", "alpaca": "tatsu-lab/alpaca"}
    for i, (name, shape) in enumerate({**POLICIES, **PROXIES}.items()):
        manifest["models"][name] = _save(neox_model(ptok, shape, seed * 1000 + i), ptok, out / name, dt["neox"])
    manifest["models"]["gold"] = _save(gold_model(gtok, seed * 1000 + 999), gtok, out / "gold", dt["gold"])
    manifest["stands_in_for"] = hub
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(prog="python -m overopt.world.standins", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="folder to build into (e.g. standins, in the run folder)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dtype", choices=("hub", "float32"), default="hub",
                    help="hub: the hub checkpoints' dtypes (float16 Pythia, bfloat16 gold); float32: all float32")
    ap.add_argument("--ultrafeedback-rows", type=int, default=4000)
    ap.add_argument("--alpaca-rows", type=int, default=2000)
    a = ap.parse_args(argv)
    import datasets
    from transformers.utils import logging as hf_logging

    datasets.disable_progress_bars()
    hf_logging.disable_progress_bar()
    m = build(a.out, a.seed, a.dtype, a.ultrafeedback_rows, a.alpaca_rows)
    for name, info in m["models"].items():
        print(f"{a.out}/{name}: {info['class']} {info['params']:,} parameters ({info['dtype']}), "
              f"tokenizer {info['tokenizer_tokens']} tokens  [stands in for {m['stands_in_for'][name]}]")
    print(f"{a.out}/ultrafeedback: train_prefs {m['datasets']['ultrafeedback']['train_prefs']} rows; "
          f"{a.out}/alpaca: train {m['datasets']['alpaca']['train']} rows")
    return m


if __name__ == "__main__":
    main()
