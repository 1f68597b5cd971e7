"""A cost plan before a run: per rule, how many jobs, each job's memory and time, and the whole
study's wall time on N cores or N GPUs, from the config alone. Nothing runs: the config is
merged and validated as Snakemake would (``--configfile`` overlays deep-merge with
``snakemake.utils.update_config``: mappings merge, lists replace), then costed.

    python -m overopt.plan --configfile config.yaml                        # the default study, 2 cores
    python -m overopt.plan --configfile config.yaml config/presets/tiny.yaml --cores 4
    python -m overopt.plan --configfile config.yaml config/presets/pythia.yaml \\
        --profile profiles/pythia --gpus 8 --csv results/plan.csv

The model (docs/running.md, "Cost plan", says what it leaves out):

* **Jobs** per rule from the registry and the grids (:mod:`overopt.targets`), as the workflow's
  ``rule all`` asks for them (checked against ``snakemake -n`` in the tests).
* **Time** of a job = a fixed overhead + work. The fixed overhead is the process's start-up and
  library imports (measured per rule, :data:`OVERHEAD_S`; ``overopt.bench`` splits it off a
  run's logs), or, for a torch job of a local run, which forks from a server that imported the
  libraries once (:mod:`overopt.prefork`), :data:`PREFORK_OVERHEAD_S`; and, on a GPU, CUDA's start. The work is a sum over the job's model passes, each
  ``layer_passes x s_per_layer_pass + FLOPs / throughput``: forward 2 x params x tokens FLOPs,
  training 6 x params x tokens (a step is 3 layer passes: forward and backward), sampling one
  forward pass per new token (KV cache: 2 x params FLOPs per token overall). On the CPU the
  per-pass cost dominates for the embedded models (tens of thousands of parameters); on a GPU,
  FLOPs dominate for real ones. A table job's work is its row count times a per-rule cost.
* **Memory**: CPU RAM from :func:`overopt.resources.estimate` (what validation checks against
  the profile's ``mem_mb``), plus the weights of hub models (which it leaves out): fp32 on the
  CPU, one bf16 copy passing through host memory on a GPU run. GPU memory at bf16: 2 bytes a
  parameter per inference model; a model trained from fp32 weights (proxies, built policies)
  16 bytes (fp32 weights, grads and two Adam moments), one loaded in bf16 (RL and DAA
  policies, PPO's value model) 8; training activations ``b s L (34 d + 5 h s)`` bytes
  (Korthikanti et al. 2022), a forward pass one layer of them, sampling a KV cache
  ``4 b s L d`` bytes, LM logits 10 bytes a token and vocabulary entry; plus 500 MB of CUDA
  context.
* **Wall time**: the job DAG scheduled greedily (list scheduling: a free slot takes the ready
  job with the longest remaining chain), each job holding its threads (the profile's
  ``set-threads``, default 1) of ``--cores`` and, on a GPU run, one of ``--gpus``. The lower
  bound ``max(total work / slots, longest chain)`` is printed beside it.

Calibration (the constants below): the CPU constants are fitted to the default study's
benchmark files (``results/benchmarks``, a ``--cores 2`` run of 2026-12-01 whose first 54 jobs
ran before other load shared the machine) and the per-rule start-up costs to the ``overhead:``
lines of a tiny-preset run's job logs (CPU seconds: the wall clock of that run was shared
4-5 ways), on a 2-core VM; ``CPU_SPEED`` scales them to the machine CI runs on (measured on a
tiny and a default run there, 2026-12-02). A plan is of a job alone on an idle core; a shared machine is slower by its
oversubscription. The GPU constants are assumptions, not measurements (no GPU run of this
workflow has been benchmarked yet): ~20% of an H100's bf16 peak, 0.25 ms a layer pass (kernel
launches), CUDA start 3 s, models read at 1 GB/s.
"""
from __future__ import annotations

import argparse
import heapq
import statistics
import sys
from pathlib import Path

