"""The role swap's RL side (Wen et al. 2024): the evaluation samples of a view's RL runs scored
by one RM of that view (a flip-family member, or a grid proxy), so each can serve as the golden
RM of every run of its view (``targets.run_scorers``).
"""
from __future__ import annotations

import numpy as np

from overopt.data.splits import eval_prompts
from overopt.models import RewardModel
from overopt.tables.curves import read_samples


def score_runs(s, norm_json: str, prompts_csv: str, samples: list[str], out_npz: str) -> None:
    """Normalized scores by ``s.rm`` (``settings.RunScores``) of each run's samples, saved as
    one array per run, keyed by the run's target id, aligned with that run's samples rows."""
    prompts = eval_prompts(prompts_csv, "eval")["prompt"].to_numpy()[:s.eval_prompts]
    rm = RewardModel.load(s.rm, norm_json, s.trust_remote_code, s.score_batch_size)
    out = {}
    for path in samples:
        run = read_samples([path])
        if run["prompt"].max() >= len(prompts):
            raise ValueError(f"{path}: prompt index {run['prompt'].max()} beyond the {len(prompts)} eval prompts")
        target = run["rm"].iloc[0]
        if target in out:
            raise ValueError(f"{path}: a second role-swap RL run against {target!r}")
        out[target] = rm.scores(prompts[run["prompt"].to_numpy()].tolist(), run["response"].tolist(),
                                progress=f"samples of the run against {target}")
    np.savez(out_npz, **out)
