"""Benchmark a cold run of the workflow: wall time, peak memory of the whole process tree
(Snakemake and its jobs together), per-rule costs from Snakemake's ``benchmark:`` files, and
each rule's fixed overhead (start-up, imports, model loading) against its useful work, from the
``overhead:`` line every job logs at exit (:func:`overopt.runtime.job`).

    python -m overopt.bench --out results/benchmark            # the default study, cold
    python -m overopt.bench --preset tiny --out results/benchmark-tiny
    python -m overopt.bench --results results --out results/benchmark   # a finished run, not rerun

Runs in a fresh work directory, so nothing under ``results/`` is reused. Timings on shared
machines vary; compare ratios taken in one run.
"""
from __future__ import annotations

import argparse
import re
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
    """Run Snakemake cold in ``workdir``, polling the process tree's RSS and the Snakemake
    process's own CPU time (its scheduler, which competes with the jobs) every 0.2 s."""
    import psutil

    snakemake = Path(sys.executable).parent / "snakemake"
    cmd = [str(snakemake if snakemake.exists() else "snakemake"), "--cores", str(cores), "--snakefile",
           str(ROOT / "Snakefile"), "--directory", str(workdir), "--configfile", *configfiles, "-q"]
    start, peak, own_cpu = time.monotonic(), 0, 0.0
    with open(workdir / "snakemake.out", "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        ps = psutil.Process(proc.pid)
        while proc.poll() is None:
            peak = max(peak, _tree_rss(ps))
            try:
                own_cpu = sum(ps.cpu_times()[:2])
            except psutil.Error:
                pass
            time.sleep(0.2)
    if proc.returncode:
        raise SystemExit(f"snakemake failed (rc {proc.returncode}); see {workdir / 'snakemake.out'}")
    return {"wall_s": time.monotonic() - start, "peak_rss_mb": peak / 2**20, "cores": cores,
            "snakemake_cpu_s": own_cpu}


def rule_costs(results: Path) -> pd.DataFrame:
    """One row per job from the benchmark files: rule, job, seconds, max RSS, CPU seconds (Snakemake
    samples every 0.5 s for 15 s, then every 30 s: cpu_s undercounts a longer job)."""
    rows = []
    for f in sorted((results / "benchmarks").rglob("*.tsv")):
        b = pd.read_csv(f, sep="\t").iloc[0]
        rows.append({"rule": f.parent.name, "job": f.stem, "s": float(b["s"]), "max_rss_mb": float(b["max_rss"]),
                     "cpu_s": float(b["cpu_time"])})
    return pd.DataFrame(rows, columns=["rule", "job", "s", "max_rss_mb", "cpu_s"])


OVERHEAD = re.compile(r"overhead: startup\+imports (?P<startup_imports>[\d.]+) s, work (?P<work>-?[\d.]+) s, "
                      r"model loading (?P<loading>[\d.]+) s \(startup (?P<startup>[\d.nan]+) s, imports "
                      r"(?P<imports>[\d.]+) s; cpu (?P<cpu_fixed>[\d.]+) of (?P<cpu_total>[\d.]+) s\)"
                      r"(?: rss (?P<rss_mb>[\d.]+) MB(?P<preforked>, preforked)?)?")


def job_overheads(results: Path, jobs: pd.DataFrame) -> pd.DataFrame:
    """``jobs`` with the last ``overhead:`` line of each job's log (``results/logs/<rule>/<job>.log``)
    split out: startup+imports, model loading, work and CPU seconds, and ``outside``, the part
    of the benchmark's seconds outside the job's Python process (Snakemake's own per-job cost).
    A job run in a fork of the prefork server (``overopt.prefork``) is not in the process tree
    Snakemake's benchmark measures: its ``max_rss_mb`` is the peak RSS its log states
    (``preforked`` True). Jobs whose log has no such line (older code, a killed job) get NaN."""
    cols = list(OVERHEAD.groupindex)
    rows = []
    for _, j in jobs.iterrows():
        log = results / "logs" / j["rule"] / f"{j['job']}.log"
        found = [m.groupdict() for m in OVERHEAD.finditer(log.read_text(errors="replace"))] if log.is_file() else []
        rows.append({**{k: float(v) for k, v in found[-1].items() if k != "preforked" and v},
                     "preforked": bool(found[-1]["preforked"])} if found else {})
    out = pd.concat([jobs.reset_index(drop=True), pd.DataFrame(rows, columns=cols)], axis=1)
    out["preforked"] = out["preforked"].fillna(False).astype(bool)
    out.loc[out["preforked"], "max_rss_mb"] = out.loc[out["preforked"], "rss_mb"]
    out["outside"] = (out["s"] - out["startup_imports"] - out["loading"] - out["work"]).clip(lower=0)
    return out


STAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", re.M)


def timeline(results: Path, jobs: pd.DataFrame) -> pd.DataFrame:
    """``jobs`` with ``start`` and ``end`` (seconds from the first job's start): the end is the
    last timestamp in the job's log, the start that minus the benchmark's seconds. Jobs whose log
    has no timestamp are left out."""
    rows = []
    for _, j in jobs.iterrows():
        log = results / "logs" / j["rule"] / f"{j['job']}.log"
        stamps = STAMP.findall(log.read_text(errors="replace")) if log.is_file() else []
        if stamps:
            end = pd.Timestamp(stamps[-1].replace(",", ".")).timestamp()
            rows.append({"rule": j["rule"], "job": j["job"], "start": end - j["s"], "end": end})
    t = pd.DataFrame(rows, columns=["rule", "job", "start", "end"])
    t0 = t["start"].min() if len(t) else 0.0
    return t.assign(start=t["start"] - t0, end=t["end"] - t0).sort_values("start", ignore_index=True)


def concurrency(t: pd.DataFrame, cores: int) -> pd.DataFrame:
    """Seconds of the run (first job's start to last job's end) with k jobs running, k = 0 ..
    max, and the core-seconds left idle there (every job holds one core: the workflow's jobs
    are single-threaded); with the rules that ran alone in the stretches below ``cores`` jobs."""
    edges = sorted(set(t["start"]) | set(t["end"]))
    rows = []
    for a, b in zip(edges, edges[1:]):
        mid = (a + b) / 2
        on = t[(t["start"] <= mid) & (t["end"] > mid)]
        rows.append({"k": len(on), "s": b - a, "rules": ",".join(sorted(set(on["rule"])))})
    seg = pd.DataFrame(rows, columns=["k", "s", "rules"])
    out = seg.groupby("k", as_index=False)["s"].sum()
    out["idle_core_s"] = (cores - out["k"]).clip(lower=0) * out["s"]
    under = seg[seg["k"] < cores]
    out["rules"] = out["k"].map(under.groupby("k").apply(
        lambda g: ",".join(g.groupby("rules")["s"].sum().sort_values(ascending=False).index[:6]),
        include_groups=False) if len(under) else {})
    return out


def overhead_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule, over its jobs with an ``overhead:`` line: jobs, total wall seconds, the fixed
    overhead (every benchmarked second that is not the job's logged work: startup+imports, model
    loading and the time outside the job's process, shown apart), the useful work, the overhead
    share of the wall time and of the CPU time (startup+imports CPU over the process's CPU); a
    last row ``all`` for the study."""
    j = jobs.dropna(subset=["work"]).assign(fixed_s=lambda d: (d["s"] - d["work"]).clip(lower=0))

    def row(name, g):
        wall = g["s"].sum()
        return {"rule": name, "jobs": len(g), "wall_s": wall, "startup_imports_s": g["startup_imports"].sum(),
                "model_loading_s": g["loading"].sum(), "outside_s": g["outside"].sum(), "fixed_s": g["fixed_s"].sum(),
                "work_s": g["work"].sum(), "overhead_share": g["fixed_s"].sum() / wall if wall else float("nan"),
                "cpu_overhead_share": g["cpu_fixed"].sum() / g["cpu_total"].sum() if len(g) else float("nan")}

    return pd.DataFrame([row(r, g) for r, g in j.groupby("rule", sort=False)] + [row("all", j)])


def calibration_table(jobs: pd.DataFrame) -> pd.DataFrame:
    """Per rule, what the cost plan (``overopt.plan``) is calibrated and tested against: jobs,
    the median over its jobs of the job process's CPU seconds (the ``overhead:`` line's total;
    the wall seconds where a job has none), and the largest max RSS. CPU seconds, not wall: a
    job's wall time grows with whatever else the machine runs, its CPU time hardly does, and the
    plan predicts one job alone on an idle core."""
    j = jobs.assign(cost=jobs["cpu_total"].fillna(jobs["s"]))
    out = j.groupby("rule", sort=True).agg(jobs=("job", "size"), measured=("cpu_total", "count"),
                                           median_s=("cost", "median"), median_wall_s=("s", "median"),
                                           max_rss_mb=("max_rss_mb", "max")).reset_index()
    return out.round({"median_s": 2, "median_wall_s": 2, "max_rss_mb": 0})


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
        ("snakemake_cpu_s", run_info.get("snakemake_cpu_s", float("nan")),
         "CPU seconds of the Snakemake process itself (DAG, scheduling, polling)"),
        ("core_busy_share", jobs["s"].sum() / (run_info["wall_s"] * run_info.get("cores", 1)),
         "job seconds / (wall x cores): 1 = every core ran a job the whole time"),
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
    ap.add_argument("--results", help="summarize this finished run's results folder instead of running one "
                                      "(no wall time or peak memory then)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if args.results:
        work, info, results = None, None, Path(args.results)
    else:
        configs = [str(ROOT / "config.yaml")] + ([str(ROOT / "config/presets" / f"{args.preset}.yaml")]
                                                 if args.preset else [])
        work = Path(tempfile.mkdtemp(prefix="overopt-bench-"))
        info, results = run(work, configs, args.cores), work / "results"
    jobs = job_overheads(results, rule_costs(results))
    jobs.to_csv(out / "jobs.csv", index=False)
    if info is not None:
        summary = summarize(info, jobs)
        summary.to_csv(out / "summary.csv", index=False)
        print(summary.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    calibration_table(jobs).to_csv(out / "calibration.csv", index=False)  # tests/data/benchmark_*.csv
    t = timeline(results, jobs)
    t.to_csv(out / "timeline.csv", index=False)
    if len(t):
        conc = concurrency(t, args.cores)
        conc.to_csv(out / "concurrency.csv", index=False)
        print(f"\njobs running at once ({t['end'].max():.0f} s from the first job's start to the last one's end; "
              f"{conc['idle_core_s'].sum():.0f} core-seconds idle on {args.cores} cores):")
        print(conc.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
    table = overhead_table(jobs)
    table.to_csv(out / "overhead.csv", index=False)
    if len(table) > 1:
        print("\nfixed overhead per rule (startup+imports, model loading, outside the job's process) vs work:")
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        print(f"\nstudy: {table.iloc[-1]['overhead_share']:.0%} of the jobs' wall time and "
              f"{table.iloc[-1]['cpu_overhead_share']:.0%} of their CPU time is fixed overhead "
              f"({int(table.iloc[-1]['jobs'])} of {len(jobs)} jobs logged it)")
    else:
        print("no job logged an `overhead:` line (a run of older code?): no overhead table")
    if work is not None and not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