from overopt.calibration import (
    CPU,
    CPU_SPEED,
    CUDA_CONTEXT_MB,
    CUDA_START_S,
    DATASET_PROMPT_TOKENS,
    GPU,
    GPU_RULES,
    LOAD_BYTES_S,
    LOAD_S,
    MB,
    ORDER,
    OVERHEAD_S,
    PREFORK_OVERHEAD_S,
    PROCESS_MB,
    ROOT,
    ROW_S,
    RULE_FACTOR,
    SETUP_S,
    TORCH_RULES,
)
from overopt.costs import Job, jobs, load_config

# --- costs --------------------------------------------------------------------------------------

def _weights_mb(models: list, device: str) -> float:
    """Resident weights (and training state) of ``models``: bf16 on a GPU, fp32 on the CPU."""
    per = {"gpu": {"infer": 2, "train32": 16, "train16": 8}, "cpu": {"infer": 4, "train32": 16, "train16": 16}}[device]
    return sum(m.params * per[role] for m, role in models) / MB


def cost(config: dict, profile: Path | None = None, cores: int = 2, gpus: int = 0,
         prompt_tokens: int | None = None, preforked: bool | None = None) -> list[Job]:
    """The jobs of :func:`jobs` with their time (overhead + work, seconds), CPU RAM and GPU memory
    (MB) and threads, for a run on ``cores`` cores and ``gpus`` GPUs (0: everything on the CPU).
    ``preforked``: whether torch jobs fork from the prefork server; None: as the profile's
    executor decides (a local run does, a cluster's jobs do not)."""
    import yaml

    from overopt import resources

    est = resources.estimate(config)
    settings = {}
    if profile is not None and (Path(profile) / "config.yaml").is_file():
        settings = yaml.safe_load((Path(profile) / "config.yaml").read_text()) or {}
    threads = settings.get("set-threads") or {}
    if preforked is None:
        preforked = settings.get("executor", "local") in ("local", None)
    out = jobs(config, prompt_tokens)
    for j in out:
        j.gpu = bool(gpus) and j.rule in GPU_RULES
        consts = GPU if j.gpu else CPU
        w = j.work
        model_s = sum(w.passes[k] * consts[k][0] + w.flops[k] / consts[k][1] for k in consts)
        read_s = sum(m.params * (2 if j.gpu else 4) / LOAD_BYTES_S for m in w.loads if m.hub)  # from the disk cache
        fixed = PREFORK_OVERHEAD_S if preforked and j.rule in TORCH_RULES else OVERHEAD_S[j.rule]
        j.overhead_s = CPU_SPEED * fixed + (CUDA_START_S if j.gpu else 0.0)
        model_s *= 1.0 if j.gpu else CPU_SPEED * RULE_FACTOR.get(j.rule, 1.0)  # fitted on the CPU only
        j.work_s = model_s + read_s + CPU_SPEED * (LOAD_S * len(w.loads) + w.rows * ROW_S.get(j.rule, 0.0)
                                                   + SETUP_S.get(j.rule, 0.0))
        j.threads = max(1, min(int(threads.get(j.rule, 1)), cores))
        hub_models = [(m, r) for m, r in j.models if m.hub]
        host = (max((m.params * (4 if r == "train32" else 2) for m, r in hub_models), default=0) / MB if j.gpu
                else _weights_mb(hub_models, "cpu"))  # on a GPU run, the largest hub model passes through
        process = resources.TORCH_MB if j.rule in TORCH_RULES else PROCESS_MB[j.rule]
        counted = resources.LIGHT_MB if j.rule in ("bon_curves", "rm_eval") else resources.TORCH_MB  # its fixed cost
        base = est[j.rule]["mem_mb"] - counted + process if j.rule in est else process
        j.cpu_mb = base + host
        j.gpu_mb = CUDA_CONTEXT_MB + _weights_mb(j.models, "gpu") + j.act_mb if j.gpu else 0.0
    return out


