"""The study configuration: schema validation (with defaults), the checks a schema cannot
express, and the grid of proxy reward models it implies.

All of it runs when the Snakefile is parsed, so a bad config fails before any job starts and
nothing under ``results/`` is touched: wrong types, NaN and inf, integer-valued floats, unknown
keys, inconsistent keys, grid values that would share a run path, and jobs that would need more
memory than the profile grants (:mod:`overopt.resources`), each named by its key.
"""
from __future__ import annotations

import copy
import math
import re
from functools import lru_cache
from pathlib import Path

SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
PATH_NUMBER = re.compile(r"^[0-9.e-]+$")  # the Snakefile's wildcard for kl and beta


class ConfigError(ValueError):
    """A config value is wrong; the message, one line, starts with the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config key '{key}': " + " ".join(str(message).split()))
        self.key = key


def _key(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def path_number(x: float) -> str:
    """A grid number (KL coefficient, DAA beta) as written in run paths and ids."""
    return f"{x:g}"


@lru_cache
def _validator(schema: Path):
    """Draft 2020-12 where ``integer`` takes ints only (JSON Schema's takes 6.0; the policy here is
    to reject it) and ``properties`` fills defaults as ``snakemake.utils.validate`` does, but only
    into mappings (Snakemake's crashes on ``policy: 5``) and as copies (the cached schema's
    defaults must never be shared by configs)."""
    import yaml
    from jsonschema import Draft202012Validator, validators

    validate_properties = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator, props, instance, schema):
        if validator.is_type(instance, "object"):
            for key, sub in props.items():
                if "default" in sub:
                    instance.setdefault(key, copy.deepcopy(sub["default"]))
        yield from validate_properties(validator, props, instance, schema)

    strict = Draft202012Validator.TYPE_CHECKER.redefine(
        "integer", lambda _, x: isinstance(x, int) and not isinstance(x, bool))
    cls = validators.extend(Draft202012Validator, {"properties": properties}, type_checker=strict)
    return cls(yaml.safe_load(Path(schema).read_text()))


def _schema_error(err) -> ConfigError:
    """The jsonschema error as a ConfigError naming the key, in words a researcher can act on."""
    path, v = list(err.absolute_path), err.validator
    if v == "additionalProperties":
        extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
        return ConfigError(_key(path + extra[:1]), f"unknown key (allowed: {sorted(err.schema['properties'])})")
    if v == "oneOf" and all(list(b) == ["required"] for b in err.validator_value):  # sized_model: arch | name_or_path
        keys = [b["required"][0] for b in err.validator_value]
        both = all(k in err.instance for k in keys)
        return ConfigError(_key(path), f"give either {' or '.join(keys)}" + (", not both" if both else ""))
    if v == "type" and isinstance(err.instance, float) and "integer" in err.validator_value:  # str or list
        return ConfigError(_key(path), f"must be an integer, got {err.instance!r}")
    return ConfigError(_key(path), err.message)


def _leaves(value, path=()):
    """(path, value) of every scalar of a config."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path, value


def validate(config: dict, schema: str | Path = SCHEMA) -> dict:
    """Validate against the JSON schema (filling defaults), reject NaN and inf anywhere (schema
    bounds let NaN through), then run the cross-key checks and the memory estimate. All of it
    runs on a copy: a rejected config is left as given, an accepted one gets its defaults in
    place (and is returned). Raises :class:`ConfigError` naming the offending key."""
    from jsonschema.exceptions import best_match

    work = copy.deepcopy(config)
    err = best_match(_validator(Path(schema).resolve()).iter_errors(work))
    if err is not None:
        raise _schema_error(err)
    for path, value in _leaves(work):
        if isinstance(value, float) and not math.isfinite(value):
            raise ConfigError(_key(path), f"must be a finite number, got {value}")
    check(work)
    config.clear()
    config.update(work)
    return config


def _check_model_ref(key: str, value: str | None) -> None:
    """A local path must exist; anything else must look like a hub id."""
    if value is None:
        return
    p = Path(value).expanduser()
    looks_local = value.startswith(("/", ".", "~")) or not HUB_ID.match(value)
    if p.exists():
        if not (p / "config.json").exists():
            raise ConfigError(key, f"{value} has no config.json (save it with save_pretrained)")
    elif looks_local:
        raise ConfigError(key, f"model path {value} does not exist")


