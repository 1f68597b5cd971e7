"""The offline stand-ins of the real-model preset (overopt/world/standins.py) and the preset that
runs on them (config/presets/pythia-offline.yaml): built into a temporary folder, they load with
the project's own loaders from safetensors (trust_remote_code off) as GPT-NeoX policies and
proxies and a Qwen3 gold RM with its own tokenizer and chat template; the dataset folders give
the prompt splits; the preset mirrors pythia.yaml, validates and plans."""
import copy
import hashlib
import random
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from overopt.world import standins

MODELS = ("policy", "policy-1b", "proxy-14m", "proxy-70m", "proxy-160m", "gold")


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A run folder holding ``standins/``, as a user builds it before running the preset."""
    run = tmp_path_factory.mktemp("run")
    standins.build(run / "standins", seed=0)
    return run


def _preset(root, name="pythia-offline") -> dict:
    return yaml.safe_load((root / f"config/presets/{name}.yaml").read_text())


def _digests(d: Path) -> dict:
    return {str(p.relative_to(d)): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(d.rglob("*"))
            if p.is_file()}


def test_builds_every_standin_as_safetensors(built):
    from overopt.inputs import check_model_dir

    d = built / "standins"
    for name in MODELS:
        check_model_dir(str(d / name))  # config.json and complete safetensors weights
        assert not list((d / name).glob("*.bin")) and (d / name / "tokenizer.json").exists()
    m = (d / "manifest.json").read_text()
    assert all(f'"{n}"' in m for n in MODELS) and "Skywork/Skywork-Reward-V2-Qwen3-0.6B" in m


def test_deterministic_given_the_seed(built, tmp_path):
    standins.build(tmp_path / "again", seed=0)
    assert _digests(tmp_path / "again") == _digests(built / "standins")
    standins.build(tmp_path / "other", seed=1, ultrafeedback=50, alpaca=20)
    a = (tmp_path / "other/proxy-14m/model.safetensors").read_bytes()
    assert a != (built / "standins/proxy-14m/model.safetensors").read_bytes()


def test_policies_load_with_the_project_loader(built):
    """GPT-NeoX causal LMs whose tokenizer has no pad token, as Pythia's: load_tokenizer takes
    <|padding|> from the vocabulary; the embeddings are wider than the tokenizer, as Pythia's."""
    from transformers import AutoTokenizer

    from overopt.models import load_policy

    for name in ("policy", "policy-1b"):
        path = str(built / "standins" / name)
        raw = AutoTokenizer.from_pretrained(path)
        assert raw.pad_token is None and raw.eos_token == raw.bos_token == "<|endoftext|>"
        assert raw("How are you?")["input_ids"][0] != raw.bos_token_id  # nothing added, as Pythia
        model, tok = load_policy(path, trust_remote_code=False)
        assert type(model).__name__ == "GPTNeoXForCausalLM" and model.config.model_type == "gpt_neox"
        assert tok.pad_token == "<|padding|>" and tok.pad_token_id == 1 and tok.eos_token_id == 0
        assert model.get_input_embeddings().num_embeddings > len(tok)
        assert model.config.use_parallel_residual and not model.config.tie_word_embeddings


def test_proxies_get_a_new_scalar_head(built):
    """Proxy backbones are causal-LM checkpoints; the project puts a scalar head on them."""
    from overopt.models import RewardModel
    from overopt.train.rms import init_proxy

    widths = []
    for name in ("proxy-14m", "proxy-70m", "proxy-160m"):
        path = str(built / "standins" / name)
        assert '"GPTNeoXForCausalLM"' in (built / "standins" / name / "config.json").read_text()
        model, tok = init_proxy({"name": name, "name_or_path": path}, None, 0, trust_remote_code=False)
        assert type(model).__name__ == "GPTNeoXForSequenceClassification" and model.config.num_labels == 1
        widths.append(model.config.hidden_size)
        rm = RewardModel(model.float().eval(), tok)
        assert np.isfinite(rm.raw_scores(["Why?", "Why?"], [" Yes.", " No."])).all()
    assert widths == sorted(set(widths))  # three sizes, smallest first


def test_gold_is_a_qwen3_rm_with_its_own_tokenizer(built):
    from transformers import AutoTokenizer

    from overopt.models import RewardModel

    d = built / "standins"
    gold = RewardModel.load(str(d / "gold"), trust_remote_code=False)
    assert type(gold.model).__name__ == "Qwen3ForSequenceClassification" and gold.model.config.model_type == "qwen3"
    g, p = AutoTokenizer.from_pretrained(str(d / "gold")), AutoTokenizer.from_pretrained(str(d / "policy"))
    assert len(g) != len(p) and g.get_vocab() != p.get_vocab()
    assert g.pad_token == "<|endoftext|>" and g.eos_token == "<|im_end|>" and g.bos_token is None
    chat = g.apply_chat_template([{"role": "user", "content": "Why?"}, {"role": "assistant", "content": "Because."}],
                                 tokenize=False)
    assert chat == "<|im_start|>user\nWhy?<|im_end|>\n<|im_start|>assistant\nBecause.<|im_end|>\n"
    assert g.convert_ids_to_tokens(g(chat)["input_ids"][:1]) == ["<|im_start|>"]  # one special token


