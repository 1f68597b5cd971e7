"""The target registry, the output registry and the stage settings, built from configs."""
import copy
import re

import pytest
import yaml

from overopt import config as C
from overopt import outputs, settings, stages
from overopt.targets import (
    CUE,
    FLIP,
    GOLD,
    GRID,
    MIX,
    PROXY,
    REFERENCE,
    Registry,
    design_runs,
    teacher_runs,
)


@pytest.fixture(scope="module")
def default(root):
    return C.validate(yaml.safe_load((root / "config.yaml").read_text()))


def variant(cfg, **sections):
    out = copy.deepcopy(cfg)
    for section, values in sections.items():
        out[section].update(values)
    return C.validate(out)


def test_registry_lists_every_target_once(default):
    reg = Registry(default)
    assert reg.ids[0] == GOLD and reg.ids[-1] == "gold_flat"
    assert [t.kind for t in reg].count(GOLD) == 1 and len(reg.of_kind(REFERENCE)) == 1
    assert len(reg.proxies) == 20 + 16 + 7 + 6 + 4 and all(t.trained for t in reg.proxies)  # grid (+ seeds), role swap, shift, mix
    assert [t.id for t in reg.role_swap][0] == "m-d6000-bt-s0" and len(reg.of_family(FLIP)) == 7
    assert {t.id for t in reg.of_family(CUE)} == {f"s-d2000-cue-{o}-s{s}" for o in ("bt", "pfr") for s in range(3)}
    assert reg["gold_flat"].base == GOLD and not reg["gold_flat"].scored and reg["gold_flat"].transform == {"flat": 0.001}
    assert {t.id for t in reg.scored} == {GOLD, *(t.id for t in reg.proxies)}
    assert {t.id for t in reg.rl_targets} == {GOLD, "gold_flat", *(t.id for t in reg.of_family(GRID) if t.grid["rl"])}
    assert sum(not t.grid["rl"] for t in reg.of_family(GRID)) == 16  # proxy.extra_seeds: no RL


def test_wildcard_is_the_closed_set_of_ids(default):
    reg = Registry(default)
    pattern = re.compile(f"^(?:{reg.wildcard()})$")
    assert all(pattern.match(i) for i in reg.ids)
    assert not pattern.match("xs-d2000-bt-s9") and not pattern.match("gold_flatter")
    proxies = re.compile(f"^(?:{reg.wildcard(reg.proxies)})$")
    assert not proxies.match(GOLD)


def test_no_flat_factor_no_reference(default):
    reg = Registry(variant(default, rm_eval={"flat_factor": None}))
    assert not reg.of_kind(REFERENCE) and reg.ids[-1] != "gold_flat"


@pytest.mark.parametrize("sections,absent", [
    ({"policy": {"more_sizes": [], "more_sizes_targets": []}}, "rl_by_policy_size"),
    ({"daa": {"losses": []}}, "daa_by_loss"),
    ({"rm_eval": {"flat_factor": None}}, "flat_teacher"),
    ({"proxy": {"objectives": ["bt"], "pfr": {"data_sizes": None, "prompts": 4, "tau": 1.0}},
      "rl": {"objectives": ["bt"]}}, "bt_vs_pfr"),
])
def test_switched_off_arm_declares_no_figure(default, sections, absent):
    names = {f.name for f in outputs.figures(variant(default, **sections))}
    assert absent not in names and absent in {f.name for f in outputs.figures(default)}
    assert "bon_by_rm_size" in names


def test_every_registered_figure_draws_and_has_a_caption(root):
    for f in outputs.FIGURES:
        assert callable(outputs.drawer(f.name)), f.name
        assert (root / "workflow" / "report" / f"{f.name}.rst").exists(), f.name
    assert {f.job for f in outputs.FIGURES} == {"figures", "rm_figures"}


