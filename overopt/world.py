"""The embedded default world: a topic-conditioned Markov language, its tokenizer, prompt
splits, the initial policy's training text and a random "teacher" gold reward model.

Everything is built offline from a seed and saved with ``save_pretrained`` so that the rest
of the pipeline loads it exactly as it would load a hub model.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
import numpy as np
import pandas as pd

PAD, UNK, EOS = "[PAD]", "[UNK]", "[EOS]"
SPLITS = ("rm_train", "policy_train", "eval", "ood")


@dataclass
class Language:
    """A sparse random Markov chain per topic over ``vocab_size`` words.

    Topics share each word's successor set but weight it differently, so a response's
    continuation depends on the prompt's topic (the prompt-related structure the gold RM can
    reward). The last topic is held out of every training split: it makes the OOD prompts.
    """

    words: list[str]
    successors: np.ndarray  # [V, S] successor word ids
    probs: np.ndarray  # [topics, V, S] transition probabilities
    stop: np.ndarray  # [V] probability of ending a response after each word

    @classmethod
    def make(cls, vocab_size: int, topics: int, branching: int, stop_max: float, seed: int) -> "Language":
        rng = np.random.default_rng(seed)
        words = [f"w{i:02d}" for i in range(vocab_size)]
        successors = np.stack([rng.choice(vocab_size, size=branching, replace=False) for _ in range(vocab_size)])
        probs = rng.dirichlet(np.full(branching, 0.5), size=(topics, vocab_size))
        stop = rng.uniform(0.0, stop_max, size=vocab_size)
        return cls(words, successors, probs, stop)

    @property
    def topics(self) -> int:
        return self.probs.shape[0]

    def _walk(self, rng: np.random.Generator, topic: int, start: int, length: int, stop: bool) -> list[int]:
        seq, w = [], start
        for _ in range(length):
            k = rng.choice(self.successors.shape[1], p=self.probs[topic, w])
            w = int(self.successors[w, k])
            seq.append(w)
            if stop and rng.random() < self.stop[w]:
                break
        return seq

    def prompt(self, rng: np.random.Generator, topic: int, length: int) -> list[int]:
        start = int(rng.integers(len(self.words)))
        return [start] + self._walk(rng, topic, start, length - 1, stop=False)

    def response(self, rng: np.random.Generator, topic: int, prompt: list[int], max_len: int) -> list[int]:
        return self._walk(rng, topic, prompt[-1], max_len, stop=True)

    def text(self, ids: list[int]) -> str:
        return " ".join(self.words[i] for i in ids)


def prompt_text(lang: Language, ids: list[int]) -> str:
    """Prompts end with a space: TRL joins prompt and completion as strings, and a
    word-level tokenizer would merge the boundary words otherwise."""
    return lang.text(ids) + " "


def make_prompts(lang: Language, sizes: dict[str, int], length: int, seed: int) -> pd.DataFrame:
    """Prompt splits; in-distribution splits draw topics 0..T-2, ``ood`` uses topic T-1."""
    rng = np.random.default_rng(seed + 1)
    rows = []
    for split in SPLITS:
        for i in range(sizes[split]):
            topic = lang.topics - 1 if split == "ood" else int(rng.integers(lang.topics - 1))
            rows.append({"split": split, "prompt_id": f"{split}-{i}", "topic": topic,
                         "prompt": prompt_text(lang, lang.prompt(rng, topic, length))})
    return pd.DataFrame(rows)


def policy_corpus(lang: Language, n: int, prompt_len: int, response_len: int, seed: int) -> list[str]:
    """Training text for pi_init: prompt + response + EOS from in-distribution topics."""
    rng = np.random.default_rng(seed + 2)
    out = []
    for _ in range(n):
        topic = int(rng.integers(lang.topics - 1))
        p = lang.prompt(rng, topic, prompt_len)
        r = lang.response(rng, topic, p, response_len)
        out.append(prompt_text(lang, p) + lang.text(r) + EOS)
    return out


def make_tokenizer(words: list[str]):
    """A word-level fast tokenizer with pad distinct from EOS (sequence classifiers read the
    last non-pad token)."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {tok: i for i, tok in enumerate([PAD, UNK, EOS, *words])}
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token=PAD, unk_token=UNK, eos_token=EOS)
    return fast