def _check_sizes(key: str, sizes: list[dict], taken: tuple = ()) -> None:
    """Size entries of a grid: unique names (also against ``taken``), valid shapes, model refs."""
    names = [*taken, *(s["name"] for s in sizes)]
    if len(set(names)) != len(names):
        raise ConfigError(key, f"names must be unique, got {names}")
    for i, s in enumerate(sizes):
        if "arch" in s and s["arch"]["n_embd"] % s["arch"]["n_head"]:
            raise ConfigError(f"{key}[{i}].arch", "n_embd must be divisible by n_head")
        if "name_or_path" in s:
            _check_model_ref(f"{key}[{i}].name_or_path", s["name_or_path"])


def _check_unique(section: str, values: dict, keys: tuple) -> None:
    for key in keys:
        if len(set(values[key])) != len(values[key]):
            raise ConfigError(f"{section}.{key}", f"values must be unique, got {values[key]}")


def _check_path_numbers(key: str, values: list[float]) -> None:
    """Grid numbers name runs by :func:`path_number`: two values must not share a path, and a
    run must get the value configured (it reads it back from the path)."""
    seen = {}
    for v in values:
        s = path_number(v)
        if s in seen:
            raise ConfigError(key, f"{seen[s]} and {v} both map to the run id '{s}': they would be one run")
        if float(s) != v or not PATH_NUMBER.match(s):
            raise ConfigError(key, f"{v} is written '{s}' in run paths, which does not give {v} back "
                                   "(use at most 6 significant digits, below 1e6)")
        seen[s] = v


def _check_extra_seeds(proxy: dict) -> None:
    """proxy.extra_seeds replicates cells of the grid: its data sizes must be the grid's (the
    first objective's, for pfr) and its seeds new ones, or two proxies would share an id."""
    extra = proxy["extra_seeds"]
    _check_unique("proxy.extra_seeds", extra, ("data_sizes", "seeds"))
    if not extra["seeds"]:
        return  # off: its data sizes name nothing (an overlay may narrow proxy.data_sizes under them)
    sizes = (proxy["pfr"].get("data_sizes") or proxy["data_sizes"]) if proxy["objectives"][0] == "pfr" \
        else proxy["data_sizes"]
    off = [n for n in extra["data_sizes"] if n not in sizes]
    if off:
        raise ConfigError("proxy.extra_seeds.data_sizes", f"{off} not among the data sizes of the grid's "
                                                          f"{proxy['objectives'][0]} proxies {sizes}")
    both = sorted(set(extra["seeds"]) & set(proxy["seeds"]))
    if both:
        raise ConfigError("proxy.extra_seeds.seeds", f"{both} already in proxy.seeds: extra seeds must be new ones")


def _eval_steps(data_size: int, batch: int, fractions: list[float]) -> list[int]:
    """The first-epoch steps DAA evaluates at (as overopt's DAA trainer rounds them)."""
    spe = max(1, math.ceil(data_size / batch))
    return [max(1, math.floor(f * spe + 0.5)) for f in fractions]


