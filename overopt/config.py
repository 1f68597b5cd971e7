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
            raise ConfigError(_key(path + extra[:1]), f"unknown key (allowed: {sorted(err.schema['properties'])})") from None
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
    names = [s["name"] for s in proxy["sizes"]]
    if len(set(names)) != len(names):
        raise ConfigError("proxy.sizes", f"size names must be unique, got {names}")
    for i, s in enumerate(proxy["sizes"]):
        if "arch" in s and s["arch"]["n_embd"] % s["arch"]["n_head"]:
            raise ConfigError(f"proxy.sizes[{i}].arch", "n_embd must be divisible by n_head")
        if "name_or_path" in s:
            _check_model_ref(f"proxy.sizes[{i}].name_or_path", s["name_or_path"])
    for key in ("data_sizes", "seeds", "objectives"):
        if len(set(proxy[key])) != len(proxy[key]):
            raise ConfigError(f"proxy.{key}", "values must be unique")
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
    for key in ("algorithms", "kl_coefs", "seeds"):
        if len(set(rl[key])) != len(rl[key]):
            raise ConfigError(f"rl.{key}", "values must be unique")
    if config["fit"]["min_n"] > config["bon"]["N"]:
        raise ConfigError("fit.min_n", f"larger than bon.N ({config['bon']['N']})")


def proxies(config: dict) -> list[dict]:
    """One entry per proxy RM of the grid: id, size (its config entry), data_size, objective, seed."""
    p = config["proxy"]
    return [{"id": f"{s['name']}-d{n}-{obj}-s{seed}", "size": s, "data_size": n, "objective": obj, "seed": seed}
            for s in p["sizes"] for n in p["data_sizes"] for obj in p["objectives"] for seed in p["seeds"]]


def proxy(config: dict, rm_id: str) -> dict:
    for p in proxies(config):
        if p["id"] == rm_id:
            return p
    raise KeyError(f"no proxy RM {rm_id!r} in the configured grid")


def rl_runs(config: dict, targets: list[str]) -> list[dict]:
    """One entry per RL run: algorithm, target RM id, KL coefficient (as its path string) and seed."""
    rl = config["rl"]
    return [{"algo": a, "rm": t, "kl": f"{k:g}", "seed": s}
            for a in rl["algorithms"] for t in targets for k in rl["kl_coefs"] for s in rl["seeds"]]


def n_positions(config: dict) -> int:
    """Context length of models built here: prompt + response + EOS, plus slack."""
    return config["world"]["prompt_len"] + config["response_len"] + 2
