"""Typed stage settings: one dataclass per stage, built from the validated config in one place.

A rule passes its stage's settings as its one ``hp`` params dict (``dataclasses.asdict``), so
Snakemake compares every value and reruns exactly the jobs whose settings changed; the job's
script rebuilds the dataclass (``Settings(**hp)``) and hands it whole to the package. Defaults
live in the schema only (``workflow/schemas/config.schema.yaml``); nothing here has one. What a
setting leaves out is on purpose: a grid value that is in the job's path (it is a wildcard),
or a key that must not rerun anything (``checkpoint_steps``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from overopt import targets as target_grid
from overopt.targets import Registry, gold_model

R = "results"


@dataclass(frozen=True)
class World:
    world: dict
    response_len: int
    seed: int


@dataclass(frozen=True)
class Prompts:
    world: dict
    seed: int


@dataclass(frozen=True)
class Gold:
    gold: dict
    model: str
    n_positions: int
    trust_remote_code: bool
    dtype: str  # float32, bfloat16 or auto (overopt.runtime.compute_dtype)
    seed: int
    identity: dict  # the gold RM's identity columns (params added by the job)


@dataclass(frozen=True)
class Policy:
    arch: dict
    train: dict
    n_positions: int
    seed: int
    dtype: str


@dataclass(frozen=True)
class Pool:
    """N samples of ``policy`` per prompt of ``split``."""

    policy: str
    N: int
    split: str
    response_len: int
    sample_batch_size: int
    trust_remote_code: bool
    dtype: str  # float32, bfloat16 or auto (overopt.runtime.compute_dtype)
    seed: int


@dataclass(frozen=True)
class Score:
    """One RM's scores of the reference pool."""

    rm: str
    score_batch_size: int
    trust_remote_code: bool
    dtype: str  # float32, bfloat16 or auto (overopt.runtime.compute_dtype)
    chat: bool  # scored through its tokenizer's chat template (written into its normalization)


@dataclass(frozen=True)
class ExtraScores(Score):
    """One RM's scores of the RM evaluation's other samples: OOD prompts, other policies,
    pool pairs under ``swaps`` swapped prompts (for the first ``swap_prompts`` eval prompts)."""

    policies: list
    swap_prompts: int
    swaps: int


@dataclass(frozen=True)
class RunScores(Score):
    """One role-swap member's scores of the role-swap RL runs' evaluation samples."""

    eval_prompts: int


@dataclass(frozen=True)
class TeacherScores(Score):
    """One of Razin's teachers' scores of the off-policy held-out pairs and of the other
    students' samples (``policies``)."""

    policies: list


@dataclass(frozen=True)
class Teachers:
    """Razin's design: the mix members (decreasing on-policy share), the gold RM, the flat
    teacher (id and transform, or None), the students (pi_init first), reward variance over the
    first ``k`` samples per eval prompt, the increases at ``rl_step`` (None: the last) of the
    runs in ``setting`` (algorithm, kl_coef, rl_seed)."""

    members: list
    gold: str
    flat: dict | None
    students: list
    k: int
    rl_step: int | None
    setting: dict
    n_boot: int
    level: float
    seed: int


@dataclass(frozen=True)
class RoleSwap:
    """Wen's role swap: the family (member ids in flip-rate order), the grid view's RMs (gold
    and the grid's proxies), BoN at ``bon_n``, RL at ``rl_step`` (None: the last) and at
    ``kl_budget`` nats; each pair's accuracy variants as in the RM evaluation (``rm_eval.k``,
    ``rank_bins``, ``budget``, ``budget_ks``)."""

    family: list
    grid: list
    N: int
    bon_n: list
    rl_step: int | None
    kl_budget: float
    k: int  # Wen's accuracy variants (rm_eval's settings) on the pool's first k responses
    rank_bins: int
    budget: int
    budget_ks: list
    seed: int


@dataclass(frozen=True)
class Labels:
    mode: str
    flip_rate: float
    heldout: int
    n_train: int
    policy: str
    gold: str
    response_len: int
    sample_batch_size: int
    score_batch_size: int
    trust_remote_code: bool
    dtype: str  # float32, bfloat16 or auto (overopt.runtime.compute_dtype)
    seed: int


