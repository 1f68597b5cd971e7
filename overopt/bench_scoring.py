"""Benchmark reward-model scoring: ``RewardModel.raw_scores`` against a plain Hugging Face loop
on the same texts, for an RM of the default gold's shape and the smallest default proxy.

    python -m overopt.bench_scoring                      # ~20k texts, one core, bench_scoring.csv
    python -m overopt.bench_scoring --prompts 200 --out results/bench_scoring.csv

The texts are sampled like the best-of-n pool: prompts of the world's language (``config.yaml``
``world``) and ``--samples`` responses per prompt drawn from the language's own chain (0 to
``response_len`` words, so short responses repeat), plus the EOS the RM appends. Both RMs are
random GPT-2 sequence classifiers built here (nothing is downloaded), in fp32.

The plain loop tokenizes batches of 256 texts in input order, pads them (the tokenizer's
padding side, right, with the attention mask), runs the model and takes ``logits[:, 0]``.
Per RM the benchmark prints and writes (CSV, ``--out``): texts/s of both, the speedup, the
largest absolute difference of the raw scores (and against scoring a sample of texts alone,
unpadded), and a FLOP bound: 2 x params x tokens per text at 100 GFLOP/s per core (an assumed
round number for fp32 matmuls on one modern core, not a measurement). It runs on ``--threads``
cores (default 1, the tokenizer too). Timings on a shared machine vary: each method's best of
up to ``--repeats`` interleaved rounds is kept (the gold RM's ~30 s plain loop runs once by
default: ``--budget``); compare the ratios of one run.
"""
from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
FLOPS_PER_CORE = 100e9
PLAIN_BATCH = 256


def world_texts(config: dict, n_prompts: int, samples: int, seed: int):
    """(tokenizer, prompts, responses): pool-like pairs from the world's language."""
    import tempfile

    from overopt.models import load_tokenizer
    from overopt.world import language

    lang = language.language(config["world"], seed)
    rng = np.random.default_rng(seed)
    prompts, responses = [], []
    for _ in range(n_prompts):
        topic = int(rng.integers(lang.topics - 1))
        ids = lang.prompt(rng, topic, config["world"]["prompt_len"])
        p = language.prompt_text(lang, ids)
        for _ in range(samples):
            prompts.append(p)
            responses.append(lang.text(lang.response(rng, topic, ids, config["response_len"])))
    with tempfile.TemporaryDirectory() as d:  # saved and loaded as the workflow loads an RM's tokenizer
        language.make_tokenizer(lang.words).save_pretrained(d)
        tok = load_tokenizer(d)
    return tok, prompts, responses


def reward_models(config: dict, tok, seed: int) -> dict:
    """{name: model}: the default gold's shape and the first (smallest) proxy size, random."""
    import torch
    from transformers import GPT2ForSequenceClassification

    from overopt.models import gpt2_config
    from overopt.world.gold import build_gold

    n_pos = config["world"]["prompt_len"] + config["response_len"] + 2
    gold = build_gold(tok, config["gold"]["arch"], n_pos, config["gold"]["initializer_range"], seed)
    size = config["proxy"]["sizes"][0]
    torch.manual_seed(seed + 1)
    proxy = GPT2ForSequenceClassification(gpt2_config(len(tok), n_pos, size["arch"], tok, num_labels=1)).eval()
    return {"gold": gold, f"proxy-{size['name']}": proxy}


def plain_scores(model, tok, texts: list[str]) -> np.ndarray:
    """The plain loop: batches of 256 in input order, padded, forward, logits[:, 0]."""
    import torch

    out = np.empty(len(texts), dtype=np.float64)
    with torch.inference_mode():
        for i in range(0, len(texts), PLAIN_BATCH):
            enc = tok(texts[i:i + PLAIN_BATCH], return_tensors="pt", padding=True).to(model.device)
            out[i:i + PLAIN_BATCH] = model(**enc).logits[:, 0].float().cpu().numpy()
    return out


def alone_scores(model, tok, texts: list[str]) -> np.ndarray:
    import torch

    with torch.inference_mode():
        return np.array([model(**tok(t, return_tensors="pt").to(model.device)).logits[0, 0].item() for t in texts])


def _timed(methods: dict, repeats: int, budget_s: float) -> tuple[dict, dict]:
    """Best wall time of each method over up to ``repeats`` interleaved rounds (a further
    round only while the rounds so far took under ``budget_s``), and each method's output."""
    best, out, start = {k: float("inf") for k in methods}, {}, time.perf_counter()
    for r in range(repeats):
        if r and time.perf_counter() - start > budget_s:
            break
        for k, f in methods.items():
            t0 = time.perf_counter()
            out[k] = f()
            best[k] = min(best[k], time.perf_counter() - t0)
    return best, out