def check(config: dict) -> None:
    """The checks a schema cannot express (run on a config the schema has filled)."""
    from overopt.targets import daa_data_size, proxies, rl_targets  # the grid (no cycle at import)

    w, proxy, labels, rl, pol = (config[k] for k in ("world", "proxy", "labels", "rl", "policy"))
    for part in ("policy", "gold"):
        _check_model_ref(f"{part}.name_or_path", config[part]["name_or_path"])
        arch = config[part]["arch"]
        if arch["n_embd"] % arch["n_head"]:
            raise ConfigError(f"{part}.arch", "n_embd must be divisible by n_head")
    if w["branching"] > w["vocab_size"]:
        raise ConfigError("world.branching", f"{w['branching']} successors per word, but world.vocab_size is "
                                             f"{w['vocab_size']} (successors are distinct words)")
    ds = w["prompt_dataset"]
    for key in ("name_or_path", "ood_name_or_path"):
        ref = ds.get(key)
        if ref and ref.startswith(("/", ".", "~")) and not Path(ref).expanduser().is_dir():
            raise ConfigError(f"world.prompt_dataset.{key}", f"dataset folder {ref} does not exist")
    if ds["ood_name_or_path"] and not ds["name_or_path"]:
        raise ConfigError("world.prompt_dataset.ood_name_or_path", "needs world.prompt_dataset.name_or_path "
                                                                   "(the embedded language makes its own OOD prompts)")
    if ds["name_or_path"] and not pol["name_or_path"]:
        raise ConfigError("world.prompt_dataset.name_or_path", "needs policy.name_or_path: a pi_init built here "
                                                               "knows only the embedded language's words")
    if config["gold"]["chat_template"] and not config["gold"]["name_or_path"]:
        raise ConfigError("gold.chat_template", "needs gold.name_or_path: the gold RM built here has no chat template "
                                                "(it scores prompt + response + EOS)")
    _check_sizes("proxy.sizes", proxy["sizes"])
    _check_unique("proxy", proxy, ("data_sizes", "seeds", "objectives"))
    extra = set(proxy["pfr"].get("data_sizes") or ()) - set(proxy["data_sizes"])
    if extra:
        raise ConfigError("proxy.pfr.data_sizes", f"{sorted(extra)} not in proxy.data_sizes {proxy['data_sizes']}")
    if "pfr" in proxy["objectives"] and proxy["pfr"]["prompts"] >= proxy["train"]["per_device_train_batch_size"]:
        b = proxy["train"]["per_device_train_batch_size"]
        raise ConfigError("proxy.pfr.prompts", f"{proxy['pfr']['prompts']} swapped prompts, but a batch of "
                                               f"proxy.train.per_device_train_batch_size ({b}) pairs has only {b - 1} "
                                               "other prompts to swap in: fewer would be used")
    need = max(proxy["data_sizes"]) + labels["heldout"]
    if need > w["prompts"]["rm_train"]:
        raise ConfigError("world.prompts.rm_train",
                          f"{w['prompts']['rm_train']} prompts give one pair each, but the largest "
                          f"proxy.data_sizes ({max(proxy['data_sizes'])}) plus labels.heldout "
                          f"({labels['heldout']}) needs {need}")
    _check_extra_seeds(proxy)
    missing = [o for o in rl["objectives"] if o not in proxy["objectives"]]
    if missing:
        raise ConfigError("rl.objectives", f"{missing} not in proxy.objectives {proxy['objectives']}: no proxy to run "
                                           "RL against")
    batch = rl["train"]["per_device_train_batch_size"]
    if batch % rl["num_generations"]:
        raise ConfigError("rl.train.per_device_train_batch_size",
                          f"must be divisible by rl.num_generations ({rl['num_generations']}): it counts completions")
    if rl["prompts"] is not None and rl["prompts"] > w["prompts"]["policy_train"]:
        raise ConfigError("rl.prompts", f"{rl['prompts']} RL prompts, but world.prompts.policy_train has only "
                                        f"{w['prompts']['policy_train']}")
    n_rl = rl["prompts"] or w["prompts"]["policy_train"]
    if "ppo" in rl["algorithms"] and batch > n_rl:
        raise ConfigError("rl.train.per_device_train_batch_size", f"PPO needs at least {batch} training prompts, "
                                                                  f"RL has {n_rl} (rl.prompts, world.prompts.policy_train)")
    if "rloo" in rl["algorithms"] and n_rl < batch // rl["num_generations"]:  # TRL drops a partial step: 0 steps
        raise ConfigError("rl.prompts", f"RLOO trains on {batch // rl['num_generations']} prompts a step "
                                        f"(rl.train.per_device_train_batch_size / rl.num_generations); RL has {n_rl}")
    _check_unique("rl", rl, ("algorithms", "kl_coefs", "seeds"))
    _check_path_numbers("rl.kl_coefs", rl["kl_coefs"])
    for i, sweep in enumerate(rl["sweeps"]):
        key = f"rl.sweeps[{i}]"
        _check_unique(key, sweep, [k for k in ("targets", "kl_coefs", "seeds") if k in sweep])
        _check_path_numbers(f"{key}.kl_coefs", sweep.get("kl_coefs", []))
        for t in sweep["targets"]:
            if t not in rl_targets(config):
                raise ConfigError(f"{key}.targets", f"{t!r} is not an RL target (gold or a proxy id with an objective "
                                                    f"in rl.objectives: {rl_targets(config)})")
    daa = config["daa"]
    for name in ("rl", "daa") if daa["losses"] else ("rl",):
        section = config[name]
        if section["eval_prompts"] > w["prompts"]["eval"]:
            raise ConfigError(f"{name}.eval_prompts", f"more than world.prompts.eval ({w['prompts']['eval']})")
        if section["eval_prompts"] * section["eval_samples"] < 2:
            raise ConfigError(f"{name}.eval_samples", f"{name}.eval_prompts x {name}.eval_samples must be at least 2 "
                                                      "(standard errors)")
    _check_sizes("policy.more_sizes", pol["more_sizes"], taken=(pol["name"],))
    _check_unique("policy", pol, ("more_sizes_targets",))
    if pol["more_sizes"] and not pol["more_sizes_targets"]:
        raise ConfigError("policy.more_sizes_targets", "empty: the policy.more_sizes policies would run nothing")
    for t in pol["more_sizes_targets"]:
        if t not in rl_targets(config):
            raise ConfigError("policy.more_sizes_targets", f"{t!r} is not an RL target (gold or a proxy id with an "
                                                           f"objective in rl.objectives: {rl_targets(config)})")
    _check_unique("daa", daa, ("losses", "betas", "seeds", "fractions"))
    _check_path_numbers("daa.betas", daa["betas"])
    if daa["losses"]:
        ids = [p["id"] for p in proxies(config)]
        if daa_data_size(config) > max(proxy["data_sizes"]):
            raise ConfigError("daa.data_size", f"more than the {max(proxy['data_sizes'])} labeled training pairs "
                                               "(the largest proxy.data_sizes)")
        if daa["proxy"] is not None and daa["proxy"] not in ids:
            raise ConfigError("daa.proxy", f"{daa['proxy']!r} is not a proxy id of the grid: {ids}")
        if daa["proxy"] is None and daa_data_size(config) not in proxy["data_sizes"]:
            raise ConfigError("daa.proxy", f"null needs daa.data_size ({daa['data_size']}) in proxy.data_sizes "
                                           f"{proxy['data_sizes']}; or name a proxy id")
        if daa["heldout_pairs"] > labels["heldout"]:
            raise ConfigError("daa.heldout_pairs", f"more than labels.heldout ({labels['heldout']})")
        steps = _eval_steps(daa_data_size(config), daa["train"]["per_device_train_batch_size"], daa["fractions"])
        if len(set(steps)) != len(steps):
            raise ConfigError("daa.fractions", f"{daa['fractions']} evaluate at steps {steps} of the first epoch: "
                                               "some coincide (daa.data_size / per_device_train_batch_size steps)")
    ev, n_eval = config["rm_eval"], w["prompts"]["eval"]
    for key, limit, what in (("k", config["bon"]["N"], "bon.N"), ("bon_n", config["bon"]["N"], "bon.N"),
                             ("budget", n_eval, "world.prompts.eval (one pair per prompt in the distinct design)"),
                             ("swaps", n_eval - 1, "world.prompts.eval - 1"),
                             ("swap_prompts", n_eval, "world.prompts.eval")):
        if ev[key] > limit:
            raise ConfigError(f"rm_eval.{key}", f"{ev[key]} is more than {what} ({limit})")
    _check_unique("rm_eval", ev, ("test_sizes",))
    if ev["k"] % ev["rank_bins"]:
        raise ConfigError("rm_eval.rank_bins", f"{ev['rank_bins']} bins do not split k = {ev['k']} responses equally")
    if ev["budget_ks"] is not None:
        _check_unique("rm_eval", ev, ("budget_ks",))
        for i, kk in enumerate(ev["budget_ks"]):
            if kk > ev["k"]:
                raise ConfigError(f"rm_eval.budget_ks[{i}]", f"{kk} is more than rm_eval.k ({ev['k']})")
    pairs = n_eval * ev["k"] * (ev["k"] - 1) // 2
    if max(ev["test_sizes"]) > pairs:
        raise ConfigError("rm_eval.test_sizes", f"more than the {pairs} pool pairs (eval prompts x C(k, 2))")
    for key in ("rm_eval", "role_swap", "mix"):
        _check_rl_step(f"{key}.rl_step", config[key]["rl_step"], rl)
    _check_role_swap(config)
    _check_shift(config)
    _check_mix(config)
    if config["fit"]["min_n"] > config["bon"]["N"]:
        raise ConfigError("fit.min_n", f"larger than bon.N ({config['bon']['N']})")
    _check_memory(config)