@dataclass(frozen=True)
class OffPolicyLabels(Labels):
    """Razin's off-policy pairs: pi_init at ``temperature`` on the first ``data_size``
    RM-training prompts (the mix members' training prompts) and on the on-policy pairs'
    held-out prompts."""

    temperature: float
    data_size: int


@dataclass(frozen=True)
class Proxy:
    """One proxy RM of a family: its grid cell and how it is trained. ``flip``: the share of
    its training pairs whose gold label it flips again (the role-swap family; 0 in the grid);
    ``cue``: the response-only cue planted on the chosen side of its training pairs (Mao's
    shift: text and rate; None elsewhere); ``onpolicy``: the share of its training pairs from
    pi_init, the rest from the off-policy pairs (Razin's mix; 1 elsewhere)."""

    id: str
    family: str
    size: dict
    data_size: int
    objective: str
    seed: int
    flip: float
    cue: dict | None
    onpolicy: float
    train: dict
    tokenizer: str
    n_positions: int
    labels: dict
    pfr: dict | None
    trust_remote_code: bool
    dtype: str  # float32, bfloat16 or auto (overopt.runtime.compute_dtype)


@dataclass(frozen=True)
class Evaluation:
    """How a policy is measured along RL and DAA runs."""

    eval_prompts: int
    eval_samples: int
    response_len: int
    score_batch_size: int


@dataclass(frozen=True)
class PolicyRun:
    """What every run that trains a policy from pi_init shares (RL, DAA)."""

    seed: int
    policy: str  # its name_or_path
    policy_name: str  # its name in the tables
    gold: str
    train: dict
    evaluation: dict
    trust_remote_code: bool
    dtype: str  # float32, bfloat16 or auto (overopt.runtime.compute_dtype)


@dataclass(frozen=True)
class RL(PolicyRun):
    algorithm: str
    kl_coef: float
    target: dict  # id, kind, model, transform
    steps: int
    num_generations: int
    eval_every: int
    study_seed: int


@dataclass(frozen=True)
class DAA(PolicyRun):
    loss: str
    beta: float
    proxy: str
    data_size: int
    fractions: list
    heldout_pairs: int


@dataclass(frozen=True)
class Bon:
    """Best-of-n from the reference pool of ``policy``: N samples per prompt, ``per_octave`` n values per doubling."""

    N: int
    per_octave: int
    policy: str


@dataclass(frozen=True)
class Curves:
    """The evaluation steps every RL run's file must hold."""

    rl_steps: list


@dataclass(frozen=True)
class Fit:
    level: float
    min_n: int
    extrapolate_from: int
    n_boot: int
    saturation: dict  # window, min_gain (overopt.metrics.saturation)
    seed: int  # of the bootstrap resamples


@dataclass(frozen=True)
class Replication:
    """The replication scorecard (``overopt.tables.replication``): the confidence level, the
    bootstrap it runs itself, and the margins of its "no difference" claims."""

    level: float
    seed: int
    n_boot: int
    margin_gold: float
    margin_ratio: float
    margin_rho: float
    weak_rho: float
    gold_fraction: float

    def options(self) -> dict:
        return to_hp(self)


@dataclass(frozen=True)
class BonFit:
    """Best-of-n fits with bootstrap CIs over prompts, from the reference pool's scores."""

    N: int
    per_octave: int
    policy: str
    fit: dict  # a Fit


@dataclass(frozen=True)
class RMEval:
    """``rank_bins``: Wen's rank-bin grid; ``budget_ks``: the responses per prompt of Wen's sweep
    at the fixed ``budget`` (resolved: the config's, or 2, 4, 8, ... up to k)."""

    k: int
    budget: int
    rank_bins: int
    budget_ks: list
    test_sizes: list
    bon_n: int
    rl_step: int | None
    kl_budget: float
    n_boot: int
    level: float
    setting: dict  # the RL setting the report card shows
    references: dict  # reference teacher id -> {base, transform, identity}
    seed: int


@dataclass(frozen=True)
class Figures:
    names: list
    rl_algorithm: str
    objective: str
    setting: dict


def to_hp(s) -> dict:
    return asdict(s)


