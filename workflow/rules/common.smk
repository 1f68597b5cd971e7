# What every stage shares: the target registry, the stage settings, the output registry, and
# path helpers. Rules stay thin: inputs, outputs, one params dict (a stage's settings).
from pathlib import Path

from overopt import outputs, stages, targets as target_grid
from overopt.config import path_number

R = "results"
S = stages.Stages(config)  # every job's settings, from the validated config
T = S.targets  # the target registry: every RM optimized against or scored by
OTHER_POLICIES = [p["name"] for p in config["policy"]["more_sizes"]]  # the policy-size axis
RL_PLAN = target_grid.rl_runs(config, [t.id for t in T.rl_targets])


def rl_run(r):
    return f"{R}/rl/{r['policy']}/{r['algo']}/{r['rm']}/kl{r['kl']}-s{r['seed']}"


RL_RUNS = [rl_run(r) for r in RL_PLAN]
RUN_SCORERS = {rm: [f"{rl_run(r)}.samples.csv" for r in runs] for rm, runs in target_grid.run_scorers(config).items()}
ROLE_SWAP_SAMPLES = [*dict.fromkeys(f for files in RUN_SCORERS.values() for f in files)]  # both views' RL runs
DAA_PROXY = target_grid.daa_proxy(config)
DAA_RUNS = [f"{R}/daa/{r['policy']}/{r['loss']}/beta{r['beta']}-s{r['seed']}" for r in target_grid.daa_runs(config)]
RL_CURVES, DAA_CURVES = [f"{r}.csv" for r in RL_RUNS], [f"{r}.csv" for r in DAA_RUNS]
RUN_SAMPLES = [f"{r}.samples.csv" for r in RL_RUNS + DAA_RUNS]  # per evaluation sample, beside each curve
ENV_TORCH = "../../envs/torch.yaml"
ENV_LIGHT = "../../envs/light.yaml"


def figure_outputs(job):
    """A figure job's outputs from the output registry: each PNG as a report item, the PDFs."""
    figs = outputs.figures(config, job)
    return {"pngs": [report(f"{R}/figures/{f.name}.png", caption=f"../report/{f.name}.rst", category=f.paper)
                     for f in figs],
            "pdfs": [f"{R}/figures/{f.name}.pdf" for f in figs]}


def table(name):
    return report(f"{R}/tables/{name}.csv", caption="../report/tables.rst", category="Tables")


TABLES = [f"{R}/tables/{name}.csv" for name in outputs.TABLES]
FIGURES = [f"{R}/figures/{f.name}.{ext}" for f in outputs.figures(config) for ext in ("png", "pdf")]


def closed(values):
    """A wildcard constraint that admits exactly these values."""
    import re

    return "|".join(re.escape(str(v)) for v in values)


wildcard_constraints:
    rm=T.wildcard(),
    policy=closed(S.policies),
    algo=closed(config["rl"]["algorithms"]),
    loss=closed(config["daa"]["losses"] or ["none"]),
    beta=closed(path_number(b) for b in config["daa"]["betas"]),
    kl=closed(dict.fromkeys(r["kl"] for r in RL_PLAN)),
    seed=r"\d+",


def log(rule, wc=""):
    return f"{R}/logs/{rule}/{wc or rule}.log"


def bench(rule, wc=""):
    return f"{R}/benchmarks/{rule}/{wc or rule}.tsv"


def code(script):
    """The package modules a rule's script imports, transitively: editing one reruns the rule."""
    return deps.files(script)


def local_input(ref):
    """Track a model or dataset as an input when it is a folder here, not a hub id."""
    return [ref] if ref and (Path(ref).exists() or ref.startswith(f"{R}/")) else []