def schedule(plan: list[Job], cores: int, gpus: int = 0) -> dict:
    """Greedy list scheduling of the job DAG: when slots free up, the ready job with the longest
    remaining chain starts (each holds its threads of ``cores`` and, on a GPU run, one of
    ``gpus``). Returns the wall time, the lower bound max(work / slots, longest chain) and the
    longest chain."""
    by_key = {j.key: j for j in plan}
    children: dict = {k: [] for k in by_key}
    for j in plan:
        for d in j.deps:
            if d not in by_key:
                raise KeyError(f"{j.key} depends on {d}, which is not planned")
            children[d].append(j.key)
    rank: dict = {}

    def chain(k):  # longest path from the start of k to the end of the DAG
        if k not in rank:
            rank[k] = by_key[k].seconds + max((chain(c) for c in children[k]), default=0.0)
        return rank[k]

    sys.setrecursionlimit(max(10_000, sys.getrecursionlimit()))
    longest = max((chain(k) for k in by_key), default=0.0)
    waiting = {k: len(set(by_key[k].deps)) for k in by_key}
    ready = [(-rank[k], k) for k, n in waiting.items() if n == 0]
    heapq.heapify(ready)
    free_cores, free_gpus, now, running, done = cores, gpus, 0.0, [], 0
    while done < len(plan):
        held = []
        while ready:  # start every ready job that fits, longest chain first
            r, k = heapq.heappop(ready)
            j = by_key[k]
            if j.threads <= free_cores and (not j.gpu or free_gpus >= 1):
                free_cores -= j.threads
                free_gpus -= j.gpu
                heapq.heappush(running, (now + j.seconds, k))
            else:
                held.append((r, k))
        for item in held:
            heapq.heappush(ready, item)
        now, k = heapq.heappop(running)
        done += 1
        j = by_key[k]
        free_cores += j.threads
        free_gpus += j.gpu
        for c in set(children[k]):
            waiting[c] -= 1
            if waiting[c] == 0:
                heapq.heappush(ready, (-rank[c], c))
    core_s = sum(j.seconds * j.threads for j in plan)  # GPU jobs hold their threads too
    gpu_s = sum(j.seconds for j in plan if j.gpu)
    bound = max(core_s / cores, gpu_s / gpus if gpus else 0.0, longest)
    return {"wall_s": now, "lower_bound_s": bound, "longest_chain_s": longest}


# How cost grows: one knob changed at a time from a config (overlays as Snakemake merges them)
SCALING = [
    ("bon.N (pool size)", [{"bon": {"N": n}} for n in (256, 1024, 4096)]),
    ("proxy.seeds (RMs of the grid)", [{"proxy": {"seeds": list(range(k)), "extra_seeds": {"seeds": []}}}
                                       for k in (1, 2, 3)]),
    ("rl.steps", [{"rl": {"steps": n}} for n in (100, 200, 400)]),
    ("eval_samples (RL and DAA)", [{"rl": {"eval_samples": n}, "daa": {"eval_samples": n}} for n in (4, 8, 16)]),
    ("rl.seeds (every RL run)", [{"rl": {"seeds": list(range(k))}} for k in (1, 2, 3)]),
    ("daa.seeds", [{"daa": {"seeds": list(range(k))}} for k in (1, 2, 3)]),
]


def scaling(configfiles: list[str], profile: Path | None, cores: int, gpus: int = 0) -> list[dict]:
    """The plan of ``configfiles`` with each knob of :data:`SCALING` set to each of its values:
    jobs, job time in all, wall time on ``cores`` (and ``gpus``), and both as ratios to the knob's
    first value (the docs' scaling table; ``python -m overopt.plan --scaling``)."""
    rows = []
    for knob, overlays in SCALING:
        first = None
        for over in overlays:
            plan = cost(load_config(configfiles, (over,)), profile, cores, gpus)
            total, wall = sum(j.seconds for j in plan), schedule(plan, cores, gpus)["wall_s"]
            first = first or (total, wall)
            value = next(iter(next(iter(over.values())).values()))
            rows.append({"knob": knob, "value": len(value) if isinstance(value, list) else value, "jobs": len(plan),
                         "job_s": total, "wall_s": wall, "job_ratio": total / first[0], "wall_ratio": wall / first[1]})
    return rows


