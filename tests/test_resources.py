"""The parse-time memory estimate: calibrated on the default study, within the profile with margin,
names the key that drives an overrun, and skips models given by name_or_path."""
import copy

import pytest
import yaml

from overopt import config as C
from overopt import resources as R

TORCH_RULES = ["prompts", "world", "gold_rm", "train_policy", "label_pairs", "train_rm", "sample_pool", "score_pool",
               "score_runs", "label_offpolicy", "label_ood", "score_shift", "score_teachers",
               "sample_ood", "sample_policy_pool", "score_eval", "train_rl", "train_daa"]


def preset(root, name=None) -> dict:
    from snakemake.utils import update_config

    cfg = yaml.safe_load((root / "config.yaml").read_text())
    if name:
        update_config(cfg, yaml.safe_load((root / f"config/presets/{name}.yaml").read_text()))
    return C.validate(cfg)


def test_gpt2_parameter_formula():
    """GPT-2 small (768 wide, 12 layers, 50257 tokens, 1024 positions) has 124M parameters."""
    cfg = {"world": {"vocab_size": 50257 - 3, "prompt_len": 1000}, "response_len": 22}
    params = R._bytes(R._weights(cfg, ("m.arch", {"n_embd": 768, "n_layer": 12, "n_head": 12}), 1)) / R.FLOAT
    assert params == pytest.approx(124.4e6, rel=0.01)


@pytest.mark.parametrize("name", [None, "tiny"])
def test_default_and_tiny_fit_the_profile_with_margin(root, name):
    est, granted = R.estimate(preset(root, name)), R.granted()
    assert set(TORCH_RULES) | {"bon_curves", "rm_eval"} == set(est)
    for rule, e in est.items():
        assert e["mem_mb"] <= 0.75 * granted[rule], (rule, e)
    # calibrated on the default study's measured max RSS per torch job (0.8-1.4 GB): within 2x
    assert all(1400 / 2 <= est[r]["mem_mb"] <= 2 * 800 for r in TORCH_RULES)


def test_hub_models_are_left_out(root):
    est = R.estimate(preset(root, "pythia"))
    assert est["train_rl"] == {"mem_mb": R.TORCH_MB, "key": None}  # policy, proxies and gold: hub ids
    assert "gold_rm" not in est and "train_policy" not in est


def test_estimate_grows_with_the_driving_key(root):
    cfg = preset(root)
    base = R.estimate(cfg)
    big = copy.deepcopy(cfg)
    big["proxy"]["sizes"][-1]["arch"].update(n_embd=480, n_head=4)
    est = R.estimate(big)
    assert est["train_rm"]["key"] == "proxy.sizes[3].arch.n_embd"
    assert est["train_rm"]["mem_mb"] > base["train_rm"]["mem_mb"]
    assert est["sample_pool"] == base["sample_pool"]  # the proxies are not in that job


def test_overrun_names_key_rule_and_profile(root):
    cfg = preset(root, "tiny")
    cfg["proxy"]["sizes"][0]["arch"]["n_embd"] = 4096
    with pytest.raises(C.ConfigError, match=r"^config key 'proxy.sizes\[0\].arch.n_embd': train_rm would need "
                                            r"about [\d,]+ MB, the profile grants 2,000 MB "
                                            r"\(profiles/default/config.yaml\)$"):
        C.check(cfg)


def test_profile_grants(tmp_path):
    assert R.granted()["train_rm"] == 2000 and R.granted()["rm_metrics"] == 500
    assert R.granted(tmp_path / "missing.yaml") == {}
