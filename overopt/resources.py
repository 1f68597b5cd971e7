"""A rough peak-CPU-RAM estimate per rule, from the config alone, so that a config whose job
would run out of memory fails at parse time (:func:`overopt.config.check` compares it with the
profile's ``mem_mb``) instead of hours into the run, naming the key that drives it.

Each estimate is a fixed process cost plus a sum of monomials, bytes x factors, each factor a
config value with its key:

* fp32 weights, 4 bytes a parameter, x4 for a model trained with Adam (weights, grads, two
  moments), of the GPT-2s built here from ``arch``: 12 n_layer n_embd^2 + (vocab + positions)
  n_embd parameters, vocab = world.vocab_size + 3 special tokens, positions = n_positions.
  Models given by ``name_or_path`` are of unknown size and left out.
* activations of a forward/backward pass: ~20 floats per token, layer and width, attention
  scores (heads x seq^2 per layer) and, for policies, the logits and their log-softmax;
* in-memory tables: ~100 bytes a row plus 8 a token of text.

Phases of a job that do not overlap (training, sampling, scoring) count their largest only. The
driving key is the largest factor of the largest monomial, which for an extreme value is that
value. On the default study the estimates are 0.7-1.0 GB per torch job, within 2x of the
measured max RSS (0.8-1.4 GB, mostly the torch process itself).
"""
from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROFILE = ROOT / "profiles" / "default" / "config.yaml"
TORCH_MB, LIGHT_MB = 700, 250  # python + torch/transformers/trl; python + numpy/pandas/scipy (measured)
FLOAT, ACT, ROW, TOKEN = 4, 20, 100, 8  # bytes a float; floats a token, layer, width; bytes a row; a token


def _get(config: dict, key: str) -> tuple:
    """The factor (value, key) of a dotted config key."""
    v = config
    for part in key.split("."):
        v = v[part]
    return v, key


def _times(*factors: tuple) -> tuple:
    """One factor for a product of factors, keyed by its largest."""
    return math.prod(v for v, _ in factors), max(factors)[1]


def _seq(config) -> tuple:
    """Context length of the models built here (n_positions), keyed by its larger part."""
    w, r = config["world"]["prompt_len"], config["response_len"]
    return w + r + 2, "response_len" if r >= w else "world.prompt_len"


def _weights(config, model: tuple, copies: int) -> list:
    """``copies`` x the fp32 parameters of ``model`` (key, arch or None)."""
    key, arch = model
    if arch is None:
        return []
    E, L = (arch["n_embd"], f"{key}.n_embd"), (arch["n_layer"], f"{key}.n_layer")
    vocab = config["world"]["vocab_size"] + 3, "world.vocab_size"
    return [(12 * FLOAT * copies, (L, E, E)), (FLOAT * copies, (vocab, E)), (FLOAT * copies, (_seq(config), E))]


def _forward(config, model: tuple, batch: tuple, lm: bool = False) -> list:
    """Activations of one pass over ``batch`` full-length sequences (logits too for an LM)."""
    key, arch = model
    if arch is None:
        return []
    S, E, L = _seq(config), (arch["n_embd"], f"{key}.n_embd"), (arch["n_layer"], f"{key}.n_layer")
    out = [(FLOAT * ACT, (batch, S, E, L)), (FLOAT, (batch, (arch["n_head"], f"{key}.n_head"), S, S, L))]
    logits = [(2 * FLOAT, (batch, S, (config["world"]["vocab_size"] + 3, "world.vocab_size")))]  # and log-softmax
    return out + (logits if lm else [])


def _rows(config, *n: tuple, length: tuple | None = None) -> list:
    """A table of prod(n) rows of text ``length`` tokens long (default: full-length sequences)."""
    return [(ROW, n), (TOKEN, (*n, length or _seq(config)))]


def _bytes(terms: list) -> float:
    """The bytes of a sum of monomials."""
    return sum(b * math.prod(v for v, _ in factors) for b, factors in terms)


def _largest(config, models: list) -> tuple:
    """The model with the most parameters (the first if none is built here)."""
    return max(models, key=lambda m: _bytes(_weights(config, m, 1)))


