"""The embedded default world: a topic-conditioned Markov language, its word-level tokenizer,
prompt splits and pi_init's training text, all built offline from a seed.
"""
from __future__ import annotations
from dataclasses import dataclass
import numpy as np
import pandas as pd


PAD, UNK, EOS = "[PAD]", "[UNK]", "[EOS]"


SPLITS = ("rm_train", "policy_train", "eval", "ood")


def word(i: int) -> str:
    """The language's i-th word (config validation names them too, e.g. shift.cue)."""
    return f"w{i:02d}"


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
        words = [word(i) for i in range(vocab_size)]
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


def language(w: dict, seed: int) -> Language:
    return Language.make(w["vocab_size"], w["topics"] + 1, w["branching"], w["stop_max"], seed)


def build(w: dict, response_len: int, seed: int, out_tokenizer: str, out_corpus: str) -> None:
    """Write the world's tokenizer and pi_init's training corpus."""
    lang = language(w, seed)
    make_tokenizer(lang.words).save_pretrained(out_tokenizer)
    corpus = policy_corpus(lang, w["policy_corpus"], w["prompt_len"], response_len, seed)
    pd.DataFrame({"text": corpus}).to_csv(out_corpus, index=False)