def per_rule(plan: list[Job]) -> list[dict]:
    """One row per rule: jobs, job time (median, max), total, GPU-hours, overhead share, memory."""
    rows = []
    for rule in ORDER:
        js = [j for j in plan if j.rule == rule]
        if not js:
            continue
        secs = [j.seconds for j in js]
        total = sum(secs)
        rows.append({"rule": rule, "jobs": len(js), "median_s": statistics.median(secs), "max_s": max(secs),
                     "total_s": total, "gpu_h": sum(j.seconds for j in js if j.gpu) / 3600,
                     "overhead_share": sum(j.overhead_s for j in js) / total if total else 0.0,
                     "cpu_mb": max(j.cpu_mb for j in js), "gpu_mb": max(j.gpu_mb for j in js)})
    return rows


def measured(source: str | Path):
    """Measured per-rule costs: from a finished run's benchmarks folder (``results/benchmarks``,
    with the job logs beside it in ``results/logs``: :func:`overopt.bench.calibration_table`,
    the median job CPU seconds and the largest RSS) or from a table of them (a CSV with columns
    rule, jobs, median_s, max_rss_mb, ``#`` comments, as ``tests/data/benchmark_*.csv``)."""
    import pandas as pd

    from overopt import bench

    source = Path(source)
    if source.is_file():
        return pd.read_csv(source, comment="#")
    results = source.parent
    return bench.calibration_table(bench.job_overheads(results, bench.rule_costs(results)))


def compare(plan: list[Job], meas):
    """Plan against measured, per rule: jobs, median job seconds and CPU RAM, with their ratios."""
    import pandas as pd

    p = pd.DataFrame(per_rule(plan))[["rule", "jobs", "median_s", "cpu_mb"]]
    m = meas[["rule", "jobs", "median_s", "max_rss_mb"]].merge(p, on="rule", how="outer", suffixes=("", "_plan"))
    return m.assign(time_ratio=m["median_s_plan"] / m["median_s"], mem_ratio=m["cpu_mb"] / m["max_rss_mb"])


def _fmt_s(s: float) -> str:
    return f"{s:.1f} s" if s < 120 else f"{s / 60:.1f} min" if s < 7200 else f"{s / 3600:.1f} h"


