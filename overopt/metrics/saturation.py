"""Saturation: an RL run whose proxy stops rising has stalled, it has not over-optimized
(docs/science.md 4.5). Fitting Gao's form to it reads the optimizer's plateau as a large beta,
so such runs are flagged in fits.csv and left out of the coefficient scaling.
"""
from __future__ import annotations

import numpy as np


def saturated(proxy, window: float = 0.5, min_gain: float = 0.1) -> bool:
    """True when the proxy gain over the last ``window`` fraction of the evaluations (ordered by
    step, the first is pi_init) is below ``min_gain`` times the run's total proxy gain, or the
    proxy never rose at all."""
    p = np.asarray(proxy, dtype=np.float64)
    if p.size < 3:
        raise ValueError(f"need at least 3 evaluations to judge saturation, got {p.size}")
    total = p[-1] - p[0]
    start = min(p.size - 2, int(np.floor((p.size - 1) * (1 - window))))  # the window holds >= 2 points
    return bool(total <= 0 or p[-1] - p[start] < min_gain * total)