def _check_rl_step(key: str, step: int | None, rl: dict) -> None:
    if step is not None and (step > rl["steps"] or step % rl["eval_every"] and step != rl["steps"]):
        raise ConfigError(key, f"must be an evaluation step: a multiple of rl.eval_every ({rl['eval_every']}) up to "
                               f"rl.steps ({rl['steps']}), or rl.steps")


def _check_design_cell(section: str, design: dict, proxy: dict) -> None:
    """A paper's own RMs: a size of the grid and no more pairs than the labeling provides."""
    names = [s["name"] for s in proxy["sizes"]]
    if design["size"] is not None and design["size"] not in names:
        raise ConfigError(f"{section}.size", f"{design['size']!r} is not a proxy.sizes name: {names}")
    if design["data_size"] is not None and design["data_size"] > max(proxy["data_sizes"]):
        raise ConfigError(f"{section}.data_size", f"more than the {max(proxy['data_sizes'])} labeled training pairs "
                                                  "(the largest proxy.data_sizes)")


def _check_members(section: str, design: dict, proxy: dict, key: str, least: int, why: str) -> bool:
    """A design's family: its cell, and at least ``least`` members whose values name runs apart
    (an empty list switches the design off). Returns whether the design is on."""
    _check_design_cell(section, design, proxy)
    values = design[key]
    if not values:
        return False
    if len(values) < least:
        raise ConfigError(f"{section}.{key}", f"{values}: at least {least} members{why}, or [] to switch the design off")
    _check_unique(section, design, (key,))
    _check_path_numbers(f"{section}.{key}", values)
    return True


