"""The real-scale loading path, offline: a Llama-style policy whose tokenizer has no pad token
and adds BOS, a BERT-style reward model with its own WordPiece tokenizer (no EOS, adds
[CLS]/[SEP]), prompts from a saved dataset; and the real-model preset plans without a
download."""
import re
import subprocess

import numpy as np
import pandas as pd
import pytest
import torch

from overopt import settings
from overopt.data import reference
from overopt.models import RewardModel, load_policy
from overopt.world.prompts import write_prompts

WORDS = [f"w{i:02d}" for i in range(20)]


@pytest.fixture(scope="module")
def llama_dir(tmp_path_factory):
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    d = tmp_path_factory.mktemp("llama")
    vocab = {t: i for i, t in enumerate(["<unk>", "<s>", "</s>", *WORDS])}
    t = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    t.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tok = PreTrainedTokenizerFast(tokenizer_object=t, unk_token="<unk>", bos_token="<s>", eos_token="</s>")
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=64,
                      bos_token_id=1, eos_token_id=2)
    LlamaForCausalLM(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return str(d)


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    d = tmp_path_factory.mktemp("bert")
    (d / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *reversed(WORDS)]))
    tok = BertTokenizerFast(vocab=str(d / "vocab.txt"), do_lower_case=False)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                     num_attention_heads=2, num_labels=1, max_position_embeddings=64)
    BertForSequenceClassification(cfg).save_pretrained(d)
    tok.save_pretrained(d)
    return str(d)


def test_llama_policy_gets_a_pad_token_and_samples(llama_dir):
    from overopt.data.sampling import sample_responses

    model, tok = load_policy(llama_dir)
    assert tok.pad_token is not None and tok.pad_token != tok.eos_token
    assert model.get_input_embeddings().num_embeddings >= len(tok)
    out = sample_responses(model, tok, ["w01 w02 ", "w03 "], 3, 5, batch_size=4, seed=0, progress=None)
    assert len(out) == 6 and out.response.str.split().explode().dropna().isin(WORDS).all()


def test_bert_rm_scores_through_its_own_tokenizer(bert_dir):
    from transformers import BertForSequenceClassification, BertTokenizerFast

    rm = RewardModel.load(bert_dir)
    prompts, responses = ["w01 w02 ", "w05 "], ["w03 w04", "w06 w07 w08"]
    got = rm.raw_scores(prompts, responses)
    tok, model = BertTokenizerFast.from_pretrained(bert_dir), BertForSequenceClassification.from_pretrained(bert_dir)
    for p, r, g in zip(prompts, responses, got):
        enc = tok(p + r, return_tensors="pt")  # [CLS] ... [SEP], as TRL tokenizes in training
        assert enc["input_ids"][0, 0] == tok.cls_token_id and tok.unk_token_id not in enc["input_ids"]
        with torch.no_grad():
            assert g == pytest.approx(model(**enc).logits[0, 0].item(), abs=1e-5)


def test_dataset_prompts_and_the_pool_across_architectures(tmp_path, llama_dir, bert_dir):
    import datasets

    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(WORDS, 4)) + " " for _ in range(40)]
    datasets.Dataset.from_dict({"question": texts}).save_to_disk(str(tmp_path / "ds"))
    spec = {"name_or_path": str(tmp_path / "ds"), "split": "train", "column": "question",
            "ood_name_or_path": str(tmp_path / "ds"), "ood_split": "train", "ood_column": "question"}
    w = {"prompt_dataset": spec, "prompts": {"rm_train": 20, "policy_train": 5, "eval": 6, "ood": 4}}
    write_prompts(w, 0, str(tmp_path / "prompts.csv"))
    p = pd.read_csv(tmp_path / "prompts.csv")
    assert p.groupby("split").size().to_dict() == {"eval": 6, "ood": 4, "policy_train": 5, "rm_train": 20}
    assert p[p.split != "ood"].prompt.nunique() == 31  # disjoint in-distribution splits
    pool = settings.Pool(policy=llama_dir, N=8, split="eval", response_len=5, sample_batch_size=16,
                         trust_remote_code=False, dtype="auto", seed=0)
    reference.sample_pool(pool, str(tmp_path / "prompts.csv"), str(tmp_path / "pool.csv"))
    score = settings.Score(rm=bert_dir, score_batch_size=16, trust_remote_code=False, dtype="auto", chat=False)
    reference.score_pool(score, str(tmp_path / "prompts.csv"), str(tmp_path / "pool.csv"),
                         str(tmp_path / "s.npy"), str(tmp_path / "n.json"))
    s = np.load(tmp_path / "s.npy")
    assert s.shape == (6, 8) and abs(s.mean()) < 1e-9


def test_real_model_preset_plans_offline(root, snakemake_bin, tmp_path):
    out = subprocess.run([snakemake_bin, "-n", "--snakefile", str(root / "Snakefile"), "--directory", str(tmp_path),
                          "--configfile", str(root / "config.yaml"), str(root / "config/presets/pythia.yaml")],
                         capture_output=True, text=True, timeout=120)
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    stats = text.split("Job stats:")[1]
    # 5 sizes x 3 data sizes (bt) + a pfr twin of each 2k-pair proxy (the default's proxy.pfr), and the
    # role-swap family's 7 members beside the grid's p160m-d10000-bt-s0, the shift's 6 (bt/pfr x 3 seeds),
    # the mix's 4 on-policy shares below 1 (share 1 is p160m-d10000-bt-s0 too)
    assert re.search(r"^train_rm\s+37$", stats, re.M) and "train_policy" not in stats
    # the configured gold RM is not built: its job only writes the gold identity row
    assert re.search(r"^gold_rm\s+1$", stats, re.M)
    assert re.findall(r"rule gold_rm:.*?\n\s+output: ([^\n]*)", text, re.S) == ["results/rms/gold/metrics.json"]
    assert "EleutherAI/pythia-14m" in text or "p14m-d2000-bt-s0" in text


def test_rm_metrics_merges_extra_columns_by_rm(tmp_path):
    """rm_metrics.csv: one row per metrics.json, with the shift proxies' ood_shift.json columns
    merged in by RM (NaN for the others); an extra file for an unknown RM is an error."""
    import json

    from overopt.tables.curves import RM_COLUMNS, rm_metrics

    paths = []
    for rm in ("a", "b"):
        p = tmp_path / f"{rm}.json"
        p.write_text(json.dumps({**{k: None for k in RM_COLUMNS}, "rm": rm, "gold_accuracy": 0.7}))
        paths.append(str(p))
    extra = tmp_path / "b_ood.json"
    extra.write_text(json.dumps({"rm": "b", "ood_shift_accuracy": 0.4}))
    t = rm_metrics(paths, [str(extra)])
    assert list(t["rm"]) == ["a", "b"] and np.isnan(t.loc[0, "ood_shift_accuracy"]) and t.loc[1, "ood_shift_accuracy"] == 0.4
    assert rm_metrics(paths).shape == (2, len(RM_COLUMNS) + 1)
    extra.write_text(json.dumps({"rm": "c", "ood_shift_accuracy": 0.4}))
    with pytest.raises(ValueError, match="'c'"):
        rm_metrics(paths, [str(extra)])
