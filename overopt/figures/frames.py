"""The tables a figure job reads, loaded once and shared by the figures it draws."""
from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd

from overopt import outputs
from overopt.figures import card, gao, mao, razin, scorecard, wen  # noqa: F401  (the registry's drawers: tracked code)


class Tables:
    """``tables[name]`` reads ``results/tables/<name>.csv`` (the job's inputs) on first use."""

    def __init__(self, paths: dict[str, str], settings):
        self.paths, self.settings, self._frames = paths, settings, {}

    def __getitem__(self, name: str) -> pd.DataFrame:
        if name not in self._frames:
            self._frames[name] = pd.read_csv(self.paths[name])
        return self._frames[name]

    @cached_property
    def study(self):
        from overopt.figures.gao import Study

        return Study(self)


def draw(paths: dict[str, str], settings, out_dir: str) -> None:
    """Draw exactly ``settings.names`` (registered figures) into ``out_dir``, as PNG and PDF."""
    tables, out = Tables(paths, settings), Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for name in settings.names:
        outputs.drawer(name)(tables, out / name)
