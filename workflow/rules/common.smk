# Paths and helpers shared by every stage. Rules stay thin: inputs, outputs, one params dict.
from pathlib import Path

R = "results"
PROXIES = study_config.proxies(config)
PROXY_IDS = [p["id"] for p in PROXIES]
TARGETS = ["gold", *PROXY_IDS]  # every RM a policy is optimized against
FLAT, FLAT_FACTOR = "gold_flat", config["rm_eval"]["flat_factor"]  # Razin's accurate-but-flat teacher (RL only)
RL_TARGETS = study_config.rl_targets(config) + ([FLAT] if FLAT_FACTOR else [])
# the RL setting the report card and the RM-evaluation figures show: pi_init, the first
# algorithm, the smallest KL coefficient and seed
RM_SETTING = {
    "policy": config["policy"]["name"],
    "algorithm": config["rl"]["algorithms"][0],
    "kl_coef": min(config["rl"]["kl_coefs"]),
    "rl_seed": min(config["rl"]["seeds"]),
}
RL_CURVES = [f"{R}/rl/{r['policy']}/{r['algo']}/{r['rm']}/kl{r['kl']}-s{r['seed']}.csv"
             for r in study_config.rl_runs(config, RL_TARGETS)]
DAA_PROXY = study_config.daa_proxy(config)
DAA_CURVES = [f"{R}/daa/{r['loss']}/beta{r['beta']}-s{r['seed']}.csv" for r in study_config.daa_runs(config)]
ENV_TORCH = "../../envs/torch.yaml"
ENV_LIGHT = "../../envs/light.yaml"

TABLES = expand(f"{R}/tables/{{t}}.csv",
                t=["rm_metrics", "curves", "fits", "scaling", "rm_eval", "correlations", "report_card", "predictors",
                    "headlines"])
GAO = "Gao et al. 2022: scaling laws"  # report categories, one per paper
RAFAILOV = "Rafailov et al. 2024: DAA over-optimization"
FIGURE_PAPERS = {
    "bon_by_rm_size": GAO,
    "bon_by_data_size": GAO,
    "bon_coefficients": GAO,
    "rl_by_rm_size": GAO,
    "rl_by_kl": GAO,
    "rl_gap_by_kl": GAO,
    "rl_vs_bon": GAO,
    **({"rl_by_policy_size": GAO} if config["policy"]["more_sizes"] else {}),
    **({"daa_by_loss": RAFAILOV} if DAA_CURVES else {}),
}
FIGURE_NAMES = list(FIGURE_PAPERS)
RM_FIGURE_PAPERS = {
    "acc_vs_ndr": "Wen et al. 2024: accuracy vs downstream",
    "acc_vs_test_size": "Wen et al. 2024: accuracy vs downstream",
    "variance_vs_gain": "Razin et al. 2025: reward variance",
    "flat_teacher": "Razin et al. 2025: reward variance",
    "prompt_free": "Mao et al. 2025: prompt-free reward",
    "bt_vs_pfr": "Mao et al. 2025: prompt-free reward",
    "report_card": "The RM report card",
}
RM_FIGURE_NAMES = list(RM_FIGURE_PAPERS)
FIGURES = expand(f"{R}/figures/{{f}}.{{ext}}", f=FIGURE_NAMES + RM_FIGURE_NAMES, ext=["png", "pdf"])


def figure(name, paper, caption=None):
    """A figure's PNG as a report item (the PDF beside it is a plain output)."""
    return report(f"{R}/figures/{name}.png", caption=f"../report/{caption or name}.rst", category=paper)


def table(name):
    return report(f"{R}/tables/{name}.csv", caption="../report/tables.rst", category="Tables")


wildcard_constraints:
    rm=r"gold|gold_flat|[A-Za-z0-9_]+-d\d+-[a-z]+-s\d+",
    algo=r"[a-z]+",
    policy=r"[A-Za-z0-9_]+",
    loss=r"[a-z]+",
    beta=r"[0-9.e-]+",
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


POLICY_REFS = {p["name"]: p.get("name_or_path") or f"{R}/world/policies/{p['name']}" for p in study_config.policies(config)}
POLICY_SIZES = {p["name"]: p for p in study_config.policies(config)}
POLICY = POLICY_REFS[config["policy"]["name"]]  # pi_init
OTHER_POLICIES = [p["name"] for p in config["policy"]["more_sizes"]]  # the policy-size axis
GOLD = built(config["gold"]["name_or_path"], f"{R}/rms/gold/model")


def rm_path(rm):
    return GOLD if rm in ("gold", FLAT) else f"{R}/rms/{rm}/model"


def rm_norm(rm):
    return f"{R}/rms/{'gold' if rm == FLAT else rm}/normalization.json"


def pool_hp(policy, N, seed, split):
    """Hyper-parameters of an extra sample pool (sample_pool.py): N samples per prompt of split."""
    return {"policy": policy, "N": N, "response_len": config["response_len"],
            "sample_batch_size": config["sample_batch_size"], "trust_remote_code": config["trust_remote_code"],
            "seed": seed, "split": split}