def test_gold_scores_differ_between_responses(built):
    from overopt.models import Normalization, RewardModel

    gold = RewardModel.load(str(built / "standins/gold"))
    responses = [standins._response(random.Random(i), 1, 3) for i in range(24)]
    raw = gold.raw_scores(["How can I build a small garden?"] * 24, responses)
    assert np.isfinite(raw).all() and len(np.unique(raw.round(6))) == 24 and raw.std() > 0.1
    Normalization.fit(raw)  # not constant: a usable teacher


def test_datasets_load_through_the_preset_spec(root, built, monkeypatch):
    import datasets

    from overopt.world.prompts import dataset_prompts

    w = _preset(root)["world"]
    monkeypatch.chdir(built)  # the preset's paths are relative to the run folder
    frame = dataset_prompts(w["prompt_dataset"], w["prompts"], seed=0)
    assert frame.groupby("split").size().to_dict() == w["prompts"]
    assert frame[frame.split != "ood"].prompt.nunique() == sum(v for k, v in w["prompts"].items() if k != "ood")
    assert not set(frame[frame.split == "ood"].prompt) & set(frame[frame.split != "ood"].prompt)
    uf = datasets.load_from_disk("standins/ultrafeedback")["train_prefs"]
    assert {"prompt", "prompt_id", "chosen", "rejected", "messages"} <= set(uf.column_names)
    assert [m["role"] for m in uf[0]["chosen"]] == ["user", "assistant"] and uf[0]["chosen"][0]["content"] == uf[0]["prompt"]
    al = datasets.load_from_disk("standins/alpaca")["train"]
    assert {"instruction", "input", "output", "text"} <= set(al.column_names)
    lengths = [len(p.split()) for p in uf["prompt"][:500]]
    assert min(lengths) < 10 and max(lengths) > 25  # varied lengths


def _keys(d: dict, path=()) -> set:
    out = set()
    for k, v in d.items():
        out.add((*path, k))
        if isinstance(v, dict):
            out |= _keys(v, (*path, k))
    return out


def test_preset_mirrors_pythia_key_for_key(root):
    real, off = _preset(root, "pythia"), _preset(root)
    assert _keys(real) <= _keys(off)
    assert len(off["proxy"]["sizes"]) == 2 and all(set(s) == {"name", "name_or_path"} for s in off["proxy"]["sizes"])
    assert [set(s) for s in off["policy"]["more_sizes"]] == [{"name", "name_or_path"}]
    refs = [off["policy"]["name_or_path"], off["gold"]["name_or_path"], off["policy"]["more_sizes"][0]["name_or_path"],
            *(s["name_or_path"] for s in off["proxy"]["sizes"]), off["world"]["prompt_dataset"]["name_or_path"],
            off["world"]["prompt_dataset"]["ood_name_or_path"]]
    assert all(r.startswith("./standins/") for r in refs)  # local: a missing folder fails at parse time
    assert off["rl"]["algorithms"][0] == real["rl"]["algorithms"][0] == "ppo"


def _config(root) -> dict:
    from snakemake.utils import update_config

    cfg = yaml.safe_load((root / "config.yaml").read_text())
    update_config(cfg, _preset(root))
    return cfg


def test_preset_validates_in_a_run_folder(root, built, tmp_path, monkeypatch):
    from overopt import config as C
    from overopt.targets import proxies, rl_targets

    cfg = _config(root)
    monkeypatch.chdir(tmp_path)  # no stand-ins here: named, before any job
    with pytest.raises(C.ConfigError, match="^config key 'policy.name_or_path': model path ./standins/policy"):
        C.validate(copy.deepcopy(cfg))
    monkeypatch.chdir(built)
    C.validate(cfg)
    ids = [p["id"] for p in proxies(cfg)]
    assert len(ids) == 2 * 2 and "p14m-d200-pfr-s0" in ids  # 2 sizes x 1 data size x {bt, pfr}
    targets = {t for sw in cfg["rl"]["sweeps"] for t in sw["targets"]} | set(cfg["policy"]["more_sizes_targets"])
    assert targets <= set(rl_targets(cfg))


