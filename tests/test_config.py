"""Config validation: the schema fills defaults and rejects bad values, naming the key; a bad
config stops Snakemake before any job runs, and results already computed stay as they were."""
import copy
import subprocess

import pytest
import yaml

from overopt import config as C
from overopt import targets


@pytest.fixture(scope="module")
def base(root):
    return yaml.safe_load((root / "config.yaml").read_text())


def test_default_config_validates_and_fills_defaults(base):
    cfg = copy.deepcopy(base)
    del cfg["fit"]
    C.validate(cfg)
    assert cfg["fit"] == {"level": 0.95, "min_n": 2, "extrapolate_from": 3, "n_boot": 1000,
                          "saturation": {"window": 0.5, "min_gain": 0.1}}
    assert cfg["proxy"]["train"]["lr_scheduler_type"] == "cosine"
    assert len(targets.proxies(cfg)) == 4 * 4 + 4 + 4 * 2 * 2  # bt everywhere, pfr at 2000, 2 more seeds at 500, 2000
    assert targets.proxy(cfg, "xs-d2000-bt-s0")["data_size"] == 2000
    assert targets.proxy(cfg, "l-d500-bt-s2")["rl"] is False  # a replicate: BoN and the RM evaluation only
    assert "l-d500-bt-s2" not in targets.rl_targets(cfg) and "l-d500-bt-s0" in targets.rl_targets(cfg)


def test_tiny_preset_validates(base, root):
    from snakemake.utils import update_config

    cfg = copy.deepcopy(base)
    update_config(cfg, yaml.safe_load((root / "config/presets/tiny.yaml").read_text()))
    C.validate(cfg)


BAD = [
    (lambda c: c["proxy"].update(data_sizes=[-5]), "proxy.data_sizes[0]", "minimum"),
    (lambda c: c["bon"].update(N="many"), "bon.N", "not of type 'integer'"),
    (lambda c: c.update(typo_key=1), "typo_key", "unknown key"),
    (lambda c: c["labels"].update(mode="soft"), "labels.mode", "is not one of"),
    (lambda c: c["proxy"]["sizes"][1].update(depth=3), "proxy.sizes[1].depth", "unknown key"),
    (lambda c: c["proxy"]["sizes"][0].pop("arch"), "proxy.sizes[0]", "give either arch or name_or_path"),
    (lambda c: c["policy"].update(name_or_path="./no/such/model"), "policy.name_or_path", "does not exist"),
    (lambda c: c["gold"].update(name_or_path="/no/such/gold"), "gold.name_or_path", "does not exist"),
    (lambda c: c["proxy"].update(data_sizes=[2000, 100000]), "world.prompts.rm_train", "needs"),
    (lambda c: c["proxy"]["sizes"][0]["arch"].update(n_head=3), "proxy.sizes[0].arch", "divisible"),
    (lambda c: c["rl"].update(algorithms=["reinforce"]), "rl.algorithms[0]", "is not one of"),
    (lambda c: c["rl"].update(prompts=1001), "rl.prompts", "policy_train has only 1000"),
    (lambda c: c["rl"].update(prompts=7), "rl.prompts", "RLOO trains on 8 prompts a step"),
    (lambda c: c["policy"].update(more_sizes_targets=["huge-d1-bt-s0"]), "policy.more_sizes_targets",
     "not an RL target"),
    (lambda c: c["policy"]["more_sizes"].append({"name": "small", "arch": {"n_embd": 8, "n_layer": 1, "n_head": 2}}),
     "policy.more_sizes", "unique"),
    (lambda c: c["daa"].update(proxy="xl-d2000-bt-s0"), "daa.proxy", "not a proxy id"),
    (lambda c: c["daa"].update(losses=["kto"]), "daa.losses[0]", "is not one of"),
    (lambda c: c["daa"].update(fractions=[0.5, 1.5]), "daa.fractions[1]", "maximum"),
    (lambda c: c["proxy"].update(objectives=["bt", "pfr", "bt"]), "proxy.objectives", "unique"),
    (lambda c: c["rm_eval"].update(rl_step=7), "rm_eval.rl_step", "evaluation step"),
    (lambda c: c["rm_eval"].update(k=1000), "rm_eval.k", "bon.N"),
]


@pytest.mark.parametrize("mutate,key,words", BAD)
def test_bad_values_name_the_key(base, mutate, key, words):
    cfg = copy.deepcopy(base)
    mutate(cfg)
    with pytest.raises(C.ConfigError) as err:
        C.validate(cfg)
    assert err.value.key == key and words in str(err.value)


def test_hub_ids_pass_without_download(base):
    cfg = copy.deepcopy(base)
    cfg["gold"]["name_or_path"] = "OpenAssistant/reward-model-deberta-v3-large-v2"
    C.validate(cfg)  # a hub id is only checked for shape here; it loads on the cluster


