"""The target registry: every reward model a policy is optimized against or scored by.

One place, built from the validated config, says what each target is: its id, its kind
(``gold``; a ``reference`` teacher derived from another target's scores, such as Razin's flat
teacher; a ``proxy`` of a family), where its model, normalization and metadata live, its
identity columns and any score transform. Rules, scripts, tables and figures ask the registry
(or the ``kind`` column it puts on every table row) instead of testing names, so a new kind of
RM is one entry here. The wildcard constraint of ``{rm}`` is the closed set of registry ids.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from overopt.config import path_number

R = "results"
GOLD, REFERENCE, PROXY = "gold", "reference", "proxy"  # the kinds
KINDS = (GOLD, REFERENCE, PROXY)
GRID = "grid"  # the proxies of Gao's sizes x data sizes x objectives x seeds grid
FLIP = "flip"  # Wen et al.'s role-swap family: one size and data size, labels flipped at several rates
CUE = "cue"  # Mao et al.'s shift: proxies trained on pairs with a response-only cue on the chosen side
MIX = "mix"  # Razin et al.'s teachers: one size and data size, on-policy and off-policy pairs mixed
FLAT = "flat"  # the family of Razin et al.'s accurate-but-flat teacher
FLAT_ID = "gold_flat"


@dataclass(frozen=True)
class Target:
    """One RM. ``base`` and ``transform`` describe a reference teacher: its scores are the
    base target's normalized scores, transformed (``teachers.transform``); it has no model or
    normalization of its own. ``rl``: pi_init is optimized against it by RL."""

    id: str
    kind: str
    family: str
    model: str
    norm: str
    meta: str
    rl: bool
    base: str | None = None
    transform: dict | None = None
    grid: dict = field(default_factory=dict)  # a proxy's cell: size entry, data_size, objective, seed, flip
    chat: bool = False  # scored through its tokenizer's chat template (a hub gold RM: gold.chat_template)

    @property
    def scored(self) -> bool:
        """Scores the reference pool with a model of its own (a reference teacher transforms its base's)."""
        return self.base is None

    @property
    def trained(self) -> bool:
        return self.kind == PROXY


# --- the grids a config implies (what the registry is built from) --------------------------

def proxies(config: dict) -> list[dict]:
    """One entry per proxy RM of the grid: id, size (its config entry), data_size, objective, seed,
    and ``rl`` (whether RL may run against it): the grid's cells at ``proxy.seeds``, then
    ``proxy.extra_seeds``' replicates (first objective, every size, its data sizes; no RL)."""
    p = config["proxy"]
    pfr_sizes = p["pfr"].get("data_sizes") or p["data_sizes"]
    extra = p["extra_seeds"]
    cells = [(s, n, obj, seed, True) for s in p["sizes"] for n in p["data_sizes"] for obj in p["objectives"]
             for seed in p["seeds"] if obj != "pfr" or n in pfr_sizes]
    cells += [(s, n, p["objectives"][0], seed, False) for s in p["sizes"] for n in extra["data_sizes"]
              for seed in extra["seeds"]]
    return [{"id": f"{s['name']}-d{n}-{obj}-s{seed}", "size": s, "data_size": n, "objective": obj, "seed": seed,
             "flip": 0.0, "cue": None, "onpolicy": 1.0, "family": GRID, "rl": rl} for s, n, obj, seed, rl in cells]


def _cell(config: dict, design: dict, default_size: int, default_n) -> tuple[dict, int]:
    """A design's (size entry, data size): its ``size`` and ``data_size``, or the grid's size at
    ``default_size`` and ``default_n`` (min or max) of the grid's data sizes."""
    p = config["proxy"]
    size = next(s for s in p["sizes"] if s["name"] == design["size"]) if design["size"] else p["sizes"][default_size]
    return size, design["data_size"] or default_n(p["data_sizes"])


def _members(config: dict, design: dict, values: list, cell: tuple, knob: str, tag: str, plain: float,
             family: str) -> list[dict]:
    """A design's family of bt proxies of one cell (``_cell``), one per value of ``knob`` (the
    entry key: ``flip`` or ``onpolicy``), as :func:`proxies`' entries plus ``alias``: the member
    at the ``plain`` value that is a grid proxy (same size, data size, seed, objective bt) is
    that proxy, not a second copy of it."""
    size, n = _cell(config, design, *cell)
    base = f"{size['name']}-d{n}-bt-s{design['seed']}"
    alias_ok = base in {q["id"] for q in proxies(config)}
    out = []
    for v in values:
        alias = v == plain and alias_ok
        rm = base if alias else f"{size['name']}-d{n}-{tag}{path_number(v)}-s{design['seed']}"
        out.append({"id": rm, "size": size, "data_size": n, "objective": "bt", "seed": design["seed"], "flip": 0.0,
                    "cue": None, "onpolicy": 1.0, knob: float(v), "family": GRID if alias else family, "alias": alias})
    return out


def flip_family(config: dict) -> list[dict]:
    """Wen's role-swap family (``role_swap``), one member per flip rate in rate order (rate 0 may
    be a grid proxy)."""
    rs = config["role_swap"]
    return _members(config, rs, sorted(rs["flip_rates"]), (-1, max), "flip", "flip", 0.0, FLIP)


def shift_family(config: dict) -> list[dict]:
    """Mao's shift proxies (``shift``): objectives x seeds, as :func:`proxies`' entries, with
    ``cue`` (text and the share of training pairs whose chosen response gets it)."""
    sh = config["shift"]
    if not sh["seeds"]:
        return []
    size, n = _cell(config, sh, 0, min)
    return [{"id": f"{size['name']}-d{n}-cue-{obj}-s{seed}", "size": size, "data_size": n, "objective": obj,
             "seed": seed, "flip": 0.0, "cue": {"text": sh["cue"], "rate": sh["rate"]}, "onpolicy": 1.0, "family": CUE}
            for obj in sh["objectives"] for seed in sh["seeds"]]


def mix_family(config: dict) -> list[dict]:
    """Razin's teachers (``mix``), one member per on-policy share of its training pairs, in
    decreasing share (share 1 may be a grid proxy)."""
    mx = config["mix"]
    return _members(config, mx, sorted(mx["onpolicy_fractions"], reverse=True), (-1, min), "onpolicy", "on", 1.0, MIX)


def trained(config: dict) -> list[dict]:
    """Every proxy a job trains: the grid's, the role-swap family's own members, the shift's,
    the on-policy mix's own members."""
    return [*proxies(config), *(m for m in flip_family(config) if not m["alias"]), *shift_family(config),
            *(m for m in mix_family(config) if not m["alias"])]


def gao_view(frame):
    """The rows of Gao's design in a table about RMs: the gold RM, the references and the
    grid's proxies (not the papers' own families: the role swap's, the shift's)."""
    if "family" not in frame.columns or "kind" not in frame.columns:
        return frame
    return frame[(frame["kind"] != PROXY) | (frame["family"] == GRID) | frame["family"].isna()]


def rl_targets(config: dict) -> list[str]:
    """The RMs pi_init is optimized against by RL: gold, then the proxies of rl.objectives (not
    proxy.extra_seeds' replicates)."""
    return [GOLD, *(p["id"] for p in proxies(config) if p["rl"] and p["objective"] in config["rl"]["objectives"])]


def proxy(config: dict, rm_id: str) -> dict:
    for p in trained(config):
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
    and seed. pi_init runs against every target; the policy-size axis against its own targets;
    then rl.sweeps' extra KL coefficients and seeds (pi_init, first algorithm), then one run
    against every member of the role-swap family (pi_init, first algorithm, the grid's smallest
    KL coefficient and seed), each run once."""
    rl, pol = config["rl"], config["policy"]
    grid = [(pol["name"], targets)] + [(s["name"], pol["more_sizes_targets"]) for s in pol["more_sizes"]]
    runs = [(p, a, t, k, s) for p, ts in grid for a in rl["algorithms"] for t in ts for k in rl["kl_coefs"]
            for s in rl["seeds"]]
    runs += [(pol["name"], rl["algorithms"][0], t, k, s) for sw in rl["sweeps"] for t in sw["targets"]
             for k in sw.get("kl_coefs", rl["kl_coefs"]) for s in sw.get("seeds", rl["seeds"])]
    runs += [(r["policy"], r["algo"], r["rm"], float(r["kl"]), r["seed"]) for r in design_runs(config)]
    unique = dict.fromkeys((p, a, t, path_number(k), s) for p, a, t, k, s in runs)
    return [dict(zip(("policy", "algo", "rm", "kl", "seed"), r)) for r in unique]


def _runs_against(config: dict, members: list[dict]) -> list[dict]:
    """pi_init against each member: first algorithm, the grid's smallest KL coefficient and seed."""
    rl = config["rl"]
    return [{"policy": config["policy"]["name"], "algo": rl["algorithms"][0], "rm": m["id"],
             "kl": path_number(min(rl["kl_coefs"])), "seed": min(rl["seeds"])} for m in members]


def role_swap_runs(config: dict) -> list[dict]:
    """The role swap's RL runs, one against every family member (``role_swap.rl``)."""
    return _runs_against(config, flip_family(config)) if config["role_swap"]["rl"] else []


def grid_swap_runs(config: dict) -> list[dict]:
    """The grid view's RL runs (``role_swap.grid_rl``): pi_init's runs against gold and every grid
    proxy it is optimized against, in the grid's first setting (first algorithm, smallest KL
    coefficient and seed); they are grid runs already, so the view adds scoring, not RL. None
    below two targets."""
    ids = rl_targets(config)
    return _runs_against(config, [{"id": t} for t in ids]) if config["role_swap"]["grid_rl"] and len(ids) >= 2 else []


def run_scorers(config: dict) -> dict[str, list[dict]]:
    """Every RM that scores RL runs' samples for the role swap, with the runs it scores: each
    flip-family member the family's runs, each RM of the grid view but gold (whose scores every
    run's samples hold) the grid view's runs; a member of both views scores both, each run once."""
    out: dict[str, dict] = {}
    family = role_swap_runs(config)
    for m in flip_family(config) if family else []:
        out.setdefault(m["id"], {}).update((tuple(r.values()), r) for r in family)
    grid = grid_swap_runs(config)
    for t in (r["rm"] for r in grid if r["rm"] != GOLD):
        out.setdefault(t, {}).update((tuple(r.values()), r) for r in grid)
    return {rm: list(runs.values()) for rm, runs in out.items()}


def teachers(config: dict) -> list[str]:
    """Razin's teachers, in order: the mix members, the gold RM and the flat teacher (if on)."""
    if not config["mix"]["onpolicy_fractions"]:
        return []
    return [*(m["id"] for m in mix_family(config)), GOLD, *([FLAT_ID] if config["rm_eval"]["flat_factor"] else [])]


def students(config: dict) -> list[str]:
    """Razin's students: pi_init and every policy of the policy-size axis."""
    return [p["name"] for p in policies(config)]


def teacher_runs(config: dict) -> list[dict]:
    """RL of every student against every teacher (``mix.rl``): first algorithm, the grid's
    smallest KL coefficient and seed."""
    if not config["mix"]["rl"]:
        return []
    rl = config["rl"]
    return [{"policy": p, "algo": rl["algorithms"][0], "rm": t, "kl": path_number(min(rl["kl_coefs"])),
             "seed": min(rl["seeds"])} for p in students(config) for t in teachers(config)]


def design_runs(config: dict) -> list[dict]:
    """The RL runs the papers' own designs add beyond the grid: the role swap's, one against
    every shift proxy (``shift.rl``), and every student against every teacher of the mix
    (``mix.rl``), as :func:`rl_runs` entries."""
    return (role_swap_runs(config) + (_runs_against(config, shift_family(config)) if config["shift"]["rl"] else [])
            + teacher_runs(config))


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
    """One entry per DAA run: policy (pi_init, and the policy-size axis with daa.policy_sizes),
    loss, beta (as its path string) and seed."""
    daa = config["daa"]
    names = [p["name"] for p in policies(config)][:None if daa["policy_sizes"] else 1]
    return [{"policy": p, "loss": loss, "beta": path_number(b), "seed": s} for p in names for loss in daa["losses"]
            for b in daa["betas"] for s in daa["seeds"]]


def n_positions(config: dict) -> int:
    """Context length of models built here: prompt + response + EOS, plus slack."""
    return config["world"]["prompt_len"] + config["response_len"] + 2


def gold_model(config: dict) -> str:
    """The gold RM's name_or_path: the config's (a folder or hub id), or the one built here."""
    return config["gold"]["name_or_path"] or f"{R}/rms/gold/model"


class Registry:
    """Every target of a config, in a fixed order: gold, the proxies, the reference teachers."""

    def __init__(self, config: dict):
        gold = gold_model(config)
        rl_ids = set(rl_targets(config))
        self._family, self._mix = flip_family(config), mix_family(config)
        self.targets: dict[str, Target] = {}
        self._add(Target(GOLD, GOLD, GOLD, gold, f"{R}/rms/gold/normalization.json", f"{R}/rms/gold/metrics.json",
                         rl=True, chat=config["gold"]["chat_template"]))
        for p in trained(config):
            rm = p["id"]
            self._add(Target(rm, PROXY, p["family"], f"{R}/rms/{rm}/model", f"{R}/rms/{rm}/normalization.json",
                             f"{R}/rms/{rm}/metrics.json", rl=rm in rl_ids, grid=p))
        factor = config["rm_eval"]["flat_factor"]
        if factor:  # Razin et al.'s accurate-but-flat teacher (RL only)
            self._add(Target(FLAT_ID, REFERENCE, FLAT, gold, f"{R}/rms/gold/normalization.json",
                             f"{R}/rms/gold/metrics.json", rl=True, base=GOLD, transform={"flat": factor}))

    def _add(self, t: Target) -> None:
        if t.id in self.targets:
            raise ValueError(f"two targets share the id {t.id!r}")
        self.targets[t.id] = t

    def __getitem__(self, rm: str) -> Target:
        return self.targets[rm]

    def __iter__(self):
        return iter(self.targets.values())

    @property
    def ids(self) -> list[str]:
        return list(self.targets)

    def of_kind(self, *kinds: str) -> list[Target]:
        return [t for t in self if t.kind in kinds]

    @property
    def gold(self) -> Target:
        return self.targets[GOLD]

    @property
    def proxies(self) -> list[Target]:
        return self.of_kind(PROXY)

    def of_family(self, *families: str) -> list[Target]:
        return [t for t in self if t.family in families]

    @property
    def role_swap(self) -> list[Target]:
        """The role-swap family in flip-rate order (a rate-0 member may be a grid proxy)."""
        return [self.targets[m["id"]] for m in self._family]

    @property
    def mix(self) -> list[Target]:
        """Razin's mix members in decreasing on-policy share (the share-1 member may be a grid proxy)."""
        return [self.targets[m["id"]] for m in self._mix]

    @property
    def scored(self) -> list[Target]:
        """Targets with a model of their own: each scores the reference pool once."""
        return [t for t in self if t.scored]

    @property
    def evaluated(self) -> list[Target]:
        """The RM evaluation's targets (Wen's metrics on the grid, Razin's variance, Mao's
        prompt-free gap): the scored targets but the papers' own families (role swap, shift),
        which their own tables measure."""
        return [t for t in self.scored if t.kind != PROXY or t.family == GRID]

    @property
    def rl_targets(self) -> list[Target]:
        return [t for t in self if t.rl]

    def wildcard(self, targets: list[Target] | None = None) -> str:
        """The regex of ``{rm}``: exactly these ids (default: every target)."""
        return "|".join(re.escape(t.id) for t in (self if targets is None else targets))

    def identity(self, rm: str, seed: int) -> dict:
        """The identity columns of a target that is not trained (gold and references; ``params``
        is added by the gold stage, which loads the model); a proxy's come from its metrics.json,
        written by its training job."""
        t = self.targets[rm]
        return {"rm": rm, "kind": t.kind, "family": t.family, "rm_size": rm, "data_size": None, "objective": rm,
                "seed": seed, "label_mode": None, "flip_rate": None}

    def references(self, seed: int) -> dict:
        """Reference teachers: id -> base target, transform and identity columns (params: the base's)."""
        return {t.id: {"base": t.base, "transform": t.transform, "identity": self.identity(t.id, seed)}
                for t in self.of_kind(REFERENCE)}


# How the figures name and draw the targets that are not proxies, per family.
FAMILY_STYLE = {GOLD: dict(marker="*", color="black", ms=15, label="gold RM (reference)", short="gold RM (ref.)"),
                FLAT: dict(marker="X", color="crimson", ms=11, label="flat teacher (accurate, low variance)",
                             short="flat teacher (ref.)")}
