"""Reference teachers built from another reward model (no torch here: the table jobs that
need to know which prompts are flattened import this without the model stack)."""
from __future__ import annotations

import zlib

import numpy as np


def flat_half(prompts: list[str]) -> np.ndarray:
    """The fixed half of the prompts the flat teacher shrinks (a hash of the prompt text, so
    every job agrees)."""
    return np.array([zlib.crc32(p.encode()) % 2 == 1 for p in prompts], dtype=bool)


class FlatTeacher:
    """Razin et al.'s accurate-but-flat teacher: another RM's normalized scores multiplied by
    ``factor`` on :func:`flat_half` of the prompts. Rankings within a prompt are unchanged
    (accuracy 1.0 against that RM), while the reward variance on those prompts shrinks by
    ``factor**2``."""

    def __init__(self, rm, factor: float):
        self.rm, self.factor = rm, factor

    def scores(self, prompts: list[str], responses: list[str], progress: str | None = None) -> np.ndarray:
        s = self.rm.scores(prompts, responses, progress)
        return np.where(flat_half(prompts), s * self.factor, s)
