"""The ``pfr`` proxy objective (prompt-free prioritized RM training, STUDY.md section 3.6):
the training-time prompt-free-gap estimator and weights, a real run beside ``bt``, and the
controlled check: a response-only artefact that predicts the label in training only."""
import numpy as np
import pandas as pd
import pytest
import torch

from overopt import settings
from overopt.metrics.prompt_free import prompt_free_gaps, prompt_free_gaps_torch
from overopt.models import RewardModel
from overopt.train import pfr as pfr_train
from overopt.train import rms
from overopt.world import language as world
from overopt.world.gold import build_gold

GOLD_ARCH = {"n_embd": 96, "n_layer": 4, "n_head": 4}  # the default study's gold RM
PROXY = {"name": "s", "arch": {"n_embd": 16, "n_layer": 1, "n_head": 2}}
N_POS, N_TRAIN, N_HELDOUT = 26, 2000, 400
MARK = " MARK"  # not a word of the language: one [UNK] token, on no response of the world
MARK_CHOSEN, MARK_REJECTED = 0.6, 0.2  # MARK appended to a training response, by side: predicts the label
HP = {"learning_rate": 1e-3, "per_device_train_batch_size": 32, "num_train_epochs": 2, "logging_steps": 1000}
PFR = {"prompts": 4, "tau": 1.0}  # the schema's defaults of proxy.pfr
METRICS = ("params", "train_loss", "steps", "val_loss", "val_accuracy", "gold_accuracy", "n_heldout")


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One torch thread: as fast for these tiny models, and several times faster than two on a
    shared two-core machine."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _pairs(lang, gold, rng, n, split):
    rows = []
    for _ in range(n):
        topic = int(rng.integers(lang.topics - 1))
        p = lang.prompt(rng, topic, 8)
        rows.append({"prompt": world.prompt_text(lang, p), "a": lang.text(lang.response(rng, topic, p, 16)),
                     "b": lang.text(lang.response(rng, topic, p, 16))})
    df = pd.DataFrame(rows)
    ga, gb = gold.raw_scores(df["prompt"].tolist(), df["a"].tolist()), gold.raw_scores(df["prompt"].tolist(),
                                                                                       df["b"].tolist())
    a_wins = ga >= gb
    return pd.DataFrame({"split": split, "prompt_id": [f"{split}-{i}" for i in range(n)], "prompt": df["prompt"],
                         "chosen": np.where(a_wins, df["a"], df["b"]),
                         "rejected": np.where(a_wins, df["b"], df["a"]), "gold_chosen": np.maximum(ga, gb),
                         "gold_rejected": np.minimum(ga, gb)})


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    """The default study's world at test size (responses drawn from the language itself rather
    than from a trained pi_init), labeled by a random-init gold RM; plus a copy whose training
    responses carry MARK, more often on the chosen side (none in held-out)."""
    d = tmp_path_factory.mktemp("pfrworld")
    lang = world.Language.make(60, 5, 6, 0.08, seed=0)
    tok = world.make_tokenizer(lang.words)
    tok.save_pretrained(d / "tok")
    gold = RewardModel(build_gold(tok, GOLD_ARCH, N_POS, 0.12, seed=1), tok)
    rng = np.random.default_rng(0)
    pairs = pd.concat([_pairs(lang, gold, rng, N_TRAIN, "train"), _pairs(lang, gold, rng, N_HELDOUT, "heldout")])
    pairs.to_csv(d / "pairs.csv", index=False)
    marked = pairs.copy()
    train = (marked["split"] == "train").to_numpy()
    for side, rate in (("chosen", MARK_CHOSEN), ("rejected", MARK_REJECTED)):
        on = train & (rng.random(len(marked)) < rate)
        marked.loc[on, side] = marked.loc[on, side] + MARK
    marked.to_csv(d / "marked.csv", index=False)
    return d


