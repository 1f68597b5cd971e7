"""The cost model of the plan (``overopt.plan``): the models and token counts of every job
of a config and the work each job does (model passes, FLOPs, table rows); the constants that
turn work into seconds and megabytes are in ``overopt.calibration``, and ``overopt.plan``
documents the model and schedules the jobs."""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from pathlib import Path

from overopt.calibration import DATASET_PROMPT_TOKENS, FIT_RUN_ROWS, HUB, MB, ROOT

# --- models and sequences -----------------------------------------------------------------

@dataclass(frozen=True)
class Model:
    """A model's size: ``params`` stored, ``flop_params`` met by each token in a matmul."""

    name: str
    params: float
    flop_params: float
    n_layer: int
    n_embd: int
    n_head: int
    vocab: int
    hub: bool = False

    @property
    def passes(self) -> int:
        """Layer passes of one forward call: the blocks plus embeddings and head."""
        return self.n_layer + 1


def built(config: dict, name: str, arch: dict, lm: bool) -> Model:
    """A GPT-2 built here from ``arch`` (the parameter count of overopt.resources)."""
    L, d = arch["n_layer"], arch["n_embd"]
    V = config["world"]["vocab_size"] + 3
    npos = config["world"]["prompt_len"] + config["response_len"] + 2
    blocks = 12 * L * d * d
    return Model(name, blocks + (V + npos) * d, blocks + (V * d if lm else 0), L, d, arch["n_head"], V)


def hub(name_or_path: str, lm: bool) -> Model:
    """A model given by name_or_path: a hub id of :data:`HUB`, or a local folder's config.json;
    as a causal LM (``lm``) or as a reward model (an LM's untied head dropped for a scalar one)."""
    n, L, d, h, V, tied = HUB[name_or_path] if name_or_path in HUB else _local(name_or_path)
    emb, native_rm = V * d, "reward" in name_or_path.lower()
    blocks = n - emb * (1 if tied or native_rm else 2)
    if lm:
        return Model(name_or_path, n, blocks + emb, L, d, h, V, hub=True)
    return Model(name_or_path, n if tied or native_rm else n - emb, blocks, L, d, h, V, hub=True)


def _local(path: str) -> tuple:
    """(params, layers, width, heads, vocab, tied) from a local model folder's config.json."""
    import json

    cfg_file = Path(path).expanduser() / "config.json"
    if not cfg_file.is_file():
        raise SystemExit(f"overopt.plan: the size of {path!r} is unknown offline: add it to overopt.costs.HUB "
                         "(parameters, layers, width, heads, vocabulary, tied embeddings)")
    c = json.loads(cfg_file.read_text())

    def get(*keys):
        return next(c[k] for k in keys if k in c)

    L, d = get("num_hidden_layers", "n_layer"), get("hidden_size", "n_embd", "d_model")
    h, V = get("num_attention_heads", "n_head"), get("vocab_size")
    ff = c.get("intermediate_size") or c.get("n_inner") or 4 * d
    gated = c.get("hidden_act", c.get("activation_function", "")) in ("silu", "swiglu")
    tied = c.get("tie_word_embeddings", True)
    n = L * (4 * d * d + (3 if gated else 2) * d * ff) + V * d * (1 if tied else 2)
    return n, L, d, h, V, tied


@dataclass(frozen=True)
class Tokens:
    prompt: int
    response: int

    @property
    def seq(self) -> int:
        """A full sequence: prompt, response and EOS."""
        return self.prompt + self.response + 1


# --- work -------------------------------------------------------------------------------------

