"""World, tokenizers, reward-model scoring through the RM's own tokenizer, normalization,
sampling and labeling, on tiny models built here (nothing is downloaded)."""
import numpy as np
import pytest
import torch

from overopt.data import labels
from overopt.data.sampling import sample_responses
from overopt.models import Normalization, RewardModel, gpt2_config, load_policy
from overopt.world import language as world
from overopt.world.gold import build_gold

ARCH = {"n_embd": 16, "n_layer": 1, "n_head": 2}


@pytest.fixture(scope="module")
def lang():
    return world.Language.make(vocab_size=20, topics=3, branching=4, stop_max=0.1, seed=0)


@pytest.fixture(scope="module")
def tok(lang):
    return world.make_tokenizer(lang.words)


def test_prompts_splits_and_ood_topic(lang):
    sizes = {"rm_train": 30, "policy_train": 5, "eval": 10, "ood": 10}
    p = world.make_prompts(lang, sizes, length=6, seed=0)
    assert p.groupby("split").size().to_dict() == sizes
    assert (p[p.split == "ood"].topic == lang.topics - 1).all()
    assert (p[p.split != "ood"].topic < lang.topics - 1).all()
    assert p.prompt.str.endswith(" ").all()  # TRL joins prompt + completion as strings


def test_tokenizer_round_trip_pad_distinct_from_eos(tok, lang):
    text = lang.text([1, 2, 3]) + world.EOS
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert tok.unk_token_id not in ids and ids[-1] == tok.eos_token_id
    assert tok.pad_token_id != tok.eos_token_id


def _permuted_tokenizer(words):
    """Same words, other ids, other special-token strings: a genuinely different tokenizer."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<pad>", "<unk>", *reversed(words), "</s>"])}
    t = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=t, pad_token="<pad>", unk_token="<unk>", eos_token="</s>")


def test_rm_with_its_own_tokenizer(tmp_path, tok, lang):
    """Scoring re-tokenizes text with the RM's tokenizer and appends *its* EOS string."""
    rm_tok = _permuted_tokenizer(lang.words)
    torch.manual_seed(0)
    model = build_gold(rm_tok, ARCH, 32, 0.2, seed=0)
    model.save_pretrained(tmp_path / "rm")
    rm_tok.save_pretrained(tmp_path / "rm")
    rm = RewardModel.load(str(tmp_path / "rm"), batch_size=2)
    prompts = [lang.text([1, 2]) + " ", lang.text([3]) + " ", lang.text([4, 5, 6]) + " "]
    responses = [lang.text([7, 8, 9]), lang.text([10]), lang.text([11, 12])]
    got = rm.raw_scores(prompts, responses)
    for p, r, g in zip(prompts, responses, got):
        ids = torch.tensor([rm_tok(p + r + "</s>")["input_ids"]])
        assert rm_tok.unk_token_id not in ids
        with torch.no_grad():
            assert g == pytest.approx(model(ids).logits[0, 0].item(), abs=1e-5)
        wrong = torch.tensor([tok(p + r + world.EOS)["input_ids"]])
        with torch.no_grad():  # the policy's ids would give another score: the test can fail
            assert abs(g - model(wrong).logits[0, 0].item()) > 1e-6


def test_normalization_round_trip(tmp_path):
    raw = np.random.default_rng(0).normal(3.0, 2.5, 1000)
    n = Normalization.fit(raw)
    z = n.apply(raw)
    assert z.mean() == pytest.approx(0, abs=1e-12) and z.std(ddof=1) == pytest.approx(1)
    n.save(tmp_path / "n.json", params=7)
    assert Normalization.load(tmp_path / "n.json") == n
    with pytest.raises(ValueError, match="constant"):
        Normalization.fit(np.ones(10))


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory, tok):
    from transformers import GPT2LMHeadModel

    d = tmp_path_factory.mktemp("policy")
    torch.manual_seed(0)
    GPT2LMHeadModel(gpt2_config(len(tok), 32, ARCH, tok)).save_pretrained(d)
    tok.save_pretrained(d)
    return str(d)


def test_sampling_is_seeded_and_respects_length(policy_dir, lang):
    pol, t = load_policy(policy_dir)
    prompts = [lang.text([1, 2, 3]) + " ", lang.text([4, 5]) + " "]
    a = sample_responses(pol, t, prompts, 5, 6, batch_size=4, seed=3, progress=None)
    b = sample_responses(pol, t, prompts, 5, 6, batch_size=4, seed=3, progress=None)
    assert a.equals(b) and len(a) == 10
    assert sorted(a.groupby("prompt_idx").size()) == [5, 5]
    assert (a["length"] <= 6).all() and "[EOS]" not in "".join(a.response)
    lens = a.response.str.split().str.len().fillna(0)
    assert (lens == a["length"]).all()


def test_hard_labels_follow_gold_and_flips_flip():
    rng = np.random.default_rng(0)
    ga, gb = rng.normal(size=20_000), rng.normal(size=20_000)
    win, flipped = labels.assign_labels(ga, gb, "hard", 0.0, rng)
    assert (win == (ga > gb)).all() and not flipped.any()
    win, flipped = labels.assign_labels(ga, gb, "hard", 0.25, rng)
    assert flipped.mean() == pytest.approx(0.25, abs=0.01)
    assert (win == ((ga > gb) ^ flipped)).all()


def test_bt_labels_match_sigmoid():
    rng = np.random.default_rng(1)
    ga, gb = np.full(40_000, 1.0), np.zeros(40_000)
    win, _ = labels.assign_labels(ga, gb, "bt", 0.0, rng)
    assert win.mean() == pytest.approx(1 / (1 + np.exp(-1)), abs=0.01)
    with pytest.raises(ValueError, match="label mode"):
        labels.assign_labels(ga, gb, "soft", 0.0, rng)
