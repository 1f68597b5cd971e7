"""The plan's calibration constants (``overopt.plan``, ``overopt.costs``): per-job fixed
overheads, per-pass CPU costs, per-rule factors and set-up seconds, table rows, process memory,
and the sizes of known hub models; each says what it was measured on. Recalibrate them from a
benchmark run (``python -m overopt.bench``) after a change that moves a job's cost."""
from __future__ import annotations

from pathlib import Path

from overopt.prefork import TORCH_RULES  # noqa: F401  (the rules whose jobs import torch)

ROOT = Path(__file__).resolve().parent.parent
MB = 2**20

# Known hub models (offline, so their sizes cannot be read): id -> (parameters of the causal LM
# or, for a reward model, of the classifier; layers, width, heads, vocabulary, tied embeddings),
# from the models' config.json and model cards (Pythia: exact counts; Qwen3: the cards'
# non-embedding + embedding parameters, to 3 digits). A proxy from a causal LM drops its LM head.
HUB = {
    "EleutherAI/pythia-14m": (14_067_712, 6, 128, 4, 50_304, False),
    "EleutherAI/pythia-70m": (70_426_624, 6, 512, 8, 50_304, False),
    "EleutherAI/pythia-160m": (162_322_944, 12, 768, 12, 50_304, False),
    "EleutherAI/pythia-410m": (405_334_016, 24, 1024, 16, 50_304, False),
    "EleutherAI/pythia-1b": (1_011_781_632, 16, 2048, 8, 50_304, False),
    "EleutherAI/pythia-1.4b": (1_414_647_808, 24, 2048, 16, 50_304, False),
    "EleutherAI/pythia-2.8b": (2_775_208_960, 32, 2560, 32, 50_304, False),
    "Qwen/Qwen3-0.6B": (596_000_000, 28, 1024, 16, 151_936, True),
    "Qwen/Qwen3-1.7B": (1_710_000_000, 28, 2048, 16, 151_936, True),
    "Qwen/Qwen3-4B": (3_990_000_000, 36, 2560, 32, 151_936, True),
    "Qwen/Qwen3-8B": (8_190_000_000, 36, 4096, 32, 151_936, False),
    "Skywork/Skywork-Reward-V2-Qwen3-0.6B": (596_000_000, 28, 1024, 16, 151_936, True),  # Qwen3 + a scalar head
    "Skywork/Skywork-Reward-V2-Qwen3-1.7B": (1_710_000_000, 28, 2048, 16, 151_936, True),
    "Skywork/Skywork-Reward-V2-Qwen3-4B": (3_990_000_000, 36, 2560, 32, 151_936, True),
    "Skywork/Skywork-Reward-V2-Qwen3-8B": (7_570_000_000, 36, 4096, 32, 151_936, False),  # no LM head
}
DATASET_PROMPT_TOKENS = 128  # a prompt from a dataset, in tokens (unknown offline; --prompt-tokens)

