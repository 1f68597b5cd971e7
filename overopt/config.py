"""The study configuration: schema validation (with defaults), the checks a schema cannot
express, and the grid of proxy reward models it implies.

All of it runs when the Snakefile is parsed, so a bad config fails before any job starts and
nothing under ``results/`` is touched.
"""
from __future__ import annotations

import re
from pathlib import Path

SCHEMA = Path(__file__).resolve().parent.parent / "workflow" / "schemas" / "config.schema.yaml"
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ConfigError(ValueError):
    """A config value is wrong; the message starts with the key."""

    def __init__(self, key: str, message: str):
        super().__init__(f"config key '{key}': {message}")
        self.key = key


def _key(path) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<top level>"


def validate(config: dict, schema: str | Path = SCHEMA) -> dict:
    """Validate against the JSON schema (Snakemake's validator, which fills defaults), then run
    the cross-key checks. Raises :class:`ConfigError` naming the offending key."""
    import jsonschema
    from snakemake_interface_common.exceptions import WorkflowError
    from snakemake.utils import validate as smk_validate

    try:
        smk_validate(config, str(schema), set_default=True)
    except WorkflowError as exc:
        err = exc.__context__  # Snakemake wraps the jsonschema error
        if not isinstance(err, jsonschema.ValidationError):
            raise
        if err.validator == "oneOf" and err.context:  # say which branch failed, not just "oneOf"
            err = jsonschema.exceptions.best_match(err.context)
        path = list(err.absolute_path)
        if err.validator == "additionalProperties":
            extra = sorted(set(err.instance) - set(err.schema.get("properties", {})))
            allowed = sorted(err.schema["properties"])
            raise ConfigError(_key(path + extra[:1]), f"unknown key (allowed: {allowed})") from None
        raise ConfigError(_key(path), err.message) from None
    check(config)
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
            raise ConfigError(f"{section}.{key}", "values must be unique")


def check(config: dict) -> None:
    w, proxy, labels = config["world"], config["proxy"], config["labels"]
    for part in ("policy", "gold"):
        _check_model_ref(f"{part}.name_or_path", config[part]["name_or_path"])
        arch = config[part]["arch"]
        if arch["n_embd"] % arch["n_head"]:
            raise ConfigError(f"{part}.arch", "n_embd must be divisible by n_head")
    ds = w["prompt_dataset"]
    for key in ("name_or_path", "ood_name_or_path"):
        ref = ds.get(key)
        if ref and ref.startswith(("/", ".", "~")) and not Path(ref).expanduser().is_dir():
            raise ConfigError(f"world.prompt_dataset.{key}", f"dataset folder {ref} does not exist")
    _check_sizes("proxy.sizes", proxy["sizes"])
    _check_unique("proxy", proxy, ("data_sizes", "seeds", "objectives"))
    extra = set(proxy["pfr"].get("data_sizes") or ()) - set(proxy["data_sizes"])
    if extra:
        raise ConfigError("proxy.pfr.data_sizes", f"{sorted(extra)} not in proxy.data_sizes {proxy['data_sizes']}")
    need = max(proxy["data_sizes"]) + labels["heldout"]
    if need > w["prompts"]["rm_train"]:
        raise ConfigError("world.prompts.rm_train",
                          f"{w['prompts']['rm_train']} prompts give one pair each, but the largest "
                          f"proxy.data_sizes ({max(proxy['data_sizes'])}) plus labels.heldout "
                          f"({labels['heldout']}) needs {need}")
    rl = config["rl"]
    if rl["train"]["per_device_train_batch_size"] % rl["num_generations"]:
        raise ConfigError("rl.train.per_device_train_batch_size",
                          f"must be divisible by rl.num_generations ({rl['num_generations']}): it counts completions")
    if rl["eval_prompts"] > w["prompts"]["eval"]:
        raise ConfigError("rl.eval_prompts", f"more than world.prompts.eval ({w['prompts']['eval']})")
    _check_unique("rl", rl, ("algorithms", "kl_coefs", "seeds"))
    pol = config["policy"]
    _check_sizes("policy.more_sizes", pol["more_sizes"], taken=(pol["name"],))
    targets = ["gold", *(p["id"] for p in proxies(config))]
    for t in pol["more_sizes_targets"]:
        if t not in rl_targets(config):
            raise ConfigError("policy.more_sizes_targets", f"{t!r} is not an RL target (gold or a proxy id with an "
                                                           f"objective in rl.objectives: {rl_targets(config)})")
    daa = config["daa"]
    _check_unique("daa", daa, ("losses", "betas", "seeds", "fractions"))
    if daa["losses"]:
        if daa_data_size(config) > max(proxy["data_sizes"]):
            raise ConfigError("daa.data_size", f"more than the {max(proxy['data_sizes'])} labeled training pairs "
                                               "(the largest proxy.data_sizes)")
        if daa["proxy"] is not None and daa["proxy"] not in targets[1:]:
            raise ConfigError("daa.proxy", f"{daa['proxy']!r} is not a proxy id of the grid: {targets[1:]}")
        if daa["proxy"] is None and daa_data_size(config) not in proxy["data_sizes"]:
            raise ConfigError("daa.proxy", f"null needs daa.data_size ({daa['data_size']}) in proxy.data_sizes "
                                           f"{proxy['data_sizes']}; or name a proxy id")
        if daa["eval_prompts"] > w["prompts"]["eval"]:
            raise ConfigError("daa.eval_prompts", f"more than world.prompts.eval ({w['prompts']['eval']})")
        if daa["heldout_pairs"] > labels["heldout"]:
            raise ConfigError("daa.heldout_pairs", f"more than labels.heldout ({labels['heldout']})")
    ev, n_eval = config["rm_eval"], w["prompts"]["eval"]
    for key, limit, what in (("k", config["bon"]["N"], "bon.N"), ("bon_n", config["bon"]["N"], "bon.N"),
                             ("budget", n_eval, "world.prompts.eval (one pair per prompt in the distinct design)"),
                             ("swaps", n_eval - 1, "world.prompts.eval - 1"),
                             ("swap_prompts", n_eval, "world.prompts.eval")):
        if ev[key] > limit:
            raise ConfigError(f"rm_eval.{key}", f"{ev[key]} is more than {what} ({limit})")
    pairs = n_eval * ev["k"] * (ev["k"] - 1) // 2
    if max(ev["test_sizes"]) > pairs:
        raise ConfigError("rm_eval.test_sizes", f"more than the {pairs} pool pairs (eval prompts x C(k, 2))")
    if ev["rl_step"] is not None and (ev["rl_step"] % rl["eval_every"] or ev["rl_step"] > rl["steps"]):
        raise ConfigError("rm_eval.rl_step", f"must be an evaluation step: a multiple of rl.eval_every "
                                             f"({rl['eval_every']}) up to rl.steps ({rl['steps']})")
    if config["fit"]["min_n"] > config["bon"]["N"]:
        raise ConfigError("fit.min_n", f"larger than bon.N ({config['bon']['N']})")