def test_rl_sweeps_add_runs_once_and_daa_runs_every_policy(default):
    from overopt.targets import daa_runs, rl_runs

    reg = Registry(default)
    runs = rl_runs(default, [t.id for t in reg.rl_targets])
    keys = [tuple(r.values()) for r in runs]
    assert len(keys) == len(set(keys))  # a sweep run already in the grid is not repeated
    gold = {(r["kl"], r["seed"]) for r in runs if r["rm"] == GOLD and r["policy"] == "small"}
    assert gold == {("0", 0), ("0", 1), ("0", 2), ("0.02", 0), ("0.05", 0), ("0.2", 0)}
    assert {r["kl"] for r in runs if r["rm"] == "m-d6000-bt-s0"} == {"0"}  # the grid only
    daa = daa_runs(default)
    assert {r["policy"] for r in daa} == {"small", "large"} and len(daa) == 2 * 4 * 4
    off = variant(default, daa={"policy_sizes": False})
    assert {r["policy"] for r in daa_runs(off)} == {"small"}
    none = variant(default, rl={"sweeps": []})
    assert len(rl_runs(none, [t.id for t in reg.rl_targets])) < len(runs)


def test_every_stage_setting_round_trips(default):
    """Each rule's params dict rebuilds its dataclass, so scripts get exactly what Snakemake compared."""
    st = stages.Stages(default)
    reg = st.targets
    proxy, rl = reg.proxies[0].id, reg.rl_targets[-1].id
    built = {
        settings.World: st.world(), settings.Prompts: st.prompts(), settings.Gold: st.gold(),
        settings.Policy: st.policy("small"), settings.Pool: st.pool("small", 4, 6, "eval"),
        settings.Score: st.score(proxy), settings.ExtraScores: st.extra_scores(proxy, ["large"]),
        settings.Labels: st.labels(), settings.Proxy: st.proxy(proxy), settings.RL: st.rl("small", "rloo", rl, "0", "0"),
        settings.DAA: st.daa("large", "ipo_sum", "0.1", "0"), settings.Bon: st.bon(), settings.Fit: st.fit(),
        settings.BonFit: st.bon_fit(), settings.Replication: st.replication(),
        settings.RMEval: st.rm_eval(), settings.Figures: st.figures(["bon_by_rm_size"]),
        settings.OffPolicyLabels: st.offpolicy_labels(), settings.TeacherScores: st.teacher_scores(GOLD),
        settings.Teachers: st.teachers(),
    }
    for cls, hp in built.items():
        assert settings.to_hp(cls(**hp)) == hp
    assert built[settings.RL]["target"] == {"id": "gold_flat", "kind": REFERENCE, "model": reg[GOLD].model,
                                           "transform": {"flat": 0.001}}
    assert built[settings.Proxy]["pfr"] is None and reg[proxy].kind == PROXY


def test_mix_family_and_its_runs(default):
    """Razin's teachers: the share-1 member is the grid's bt proxy of that cell; RL of every
    student against every member, gold and the flat teacher, each once in the plan."""
    reg = Registry(default)
    assert [t.id for t in reg.mix] == ["m-d2000-bt-s0", *(f"m-d2000-on{f}-s0" for f in ("0.75", "0.5", "0.25", "0"))]
    assert reg.mix[0].family == GRID and {t.family for t in reg.mix[1:]} == {MIX}
    assert [t.grid["onpolicy"] for t in reg.mix] == [1.0, 0.75, 0.5, 0.25, 0.0]
    runs = teacher_runs(default)
    assert len(runs) == 2 * 7 and {r["policy"] for r in runs} == {"small", "large"}
    assert {r["rm"] for r in runs} == {t.id for t in reg.mix} | {GOLD, "gold_flat"}
    off = variant(default, mix={"onpolicy_fractions": []})
    assert not Registry(off).mix and not teacher_runs(off) and len(design_runs(off)) == len(design_runs(default)) - 14
    assert not teacher_runs(variant(default, mix={"rl": False}))
    alone = variant(default, mix={"data_size": 6000, "size": "xs"})  # xs-d6000-bt-s0 is in the grid too
    assert Registry(alone).mix[0].id == "xs-d6000-bt-s0"
    assert stages.Stages(default).proxy("m-d2000-on0.25-s0")["onpolicy"] == 0.25
    assert stages.Stages(default).proxy("m-d2000-bt-s0")["onpolicy"] == 1.0
