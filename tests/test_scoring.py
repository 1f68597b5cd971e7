"""RewardModel.raw_scores batches texts its own way (distinct texts once, sorted by length,
a shared prefix's key/value cache for causal RMs, a Python word-level tokenizer for the
embedded world's): its scores must equal scoring each text alone, in input order."""
import numpy as np
import pytest
import torch

from overopt.models import RewardModel, gpt2_config
from overopt.scoring import PREFIX_CACHED, fast_gelu
from overopt.world import language as world
from overopt.world.gold import build_gold

ARCH = {"n_embd": 16, "n_layer": 2, "n_head": 2}
N_POS = 64


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: as fast for these tiny models, and several times faster than two on a
    shared two-core machine (as in test_pfr.py)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def lang():
    return world.Language.make(vocab_size=20, topics=3, branching=4, stop_max=0.1, seed=0)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory, lang):
    d = tmp_path_factory.mktemp("rm")
    tok = world.make_tokenizer(lang.words)
    build_gold(tok, ARCH, N_POS, 0.3, seed=0).save_pretrained(d)
    tok.save_pretrained(d)
    return str(d)


def _pairs(lang, seed=0):
    """Prompts with many responses (shared prefixes), duplicates, empty responses, a lone
    prompt, texts of 1 to ~40 tokens, special tokens and unknown words inside responses;
    shuffled so that input order is not length order."""
    rng = np.random.default_rng(seed)
    prompts, responses = [], []
    for n_words, n in [(1, 6), (3, 9), (8, 12), (20, 5)]:
        ids = lang.prompt(rng, 0, n_words)
        p = world.prompt_text(lang, ids)
        for _ in range(n):
            prompts.append(p)
            responses.append(lang.text(lang.response(rng, 0, ids, int(rng.integers(0, 16)))))
        prompts += [p, p]
        responses += ["", responses[-1]]  # an empty response and a duplicate
    prompts += ["w00 w01 ", "w02 ", "w03 w04 "]
    responses += ["zzz w05", "w06 [EOS] w07", "w08\tw09\n"]  # unknown word, EOS inside, other whitespace
    order = rng.permutation(len(prompts))
    return [prompts[i] for i in order], [responses[i] for i in order]


def _alone(model, tok, texts):
    """The plain reference: each text alone, unpadded, as the tokenizer encodes it."""
    with torch.inference_mode():
        return np.array([model(**tok(t, return_tensors="pt")).logits[0, 0].item() for t in texts])


def test_gpt2_scores_equal_scoring_each_text_alone(gpt2_dir, lang):
    rm = RewardModel.load(gpt2_dir, batch_size=3)  # small batches: many batches, several cache chunks
    prompts, responses = _pairs(lang)
    texts = rm.texts(prompts, responses)
    assert len(set(texts)) < len(texts) and all(t.endswith(world.EOS) for t in texts)
    got = rm.raw_scores(prompts, responses, progress="test scores")
    assert got.dtype == np.float64 and got.shape == (len(texts),)
    np.testing.assert_allclose(got, _alone(rm.model, rm.tokenizer, texts), atol=1e-5, rtol=0)
    # the fast paths ran: a shared prefix for the prompts with many responses, Python word-level ids
    tokens = rm._encode(list(dict.fromkeys(texts)))
    prefix, _ = rm._shared_prefixes(tokens, [prompts[texts.index(t)] for t in dict.fromkeys(texts)])
    assert (prefix > 0).sum() > len(texts) // 2 and (prefix == 0).any()
    assert rm._word_spec[1] is not None
    # the GELU swap is undone
    assert {type(m).__name__ for m in rm.model.modules()} >= {"GELUTanh"}


def test_positions_stay_within_the_model_context(lang):
    """Texts sharing prefixes of different lengths in one batch, the longest text exactly as
    long as the model's context: padded positions must stay valid too."""
    tok = world.make_tokenizer(lang.words)
    prompts, responses = _pairs(lang, seed=6)
    prompts += ["w01 w02 w03 w04 w05 w06 w07 w08 w09 w10 "] * 2
    responses += ["w11", "w11 w12"]  # a long shared prefix, short rests
    longest = max(len(ids) for ids in tok([p + r + world.EOS for p, r in zip(prompts, responses)])["input_ids"])
    rm = RewardModel(build_gold(tok, ARCH, longest, 0.3, seed=3), tok, batch_size=8)
    texts = rm.texts(prompts, responses)
    np.testing.assert_allclose(rm.raw_scores(prompts, responses), _alone(rm.model, tok, texts), atol=1e-5, rtol=0)


