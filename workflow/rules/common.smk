# Paths and helpers shared by every stage. Rules stay thin: inputs, outputs, one params dict.
from pathlib import Path

R = "results"
PROXIES = study_config.proxies(config)
PROXY_IDS = [p["id"] for p in PROXIES]
TARGETS = ["gold", *PROXY_IDS]  # every RM a policy is optimized against
RL_CURVES = [f"{R}/rl/{r['algo']}/{r['rm']}/kl{r['kl']}-s{r['seed']}.csv" for r in study_config.rl_runs(config, TARGETS)]
ENV_TORCH = "../../envs/torch.yaml"
ENV_LIGHT = "../../envs/light.yaml"

TABLES = expand(f"{R}/tables/{{t}}.csv", t=["rm_metrics", "curves", "fits", "scaling"])
FIGURE_NAMES = ["bon_by_rm_size", "bon_by_data_size", "bon_coefficients", "rl_by_rm_size", "rl_by_kl"]
FIGURES = expand(f"{R}/figures/{{f}}.{{ext}}", f=FIGURE_NAMES, ext=["png", "pdf"])
GAO = "Gao et al. 2022: scaling laws"  # report categories, one per paper


def figure(name, paper, caption=None):
    """A figure's PNG as a report item (the PDF beside it is a plain output)."""
    return report(f"{R}/figures/{name}.png", caption=f"../report/{caption or name}.rst", category=paper)


def table(name):
    return report(f"{R}/tables/{name}.csv", caption="../report/tables.rst", category="Tables")


wildcard_constraints:
    rm=r"gold|[A-Za-z0-9_]+-d\d+-[a-z]+-s\d+",
    algo=r"[a-z]+",
    kl=r"[0-9.e-]+",
    seed=r"\d+",


def log(rule, wc=""):
    return f"{R}/logs/{rule}/{wc or rule}.log"


def bench(rule, wc=""):
    return f"{R}/benchmarks/{rule}/{wc or rule}.tsv"


def built(ref, default):
    """A model's name_or_path: the config's (a folder or hub id), or the one built here."""
    return ref or default


def local_input(ref):
    """Track a model or dataset as an input when it is a folder here, not a hub id."""
    return [ref] if ref and (Path(ref).exists() or ref.startswith(f"{R}/")) else []


POLICY = built(config["policy"]["name_or_path"], f"{R}/world/policy")
GOLD = built(config["gold"]["name_or_path"], f"{R}/rms/gold/model")


def rm_path(rm):
    return GOLD if rm == "gold" else f"{R}/rms/{rm}/model"
