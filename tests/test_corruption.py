"""Corrupted inputs on a finished tiny run: the job that reads the file fails, its log and
Snakemake's message name the path and what is wrong, no table is written from it, and every
result already computed elsewhere stays."""
import json

import numpy as np
import pytest
from conftest import copy_run, run_snakemake

pytestmark = pytest.mark.slow


@pytest.fixture
def run_copy(tiny_run, tmp_path):
    return copy_run(tiny_run, tmp_path / "run")


def _proxy(run):
    return sorted(p.parent.name for p in (run / "results" / "rms").glob("*-bt-s0/metrics.json"))[0]


def _truncate_csv(path):
    text = path.read_text()
    path.write_text(text[: text.rindex("\n", 0, len(text) - 1) + 12])  # cut inside the last row


def _drop_last_row(path):
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]))  # a clean cut at a row boundary: an evaluation step missing


def _nan_scores(path):
    a = np.load(path)
    a[0, 0] = np.nan
    np.save(path, a)


def _wrong_shape(path):
    np.save(path, np.zeros((3, 3)))


def _random_bytes(path):
    path.write_bytes(np.random.default_rng(0).bytes(300))


def _zero_scale(path):
    d = json.loads(path.read_text())
    path.write_text(json.dumps({**d, "scale": 0.0}))


def _truncate_model(path):
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


CASES = {  # file (under results/, {rm}: a bt proxy) -> corruption, the job that reads it (its rule and
    # output), what the error says. The job is forced: a change inside a model folder is invisible to planning.
    "truncated-rl-csv": ("rl/small/rloo/gold/kl0.1-s0.csv", _truncate_csv, "curves", "tables/curves.csv", "newline"),
    "rl-csv-missing-step": ("rl/small/rloo/gold/kl0.1-s0.csv", _drop_last_row, "curves", "tables/curves.csv",
                            "missing [6]"),
    "nan-scores": ("reference/scores/{rm}.npy", _nan_scores, "bon_curves", "bon/curves.csv", "NaN"),
    "wrong-shape-scores": ("reference/scores/{rm}.npy", _wrong_shape, "bon_curves", "bon/curves.csv", "shape"),
    "random-bytes-scores": ("reference/scores/{rm}.npy", _random_bytes, "bon_curves", "bon/curves.csv", ".npy"),
    "zero-scale": ("rms/{rm}/normalization.json", _zero_scale, "score_eval", "rm_eval/scores/{rm}.npz", "scale"),
    "truncated-model": ("rms/{rm}/model/model.safetensors", _truncate_model, "score_eval", "rm_eval/scores/{rm}.npz",
                        "safetensors"),
    "truncated-pairs": ("labels/pairs.csv", _truncate_csv, "train_rm", "rms/{rm}/metrics.json", "newline"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_corrupted_input_fails_naming_the_path(case, run_copy, tiny_repo, snakemake_bin):
    rel, corrupt, rule, target, says = CASES[case]
    rm = _proxy(run_copy)
    path = run_copy / "results" / rel.format(rm=rm)
    corrupt(path)
    kept = {p: p.stat().st_mtime_ns for p in (run_copy / "results" / "rl").rglob("*.csv")}
    kept.update({p: p.stat().st_mtime_ns for p in (run_copy / "results" / "world").rglob("*") if p.is_file()})
    kept.pop(path, None)
    out = run_snakemake(snakemake_bin, tiny_repo, run_copy, "--cores", "1", f"results/{target.format(rm=rm)}",
                        "--forcerun", rule, timeout=600)  # --forcerun takes every name after it
    text = out.stdout + out.stderr
    assert out.returncode != 0, text[-3000:]
    assert str(path.relative_to(run_copy)) in text and says in text, text[-3000:]
    logs = [p.read_text() for p in (run_copy / "results" / "logs").rglob("*.log")]
    assert any(str(path.relative_to(run_copy)) in log and "Traceback" in log for log in logs)
    for p, mtime in kept.items():  # nothing already computed was lost or rewritten
        assert p.exists() and p.stat().st_mtime_ns == mtime, p