@dataclass
class Work:
    """A job's model work by kind of pass: layer passes and FLOPs; models read from disk; rows."""

    passes: dict = field(default_factory=lambda: {"gen": 0.0, "fwd": 0.0, "train": 0.0})
    flops: dict = field(default_factory=lambda: {"gen": 0.0, "fwd": 0.0, "train": 0.0})
    loads: list = field(default_factory=list)
    rows: float = 0.0

    def forward(self, m: Model, n: float, seq: int, batch: int) -> Work:
        """``n`` sequences scored (or log-probs taken), ``batch`` a call."""
        self.passes["fwd"] += math.ceil(n / max(1, batch)) * m.passes
        self.flops["fwd"] += 2 * m.flop_params * n * seq
        return self

    def sample(self, m: Model, n: float, tok: Tokens, batch: int) -> Work:
        """``n`` responses of ``tok.response`` new tokens, ``batch`` a generate call."""
        self.passes["gen"] += math.ceil(n / max(1, batch)) * tok.response * m.passes
        self.flops["gen"] += 2 * m.flop_params * n * tok.seq
        return self

    def train(self, m: Model, seqs_per_step: float, seq: int, steps: float) -> Work:
        """``steps`` optimizer steps of forward + backward over ``seqs_per_step`` sequences."""
        self.passes["train"] += 3 * steps * m.passes
        self.flops["train"] += 6 * m.flop_params * seqs_per_step * seq * steps
        return self

    def load(self, *models: Model) -> Work:
        self.loads += list(models)
        return self


@dataclass
class Job:
    rule: str
    id: str
    deps: list
    work: Work
    cpu_mb: float = 0.0
    gpu_mb: float = 0.0
    models: list = field(default_factory=list)  # (model, "infer" | "train32" | "train16") resident
    act_mb: float = 0.0  # GPU activations at bf16
    gpu: bool = False  # runs on a GPU in this plan
    threads: int = 1
    overhead_s: float = 0.0
    work_s: float = 0.0

    @property
    def key(self) -> tuple:
        return self.rule, self.id

    @property
    def seconds(self) -> float:
        return self.overhead_s + self.work_s


# --- the study's jobs -------------------------------------------------------------------------

def load_config(configfiles: list[str], overlays: tuple = ()) -> dict:
    """The config Snakemake would run: the Snakefile's ``configfile: config.yaml``, then each of
    ``configfiles`` deep-merged over it in order (``--configfile``), then each mapping of
    ``overlays`` the same way, validated (defaults filled)."""
    import yaml
    from snakemake.utils import update_config

    from overopt.config import validate

    config: dict = {}
    for f in [ROOT / "config.yaml", *configfiles]:
        update_config(config, yaml.safe_load(Path(f).read_text()) or {})
    for over in overlays:
        update_config(config, copy.deepcopy(over))
    return validate(config)


def _act_train(m: Model, b: float, s: int, lm: bool) -> float:
    """GPU bytes of training activations (bf16, Korthikanti et al.) and LM logits."""
    return b * s * m.n_layer * (34 * m.n_embd + 5 * m.n_head * s) + (10 * b * s * m.vocab if lm else 0)


def _act_forward(m: Model, b: float, s: int, lm: bool) -> float:
    """GPU bytes of a no-grad forward pass: one layer's activations live, and the logits."""
    return b * s * (34 * m.n_embd + 5 * m.n_head * s) + (10 * b * s * m.vocab if lm else 0)


def _act_sample(m: Model, b: float, tok: Tokens) -> float:
    """GPU bytes of sampling: the KV cache and the prefill's activations (one layer)."""
    return 4 * b * tok.seq * m.n_layer * m.n_embd + _act_forward(m, b, tok.prompt, False) + 10 * b * m.vocab


def _rl_id(r: dict) -> str:
    """An RL run's job id in the plan (as Snakemake names its log)."""
    return f"{r['policy']}-{r['algo']}-{r['rm']}-kl{r['kl']}-s{r['seed']}"