def _train(d, csv, objective, out, data_size=N_TRAIN, seed=0, pfr=None, **hp):
    s = settings.Proxy(id=f"{out}-{objective}", size=PROXY, data_size=data_size, objective=objective, seed=seed,
                       family="grid", flip=0.0, cue=None, onpolicy=1.0, train={**HP, **hp}, tokenizer=str(d / "tok"), n_positions=N_POS,
                       labels={"mode": "hard", "flip_rate": 0.0},
                       pfr={**PFR, **(pfr or {})} if objective == "pfr" else None, trust_remote_code=False, dtype="auto")
    return rms.train_proxy(s, str(d / csv), str(d / out))


def test_estimator_known_answers_and_detached_decreasing_weights():
    g = torch.tensor([[1.3], [-2.0], [0.0]])
    assert torch.allclose(prompt_free_gaps_torch(g), g[:, 0])  # M = 1: the gap itself
    sym = torch.tensor([[0.0, 2.0, 1.0], [-4.0, 6.0, 1.0], [3.0, 3.0, 3.0]])
    assert torch.allclose(prompt_free_gaps_torch(sym), sym.mean(-1), atol=1e-6)  # symmetric: the centre
    g = torch.tensor([[0.0, 0.0, 10.0, 1.0], [-3.0, 1.0, 2.0, 7.0]])
    c = prompt_free_gaps_torch(g)
    assert torch.allclose(torch.sigmoid(g - c[:, None]).mean(-1), torch.tensor(0.5), atol=1e-6)
    c_imp = prompt_free_gaps_torch(torch.tensor([[0.0, 4.0]]), torch.tensor([3.0, 1.0]))  # weighted
    assert torch.sigmoid(-c_imp) * 0.75 + torch.sigmoid(4 - c_imp) * 0.25 == pytest.approx(0.5, abs=1e-6)

    c = torch.tensor([-2.0, -0.5, 0.0, 1.0, 3.0], requires_grad=True)
    w = pfr_train.pfr_weights(c * 1, tau=1.0)
    assert not w.requires_grad and w.grad_fn is None
    assert float(w.mean()) == pytest.approx(1.0) and bool((w.diff() < 0).all())
    assert torch.allclose(w, 5 * torch.softmax(-c.detach(), 0))


@pytest.mark.parametrize("seed", range(3))
def test_numpy_and_torch_prompt_free_gaps_agree(seed):
    """The evaluation-time (numpy) and training-time (torch) solvers are one estimator."""
    rng = np.random.default_rng(seed)
    g = rng.normal(0, 3, size=(200, 5))
    g[:10] = g[:10, :1]  # equal gaps: c = g
    shared, per_pair = rng.uniform(0.1, 2, 5), rng.uniform(0.1, 2, (200, 5))
    for w in (None, shared, per_pair):
        want = prompt_free_gaps(g, w)
        got = prompt_free_gaps_torch(torch.tensor(g), None if w is None else torch.tensor(w))
        np.testing.assert_allclose(got.numpy(), want, rtol=0, atol=1e-9)


def test_swap_prompts_splices_tokens():
    # two pairs, prompts [1,2,3] and [4]; chosen rows 0-1, rejected rows 2-3, right-padded with 0
    ids = torch.tensor([[1, 2, 3, 10, 0], [4, 20, 21, 0, 0], [1, 2, 3, 12, 13], [4, 22, 0, 0, 0]])
    swapped, mask = pfr_train.swap_prompts(ids, (ids != 0).long(), torch.tensor([3, 1]), 1, 0)
    assert swapped.tolist() == [[4, 10, 0, 0, 0], [1, 2, 3, 20, 21], [4, 12, 13, 0, 0], [1, 2, 3, 22, 0]]
    assert mask.tolist() == (swapped != 0).long().tolist()


def test_pfr_trains_and_reports_like_bt(tiny_world):
    bt = _train(tiny_world, "pairs.csv", "bt", "bt_small", data_size=200, num_train_epochs=1)
    pfr = _train(tiny_world, "pairs.csv", "pfr", "pfr_small", data_size=200, num_train_epochs=1, pfr={"prompts": 3})
    assert set(pfr) == set(bt) and pfr["steps"] == bt["steps"] and pfr["params"] == bt["params"]
    assert pfr["train_loss"] != bt["train_loss"]  # the weights are applied
    assert all(np.isfinite(pfr[k]) for k in METRICS)
    assert (pfr["kind"], pfr["objective"], pfr["data_size"]) == ("proxy", "pfr", 200)  # the identity row
    assert (tiny_world / "pfr_small" / "model.safetensors").exists()
    with pytest.raises(ValueError, match="'dpo'"):
        _train(tiny_world, "pairs.csv", "dpo", "never")


