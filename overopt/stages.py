"""Every job's settings from the validated config: :class:`Stages` builds each stage's
``overopt.settings`` dataclass from the config sections it reads and the job's wildcards, as the
one ``hp`` params dict of its rule (``workflow/rules/common.smk``)."""
from __future__ import annotations

from overopt import targets as target_grid
from overopt.settings import (
    DAA,
    RL,
    Bon,
    BonFit,
    Curves,
    Evaluation,
    ExtraScores,
    Figures,
    Fit,
    Gold,
    Labels,
    OffPolicyLabels,
    OODPairs,
    Policy,
    Pool,
    Prompts,
    Proxy,
    Replication,
    RMEval,
    RoleSwap,
    RunScores,
    Score,
    ShiftScores,
    Teachers,
    TeacherScores,
    World,
    to_hp,
)
from overopt.targets import Registry, gold_model

R = "results"


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
        setting = {k: v for k, v in self.setting.items() if k != "policy"}  # every student runs it
        rl = self.c["rl"]
        batch = rl["train"]["per_device_train_batch_size"]  # RLOO: completions, num_generations per prompt
        per_step = batch // rl["num_generations"] if setting["algorithm"] == "rloo" else batch
        n_prompts = rl["prompts"] or self.c["world"]["prompts"]["policy_train"]
        return to_hp(Teachers([t.id for t in self.targets.mix], self.targets.gold.id,
                              {"id": flat[0].id, "transform": flat[0].transform} if flat else None,
                              target_grid.students(self.c), self.c["rm_eval"]["k"], self.c["mix"]["rl_step"],
                              per_step / n_prompts, setting,
                              self.c["rm_eval"]["n_boot"], self.c["fit"]["level"], self.c["seed"]))

    def role_swap(self) -> dict:
        rs = self.c["role_swap"]
        grid = [self.targets.gold.id, *(t.id for t in self.targets.of_family(target_grid.GRID))]
        ev = self.c["rm_eval"]
        rl = {"flip": [r["rm"] for r in target_grid.role_swap_runs(self.c)],
              "grid": [r["rm"] for r in target_grid.grid_swap_runs(self.c)]}
        return to_hp(RoleSwap([t.id for t in self.targets.role_swap], grid, rl, self.c["bon"]["N"], rs["bon_n"],
                              rs["rl_step"], rs["kl_budget"], ev["k"], ev["rank_bins"], ev["budget"],
                              _budget_ks(ev), self.c["seed"]))

    def labels(self) -> dict:
        lab = self.c["labels"]
        return to_hp(Labels(**self._gold_sampling(self.c["seed"] + 5), mode=lab["mode"], flip_rate=lab["flip_rate"],
                            heldout=lab["heldout"], n_train=max(self.c["proxy"]["data_sizes"])))

    def _gold_sampling(self, seed: int) -> dict:
        return {"policy": self.pi_init, "gold": gold_model(self.c), "response_len": self.c["response_len"],
                "sample_batch_size": self.c["sample_batch_size"], "score_batch_size": self.c["score_batch_size"],
                "trust_remote_code": self.c["trust_remote_code"], "dtype": self.c["dtype"], "seed": seed}

    def shift_scores(self, rm: str) -> dict:
        t = self.targets[rm]
        return to_hp(ShiftScores(t.model, self.c["score_batch_size"], self.c["trust_remote_code"], self.c["dtype"],
                                 t.chat, rm, t.grid["cue"]["text"]))

    def ood_pairs(self) -> dict:
        return to_hp(OODPairs(**self._gold_sampling(self.c["seed"] + 8), pairs_per_prompt=self.c["shift"]["ood_pairs"]))

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
                        steps=rl["steps"], prompts=rl["prompts"], num_generations=rl["num_generations"],
                        eval_every=rl["eval_every"],
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
