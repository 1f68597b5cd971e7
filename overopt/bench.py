"""Benchmark a cold run of the workflow: wall time, peak memory of the whole process tree
(Snakemake and its jobs together), and per-rule costs from Snakemake's ``benchmark:`` files.

    python -m overopt.bench --out results/benchmark            # the default study, cold
    python -m overopt.bench --preset tiny --out results/benchmark-tiny

Runs in a fresh work directory, so nothing under ``results/`` is reused. Timings on shared
machines vary; compare ratios taken in one run.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def _tree_rss(proc) -> int:
    import psutil

    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total


def run(workdir: Path, configfiles: list[str], cores: int) -> dict:
    """Run Snakemake cold in ``workdir``, polling the process tree's RSS every 0.2 s."""
    import psutil

    snakemake = Path(sys.executable).parent / "snakemake"
    cmd = [str(snakemake if snakemake.exists() else "snakemake"), "--cores", str(cores), "--snakefile",
           str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", *configfiles, "-q"]
    start, peak = time.monotonic(), 0
    with open(workdir / "snakemake.out", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak = max(peak, _tree_rss(ps))
            time.sleep(0.2)
    if proc.returncode:
        raise SystemExit(f"snakemake failed (rc {proc.returncode}); see {workdir / 'snakemake.out'}")
    return {"wall_s": time.monotonic() - start, "peak_rss_mb": peak / 2**20}


def rule_costs(results: Path) -> pd.DataFrame:
    """One row per job from the benchmark files: rule, job, seconds, max RSS."""
    rows = []
    for f in sorted((results / "benchmarks").rglob("*.tsv")):
        b = pd.read_csv(f, sep="\t").iloc[0]
        rows.append({"rule": f.parent.name, "job": f.stem, "s": float(b["s"]), "max_rss_mb": float(b["max_rss"])})
    return pd.DataFrame(rows)


def summarize(run_info: dict, jobs: pd.DataFrame) -> pd.DataFrame:
    per_rule = jobs.groupby("rule").agg(jobs=("job", "size"), s=("s", "sum"), max_rss_mb=("max_rss_mb", "max"))
    gen_and_score = per_rule.loc["sample_pool", "s"] + per_rule.loc["score_pool", "s"]
    bon_total = gen_and_score + per_rule.loc["bon_curves", "s"]
    rows = [
        ("wall_s", run_info["wall_s"], "cold run, whole DAG"),
        ("peak_rss_mb", run_info["peak_rss_mb"], "Snakemake + concurrent jobs, summed"),
        ("job_s_total", jobs["s"].sum(), "sum of job seconds (CPU-side work)"),
        ("max_job_rss_mb", jobs["max_rss_mb"].max(), "largest single job"),
        ("bon_cost_ratio", bon_total / gen_and_score,
         "(pool generation + scoring + estimator) / (one generation + one scoring pass per RM)"),
    ]
    out = pd.DataFrame(rows, columns=["metric", "value", "meaning"])
    rules = per_rule.reset_index().rename(columns={"s": "value"})
    rules = rules.assign(metric="rule_s:" + rules["rule"], meaning=rules["jobs"].astype(str) + " job(s)")
    return pd.concat([out, rules[["metric", "value", "meaning"]]], ignore_index=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", help="a preset name in config/presets/ (default: the embedded default)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--out", default="results/benchmark")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    args = ap.parse_args(argv)
    configs = [str(ROOT / "config.yaml")] + ([str(ROOT / "config/presets" / f"{args.preset}.yaml")]
                                             if args.preset else [])
    work = Path(tempfile.mkdtemp(prefix="overopt-bench-"))
    info = run(work, configs, args.cores)
    jobs = rule_costs(work / "results")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs.to_csv(out / "jobs.csv", index=False)
    summary = summarize(info, jobs)
    summary.to_csv(out / "summary.csv", index=False)
    print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
