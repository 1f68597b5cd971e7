"""A job's fixed overhead: runtime.job() logs it at exit, overopt.bench reads it beside the
benchmark files and splits each rule's time into fixed overhead and useful work."""
import os
import subprocess
import sys

import pandas as pd
import pytest

from overopt import bench

JOB = """
import sys, time, types
from overopt import runtime
smk = types.SimpleNamespace(log=[sys.argv[1]], threads=1, resources=types.SimpleNamespace(gpu=0))
runtime.job(smk, 0)
import scipy.special  # a library whose first import is overhead (runtime.job's list), not work
t = time.process_time()
while time.process_time() - t < 0.3:
    pass
"""


def test_a_job_logs_its_overhead_and_bench_reads_it(tmp_path, root):
    log = tmp_path / "logs" / "rule_a" / "job1.log"
    log.parent.mkdir(parents=True)
    out = subprocess.run([sys.executable, "-c", JOB, str(log)], check=False, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr
    (tmp_path / "benchmarks" / "rule_a").mkdir(parents=True)
    (tmp_path / "benchmarks" / "rule_a" / "job1.tsv").write_text(
        "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
        "60.0\t0:01:00\t100\t200\t90\t95\t0\t0\t90\t50\n")
    jobs = bench.job_overheads(tmp_path, bench.rule_costs(tmp_path))
    j = jobs.iloc[0]
    assert j["startup"] > 0 and j["imports"] > 0  # python start and scipy's first import
    assert j["startup_imports"] == pytest.approx(j["startup"] + j["imports"], abs=0.02)
    assert j["work"] >= 0.25 and j["loading"] == 0  # the busy loop; no model loaded
    assert 0 < j["cpu_fixed"] < j["cpu_total"]
    table = bench.overhead_table(jobs)
    all_ = table.set_index("rule").loc["all"]
    assert all_["jobs"] == 1 and all_["wall_s"] == 60.0
    assert all_["fixed_s"] + all_["work_s"] == pytest.approx(60.0)  # every benchmarked second is one or the other
    assert 0 < all_["cpu_overhead_share"] < 1


def test_overhead_table_per_rule_and_missing_lines(tmp_path):
    line = ("2026-12-01 09:00:00,000 INFO overopt: overhead: startup+imports {f} s, work {w} s, model loading "
            "{m} s (startup 1.00 s, imports {i} s; cpu {cf} of {ct} s)\n")
    rows = [("train_rm", "a", 20.0, (8.0, 10.0, 1.0, 7.0, 7.5, 18.0)), ("train_rm", "b", 12.0, (8.0, 2.0, 1.0, 7.0, 7.5, 10.0)),
            ("curves", "curves", 2.0, (1.5, 0.3, 0.0, 0.5, 0.6, 0.9)), ("fits", "fits", 3.0, None)]
    for rule, job, s, v in rows:
        (tmp_path / "benchmarks" / rule).mkdir(parents=True, exist_ok=True)
        (tmp_path / "benchmarks" / rule / f"{job}.tsv").write_text(f"s\tmax_rss\tcpu_time\n{s}\t100\t1\n")
        (tmp_path / "logs" / rule).mkdir(parents=True, exist_ok=True)
        text = "an older job's log\n" if v is None else line.format(f=v[0], w=v[1], m=v[2], i=v[3], cf=v[4], ct=v[5])
        (tmp_path / "logs" / rule / f"{job}.log").write_text(text)
    jobs = bench.job_overheads(tmp_path, bench.rule_costs(tmp_path))
    assert jobs.set_index("job").loc["fits", ["work", "startup_imports"]].isna().all()  # no line: left out
    t = bench.overhead_table(jobs).set_index("rule")
    assert list(t.index) == ["curves", "train_rm", "all"]
    assert t.loc["train_rm", "jobs"] == 2 and t.loc["train_rm", "wall_s"] == 32.0
    assert t.loc["train_rm", "work_s"] == 12.0 and t.loc["train_rm", "fixed_s"] == 20.0
    assert t.loc["train_rm", "outside_s"] == pytest.approx(2.0)  # 20 - (8 + 1 + 10) and 12 - (8 + 1 + 2) = 1 each
    assert t.loc["train_rm", "overhead_share"] == pytest.approx(20 / 32)
    assert t.loc["train_rm", "cpu_overhead_share"] == pytest.approx(15 / 28)
    assert t.loc["all", "jobs"] == 3 and t.loc["all", "fixed_s"] == pytest.approx(20 + 1.7)


def test_results_mode_writes_the_tables(tmp_path, capsys):
    """`python -m overopt.bench --results DIR` summarizes a finished run without running one."""
    res = tmp_path / "results"
    (res / "benchmarks" / "curves").mkdir(parents=True)
    (res / "benchmarks" / "curves" / "curves.tsv").write_text("s\tmax_rss\tcpu_time\n2.0\t100\t1\n")
    (res / "logs" / "curves").mkdir(parents=True)
    (res / "logs" / "curves" / "curves.log").write_text(
        "overhead: startup+imports 1.50 s, work 0.30 s, model loading 0.00 s (startup 0.50 s, imports 1.00 s; "
        "cpu 0.60 of 0.90 s)\n")
    bench.main(["--results", str(res), "--out", str(tmp_path / "out")])
    assert "of the jobs' wall time" in capsys.readouterr().out
    assert len(pd.read_csv(tmp_path / "out" / "jobs.csv")) == 1
    assert pd.read_csv(tmp_path / "out" / "overhead.csv")["rule"].tolist() == ["curves", "all"]


def test_timeline_and_concurrency_against_a_brute_force_count(tmp_path):
    """Each job ends at its log's last timestamp and starts its benchmark's seconds before; the
    seconds with k jobs running agree with a count on a 0.1 s grid, and the idle core-seconds
    with cores x span - job seconds."""
    jobs = [("a", "a1", "09:00:10,000", 10.0), ("a", "a2", "09:00:06,000", 4.0), ("b", "b1", "09:00:20,000", 5.0)]
    for rule, job, end, s in jobs:
        for kind, text in (("benchmarks", f"s\tmax_rss\tcpu_time\n{s}\t100\t1\n"),
                           ("logs", f"2026-12-01 09:00:00,500 INFO overopt: threads=1\n2026-12-01 {end} INFO done\n")):
            (tmp_path / kind / rule).mkdir(parents=True, exist_ok=True)
            (tmp_path / kind / rule / f"{job}.{'tsv' if kind == 'benchmarks' else 'log'}").write_text(text)
    t = bench.timeline(tmp_path, bench.rule_costs(tmp_path)).set_index("job")
    assert t.loc["a1", ["start", "end"]].tolist() == [0.0, 10.0] and t.loc["a2", ["start", "end"]].tolist() == [2.0, 6.0]
    assert t.loc["b1", ["start", "end"]].tolist() == [15.0, 20.0]
    conc = bench.concurrency(t.reset_index(), 2).set_index("k")
    grid = [((t["start"] <= x) & (t["end"] > x)).sum() for x in [i / 10 + 0.05 for i in range(200)]]
    for k in range(3):
        assert conc.loc[k, "s"] == pytest.approx(grid.count(k) / 10)
    assert conc["idle_core_s"].sum() == pytest.approx(2 * 20 - 19)
    assert conc.loc[1, "rules"].split(",")[0] == "a"  # 6 s of a alone (a1), 5 s of b alone