# --- calibration --------------------------------------------------------------------------
# Seconds a job takes alone on an idle core (its CPU seconds, all of them Snakemake's
# benchmark counts: the jobs are single-threaded and CPU-bound). Measured 2026-12-01 on a
# 2-core VM (scripts and data: tests/data/benchmark_*.csv say how each number was derived).
#
# Fixed overhead per job: start-up (Python, Snakemake's script preamble, the script's module
# imports) + the first imports of torch/transformers/TRL/scipy/matplotlib + ~1.1 s of CPU a
# torch job spends outside its Python process: the `overhead:` lines of a tiny-preset run's job
# logs (CPU seconds at the end of the imports, median per rule). Small models' loading is in the
# work (LOAD_S a model).
OVERHEAD_S = {
    "prompts": 0.5, "world": 1.2, "gold_rm": 6.7, "train_policy": 8.1, "sample_pool": 6.6, "sample_ood": 6.6,
    "sample_policy_pool": 6.6, "score_pool": 6.9, "label_pairs": 7.0, "train_rm": 8.5, "score_eval": 6.7,
    "train_rl": 8.1, "train_daa": 8.0, "bon_curves": 0.85, "bon_fits": 2.4, "rm_metrics": 0.65, "curves": 0.65,
    "fits": 2.4, "figures": 2.1, "rm_eval": 2.5, "rm_figures": 1.8, "replication": 2.9, "score_runs": 6.9,
    "role_swap": 2.5, "label_offpolicy": 7.0, "label_ood": 7.0, "score_shift": 6.9, "score_teachers": 6.9, "teachers": 2.5,
}
# A local run forks its torch jobs from a server that imported the libraries once
# (overopt.prefork): such a job's fixed cost is Python's start, Snakemake's preamble, the hand-off
# and the package's own imports, 0.22-0.31 CPU s in the tiny run's logs (OVERHEAD_S is then only
# for the rules that never import torch, and for cluster runs).
PREFORK_OVERHEAD_S = 0.3
# Per kind of pass: seconds per layer pass (one batched call through one layer, including the
# batch's tokenization and Python; a training step counts 3 per layer) and effective FLOP/s, on
# one CPU thread: least squares on the default study's first 54 jobs (default run, `--cores 2`,
# before other load shared the machine; their wall time x 0.87, the CPU share Snakemake measured
# exactly on those under 15 s). Within 30% of every such job of its rules.
CPU = {"gen": (3.8e-3, 40e9), "fwd": (18e-3, 35e9), "train": (2.6e-3, 37e9)}
LOAD_S = 0.25  # reading a small model and building it (CPU), a model
# The constants above and below were fitted on a 2-core VM (2026-12-01/02); CPU_SPEED scales
# every CPU second of a plan to the machine CI runs on (AMD EPYC, 2 cores, 2026-12-02): the
# median over rules of measured / planned job seconds of a tiny and a default run there.
CPU_SPEED = 0.46
# Assumed, not measured: a GPU (H100/H200 class) at bf16.
GPU = {"gen": (0.25e-3, 2.0e14), "fwd": (0.25e-3, 2.0e14), "train": (0.25e-3, 2.0e14)}
CUDA_START_S, LOAD_BYTES_S = 3.0, 1.0e9  # GPU runs: CUDA context; reading a model from a local cache
CUDA_CONTEXT_MB = 500
# Per-rule factors on the CPU model work of the trainers (reward calls, decoding, logging,
# evaluation bookkeeping), fitted to the same default jobs (median over median); 1 on a GPU.
RULE_FACTOR = {"score_pool": 0.7, "score_runs": 0.45, "train_rl": 0.6, "train_daa": 1.2, "train_policy": 1.15, "label_pairs": 1.25, "label_offpolicy": 1.25,
               "label_ood": 1.25}
# Set-up work a job does whatever its size (building the trainer, its datasets and the world's
# tables), seconds: the median residual of the tiny run's jobs, forked and in their own process
# alike (2026-12-02), where it is most of a job once the imports are gone.
SETUP_S = {"figures": 7.3, "train_policy": 2.0, "train_rm": 1.1, "world": 0.8, "curves": 0.5, "rm_eval": 1.5}
# Table jobs: seconds per row of what drives them (see jobs(); fits: an eval prompt of a run x a bootstrap
# replicate), fitted to the default and tiny runs.
ROW_S = {"prompts": 1.5e-4, "world": 3.7e-4, "gold_rm": 4.6e-6, "bon_curves": 4e-8, "bon_fits": 1e-9, "rm_metrics": 0.0,
         "curves": 0.0, "fits": 1.35e-6, "figures": 0.0062, "rm_eval": 3.6e-4, "rm_figures": 2.3, "replication": 1.8e-4,
         "role_swap": 1.6e-7, "teachers": 2e-6}
FIT_RUN_ROWS = 35  # fits: a run's bootstrap refits cost about as much as 35 of its eval prompts' rows
# Process memory of the rules that never import torch (resources.estimate counts torch's 700 MB
# for every job it estimates), MB: the max RSS of the tiny and default runs' benchmark files.
PROCESS_MB = {"prompts": 120, "world": 150, "bon_curves": 135, "bon_fits": 225, "rm_metrics": 130, "curves": 120,
              "fits": 225, "figures": 270, "rm_eval": 195, "rm_figures": 280, "replication": 225, "role_swap": 225,
              "teachers": 225}
GPU_RULES = {"train_policy", "sample_pool", "score_pool", "label_pairs", "train_rm", "train_rl", "train_daa",
             "sample_ood", "sample_policy_pool", "score_eval", "score_runs", "label_offpolicy",
             "label_ood", "score_shift", "score_teachers"}  # the rules with `gpu: 1`
ORDER = ["prompts", "world", "gold_rm", "train_policy", "sample_pool", "sample_ood", "sample_policy_pool",
         "score_pool", "label_pairs", "label_ood", "train_rm", "score_shift", "score_eval", "train_rl", "train_daa", "bon_curves", "bon_fits",
         "rm_metrics", "curves", "score_runs", "role_swap", "label_offpolicy", "score_teachers", "teachers", "fits",
         "figures", "rm_eval", "rm_figures", "replication"]