@pytest.mark.parametrize("overlay,key", [({"proxy": {"data_sizes": [-1]}}, "proxy.data_sizes[0]"),
                                         ({"bon": {"pool": 3}}, "bon.pool")])
def test_snakemake_stops_before_any_job_and_keeps_results(tmp_path, root, snakemake_bin, overlay, key):
    done = tmp_path / "results" / "tables" / "curves.csv"
    done.parent.mkdir(parents=True)
    done.write_text("method,rm\nbon,x\n")
    before = done.stat().st_mtime_ns
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(overlay))
    out = subprocess.run([snakemake_bin, "--cores", "1", "--snakefile", str(root / "Snakefile"), "--directory",
                          str(tmp_path), "--configfile", str(root / "config.yaml"), str(tmp_path / "bad.yaml")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0
    assert f"config key '{key}'" in out.stdout + out.stderr
    assert done.read_text() == "method,rm\nbon,x\n" and done.stat().st_mtime_ns == before
    assert sorted(p.name for p in (tmp_path / "results").rglob("*") if p.is_file()) == ["curves.csv"]


def test_pfr_data_sizes_and_rl_objectives_restrict_the_grid(base):
    cfg = copy.deepcopy(base)
    cfg["proxy"].update(objectives=["bt", "pfr"], pfr={"data_sizes": [2000]})
    cfg["rl"]["objectives"] = ["bt"]
    C.validate(cfg)
    ids = [p["id"] for p in targets.proxies(cfg)]
    assert len(ids) == 4 * 4 + 4 + 16 and {i for i in ids if "-pfr-" in i} == {f"{s}-d2000-pfr-s0" for s in
                                                                        ("xs", "s", "m", "l")}
    assert targets.rl_targets(cfg) == ["gold", *(i for i in ids if "-bt-" in i and i.endswith("-s0"))]
    cfg["policy"]["more_sizes_targets"] = ["xs-d2000-pfr-s0"]  # a proxy RL does not run against
    with pytest.raises(C.ConfigError, match="policy.more_sizes_targets"):
        C.check(cfg)
    cfg["proxy"]["pfr"]["data_sizes"] = [700]
    with pytest.raises(C.ConfigError, match=r"proxy.pfr.data_sizes.*\[700\]"):
        C.check(cfg)


def test_path_number_is_the_run_id(base):
    assert [C.path_number(x) for x in (0.0, 0.05, 1e-07, 2)] == ["0", "0.05", "1e-07", "2"]
    cfg = C.validate(copy.deepcopy(base))
    assert {r["kl"] for r in targets.rl_runs(cfg, ["gold"])} == {"0", "0.02", "0.05", "0.2"}  # grid and sweep
    assert {r["beta"] for r in targets.daa_runs(cfg)} == {"0.01", "0.03", "0.1", "0.3"}


def test_validate_fills_defaults_in_place_as_copies(base):
    a, b = copy.deepcopy(base), copy.deepcopy(base)
    del a["fit"], b["fit"]
    assert C.validate(a) is a and C.validate(b) is b
    a["fit"]["level"] = 0.5  # defaults are never shared between configs (the schema is cached)
    assert b["fit"]["level"] == 0.95 and C.validate(b) == b  # validating twice changes nothing


def test_rejected_config_is_left_as_given(base):
    cfg = copy.deepcopy(base)
    del cfg["fit"], cfg["bon"]["per_octave"]
    cfg["rl"]["steps"] = 6.0
    given = copy.deepcopy(cfg)
    with pytest.raises(C.ConfigError, match=r"^config key 'rl.steps': must be an integer, got 6.0$"):
        C.validate(cfg)
    assert cfg == given  # no defaults half-filled


def test_extra_seeds_off_ignores_its_data_sizes(base):
    """proxy.extra_seeds with no seeds is off: narrowing proxy.data_sizes under it is no error."""
    cfg = copy.deepcopy(base)
    cfg["proxy"].update(extra_seeds={"data_sizes": [1000], "seeds": []})  # 1000: not a grid data size
    C.validate(cfg)
    assert all(p["rl"] for p in targets.proxies(cfg))
    cfg = copy.deepcopy(base)
    cfg["proxy"].update(extra_seeds={"data_sizes": [1000], "seeds": [1]})
    with pytest.raises(C.ConfigError, match="proxy.extra_seeds.data_sizes"):
        C.validate(cfg)



def test_rl_prompts_make_the_default_runs_one_pass(base):
    """rl.prompts cuts the RL prompts to the first k: the default's runs are one pass over them,
    which the teachers table reads its increases after (rl_passes = 1)."""
    from overopt.stages import Stages

    cfg = C.validate(copy.deepcopy(base))
    rl = cfg["rl"]
    assert rl["steps"] * rl["train"]["per_device_train_batch_size"] // rl["num_generations"] == rl["prompts"]
    assert Stages(cfg).teachers()["pass_per_step"] * rl["steps"] == pytest.approx(1.0)