class Stages:
    """The settings of every job of a config (the rules call these with their wildcards)."""

    def __init__(self, config: dict):
        self.c, self.targets = config, Registry(config)
        self.n_positions = target_grid.n_positions(config)
        self.policies = {p["name"]: p for p in target_grid.policies(config)}
        self.setting = {"policy": config["policy"]["name"], "algorithm": config["rl"]["algorithms"][0],
                        "kl_coef": min(config["rl"]["kl_coefs"]), "rl_seed": min(config["rl"]["seeds"])}

    def policy_ref(self, name: str) -> str:
        """A policy's name_or_path: the config's, or the one trained here."""
        return self.policies[name].get("name_or_path") or f"{R}/world/policies/{name}"

    @property
    def pi_init(self) -> str:
        return self.policy_ref(self.c["policy"]["name"])

    def _evaluation(self, section: dict) -> dict:
        return to_hp(Evaluation(section["eval_prompts"], section["eval_samples"], self.c["response_len"],
                                self.c["score_batch_size"]))

    def world(self) -> dict:
        return to_hp(World(self.c["world"], self.c["response_len"], self.c["seed"]))

    def prompts(self) -> dict:
        return to_hp(Prompts(self.c["world"], self.c["seed"]))

    def gold(self) -> dict:
        ident = self.targets.identity(self.targets.gold.id, self.c["seed"])
        return to_hp(Gold(self.c["gold"], gold_model(self.c), self.n_positions, self.c["trust_remote_code"],
                          self.c["dtype"], self.c["seed"] + 3, ident))

    def policy(self, name: str) -> dict:
        return to_hp(Policy(self.policies[name]["arch"], self.c["policy"]["train"], self.n_positions,
                            self.c["seed"] + 4, self.c["dtype"]))

    def pool(self, policy: str, N: int, seed_offset: int, split: str) -> dict:
        return to_hp(Pool(self.policy_ref(policy), N, split, self.c["response_len"], self.c["sample_batch_size"],
                          self.c["trust_remote_code"], self.c["dtype"], self.c["seed"] + seed_offset))

    def score(self, rm: str) -> dict:
        return to_hp(Score(self.targets[rm].model, self.c["score_batch_size"], self.c["trust_remote_code"],
                           self.c["dtype"], self.targets[rm].chat))

    def extra_scores(self, rm: str, policies: list[str]) -> dict:
        ev = self.c["rm_eval"]
        return to_hp(ExtraScores(rm=self.targets[rm].model, score_batch_size=self.c["score_batch_size"],
                                 trust_remote_code=self.c["trust_remote_code"], dtype=self.c["dtype"],
                                 chat=self.targets[rm].chat, policies=list(policies),
                                 swap_prompts=ev["swap_prompts"], swaps=ev["swaps"]))

    def run_scores(self, rm: str) -> dict:
        t = self.targets[rm]
        return to_hp(RunScores(t.model, self.c["score_batch_size"], self.c["trust_remote_code"], self.c["dtype"],
                               t.chat, self.c["rl"]["eval_prompts"]))

    def teacher_scores(self, rm: str) -> dict:
        t = self.targets[rm]
        return to_hp(TeacherScores(t.model, self.c["score_batch_size"], self.c["trust_remote_code"], self.c["dtype"],
                                   t.chat, target_grid.students(self.c)[1:]))

    def teachers(self) -> dict:
        flat = [t for t in self.targets.of_kind(target_grid.REFERENCE) if t.family == target_grid.FLAT]
        rl = self.c["rl"]
        setting = {"algorithm": rl["algorithms"][0], "kl_coef": min(rl["kl_coefs"]), "rl_seed": min(rl["seeds"])}
        return to_hp(Teachers([t.id for t in self.targets.mix], self.targets.gold.id,
                              {"id": flat[0].id, "transform": flat[0].transform} if flat else None,
                              target_grid.students(self.c), self.c["rm_eval"]["k"], self.c["mix"]["rl_step"], setting,
                              self.c["rm_eval"]["n_boot"], self.c["fit"]["level"], self.c["seed"]))

    def role_swap(self) -> dict:
        rs = self.c["role_swap"]
        grid = [self.targets.gold.id, *(t.id for t in self.targets.of_family(target_grid.GRID))]
        ev = self.c["rm_eval"]
        return to_hp(RoleSwap([t.id for t in self.targets.role_swap], grid, self.c["bon"]["N"], rs["bon_n"],
                              rs["rl_step"], rs["kl_budget"], ev["k"], ev["rank_bins"], ev["budget"],
                              _budget_ks(ev), self.c["seed"]))

    def labels(self) -> dict:
        lab = self.c["labels"]
        return to_hp(Labels(lab["mode"], lab["flip_rate"], lab["heldout"], max(self.c["proxy"]["data_sizes"]),
                            self.pi_init, gold_model(self.c), self.c["response_len"], self.c["sample_batch_size"],
                            self.c["score_batch_size"], self.c["trust_remote_code"], self.c["dtype"],
                            self.c["seed"] + 5))

    def offpolicy_labels(self) -> dict:
        lab, mx = self.labels(), self.c["mix"]
        return to_hp(OffPolicyLabels(**{**lab, "seed": self.c["seed"] + 6}, temperature=mx["temperature"],
                                     data_size=target_grid.mix_family(self.c)[0]["data_size"]))

    def proxy(self, rm: str) -> dict:
        p, pc = self.targets[rm].grid, self.c["proxy"]
        pfr = {k: pc["pfr"][k] for k in ("prompts", "tau")} if p["objective"] == "pfr" else None
        return to_hp(Proxy(rm, p["family"], p["size"], p["data_size"], p["objective"], p["seed"], p["flip"], p["cue"],
                           p["onpolicy"], pc["train"], self.pi_init,
                           self.n_positions, self.c["labels"], pfr, self.c["trust_remote_code"], self.c["dtype"]))

    def _run(self, section: dict, policy: str, seed: str) -> dict:
        return {"seed": int(seed), "policy": self.policy_ref(policy), "policy_name": policy,
                "gold": gold_model(self.c), "train": section["train"], "evaluation": self._evaluation(section),
                "trust_remote_code": self.c["trust_remote_code"], "dtype": self.c["dtype"]}

    def rl(self, policy: str, algo: str, rm: str, kl: str, seed: str) -> dict:
        rl, t = self.c["rl"], self.targets[rm]
        target = {"id": t.id, "kind": t.kind, "model": t.model, "transform": t.transform}
        return to_hp(RL(**self._run(rl, policy, seed), algorithm=algo, kl_coef=float(kl), target=target,
                        steps=rl["steps"], num_generations=rl["num_generations"], eval_every=rl["eval_every"],
                        study_seed=self.c["seed"]))

    def daa(self, policy: str, loss: str, beta: str, seed: str) -> dict:
        d = self.c["daa"]
        return to_hp(DAA(**self._run(d, policy, seed), loss=loss, beta=float(beta),
                         proxy=self.targets[target_grid.daa_proxy(self.c)].model,
                         data_size=target_grid.daa_data_size(self.c), fractions=d["fractions"],
                         heldout_pairs=d["heldout_pairs"]))

    def bon(self) -> dict:
        b = self.c["bon"]
        return to_hp(Bon(b["N"], b["per_octave"], self.c["policy"]["name"]))

    def curves(self) -> dict:
        rl = self.c["rl"]
        return to_hp(Curves(sorted({0, *range(rl["eval_every"], rl["steps"] + 1, rl["eval_every"]), rl["steps"]})))

    def fit(self) -> dict:
        return to_hp(Fit(**self.c["fit"], seed=self.c["seed"]))

    def replication(self) -> dict:
        return to_hp(Replication(self.c["fit"]["level"], self.c["seed"], **self.c["replication"]))

    def bon_fit(self) -> dict:
        b = self.c["bon"]
        return to_hp(BonFit(b["N"], b["per_octave"], self.c["policy"]["name"], self.fit()))

    def rm_eval(self) -> dict:
        ev = self.c["rm_eval"]
        refs = self.targets.references(self.c["seed"])
        return to_hp(RMEval(ev["k"], ev["budget"], ev["rank_bins"], _budget_ks(ev), ev["test_sizes"], ev["bon_n"], ev["rl_step"],
                            ev["kl_budget"],
                            ev["n_boot"], self.c["fit"]["level"], self.setting, refs, self.c["seed"]))

    def figures(self, names: list[str]) -> dict:
        return to_hp(Figures(names, self.c["rl"]["algorithms"][0], self.c["proxy"]["objectives"][0], self.setting))


def _budget_ks(ev: dict) -> list[int]:
    """Wen's responses-per-prompt sweep: ``rm_eval.budget_ks``, or 2, 4, 8, ... up to k and k."""
    return ev["budget_ks"] or sorted({*(2 ** i for i in range(1, ev["k"].bit_length()) if 2 ** i <= ev["k"]), ev["k"]})