@pytest.mark.slow
def test_preset_plans_offline(root, built, snakemake_bin):
    out = subprocess.run([snakemake_bin, "-n", "--snakefile", str(root / "Snakefile"), "--directory", str(built),
                          "--configfile", str(root / "config.yaml"), str(root / "config/presets/pythia-offline.yaml")],
                         capture_output=True, text=True, timeout=300, check=False)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    stats = text.split("Job stats:")[1]
    counts = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.MULTILINE)}
    assert "train_policy" not in counts and "world" not in counts  # pi_init and gold are given
    # the grid, the role swap's 2 members, the shift's 2, the mix's share-0 member
    assert counts["train_rm"] == 4 + 2 + 2 + 1 and counts["gold_rm"] == 1
    assert counts["train_daa"] == 4  # 2 losses x 1 beta x 2 policy sizes
    assert counts["train_rl"] == 23 and counts["score_runs"] == 3 + 4 - 1  # the family, the grid (one in both)
    assert "standins/proxy-14m" in text or "p14m-d200-bt-s0" in text


# Bugs of the project's real-model path these stand-ins found (CHANGELOG, docs/standins.md), fixed.

def test_pool_csv_keeps_a_carriage_return(tmp_path):
    """Byte-level policies (Pythia's vocabulary holds '\\r') can sample a bare carriage return;
    pandas writes it unquoted and reads it back as a line break."""
    import pandas as pd

    from overopt.data.splits import read_pool

    pool = pd.DataFrame({"prompt_id": ["eval-0"] * 2, "prompt_idx": [0, 0], "sample": [0, 1],
                         "response": [" one\rtwo", " three"], "length": [3, 1]})
    pool.to_csv(tmp_path / "pool.csv", index=False)  # as reference.sample_pool writes it
    assert read_pool(str(tmp_path / "pool.csv"))["response"].tolist() == pool["response"].tolist()


def test_proxy_trains_in_float32_from_a_float16_checkpoint(built):
    import torch

    from overopt.train.rms import init_proxy

    path = str(built / "standins/proxy-14m")  # float16, as the hub's Pythia checkpoints
    model, _ = init_proxy({"name": "p14m", "name_or_path": path}, None, 0)
    assert next(model.parameters()).dtype == torch.float32


def test_rl_evaluation_takes_prompts_of_different_lengths(built):
    """Left-padded prompts of different token lengths: each sequence's log-probs are what it gets
    alone (positions count real tokens), so pi == pi_init gives KL exactly 0."""
    import torch

    from overopt.models import RewardModel, load_policy
    from overopt.train.evaluate import Evaluator, token_logprobs

    d = built / "standins"
    model, tok = load_policy(str(d / "policy"))
    gold = RewardModel.load(str(d / "gold"))
    prompts = ["Why?", "How can I build a small garden near the river?"]
    row = Evaluator(model, tok, prompts, 2, 4, gold, gold, seed=0)(model, 0)
    assert row["eval_samples"] == 4 and row["kl"] == 0.0
    tok.padding_side = "left"
    enc = tok(prompts, return_tensors="pt", padding=True)
    assert (enc["attention_mask"] == 0).any()  # the short prompt is padded
    with torch.inference_mode():
        batch = token_logprobs(model, enc["input_ids"], enc["attention_mask"])
        alone = tok(prompts[0], return_tensors="pt")
        single = token_logprobs(model, alone["input_ids"], alone["attention_mask"])
    n = alone["input_ids"].shape[1]
    assert torch.allclose(batch[0, -(n - 1):], single[0], atol=1e-5)


def test_daa_pairs_where_bpe_merges_across_the_prompt_boundary(built):
    from overopt.models import load_tokenizer
    from overopt.train.daa import tokenize_pairs

    tok = load_tokenizer(str(built / "standins/policy"))
    prompt = tok("Why do rivers grow")["input_ids"]
    assert tok("Why do rivers grows quickly.")["input_ids"][:len(prompt)] != prompt  # "grow" + "s": one token
    p_ids, c_ids = tokenize_pairs(tok, ["Why do rivers grow"], ["s quickly."])  # cut as TRL cuts
    full = tok("Why do rivers grows quickly." + tok.eos_token)["input_ids"]
    assert p_ids == [prompt] and c_ids == [full[len(prompt):]]


def test_gold_scores_through_its_chat_template(built, tmp_path):
    """With gold.chat_template the gold RM scores the user/assistant turns its template renders."""
    from overopt.models import Normalization, RewardModel

    if "chat" not in getattr(Normalization, "__dataclass_fields__", {}):
        pytest.skip("overopt.models has no chat scoring (gold.chat_template) yet")
    Normalization(0.0, 1.0, 1, chat=True).save(tmp_path / "norm.json")
    gold = RewardModel.load(str(built / "standins/gold"), tmp_path / "norm.json")
    turns = [{"role": "user", "content": "Why?"}, {"role": "assistant", "content": " Because."}]
    assert gold.texts(["Why?"], [" Because."]) == [gold.tokenizer.apply_chat_template(turns, tokenize=False)]
    raw = gold.raw_scores(["Why?"] * 3, [" Because.", " No.", " The river grows."])
    assert np.isfinite(raw).all() and len(np.unique(raw.round(6))) == 3