def _peak(fixed_mb: float, resident: list, *phases: list) -> dict:
    """Fixed cost + resident terms + the largest phase, in MB, with the driving key."""
    terms = resident + max(phases, key=_bytes, default=[])
    top = max(terms, key=lambda t: _bytes([t]), default=(0, ((0, None),)))
    return {"mem_mb": round(fixed_mb + _bytes(terms) / 2**20), "key": max(top[1], key=lambda f: f[0])[1]}


def _models(config) -> dict:
    """(key, arch or None) of the largest model in each role."""
    from overopt.targets import daa_proxy, design_runs, policies, rl_targets, trained

    def ref(key, entry):
        return f"{key}.arch", None if entry.get("name_or_path") else entry["arch"]

    pols = [ref("policy" if i == 0 else f"policy.more_sizes[{i - 1}]", p) for i, p in enumerate(policies(config))]
    sizes = {s["name"]: ref(f"proxy.sizes[{i}]", s) for i, s in enumerate(config["proxy"]["sizes"])}
    of = {p["id"]: sizes[p["size"]["name"]] for p in trained(config)}
    gold = ref("gold", config["gold"])
    return {"policy": pols[0], "policies": _largest(config, pols), "more": _largest(config, pols[1:] or [(None, None)]),
            "gold": gold, "proxy": _largest(config, list(sizes.values())),
            "rm": _largest(config, [gold, *sizes.values()]),
            "rl_rm": _largest(config, [gold, *(of[t] for t in [*rl_targets(config)[1:],
                                                                 *(r["rm"] for r in design_runs(config))] if t in of)]),
            "daa_proxy": of.get(daa_proxy(config), (None, None)), "n_rms": (1 + len(of), "proxy.sizes")}