def _check_role_swap(config: dict) -> None:
    """Wen's family: a size of the grid, pairs the labeling provides, rates that name runs apart."""
    rs, proxy = config["role_swap"], config["proxy"]
    _check_unique("role_swap", rs, ("bon_n",))
    if max(rs["bon_n"]) > config["bon"]["N"]:  # the grid view runs without the family too
        raise ConfigError("role_swap.bon_n", f"{max(rs['bon_n'])} is more than bon.N ({config['bon']['N']})")
    _check_members("role_swap", rs, proxy, "flip_rates", 3, " (a correlation over their ordered pairs)")


def _check_shift(config: dict) -> None:
    """Mao's shift: a size of the grid, pairs the labeling provides, a visible cue."""
    sh, proxy = config["shift"], config["proxy"]
    _check_design_cell("shift", sh, proxy)
    if not sh["seeds"]:
        return
    _check_unique("shift", sh, ("seeds", "objectives"))
    if not sh["cue"].strip():
        raise ConfigError("shift.cue", "blank: the cue must be visible text")
    if not config["policy"]["name_or_path"]:  # the embedded world: one word of its language (one spare position)
        from overopt.world.language import word

        words, vocab = sh["cue"].split(), config["world"]["vocab_size"]
        index = int(words[0][1:]) if len(words) == 1 and words[0][1:].isdigit() else -1
        if len(words) != 1 or not sh["cue"].startswith(" ") or not 0 <= index < vocab or words[0] != word(index):
            raise ConfigError("shift.cue", f"{sh['cue']!r}: the embedded world takes one word of its language after a "
                                           f"space, '{word(0)}' to '{word(vocab - 1)}' (a response has one spare position)")


def _check_mix(config: dict) -> None:
    """Razin's teachers: a size of the grid, pairs the labeling provides, shares that name runs
    apart, an off-policy source that is not pi_init itself."""
    mx = config["mix"]
    if not _check_members("mix", mx, config["proxy"], "onpolicy_fractions", 2, ""):
        return
    if mx["temperature"] == 1:
        raise ConfigError("mix.temperature", "1 samples pi_init itself: the off-policy source needs another temperature")
    n = mx["data_size"] or min(config["proxy"]["data_sizes"])
    if any(round(f * n) != f * n for f in mx["onpolicy_fractions"]):
        raise ConfigError("mix.onpolicy_fractions", f"{mx['onpolicy_fractions']} of {n} pairs (mix.data_size) are not "
                                                    "whole numbers of pairs")


def _check_memory(config: dict) -> None:
    """Each rule's estimated peak memory (:mod:`overopt.resources`) within the profile's mem_mb."""
    from overopt import resources

    granted = resources.granted()
    for rule, need in resources.estimate(config).items():
        if rule in granted and need["mem_mb"] > granted[rule]:
            raise ConfigError(need["key"], f"{rule} would need about {need['mem_mb']:,} MB, the profile grants "
                                           f"{granted[rule]:,} MB ({resources.PROFILE.relative_to(resources.ROOT)})")
