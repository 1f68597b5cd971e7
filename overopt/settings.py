"""Typed stage settings: one dataclass per stage, built from the validated config in one place
(``overopt.stages``).

A rule passes its stage's settings as its one ``hp`` params dict (``dataclasses.asdict``), so
Snakemake compares every value and reruns exactly the jobs whose settings changed; the job's
script rebuilds the dataclass (``Settings(**hp)``) and hands it whole to the package. Defaults
live in the schema only (``workflow/schemas/config.schema.yaml``); nothing here has one. What a
setting leaves out is on purpose: a grid value that is in the job's path (it is a wildcard),
or a key that must not rerun anything (``checkpoint_steps``).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass


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
class ShiftScores(Score):
    """A shift proxy (``id``, model ``rm``) scoring the OOD prompts' pairs with its ``cue``."""

    id: str
    cue: str


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
    runs in ``setting`` (algorithm, kl_coef, rl_seed); ``pass_per_step``: the share of the RL
    prompts one step of that algorithm trains on (a step's prompts over ``rl.prompts``)."""

    members: list
    gold: str
    flat: dict | None
    students: list
    k: int
    rl_step: int | None
    pass_per_step: float
    setting: dict
    n_boot: int
    level: float
    seed: int


@dataclass(frozen=True)
class RoleSwap:
    """Wen's role swap: the family (member ids in flip-rate order), the grid view's RMs (gold
    and the grid's proxies), the RMs of each view whose RL runs are role-swapped (``rl``: view ->
    ids, empty without them), BoN at ``bon_n``, RL at ``rl_step`` (None: the last) and at
    ``kl_budget`` nats; each pair's accuracy variants as in the RM evaluation (``rm_eval.k``,
    ``rank_bins``, ``budget``, ``budget_ks``)."""

    family: list
    grid: list
    rl: dict
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
class GoldSampling:
    """Samples of ``policy`` scored by the gold RM: what every labeling stage shares."""

    policy: str
    gold: str
    response_len: int
    sample_batch_size: int
    score_batch_size: int
    trust_remote_code: bool
    dtype: str  # float32, bfloat16 or auto (overopt.runtime.compute_dtype)
    seed: int


@dataclass(frozen=True)
class Labels(GoldSampling):
    mode: str
    flip_rate: float
    heldout: int
    n_train: int


@dataclass(frozen=True)
class OODPairs(GoldSampling):
    """Gold-labeled pairs of ``policy``'s samples on the OOD prompts (Mao's shift on new
    prompts), ``pairs_per_prompt`` per prompt."""

    pairs_per_prompt: int


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
    prompts: int | None  # the first k policy_train prompts (None: all)
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
