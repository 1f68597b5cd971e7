"""The cluster profile on a real single-node SLURM (tests/slurm/cluster.sh): the tiny preset,
reduced to one of each kind of job (``REDUCED``: the full tiny preset runs locally in
test_workflow), runs with --profile profiles/slurm, every job is a SLURM job, and GPU jobs that
run at the same time hold distinct (fake) devices, set by SLURM."""
import os
import re
import subprocess
from datetime import datetime
from itertools import combinations

import pytest

pytestmark = pytest.mark.slow
LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+) ")
SETUP = re.compile(r"CUDA_VISIBLE_DEVICES=(\S+) SLURM_JOB_ID=(\S+)")
# every rule still runs (GPU and CPU ones, the role-swap members' scores of their runs too), with
# fewer jobs of each: one algorithm, no sweeps, bt proxies only, one DAA loss, no shift proxies, two
# mix members without RL of their own
REDUCED = """
proxy: {objectives: [bt]}
rl: {algorithms: [rloo], objectives: [bt], sweeps: []}
daa: {losses: [dpo]}
role_swap: {flip_rates: [0.0, 0.3, 0.45]}
shift: {seeds: []}
mix: {onpolicy_fractions: [1.0, 0.0], rl: false}
"""


def _running() -> bool:
    out = subprocess.run(["sinfo", "-h", "-o", "%T"], capture_output=True, text=True)
    return out.returncode == 0 and bool(re.search(r"idle|mixed|allocated", out.stdout))


@pytest.fixture(scope="module")
def cluster(root):
    script = root / "tests" / "slurm" / "cluster.sh"
    if subprocess.run(["which", "sinfo"], capture_output=True).returncode == 0 and _running():
        yield  # a cluster someone else started: use it, leave it running
        return
    out = subprocess.run([str(script), "start"], capture_output=True, text=True, timeout=600)
    if out.returncode == 3 and os.environ.get("CI") != "true":
        pytest.skip(out.stderr.strip())  # not root here; CI runs as root and must not skip
    assert out.returncode == 0, out.stdout + out.stderr
    yield
    subprocess.run([str(script), "stop"], timeout=60)


def gpu_rules(root) -> set[str]:
    """The rules that declare gpu=1, read from the rule files so a new GPU rule is never missed."""
    rules = set()
    for smk in (root / "workflow" / "rules").glob("*.smk"):
        name = None  # a rule may sit indented under an `if` (daa.smk)
        for line in smk.read_text().splitlines():
            if m := re.match(r"\s*rule (\w+):", line):
                name = m.group(1)
            elif re.search(r"\bgpu=1\b", line):
                rules.add(name)
    return rules


def _span(text):
    stamps = [datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f") for m in map(LINE.match, text.splitlines()) if m]
    return stamps[0], stamps[-1]


def test_tiny_preset_on_slurm(cluster, root, snakemake_bin, tmp_path):
    (tmp_path / "reduced.yaml").write_text(REDUCED)
    cmd = [snakemake_bin, "--profile", str(root / "profiles" / "slurm"), "--snakefile", str(root / "Snakefile"),
           "--directory", str(tmp_path), "--configfile", str(root / "config.yaml"),
           str(root / "config/presets/tiny.yaml"), str(tmp_path / "reduced.yaml"), "--jobs", "4",
           "--slurm-init-seconds-before-status-checks", "3"]  # the 40 s default polls too slowly for a test
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)  # ~10 min alone; a shared machine is slower
    assert out.returncode == 0, (out.stdout + out.stderr)[-5000:]
    assert (tmp_path / "results" / "tables" / "curves.csv").exists()
    jobs = {}
    for log in (tmp_path / "results" / "logs").rglob("*.log"):
        text = log.read_text()
        m = SETUP.search(text)
        assert m, f"{log} has no set-up line"
        cvd, slurm_id = m.groups()
        assert slurm_id.isdigit(), f"{log}: not a SLURM job"
        assert ", preforked" not in text, f"{log}: forked outside its SLURM job"
        jobs[log] = (log.parent.name, cvd, slurm_id, *_span(text))
    assert len({j[2] for j in jobs.values()}) == len(jobs), "each job its own SLURM job"
    gpu_rule = gpu_rules(root)
    assert {"train_rm", "train_rl", "score_runs"} <= gpu_rule
    assert {"score_runs", "role_swap", "train_daa", "replication"} <= {j[0] for j in jobs.values()}  # every rule ran
    gpu = [j for j in jobs.values() if j[0] in gpu_rule]
    assert gpu and all(j[1] != "<unset>" for j in gpu), "SLURM sets CUDA_VISIBLE_DEVICES for GPU jobs"
    assert all(j[1] == "<unset>" for j in jobs.values() if j[0] not in gpu_rule)
    overlapping = [(a, b) for a, b in combinations(gpu, 2) if a[3] < b[4] and b[3] < a[4]]
    for a, b in overlapping:
        assert set(a[1].split(",")).isdisjoint(b[1].split(",")), f"{a} and {b} shared a device"
