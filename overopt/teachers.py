"""Reference teachers built from another reward model (no torch here: the table jobs that
need to know which prompts are flattened import this without the model stack)."""
from __future__ import annotations

import zlib

import numpy as np


def flat_half(prompts: list[str]) -> np.ndarray:
    """The fixed half of the prompts the flat teacher shrinks (a hash of the prompt text, so
    every job agrees)."""
    return np.array([zlib.crc32(p.encode()) % 2 == 1 for p in prompts], dtype=bool)


class Transformed:
    """A reference teacher that scores text: another RM's normalized scores through a registry
    transform. ``{"flat": factor}`` is Razin et al.'s accurate-but-flat teacher: the scores
    multiplied by ``factor`` on :func:`flat_half` of the prompts, so rankings within a prompt
    are unchanged (accuracy 1.0 against that RM) while the reward variance on those prompts
    shrinks by ``factor**2``."""

    def __init__(self, rm, spec: dict):
        self.rm, self.spec = rm, spec

    def scores(self, prompts: list[str], responses: list[str], progress: str | None = None) -> np.ndarray:
        return transform(self.rm.scores(prompts, responses, progress), prompts, self.spec)


def transform(scores: np.ndarray, prompts: list[str], spec: dict) -> np.ndarray:
    """A reference teacher's scores from its base's normalized ``scores`` (one row per prompt,
    or one entry per (prompt, response) with ``prompts`` aligned): the registry's transform."""
    (name, factor), = spec.items()
    if name != "flat":
        raise ValueError(f"unknown score transform {name!r}")
    half = flat_half(prompts)
    return scores * np.where(half, factor, 1.0).reshape((-1,) + (1,) * (np.ndim(scores) - 1))