def estimate(config: dict) -> dict[str, dict]:
    """Rule name -> {"mem_mb": estimated peak RSS in MB, "key": the config key that drives it},
    for every rule whose memory the config drives, from a validated config."""
    from overopt.targets import run_scorers, shift_family

    c, m = config, _models(config)
    g = lambda key: _get(c, key)  # noqa: E731
    w, rl, daa, bon = c["world"], c["rl"], c["daa"], c["bon"]
    score, sample, eval_, N = g("score_batch_size"), g("sample_batch_size"), g("world.prompts.eval"), g("bon.N")
    pool, ood = _rows(c, eval_, N), _rows(c, g("world.prompts.ood"), g("rm_eval.ood_samples"))
    labeled = (max(c["proxy"]["data_sizes"]) + c["labels"]["heldout"], "proxy.data_sizes"), (2, "proxy.data_sizes")
    vocab, branching = g("world.vocab_size"), g("world.branching")
    rm_batch = g("proxy.train.per_device_train_batch_size")
    swapped = [] if "pfr" not in c["proxy"]["objectives"] else _forward(  # pfr's no-grad pass over M swapped prompts
        c, m["proxy"], _times((2, "proxy.pfr.prompts"), g("proxy.pfr.prompts"), rm_batch))
    grid = math.log2(bon["N"]) * bon["per_octave"] + 1  # n-grid points before rounding and dedup
    out = {
        "prompts": _peak(TORCH_MB, [t for s in w["prompts"] for t in _rows(c, g(f"world.prompts.{s}"),
                                                                            length=g("world.prompt_len"))]),
        "world": _peak(TORCH_MB, [(8, (vocab, branching)), (8, ((w["topics"] + 1, "world.topics"), vocab, branching)),
                                  (ROW, (vocab,)), *_rows(c, g("world.policy_corpus"))]),
        "gold_rm": _peak(TORCH_MB, _weights(c, m["gold"], 2)),
        "train_policy": _peak(TORCH_MB, _weights(c, m["policies"], 4) + 2 * _rows(c, g("world.policy_corpus")),
                              _forward(c, m["policies"], g("policy.train.per_device_train_batch_size"), lm=True)),
        "label_pairs": _peak(TORCH_MB, _weights(c, m["policy"], 1) + _weights(c, m["gold"], 1)
                             + _rows(c, g("world.prompts.rm_train"), (2, "world.prompts.rm_train")),
                             _forward(c, m["policy"], sample, lm=True), _forward(c, m["gold"], score)),
        "train_rm": _peak(TORCH_MB, _weights(c, m["proxy"], 4) + _rows(c, *labeled),
                          _forward(c, m["proxy"], (2 * rm_batch[0], rm_batch[1])), swapped),
        "sample_pool": _peak(TORCH_MB, _weights(c, m["policy"], 1) + pool, _forward(c, m["policy"], sample, lm=True)),
        "score_pool": _peak(TORCH_MB, _weights(c, m["rm"], 1) + pool + [(3 * 8, (eval_, N))],
                            _forward(c, m["rm"], score)),
        "sample_ood": _peak(TORCH_MB, _weights(c, m["policy"], 1) + ood, _forward(c, m["policy"], sample, lm=True)),
        "sample_policy_pool": _peak(TORCH_MB, _weights(c, m["more"], 1) + _rows(c, eval_, g("rm_eval.k")),
                                    _forward(c, m["more"], sample, lm=True)),
        "score_eval": _peak(TORCH_MB, _weights(c, m["rm"], 1) + pool + ood
                            + _rows(c, g("rm_eval.swap_prompts"), (2 * (1 + c["rm_eval"]["swaps"]), "rm_eval.swaps")),
                            _forward(c, m["rm"], score)),
        "score_runs": _peak(TORCH_MB, _weights(c, m["proxy"], 1), _forward(c, m["proxy"], score)),
        "score_teachers": _peak(TORCH_MB, _weights(c, m["rm"], 1), _forward(c, m["rm"], score)),
        "score_shift": _peak(TORCH_MB, _weights(c, m["rm"], 1), _forward(c, m["rm"], score)),
        # the trained policy (x4; PPO trains a value model of its shape too) and pi_ref
        "train_rl": _peak(TORCH_MB, _weights(c, m["policies"], 9 if "ppo" in rl["algorithms"] else 5)
                          + _weights(c, m["rl_rm"], 1) + _weights(c, m["gold"], 1),
                          _forward(c, m["policies"], g("rl.train.per_device_train_batch_size"), lm=True),
                          _forward(c, m["policies"], _times(g("rl.eval_prompts"), g("rl.eval_samples")),
                                   lm=True),  # one generate call over every eval sample
                          _forward(c, m["rl_rm"], score)),
        "train_daa": _peak(TORCH_MB, _weights(c, m["policy"], 5) + _weights(c, m["gold"], 1)
                           + _weights(c, m["daa_proxy"], 1) + _rows(c, *labeled),
                           _forward(c, m["policy"], (2 * daa["train"]["per_device_train_batch_size"],
                                                     "daa.train.per_device_train_batch_size"), lm=True),
                           _forward(c, m["policy"], _times(g("daa.eval_prompts"), g("daa.eval_samples")),
                                    lm=True),
                           _forward(c, m["policy"], score, lm=True)),
        # a target's pool scores and gold's, sorted; the n grid and its weight matrix [points, N]
        "bon_curves": _peak(LIGHT_MB, [(4 * 8, (eval_, N)), (3 * 8, ((grid, "bon.per_octave"),)),
                                       (8, ((min(bon["N"], grid), "bon.per_octave"), N))]),
        # every RM's pool scores; bootstrap indices and resampled pairs, n_boot x proxies
        "rm_eval": _peak(LIGHT_MB, [(8, (m["n_rms"], eval_, N)), (6 * 8, (g("rm_eval.n_boot"), m["n_rms"]))]),
    }
    out["label_offpolicy"] = out["label_pairs"]  # the same sampling and scoring, fewer prompts
    out["label_ood"] = out["label_pairs"]  # gold's scoring alone: label_pairs' bound
    skip = {"gold_rm": not m["gold"][1], "train_policy": not m["policies"][1],
            "sample_policy_pool": not c["policy"]["more_sizes"], "train_daa": not daa["losses"],
            "score_runs": not run_scorers(c),
            "score_teachers": not c["mix"]["onpolicy_fractions"], "label_offpolicy": not c["mix"]["onpolicy_fractions"],
            "label_ood": not shift_family(c), "score_shift": not shift_family(c)}
    return {rule: e for rule, e in out.items() if not skip.get(rule)}


@lru_cache
def granted(profile: Path = PROFILE) -> dict[str, int]:
    """Rule -> mem_mb of the workflow profile's set-resources (none without the profile)."""
    import yaml

    if not profile.exists():
        return {}
    res = (yaml.safe_load(profile.read_text()) or {}).get("set-resources") or {}
    return {rule: int(r["mem_mb"]) for rule, r in res.items() if isinstance(r, dict) and "mem_mb" in r}