def bench(config: dict, n_prompts: int, samples: int, threads: int, repeats: int, seed: int, device: str,
          batch_size: int, alone: int, budget_s: float = 8.0) -> list[dict]:
    import torch

    from overopt.models import RewardModel, count_params

    torch.set_num_threads(threads)
    tok, prompts, responses = world_texts(config, n_prompts, samples, seed)
    rows = []
    tokens = None
    for name, model in reward_models(config, tok, seed).items():
        model = model.to(device)
        rm = RewardModel(model, tok, batch_size=batch_size)
        texts = rm.texts(prompts, responses)
        if tokens is None:  # one tokenizer for both RMs
            tokens = float(np.mean([len(x) for x in tok(texts)["input_ids"]]))
        t, out = _timed({"plain": lambda m=model, x=texts: plain_scores(m, tok, x),
                         "rm": lambda rm=rm: rm.raw_scores(prompts, responses)}, repeats, budget_s)
        (t_plain, plain), (t_rm, ours) = (t["plain"], out["plain"]), (t["rm"], out["rm"])
        sample = np.random.default_rng(seed).choice(len(texts), size=min(alone, len(texts)), replace=False)
        ref = alone_scores(model, tok, [texts[i] for i in sample])
        params = count_params(model)
        rows.append({
            "rm": name, "params": params, "texts": len(texts), "distinct": len(set(texts)),
            "tokens_per_text": round(tokens, 2), "threads": threads, "device": device,
            "plain_texts_per_s": round(len(texts) / t_plain, 1),
            "raw_scores_texts_per_s": round(len(texts) / t_rm, 1),
            "speedup": round(t_plain / t_rm, 2),
            "max_abs_diff": float(np.abs(plain - ours).max()),
            "max_abs_diff_alone": float(np.abs(ours[sample] - ref).max()),
            "flop_bound_texts_per_s": round(threads * FLOPS_PER_CORE / (2 * params * tokens), 1),
        })
    return rows


def report(rows: list[dict]) -> str:
    lines = [(f"{'rm':<10} {'params':>8} {'texts':>6} {'distinct':>8} {'tok/text':>8} {'plain/s':>9} "
              f"{'raw_scores/s':>12} {'speedup':>7} {'max|diff|':>9} {'vs alone':>9} {'FLOP bound/s':>12}")]
    for r in rows:
        lines.append(f"{r['rm']:<10} {r['params']:>8} {r['texts']:>6} {r['distinct']:>8} {r['tokens_per_text']:>8.1f} "
                     f"{r['plain_texts_per_s']:>9.0f} {r['raw_scores_texts_per_s']:>12.0f} {r['speedup']:>6.2f}x "
                     f"{r['max_abs_diff']:>9.1e} {r['max_abs_diff_alone']:>9.1e} {r['flop_bound_texts_per_s']:>12.0f}")
    lines.append(f"FLOP bound: {FLOPS_PER_CORE / 1e9:.0f} GFLOP/s per core x threads / (2 x params x tokens per "
                 "text), an assumed fp32 rate, not measured; texts/s are wall time, best of the rounds run")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="bench_scoring.csv", help="CSV to write (default: ./bench_scoring.csv)")
    ap.add_argument("--prompts", type=int, default=80, help="prompts (default 80: 80 x 256 = 20,480 texts)")
    ap.add_argument("--samples", type=int, default=256, help="responses per prompt, as bon.N")
    ap.add_argument("--threads", type=int, default=1, help="torch and tokenizer threads (default 1)")
    ap.add_argument("--repeats", type=int, default=3,
                    help="rounds of both methods, best kept (default 3; a further round only while the rounds "
                         "so far took under --budget seconds)")
    ap.add_argument("--budget", type=float, default=6.0, help="seconds per RM after which no round starts")
    ap.add_argument("--batch-size", type=int, default=256, help="RewardModel batch_size (score_batch_size)")
    ap.add_argument("--alone", type=int, default=200, help="texts also scored one by one, unpadded")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--config", default=str(ROOT / "config.yaml"), help="world, gold and proxy shapes")
    a = ap.parse_args(argv)
    if a.threads == 1:
        os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the tokenizer on one core too
    import yaml

    config = yaml.safe_load(Path(a.config).read_text())
    rows = bench(config, a.prompts, a.samples, a.threads, a.repeats, a.seed, a.device, a.batch_size, a.alone,
                 a.budget)
    print(report(rows))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