def gpt2_config(vocab_size: int, n_positions: int, arch: dict, tokenizer, **extra):
    from transformers import GPT2Config

    return GPT2Config(
        vocab_size=vocab_size, n_positions=n_positions, n_embd=arch["n_embd"], n_layer=arch["n_layer"],
        n_head=arch["n_head"], n_inner=arch.get("n_inner"), resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
        pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
        bos_token_id=tokenizer.eos_token_id, **extra,
    )


def build_gold(tokenizer, arch: dict, n_positions: int, initializer_range: float, seed: int):
    """The gold RM: a seeded random-init GPT-2 reward transformer (a fixed, rich "teacher")."""
    import torch
    from transformers import GPT2ForSequenceClassification

    torch.manual_seed(seed)
    cfg = gpt2_config(len(tokenizer), n_positions, arch, tokenizer, num_labels=1,
                      initializer_range=initializer_range)
    return GPT2ForSequenceClassification(cfg).eval()


def language(w: dict, seed: int) -> Language:
    return Language.make(w["vocab_size"], w["topics"] + 1, w["branching"], w["stop_max"], seed)


def build(w: dict, response_len: int, seed: int, out_tokenizer: str, out_corpus: str) -> None:
    """Write the world's tokenizer and pi_init's training corpus."""
    lang = language(w, seed)
    make_tokenizer(lang.words).save_pretrained(out_tokenizer)
    corpus = policy_corpus(lang, w["policy_corpus"], w["prompt_len"], response_len, seed)
    pd.DataFrame({"text": corpus}).to_csv(out_corpus, index=False)


def _load_dataset(name_or_path: str, split: str):
    """A local ``save_to_disk`` folder, or a hub dataset id (needs the hub at run time)."""
    import datasets

    p = Path(name_or_path).expanduser()
    if p.is_dir():
        d = datasets.load_from_disk(str(p))
        return d[split] if isinstance(d, datasets.DatasetDict) else d
    return datasets.load_dataset(name_or_path, split=split)


def dataset_prompts(spec: dict, sizes: dict[str, int], seed: int) -> pd.DataFrame:
    """Prompt splits from a dataset (real-scale runs): shuffled with the seed, then cut into
    ``rm_train``, ``policy_train`` and ``eval``; ``ood`` from a second dataset, if given."""
    rows = []
    d = _load_dataset(spec["name_or_path"], spec["split"]).shuffle(seed=seed)
    need = sum(sizes[s] for s in SPLITS if s != "ood")
    if len(d) < need:
        raise ValueError(f"{spec['name_or_path']} has {len(d)} prompts; world.prompts asks for {need}")
    texts, start = d[spec["column"]][:need], 0
    for split in SPLITS[:-1]:
        rows += [{"split": split, "prompt_id": f"{split}-{i}", "topic": -1, "prompt": t}
                 for i, t in enumerate(texts[start:start + sizes[split]])]
        start += sizes[split]
    if spec.get("ood_name_or_path"):
        o = _load_dataset(spec["ood_name_or_path"], spec.get("ood_split", spec["split"])).shuffle(seed=seed)
        rows += [{"split": "ood", "prompt_id": f"ood-{i}", "topic": -1, "prompt": t}
                 for i, t in enumerate(o[spec.get("ood_column", spec["column"])][:sizes["ood"]])]
    return pd.DataFrame(rows)


def write_prompts(w: dict, seed: int, out_csv: str) -> None:
    """The prompt splits: from ``world.prompt_dataset`` if set, else the embedded language."""
    spec = w.get("prompt_dataset") or {}
    if spec.get("name_or_path"):
        df = dataset_prompts(spec, w["prompts"], seed)
    else:
        df = make_prompts(language(w, seed), w["prompts"], w["prompt_len"], seed)
    df.to_csv(out_csv, index=False)


def save_gold(g: dict, tokenizer_dir: str, n_positions: int, seed: int, out_dir: str) -> None:
    """Build the seeded teacher RM and save it with its tokenizer."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    build_gold(tok, g["arch"], n_positions, g["initializer_range"], seed).save_pretrained(out_dir)
    tok.save_pretrained(out_dir)