def proxies(config: dict) -> list[dict]:
    """One entry per proxy RM of the grid: id, size (its config entry), data_size, objective, seed."""
    p = config["proxy"]
    pfr_sizes = p["pfr"].get("data_sizes") or p["data_sizes"]
    return [{"id": f"{s['name']}-d{n}-{obj}-s{seed}", "size": s, "data_size": n, "objective": obj, "seed": seed}
            for s in p["sizes"] for n in p["data_sizes"] for obj in p["objectives"] for seed in p["seeds"]
            if obj != "pfr" or n in pfr_sizes]


def rl_targets(config: dict) -> list[str]:
    """The RMs pi_init is optimized against by RL: gold, then the proxies of rl.objectives."""
    return ["gold", *(p["id"] for p in proxies(config) if p["objective"] in config["rl"]["objectives"])]


def proxy(config: dict, rm_id: str) -> dict:
    for p in proxies(config):
        if p["id"] == rm_id:
            return p
    raise KeyError(f"no proxy RM {rm_id!r} in the configured grid")


def policies(config: dict) -> list[dict]:
    """pi_init first, then the policy-size axis: name, and arch (built here) or name_or_path."""
    pol = config["policy"]
    ref = {"name_or_path": pol["name_or_path"]} if pol["name_or_path"] else {"arch": pol["arch"]}
    main = {"name": pol["name"], **ref}
    return [main, *pol["more_sizes"]]


def rl_runs(config: dict, targets: list[str]) -> list[dict]:
    """One entry per RL run: policy, algorithm, target RM id, KL coefficient (as its path string)
    and seed. pi_init runs against every target; the policy-size axis against its own targets."""
    rl, pol = config["rl"], config["policy"]
    grid = [(pol["name"], targets)] + [(s["name"], pol["more_sizes_targets"]) for s in pol["more_sizes"]]
    return [{"policy": p, "algo": a, "rm": t, "kl": f"{k:g}", "seed": s}
            for p, ts in grid for a in rl["algorithms"] for t in ts for k in rl["kl_coefs"] for s in rl["seeds"]]


def daa_data_size(config: dict) -> int:
    return config["daa"]["data_size"] or min(config["proxy"]["data_sizes"])


def daa_proxy(config: dict) -> str:
    """The proxy whose score fills DAA curves' proxy column: the configured one, or the last of
    proxy.sizes (the largest in the default) trained on the same pairs, first objective and seed."""
    if config["daa"]["proxy"]:
        return config["daa"]["proxy"]
    p = config["proxy"]
    return f"{p['sizes'][-1]['name']}-d{daa_data_size(config)}-{p['objectives'][0]}-s{p['seeds'][0]}"


def daa_runs(config: dict) -> list[dict]:
    """One entry per DAA run on pi_init: loss, beta (as its path string) and seed."""
    daa = config["daa"]
    return [{"loss": loss, "beta": f"{b:g}", "seed": s} for loss in daa["losses"] for b in daa["betas"]
            for s in daa["seeds"]]


def n_positions(config: dict) -> int:
    """Context length of models built here: prompt + response + EOS, plus slack."""
    return config["world"]["prompt_len"] + config["response_len"] + 2