def report(plan: list[Job], cores: int, gpus: int, granted: dict) -> str:
    rows, sched = per_rule(plan), schedule(plan, cores, gpus)
    head = ["rule", "jobs", "job time (median)", "(max)", "total", "overhead", "CPU RAM", "profile mem_mb"]
    if gpus:
        head += ["GPU-hours", "GPU mem"]
    table = []
    for r in rows:
        line = [r["rule"], str(r["jobs"]), _fmt_s(r["median_s"]), _fmt_s(r["max_s"]), _fmt_s(r["total_s"]),
                f"{r['overhead_share']:.0%}", f"{r['cpu_mb']:,.0f} MB",
                f"{granted[r['rule']]:,}" if r["rule"] in granted else "-"]
        if gpus:
            line += [f"{r['gpu_h']:.2f}" if r["gpu_h"] else "-", f"{r['gpu_mb'] / 1024:.1f} GB" if r["gpu_mb"] else "-"]
        table.append(line)
    widths = [max(len(x) for x in col) for col in zip(head, *table)]

    def fmt(cells):
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    lines = [fmt(head), fmt(["-" * w for w in widths])] + [fmt(t) for t in table]
    total = sum(j.seconds for j in plan)
    over = sum(j.overhead_s for j in plan)
    where = f"{cores} cores" + (f" and {gpus} GPUs" if gpus else "")
    lines += ["", f"{len(plan)} jobs; job time in all {_fmt_s(total)} ({over / total:.0%} fixed overhead: start-up "
                  f"and imports)" + (f"; {sum(j.seconds for j in plan if j.gpu) / 3600:.1f} GPU-hours" if gpus else ""),
              (f"wall time on {where}: ~{_fmt_s(sched['wall_s'])} (greedy schedule of the job DAG; lower bound "
               f"{_fmt_s(sched['lower_bound_s'])}, longest chain {_fmt_s(sched['longest_chain_s'])})")]
    if gpus:
        peak = max(j.gpu_mb for j in plan)
        lines.append(f"peak GPU memory of one job: {peak / 1024:.1f} GB (bf16); GPU constants are assumptions, "
                     "not measurements (docs/running.md)")
    over_mem = [r["rule"] for r in rows if r["rule"] in granted and r["cpu_mb"] > granted[r["rule"]]]
    if over_mem:
        lines.append(f"CPU RAM above the profile's mem_mb: {', '.join(over_mem)}")
    return "\n".join(lines)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--configfile", nargs="+", default=[],
                    help="config overlays, merged in order over config.yaml as Snakemake's --configfile does")
    ap.add_argument("--profile", default=str(ROOT / "profiles" / "default"),
                    help="a workflow profile folder: its set-resources mem_mb and set-threads")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--gpus", type=int, default=0, help="GPUs (0: every job on the CPU)")
    ap.add_argument("--prompt-tokens", type=int, help=f"prompt length in tokens (default: world.prompt_len, or "
                                                      f"{DATASET_PROMPT_TOKENS} for a prompt dataset)")
    ap.add_argument("--no-prefork", action="store_true",
                    help="plan a local run without the prefork server (OVEROPT_PREFORK=0); a cluster profile never uses it")
    ap.add_argument("--scaling", action="store_true",
                    help="print how the plan grows with pool size, RMs, RL steps, evaluation samples and seeds instead")
    ap.add_argument("--csv", help="write the per-rule table here")
    ap.add_argument("--jobs-csv", help="write one row per job here")
    ap.add_argument("--compare", help="a run's results/benchmarks folder, or a table of measured per-rule costs: "
                                      "print the plan against it")
    args = ap.parse_args(argv)
    from overopt import resources
    from overopt.config import ConfigError

    try:
        config = load_config(args.configfile)
    except ConfigError as e:
        raise SystemExit(f"overopt.plan: {e}") from None
    if args.scaling:
        print("| knob | value | jobs | job time in all | wall time | x job time | x wall |\n|---|---|---|---|---|---|---|")
        for r in scaling(args.configfile, Path(args.profile), args.cores, args.gpus):
            print(f"| {r['knob']} | {r['value']} | {r['jobs']} | {_fmt_s(r['job_s'])} | {_fmt_s(r['wall_s'])} | "
                  f"{r['job_ratio']:.2f} | {r['wall_ratio']:.2f} |")
        return
    plan = cost(config, Path(args.profile), args.cores, args.gpus, args.prompt_tokens,
                preforked=False if args.no_prefork else None)
    granted = resources.granted(Path(args.profile) / "config.yaml")
    print(report(plan, args.cores, args.gpus, granted))
    if args.compare:
        print("\nplan vs measured (time: median job seconds; memory: CPU RAM vs the largest max RSS):")
        print(compare(plan, measured(args.compare)).to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if args.csv:
        import pandas as pd

        Path(args.csv).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame(per_rule(plan)).to_csv(args.csv, index=False)
    if args.jobs_csv:
        import pandas as pd

        Path(args.jobs_csv).parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame([{"rule": j.rule, "job": j.id, "seconds": j.seconds, "overhead_s": j.overhead_s,
                       "work_s": j.work_s, "gpu": j.gpu, "threads": j.threads, "cpu_mb": j.cpu_mb,
                       "gpu_mb": j.gpu_mb} for j in plan]).to_csv(args.jobs_csv, index=False)


if __name__ == "__main__":
    main()