def jobs(config: dict, prompt_tokens: int | None = None) -> list[Job]:
    """Every job of ``rule all`` for a validated config, with its work, models and dependencies."""
    from overopt import outputs
    from overopt.targets import (
        Registry,
        daa_data_size,
        daa_proxy,
        daa_runs,
        flip_family,
        mix_family,
        shift_family,
        policies,
        proxies,
        rl_runs,
        run_scorers,
        trained,
    )

    c, reg = config, Registry(config)
    w, rl, daa, ev = c["world"], c["rl"], c["daa"], c["rm_eval"]
    dataset = bool(w["prompt_dataset"]["name_or_path"])
    tok = Tokens(prompt_tokens or (DATASET_PROMPT_TOKENS if dataset else w["prompt_len"]), c["response_len"])
    S, sb, gb = tok.seq, c["score_batch_size"], c["sample_batch_size"]
    pols = {p["name"]: (hub(p["name_or_path"], lm=True) if p.get("name_or_path") else built(c, p["name"], p["arch"],
                                                                                           lm=True))
            for p in policies(c)}
    built_pols = [p["name"] for p in policies(c) if not p.get("name_or_path")]
    pi = c["policy"]["name"]
    gold = hub(c["gold"]["name_or_path"], lm=False) if c["gold"]["name_or_path"] else built(c, "gold", c["gold"]["arch"],
                                                                                         lm=False)
    rms = {"gold": gold}
    for p in trained(c):
        s = p["size"]
        rms[p["id"]] = hub(s["name_or_path"], lm=False) if s.get("name_or_path") else built(c, p["id"], s["arch"],
                                                                                          lm=False)
    scored = [t.id for t in reg.scored]
    evaluated = [t.id for t in reg.evaluated]  # the RM evaluation's targets (score_eval, rm_eval)
    base = {t.id: (t.base or t.id) for t in reg}  # a reference teacher is scored by its base's model
    more = [p["name"] for p in c["policy"]["more_sizes"]]
    out: list[Job] = []

    def add(rule, id_, deps, work, models=(), act=0.0):
        out.append(Job(rule, id_, [d for d in deps if d], work, models=list(models), act_mb=act / MB))

    def pol_dep(name):
        return ("train_policy", name) if name in built_pols else None

    if built_pols or not c["gold"]["name_or_path"]:
        add("world", "world", [], Work(rows=w["policy_corpus"]))
    add("prompts", "prompts", [], Work(rows=sum(w["prompts"].values())))
    add("gold_rm", "gold_rm", [("world", "world")] if not c["gold"]["name_or_path"] else [],
        Work(rows=0 if gold.hub else gold.params).load(*([gold] if gold.hub else [])), [(gold, "infer")] * gold.hub)
    pt = c["policy"]["train"]
    for name in built_pols:
        m, b = pols[name], pt["per_device_train_batch_size"]
        steps = math.ceil(w["policy_corpus"] / b) * pt["num_train_epochs"]
        add("train_policy", name, [("world", "world")], Work().train(m, b, S, steps), [(m, "train32")],
            _act_train(m, b, S, lm=True))
    pool_n = w["prompts"]["eval"] * c["bon"]["N"]
    add("sample_pool", "sample_pool", [pol_dep(pi), ("prompts", "prompts")],
        Work().sample(pols[pi], pool_n, tok, gb).load(pols[pi]), [(pols[pi], "infer")],
        _act_sample(pols[pi], min(gb, pool_n), tok))
    ood_n = w["prompts"]["ood"] * ev["ood_samples"]
    add("sample_ood", "sample_ood", [pol_dep(pi), ("prompts", "prompts")],
        Work().sample(pols[pi], ood_n, tok, gb).load(pols[pi]), [(pols[pi], "infer")],
        _act_sample(pols[pi], min(gb, ood_n), tok))
    for name in more:
        n = w["prompts"]["eval"] * ev["k"]
        add("sample_policy_pool", name, [pol_dep(name), ("prompts", "prompts")],
            Work().sample(pols[name], n, tok, gb).load(pols[name]), [(pols[name], "infer")],
            _act_sample(pols[name], min(gb, n), tok))

    def rm_dep(t):
        return ("gold_rm", "gold_rm") if base[t] == "gold" else ("train_rm", base[t])

    for t in scored:
        m = rms[t]
        add("score_pool", t, [rm_dep(t), ("sample_pool", "sample_pool"), ("prompts", "prompts")],
            Work().forward(m, pool_n, S, sb).load(m), [(m, "infer")], _act_forward(m, min(sb, pool_n), S, False))
    n_pairs = (max(c["proxy"]["data_sizes"]) + c["labels"]["heldout"]) * 2
    add("label_pairs", "label_pairs", [pol_dep(pi), ("gold_rm", "gold_rm"), ("score_pool", "gold"),
                                       ("prompts", "prompts")],
        Work().sample(pols[pi], n_pairs, tok, gb).forward(gold, n_pairs, S, sb).load(pols[pi], gold),
        [(pols[pi], "infer"), (gold, "infer")],
        max(_act_sample(pols[pi], min(gb, n_pairs), tok), _act_forward(gold, min(sb, n_pairs), S, False)))
    mix = [m["id"] for m in mix_family(c)]
    if mix:
        n_off = (mix_family(c)[0]["data_size"] + c["labels"]["heldout"]) * 2
        add("label_offpolicy", "label_offpolicy", [pol_dep(pi), ("gold_rm", "gold_rm"), ("score_pool", "gold"),
                                                   ("prompts", "prompts")],
            Work().sample(pols[pi], n_off, tok, gb).forward(gold, n_off, S, sb).load(pols[pi], gold),
            [(pols[pi], "infer"), (gold, "infer")],
            max(_act_sample(pols[pi], min(gb, n_off), tok), _act_forward(gold, min(sb, n_off), S, False)))
    n_ood = w["prompts"]["ood"] * 2 * c["shift"]["ood_pairs"]
    if shift_family(c):
        add("label_ood", "label_ood", [pol_dep(pi), ("gold_rm", "gold_rm"), ("score_pool", "gold"), ("prompts", "prompts")],
            Work().sample(pols[pi], n_ood, tok, gb).forward(gold, n_ood, S, sb).load(pols[pi], gold),
            [(pols[pi], "infer"), (gold, "infer")],
            max(_act_sample(pols[pi], min(gb, n_ood), tok), _act_forward(gold, min(sb, n_ood), S, False)))
    tr = c["proxy"]["train"]
    for p in trained(c):
        m, b = rms[p["id"]], tr["per_device_train_batch_size"]
        steps = math.ceil(p["data_size"] / b) * tr["num_train_epochs"]
        work = Work().train(m, 2 * b, S, steps).forward(m, 2 * c["labels"]["heldout"], S, 256)
        act = _act_train(m, 2 * b, S, lm=False)
        if p["objective"] == "pfr":  # one no-grad pass over 2 B M swapped-prompt sequences a step
            M = min(c["proxy"]["pfr"]["prompts"], b - 1)
            work.forward(m, 2 * b * M * steps, S, 2 * b * M)
            act = max(act, _act_forward(m, 2 * b * M, S, False))
        off = ("label_offpolicy", "label_offpolicy") if p["onpolicy"] < 1 else None
        add("train_rm", p["id"], [("label_pairs", "label_pairs"), off, pol_dep(pi)], work, [(m, "train32")], act)
        if p["cue"]:  # the OOD pairs clean and with the cue on either side: 4 scores a pair
            add("score_shift", p["id"], [("train_rm", p["id"]), ("label_ood", "label_ood")],
                Work().forward(m, 2 * n_ood, S, sb).load(m), [(m, "infer")], _act_forward(m, min(sb, 2 * n_ood), S, False))
    extra_n = ood_n + len(more) * w["prompts"]["eval"] * ev["k"] + min(ev["swap_prompts"], w["prompts"]["eval"]) * 2 * (
        1 + ev["swaps"])
    for t in evaluated:
        m = rms[t]
        add("score_eval", t, [rm_dep(t), ("score_pool", t), ("sample_pool", "sample_pool"), ("sample_ood", "sample_ood"),
                              *[("sample_policy_pool", p) for p in more]],
            Work().forward(m, extra_n, S, sb).load(m), [(m, "infer")], _act_forward(m, min(sb, extra_n), S, False))

    def evaluation(work, m, target, section, points):
        n = section["eval_prompts"] * section["eval_samples"]
        for _ in range(points):  # fresh samples, their log-probs under pi and pi_init, gold and proxy scores
            work.sample(m, n, tok, n).forward(m, 2 * n, S, n).forward(gold, n, S, sb).forward(target, n, S, sb)
        return max(_act_sample(m, n, tok), _act_forward(m, n, S, True))

    T, B = rl["steps"], rl["train"]["per_device_train_batch_size"]
    points = len({0, *range(rl["eval_every"], T + 1, rl["eval_every"]), T})
    for r in rl_runs(c, [t.id for t in reg.rl_targets]):
        m, t = pols[r["policy"]], rms[base[r["rm"]]]
        work = Work().load(m, m, t, *([gold] if base[r["rm"]] != "gold" else []))
        if r["algo"] == "ppo":  # rollout; policy, ref, value and reward forwards; 4 epochs on policy and value
            work.sample(m, B * T, tok, B).forward(m, 3 * B * T, S, B).forward(t, B * T, S, sb)
            work.train(m, B, S, 4 * T).train(m, B, S, 4 * T).load(m)
            resident = [(m, "train16"), (m, "train16"), (m, "infer")]
        else:  # RLOO: B completions a step, the reference's log-probs (kl > 0), one update
            ref = float(r["kl"]) > 0
            work.sample(m, B * T, tok, B).forward(t, B * T, S, sb).train(m, B, S, T)
            if ref:
                work.forward(m, B * T, S, B).load(m)
            resident = [(m, "train16"), (m, "infer")] + [(m, "infer")] * ref
        act = max(_act_train(m, B, S, lm=True), evaluation(work, m, t, rl, points))
        models = resident + [(t, "infer")] + ([(gold, "infer")] if base[r["rm"]] != "gold" else [])
        add("train_rl", _rl_id(r),
            [pol_dep(r["policy"]), rm_dep(r["rm"]), ("score_pool", base[r["rm"]]), ("score_pool", "gold"),
             ("gold_rm", "gold_rm"), ("prompts", "prompts")], work, models, act)
    if daa["losses"]:
        dp = daa_proxy(c)
        D, b, E = daa_data_size(c), daa["train"]["per_device_train_batch_size"], int(daa["train"]["num_train_epochs"])
        steps = math.ceil(D / b) * E
        for r in daa_runs(c):
            m, t = pols[r["policy"]], rms[dp]
            work = Work().train(m, 2 * b, S, steps).forward(m, 2 * b * steps, S, 2 * b).load(m, m, t, gold)
            pts = 1 + len(daa["fractions"]) + (E - 1)
            act = max(_act_train(m, 2 * b, S, lm=True), evaluation(work, m, t, daa, pts))
            work.forward(m, 2 * daa["heldout_pairs"] * (pts + 1), S, sb)  # implicit-reward accuracy
            add("train_daa", f"{r['policy']}-{r['loss']}-beta{r['beta']}-s{r['seed']}",
                [("label_pairs", "label_pairs"), ("score_pool", "gold"), ("score_pool", dp), ("train_rm", dp),
                 pol_dep(r["policy"])], work, [(m, "train16"), (m, "infer"), (t, "infer"), (gold, "infer")], act)
    n_rl, n_daa = len([j for j in out if j.rule == "train_rl"]), len([j for j in out if j.rule == "train_daa"])
    bon_grid = math.log2(c["bon"]["N"]) * c["bon"]["per_octave"] + 1
    add("bon_curves", "bon_curves", [("score_pool", t) for t in scored] + [("gold_rm", "gold_rm")],
        Work(rows=len(scored) * pool_n * bon_grid))
    n_boot = c["fit"]["n_boot"]
    add("bon_fits", "bon_fits", [("score_pool", t) for t in scored] + [("gold_rm", "gold_rm")],
        Work(rows=len(scored) * n_boot * (pool_n / c["bon"]["N"]) * bon_grid))  # the resampled curves
    add("rm_metrics", "rm_metrics", [("train_rm", p["id"]) for p in trained(c)]
        + [("score_shift", p["id"]) for p in trained(c) if p["cue"]], Work(rows=len(trained(c))))
    family = [m["id"] for m in flip_family(c)]
    scorers = run_scorers(c)
    for t, runs in scorers.items():
        m, n_run_samples = rms[t], len(runs) * rl["eval_prompts"] * rl["eval_samples"] * points
        add("score_runs", t, [rm_dep(t), ("score_pool", t)]
            + [("train_rl", _rl_id(r)) for r in runs],
            Work().forward(m, n_run_samples, S, sb).load(m), [(m, "infer")],
            _act_forward(m, min(sb, n_run_samples), S, False))
    grid_view = 1 + len(proxies(c))
    add("role_swap", "role_swap", [("score_pool", t) for t in dict.fromkeys(["gold", *family, *(p["id"] for p in proxies(c))])]
        + [("score_runs", t) for t in scorers],
        Work(rows=(len(family) ** 2 + grid_view ** 2) * pool_n * len(c["role_swap"]["bon_n"])))
    teacher_n = 2 * c["labels"]["heldout"] + len(more) * w["prompts"]["eval"] * ev["k"]
    for t in [*mix, "gold"] if mix else []:
        m = rms[t]
        add("score_teachers", t, [rm_dep(t), ("label_offpolicy", "label_offpolicy"),
                                  *[("sample_policy_pool", p) for p in more]],
            Work().forward(m, teacher_n, S, sb).load(m), [(m, "infer")], _act_forward(m, min(sb, teacher_n), S, False))
    rl_rows = n_rl * points + n_daa * (1 + len(daa["fractions"]) + int(daa["train"]["num_train_epochs"]) - 1)
    curve_deps = [("bon_curves", "bon_curves")] + [(j.rule, j.id) for j in out if j.rule in ("train_rl", "train_daa")]
    add("curves", "curves", curve_deps, Work(rows=rl_rows + len(scored) * bon_grid))
    add("fits", "fits", [("curves", "curves"), ("bon_fits", "bon_fits")] + curve_deps[1:],
        Work(rows=(n_rl * rl["eval_prompts"] + n_daa * daa["eval_prompts"] + FIT_RUN_ROWS * (n_rl + n_daa)) * n_boot))
    add("figures", "figures", [("curves", "curves"), ("fits", "fits")], Work(rows=rl_rows + len(scored) * bon_grid))
    add("rm_eval", "rm_eval", [("score_pool", t) for t in evaluated] + [("score_eval", t) for t in evaluated]
        + [("rm_metrics", "rm_metrics"), ("gold_rm", "gold_rm"), ("curves", "curves"), ("fits", "fits")],
        Work(rows=len(evaluated) * ev["n_boot"]))
    teachers = [*mix, "gold"] if mix else []  # the table is declared with the design off too (no rows)
    add("teachers", "teachers", [("score_pool", t) for t in teachers] + [("score_teachers", t) for t in teachers]
        + [("rm_metrics", "rm_metrics"), ("curves", "curves")],
        Work(rows=len(policies(c)) * (len(teachers) + 1) * ev["n_boot"] * 16))  # 4 groups x 2 increases x 2 stats
    add("rm_figures", "rm_figures", [("rm_eval", "rm_eval"), ("curves", "curves")],
        Work(rows=len(outputs.figures(c, "rm_figures"))))
    add("replication", "replication", [("curves", "curves"), ("fits", "fits"), ("role_swap", "role_swap")],
        Work(rows=c["replication"]["n_boot"] * 7))  # the RM bootstrap of Wen's 7 rows
    return out