def test_batch_size_padding_side_and_order_do_not_change_scores(gpt2_dir, lang):
    prompts, responses = _pairs(lang, seed=1)
    ref = RewardModel.load(gpt2_dir, batch_size=1000).raw_scores(prompts, responses)
    rm = RewardModel.load(gpt2_dir, batch_size=1)
    rm.tokenizer.padding_side = "left"  # e.g. a tokenizer shared with sampling: batches still pad right
    np.testing.assert_allclose(rm.raw_scores(prompts, responses), ref, atol=1e-5, rtol=0)
    rev = rm.raw_scores(prompts[::-1], responses[::-1])
    np.testing.assert_allclose(rev[::-1], ref, atol=1e-5, rtol=0)
    one = rm.raw_scores(prompts[:1], responses[:1])
    assert one[0] == pytest.approx(ref[0], abs=1e-5)
    assert rm.raw_scores([], []).shape == (0,)


def test_pad_token_inside_a_text_turns_prefix_sharing_off(gpt2_dir, lang):
    """HF reads the last non-pad token: a literal pad token in a text must be read as the
    plain loop reads it, so such texts are scored in full."""
    rm = RewardModel.load(gpt2_dir, batch_size=4)
    prompts = ["w01 w02 "] * 4 + ["w03 "]
    responses = ["w04", "w05 [PAD]", "[PAD]", "", "w06"]
    texts = rm.texts(prompts, responses)
    np.testing.assert_allclose(rm.raw_scores(prompts, responses), _alone(rm.model, rm.tokenizer, texts), atol=1e-5)
    prefix, _ = rm._shared_prefixes(rm._encode(texts), prompts)
    assert (prefix == 0).all()