def _mark_effect(model_dir, heldout):
    """Mean score change from appending MARK to a held-out response, in SDs of the clean scores."""
    rm = RewardModel.load(str(model_dir))
    p, rs = heldout["prompt"].tolist() * 2, heldout["chosen"].tolist() + heldout["rejected"].tolist()
    clean, marked = rm.raw_scores(p, rs), rm.raw_scores(p, [r + MARK for r in rs])
    return float(np.mean(marked - clean) / np.std(clean))


def test_pfr_relies_less_on_a_response_only_artefact(tiny_world):
    """MARK predicts the label in training only. Measured (this world, seeds 0-2, 4 epochs):
    MARK's held-out effect in SDs of the clean scores, bt 2.47 / 2.08 / 2.15, pfr at tau = 0.3
    1.45 / 1.54 / 1.53 (at the default tau = 1: 1.69 / 1.96 / 1.82; with 2 epochs the gap nearly
    vanishes). tau = 0.3 because these RMs' gaps are small (mean |gap| about 0.8)."""
    d = tiny_world
    hp = {"num_train_epochs": 4, "learning_rate": 3e-3}
    bt = _train(d, "marked.csv", "bt", "bt_mark", **hp)
    pfr = _train(d, "marked.csv", "pfr", "pfr_mark", pfr={"tau": 0.3}, **hp)
    heldout = pd.read_csv(d / "marked.csv", keep_default_na=False).query("split == 'heldout'")
    effect_bt, effect_pfr = _mark_effect(d / "bt_mark", heldout), _mark_effect(d / "pfr_mark", heldout)
    print(f"MARK effect (SD): bt {effect_bt:.3f} pfr {effect_pfr:.3f}; "
          f"gold accuracy bt {bt['gold_accuracy']:.3f} pfr {pfr['gold_accuracy']:.3f}")
    assert effect_bt > 1.0  # bt learned the artefact
    assert effect_pfr < effect_bt - 0.3

    # the mechanism: under the bt RM (which uses MARK), a pair with MARK on its chosen side only
    # gets a small pfr weight, one with MARK on its rejected side only a large one
    from datasets import Dataset
    from trl import RewardConfig

    from overopt import runtime

    rm = RewardModel.load(str(d / "bt_mark"))
    train = pd.read_csv(d / "marked.csv", keep_default_na=False).query("split == 'train'")
    data = Dataset.from_pandas(train[["prompt", "chosen", "rejected"]].head(512), preserve_index=False)
    args = runtime.trainer_args(RewardConfig, str(d / "unused"), 0, {"per_device_train_batch_size": 32},
                                max_length=None)
    trainer = pfr_train.pfr_trainer_class()(model=rm.model, args=args, train_dataset=data,
                                            processing_class=rm.tokenizer, pfr_prompts=PFR["prompts"],
                                            pfr_tau=PFR["tau"])
    weights = {"chosen": [], "rejected": [], "neither": []}
    for batch in trainer.get_train_dataloader():
        _, w = trainer.prompt_free_weights(rm.model, batch, batch["prompt_len"])
        mark = (batch["input_ids"] == rm.tokenizer.unk_token_id).any(-1).view(2, -1)
        for side, sel in (("chosen", mark[0] & ~mark[1]), ("rejected", mark[1] & ~mark[0]),
                          ("neither", ~mark[0] & ~mark[1])):
            weights[side] += w[sel].tolist()
    mean = {k: float(np.mean(v)) for k, v in weights.items()}
    print("mean pfr weight by MARK side:", mean)
    assert mean["chosen"] < 1.0 < mean["rejected"] and mean["chosen"] < mean["neither"] < mean["rejected"]
