"""The real-model path end to end, offline (config/presets/pythia-offline.yaml on the stand-ins of
overopt/world/standins.py): GPT-NeoX policies and proxies on a byte-level BPE tokenizer without a
pad token, a Qwen3 gold RM with its own tokenizer and chat template, dataset-folder prompts,
PPO and RLOO, DAA, the RM evaluation, fits, figures and the scorecard; once in fp32 and once with
bf16 forced on the CPU, and the same texts scored alike in both dtypes."""
import subprocess
import sys

import numpy as np
import pytest

from overopt import outputs

pytestmark = pytest.mark.slow
PRESET = "config/presets/pythia-offline.yaml"


def _run(root, snakemake_bin, work, *config, overlay=None):
    subprocess.run([sys.executable, "-m", "overopt.world.standins", "--out", str(work / "standins")], check=True,
                   capture_output=True, timeout=300, cwd=root)
    extra = []
    if overlay:
        (work / "overlay.yaml").write_text(overlay)
        extra = [str(work / "overlay.yaml")]
    cmd = [snakemake_bin, "--cores", "2", "--snakefile", str(root / "Snakefile"), "--directory", str(work),
           "--configfile", str(root / "config.yaml"), str(root / PRESET), *extra,
           *(["--config", *config] if config else [])]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    for name in outputs.TABLES:
        assert (work / "results" / "tables" / f"{name}.csv").stat().st_size > 0, name
    return work


@pytest.fixture(scope="module")
def fp32(root, snakemake_bin, tmp_path_factory):
    return _run(root, snakemake_bin, tmp_path_factory.mktemp("standins-fp32"), "dtype=float32")


@pytest.fixture(scope="module")
def bf16(root, snakemake_bin, tmp_path_factory):
    # the papers' own designs add no dtype path of their own (fp32 runs them): off, to keep CI short
    return _run(root, snakemake_bin, tmp_path_factory.mktemp("standins-bf16"), "dtype=bfloat16",
                overlay="role_swap: {flip_rates: []}\nshift: {seeds: []}\nmix: {onpolicy_fractions: []}\n")


def test_every_arm_runs_in_fp32(fp32):
    import pandas as pd

    curves = pd.read_csv(fp32 / "results/tables/curves.csv")
    assert {"bon", "rl", "daa"} == set(curves["method"])
    assert {"grid", "flip", "cue"} <= set(curves["family"])  # the role swap's and the shift's proxies too
    rl = curves[curves["method"] == "rl"]
    assert {"ppo", "rloo"} == set(rl["algorithm"]) and {"p410m", "p1b"} == set(rl["policy"])
    assert curves[["gold", "proxy", "d"]].notna().all().all()
    norm = (fp32 / "results/rms/gold/normalization.json").read_text()
    assert '"chat": true' in norm  # the gold RM scores through its chat template everywhere
    figures = {f.name for f in outputs.FIGURES}
    assert figures & {p.stem for p in (fp32 / "results/figures").glob("*.png")} >= {"bon_by_rm_size", "replication"}


def test_bf16_runs_and_scores_the_same_texts_alike(fp32, bf16):
    """The bf16 run finishes every job; the gold RM's normalized scores of one pool's texts agree
    between fp32 and bf16 to within bf16's precision (about 3 significant digits)."""
    from overopt import runtime
    from overopt.data.splits import eval_prompts, read_pool
    from overopt.models import RewardModel

    logs = (bf16 / "results/logs/score_pool/gold.log").read_text()
    assert "bfloat16" in logs  # the job ran in the dtype it was given
    prompts = eval_prompts(str(fp32 / "results/world/prompts.csv"))["prompt"].to_numpy()
    pool = read_pool(str(fp32 / "results/reference/pool.csv")).head(400)
    args = (prompts[pool["prompt_idx"]].tolist(), pool["response"].tolist())
    scores = {}
    try:
        for dtype in ("float32", "bfloat16"):
            runtime.set_dtype(dtype)
            rm = RewardModel.load(str(fp32 / "standins/gold"), str(fp32 / "results/rms/gold/normalization.json"))
            assert str(next(rm.model.parameters()).dtype) == f"torch.{dtype}"
            scores[dtype] = rm.scores(*args)
    finally:
        runtime.set_dtype("auto")
    a, b = scores["float32"], scores["bfloat16"]
    assert a.dtype == b.dtype == np.float64 and np.isfinite(b).all()
    assert np.abs(a - b).max() < 0.15 and np.corrcoef(a, b)[0, 1] > 0.99