def test_other_special_tokens_and_training_mode(lang):
    """Another word-level tokenizer (other ids, ``<pad>``/``</s>``): its EOS is appended and
    read; a model in training mode is scored in full (no prefix cache), to the same scores."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(["<unk>", *reversed(lang.words), "</s>", "<pad>"])}
    t = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    t.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok = PreTrainedTokenizerFast(tokenizer_object=t, pad_token="<pad>", unk_token="<unk>", eos_token="</s>")
    rm = RewardModel(build_gold(tok, ARCH, N_POS, 0.3, seed=2), tok, batch_size=4)
    prompts, responses = _pairs(lang, seed=5)
    texts = rm.texts(prompts, responses)
    assert texts[0].endswith("</s>")
    ref = _alone(rm.model, tok, texts)
    np.testing.assert_allclose(rm.raw_scores(prompts, responses), ref, atol=1e-5, rtol=0)
    assert rm._word_spec[1] is not None
    rm.model.train()  # dropout is 0 in gpt2_config
    np.testing.assert_allclose(rm.raw_scores(prompts, responses), ref, atol=1e-5, rtol=0)
    distinct = list(dict.fromkeys(texts))
    assert (rm._shared_prefixes(rm._encode(distinct), [prompts[texts.index(t)] for t in distinct])[0] == 0).all()


def test_word_level_ids_equal_the_tokenizer(gpt2_dir, lang):
    rm = RewardModel.load(gpt2_dir)
    prompts, responses = _pairs(lang, seed=2)
    texts = rm.texts(prompts, responses) + ["[EOS][PAD]w01[UNK]x", " ", "", "w01  w02\r\nw03\x0bw04\x0cw05"]
    tokens = rm._encode(texts)
    ids = np.split(tokens.flat["input_ids"], np.cumsum(tokens.lengths)[:-1])
    assert rm._word_spec[1] is not None
    assert [x.tolist() for x in ids] == rm.tokenizer(texts)["input_ids"]
    # text the Python path does not cover goes to the tokenizer (same ids)
    odd = ["w01\x1fw02[EOS]", "w01 \u00e9 w02[EOS]", "w01\u2003w02[EOS]"]
    tokens = rm._encode(odd)
    assert tokens.flat["input_ids"].tolist() == [i for ids in rm.tokenizer(odd)["input_ids"] for i in ids]


def test_fast_gelu_is_gelu_new():
    from transformers.activations import GELUTanh, NewGELUActivation

    from overopt.scoring import gelu_module

    x = torch.linspace(-12, 12, 20001)
    ref = NewGELUActivation()(x)
    for device in ("cpu", "cuda"):  # the module for a device, computed here on the CPU
        assert (gelu_module(device)(x) - ref).abs().max() < 1e-6
    assert (GELUTanh()(x) - ref).abs().max() < 1e-6  # the world's GPT-2s' activation (gpt2_config)
    model = build_gold(world.make_tokenizer(["w00"]), ARCH, 8, 0.3, seed=0)
    assert sum(type(m) is GELUTanh for m in model.modules()) == ARCH["n_layer"]
    model.transformer.h[0].mlp.act = NewGELUActivation()  # a hub GPT-2's activation is swapped too
    with fast_gelu(model):
        assert not any(type(m) in (GELUTanh, NewGELUActivation) for m in model.modules())
    assert [type(b.mlp.act) for b in model.transformer.h] == [NewGELUActivation] + [GELUTanh] * (ARCH["n_layer"] - 1)


def _causal_rm(kind: str, tok):
    """Tiny random sequence classifiers of the causal families that share prefix caches."""
    import transformers as tf

    common = {"vocab_size": len(tok), "num_labels": 1, "pad_token_id": tok.pad_token_id,
              "eos_token_id": tok.eos_token_id, "bos_token_id": tok.eos_token_id}
    small = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
             "max_position_embeddings": N_POS}
    if kind == "gpt2":
        cfg = gpt2_config(len(tok), N_POS, ARCH, tok, num_labels=1, initializer_range=0.3)
        cls = tf.GPT2ForSequenceClassification
    elif kind == "gpt_neox":
        cfg, cls = tf.GPTNeoXConfig(**small, **common, rotary_pct=0.5), tf.GPTNeoXForSequenceClassification
    elif kind == "llama":
        cfg, cls = tf.LlamaConfig(**small, **common, num_key_value_heads=1), tf.LlamaForSequenceClassification
    elif kind == "qwen2":
        cfg, cls = tf.Qwen2Config(**small, **common, num_key_value_heads=1), tf.Qwen2ForSequenceClassification
    elif kind == "qwen3":
        cfg, cls = tf.Qwen3Config(**small, **common, num_key_value_heads=1, head_dim=8), tf.Qwen3ForSequenceClassification
    torch.manual_seed(0)
    model = cls(cfg).eval()
    with torch.no_grad():  # random weights large enough that scores differ by text
        for p in model.parameters():
            p.mul_(5.0 if p.dim() > 1 else 1.0)
    return model


@pytest.mark.parametrize("kind", PREFIX_CACHED)
def test_prefix_cached_families_equal_scoring_alone(kind, lang):
    tok = world.make_tokenizer(lang.words)
    rm = RewardModel(_causal_rm(kind, tok), tok, batch_size=4)
    prompts, responses = _pairs(lang, seed=3)
    texts = rm.texts(prompts, responses)
    got = rm.raw_scores(prompts, responses)
    ref = _alone(rm.model, tok, texts)
    assert np.std(ref) > 1e-3
    distinct = list(dict.fromkeys(texts))
    prefix, _ = rm._shared_prefixes(rm._encode(distinct), [prompts[texts.index(t)] for t in distinct])
    assert (prefix > 0).any()
    np.testing.assert_allclose(got, ref, atol=1e-5, rtol=0)


def test_bert_rm_equals_scoring_alone(tmp_path, lang):
    """A BERT-style RM: no EOS appended, [CLS]/[SEP] and token_type_ids as its tokenizer adds
    them, no prefix sharing (bidirectional)."""
    from transformers import (
        BertConfig,
        BertForSequenceClassification,
        BertTokenizerFast,
    )

    (tmp_path / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *lang.words]))
    BertTokenizerFast(vocab=str(tmp_path / "vocab.txt"), do_lower_case=False).save_pretrained(tmp_path)
    torch.manual_seed(0)
    BertForSequenceClassification(BertConfig(
        vocab_size=len(lang.words) + 5, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
        num_attention_heads=2, num_labels=1, max_position_embeddings=N_POS)).save_pretrained(tmp_path)
    rm = RewardModel.load(str(tmp_path), batch_size=5)
    prompts, responses = _pairs(lang, seed=4)
    texts = rm.texts(prompts, responses)
    assert texts == [p + r for p, r in zip(prompts, responses)]
    enc = rm.tokenizer(texts[:1])
    assert "token_type_ids" in enc and enc["input_ids"][0][0] == rm.tokenizer.cls_token_id
    np.testing.assert_allclose(rm.raw_scores(prompts, responses), _alone(rm.model, rm.tokenizer, texts),
                               atol=1e-5, rtol=0)
