"""RM evaluation estimators on constructed cases with known answers (STUDY.md 3.4-3.6)."""
from itertools import permutations

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from scipy.special import expit

from overopt.metrics import accuracy as A
from overopt.metrics import correlate as C
from overopt.metrics import prompt_free as PF
from overopt.metrics import ranking as R
from overopt.metrics import variance as V
from overopt.metrics.bon import best_of_n

# ----------------------------------------------------------------------------- reward variance


def test_reward_variance_hand_and_loop():
    s = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [-1.0, 3.0, 1.0]])
    # per-prompt unbiased variances: 1, 0, 4 -> mean 5/3
    assert V.reward_variance(s) == pytest.approx(5 / 3, abs=1e-12)
    x = np.random.default_rng(0).normal(size=(50, 10))
    assert V.reward_variance(x) == pytest.approx(np.mean([np.var(r, ddof=1) for r in x]), abs=1e-12)


def test_reward_variance_scales_quadratically_and_rejects_k1():
    x = np.random.default_rng(1).normal(size=(20, 4))
    assert V.reward_variance(1e-3 * x) == pytest.approx(1e-6 * V.reward_variance(x))
    with pytest.raises(ValueError):
        V.reward_variance(np.ones((5, 1)))


# ----------------------------------------------------------------------------- prompt-free gap


def residual(gaps, c, w=None):
    w = np.full(len(gaps), 1 / len(gaps)) if w is None else np.asarray(w) / np.sum(w)
    return float(np.dot(w, expit(np.asarray(gaps) - c)) - 0.5)


def test_prompt_free_gap_single_prompt_and_equal_gaps():
    assert PF.prompt_free_gap([1.7]) == 1.7
    assert PF.prompt_free_gap([-0.3, -0.3, -0.3]) == -0.3


def test_prompt_free_gap_symmetric_gaps_give_centre():
    assert PF.prompt_free_gap([0.5 - 2, 0.5 + 2]) == pytest.approx(0.5, abs=1e-12)
    assert PF.prompt_free_gap(2.0 + np.array([-5.0, -1.0, 0.0, 1.0, 5.0])) == pytest.approx(2.0, abs=1e-12)


def test_prompt_free_gap_weights_shift_and_root_is_exact():
    g = np.array([-1.0, 3.0])
    c_uniform = PF.prompt_free_gap(g)
    c_heavy_hi = PF.prompt_free_gap(g, weights=[1.0, 3.0])
    assert c_uniform == pytest.approx(1.0, abs=1e-12)
    assert c_heavy_hi > c_uniform
    assert PF.prompt_free_gap(g, weights=[0.0, 1.0]) == 3.0  # zero weight drops a prompt
    rng = np.random.default_rng(2)
    for _ in range(30):
        gaps, w = rng.normal(0, 3, rng.integers(1, 12)), rng.random(12)
        w = w[: gaps.size]
        c = PF.prompt_free_gap(gaps, w)
        assert abs(residual(gaps, c, w)) < 1e-10
        assert PF.prompt_free_gap(-gaps, w) == pytest.approx(-c, abs=1e-10)  # pair order immaterial


def test_prompt_free_gaps_vectorized_matches_scalar():
    rng = np.random.default_rng(3)
    G = rng.normal(0, 2, (200, 7)) + rng.normal(0, 5, (200, 1))
    G[0] = 0.0
    W = rng.random((200, 7))
    c = PF.prompt_free_gaps(G, W)
    ref = np.array([PF.prompt_free_gap(g, w) for g, w in zip(G, W)])
    np.testing.assert_allclose(c, ref, atol=1e-12)
    assert max(abs(residual(g, ci, w)) for g, ci, w in zip(G, c, W)) < 1e-10
    np.testing.assert_allclose(PF.prompt_free_gaps(G[:, :1]), G[:, 0])


def test_prompt_free_share_and_decomposition():
    rng = np.random.default_rng(4)
    n, M = 400, 16
    r2 = rng.normal(0, 1, n)  # prompt-free gap of each pair
    g_true = r2 + rng.normal(0, 1, n)  # plus a prompt-related part under the true prompt
    swapped = r2[:, None] + rng.normal(0, 1, (n, M))  # symmetric prompt-related noise under others
    d = PF.prompt_decomposition(g_true, swapped)
    assert list(d.columns) == ["gap", "prompt_free", "prompt_related", "swapped_mean"]
    np.testing.assert_allclose(d["gap"] - d["prompt_free"], d["prompt_related"])
    share = PF.prompt_free_share(d["gap"], d["prompt_free"])
    assert 0.3 < share < 0.65  # about Var(r2) / Var(g) = 1/2, less the estimation noise in c
    assert PF.prompt_free_share(r2, r2) == 1.0
    flipped = np.where(rng.random(n) < 0.5, -1, 1)  # swapping pair order leaves the share unchanged
    assert PF.prompt_free_share(flipped * d["gap"], flipped * d["prompt_free"]) == pytest.approx(share)
    diag = PF.prompt_free_diagnostics(g_true, swapped, gold_gap=r2)
    assert diag["prompt_free_share"] == pytest.approx(share)
    assert diag["accuracy_prompt_free"] > diag["accuracy_swapped"] - 0.05
    assert diag["n_pairs"] == n


# ----------------------------------------------------------------------------- accuracy variants


def test_pairwise_accuracy_ties():
    proxy = np.array([1.0, -2.0, 0.0, 3.0, 1.0])
    gold = np.array([2.0, 1.0, 5.0, 0.0, -1.0])
    # correct, wrong, proxy tie (1/2), gold tie (excluded), wrong -> 1.5 / 4
    np.testing.assert_array_equal(A.pair_scores(proxy, gold), [1.0, 0.0, 0.5, np.nan, 0.0])
    assert A.pairwise_accuracy(proxy, gold) == pytest.approx(1.5 / 4)
    assert np.isnan(A.pairwise_accuracy([1.0], [0.0]))
    assert A.pairwise_accuracy([0.3, -0.1], [1, -1]) == 1.0  # labels as +-1 gaps


def test_rank_gap_accuracy_best_worst_adjacent():
    gold = np.array([[0.0, 1.0, 2.0, 3.0]])
    proxy = np.array([[0.0, 2.0, 1.0, 3.0]])  # one adjacent swap (ranks 2, 3)
    t = A.accuracy_by_rank_gap(proxy, gold)
    assert t["rank_gap"].tolist() == [1, 2, 3] and t["n_pairs"].tolist() == [3, 2, 1]
    assert t["accuracy"].tolist() == pytest.approx([2 / 3, 1.0, 1.0])
    assert A.rank_pair_accuracy(proxy, gold, "best_worst") == 1.0
    assert A.rank_pair_accuracy(proxy, gold, "adjacent") == pytest.approx(2 / 3)
    assert A.rank_pair_accuracy(proxy, gold, "all") == pytest.approx(5 / 6)
    with pytest.raises(ValueError):
        A.rank_pair_accuracy(proxy, gold, "median")


def test_budget_pairs_exact_budget_and_deterministic():
    for design in ("all_pairs", "distinct"):
        pr, i, j = A.budget_pairs(100, 5, 37, design, seed=7)
        assert pr.size == i.size == j.size == 37 and (i != j).all()
        pr2, i2, j2 = A.budget_pairs(100, 5, 37, design, seed=7)
        assert (pr == pr2).all() and (i == i2).all() and (j == j2).all()
    pr, i, j = A.budget_pairs(100, 5, 37, "all_pairs", seed=7)
    assert np.unique(pr).size == 4  # 3 full prompts of C(5,2) = 10 pairs, plus 7 pairs of a 4th
    assert len(set(zip(pr, i, j))) == 37
    pr, _, _ = A.budget_pairs(100, 5, 37, "distinct", seed=7)
    assert np.unique(pr).size == 37
    with pytest.raises(ValueError):
        A.budget_pairs(10, 5, 11, "distinct")


def test_budget_accuracy_perfect_proxy_and_keys():
    gold = np.random.default_rng(5).normal(size=(60, 6))
    out = A.budget_accuracy(gold * 2 + 1, gold, budget=45, k=6, seed=1)
    assert out["all_pairs"] == 1.0 and out["distinct"] == 1.0
    assert out["prompts_all_pairs"] == 3 and out["prompts_distinct"] == 45


def test_rank_bin_grid_matches_brute_force():
    """Every pair of one prompt's k responses counted once, in the cell of its two gold-rank bins."""
    rng = np.random.default_rng(8)
    gold, proxy = rng.normal(size=(7, 6)), rng.normal(size=(7, 6))
    proxy[0, :2] = proxy[0, 2]  # proxy ties score 1/2
    t = A.rank_bin_accuracy(proxy, gold, 3).set_index(["bin_chosen", "bin_rejected"])
    cells = {}
    for p, g in zip(proxy, gold):
        rank = np.argsort(np.argsort(g, kind="stable"), kind="stable")
        for a in range(6):
            for b in range(6):
                if rank[a] > rank[b]:
                    hit = 1.0 if p[a] > p[b] else 0.5 if p[a] == p[b] else 0.0
                    cells.setdefault((rank[a] // 2 + 1, rank[b] // 2 + 1), []).append(hit)
    assert set(t.index) == set(cells) and len(t) == 6  # i >= j over 3 bins
    for cell, hits in cells.items():
        assert t.loc[cell, "accuracy"] == pytest.approx(np.mean(hits)) and t.loc[cell, "n_pairs"] == len(hits)
    assert t["n_pairs"].sum() == 7 * 15
    assert A.rank_bin_accuracy(proxy, gold, 1)["accuracy"].iloc[0] == pytest.approx(A.rank_pair_accuracy(proxy, gold))
    with pytest.raises(ValueError, match="equal bins"):
        A.rank_bin_accuracy(proxy, gold, 4)


def test_budget_sweep_is_the_all_pairs_draw_per_k():
    rng = np.random.default_rng(9)
    gold = rng.normal(size=(40, 8))
    proxy = gold + rng.normal(size=(40, 8))
    out = A.budget_sweep(proxy, gold, 30, [2, 4, 8], seed=3)
    assert list(out) == [2, 4, 8]
    for k, acc in out.items():
        assert acc == A.budget_accuracy(proxy, gold, 30, k=k, seed=3)["all_pairs"]
    assert A.budget_sweep(3 * gold, gold, 30, [2, 8]) == {2: 1.0, 8: 1.0}


def test_accuracy_vs_size_subsets():
    rng = np.random.default_rng(6)
    gold = rng.normal(size=500)
    proxy = gold + rng.normal(size=500)
    t = A.accuracy_vs_size(proxy, gold, sizes=[10, 100, 500], n_rep=5, seed=3)
    assert len(t) == 15
    full = A.pairwise_accuracy(proxy, gold)
    np.testing.assert_allclose(t.loc[t["size"] == 500, "accuracy"], full)
    again = A.accuracy_vs_size(-proxy, gold, sizes=[10], n_rep=5, seed=3)  # same subsets, mirrored proxy
    np.testing.assert_allclose(again["accuracy"], 1 - t.loc[t["size"] == 10, "accuracy"].to_numpy())


# ----------------------------------------------------------------------------- ranking metrics


def test_per_prompt_correlations_equal_scipy():
    rng = np.random.default_rng(7)
    gold = rng.normal(size=(30, 8))
    proxy = np.round(gold + rng.normal(size=(30, 8)), 1)  # ties in proxy
    proxy[0] = 1.0  # constant prompt: skipped
    for stat, fn in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        ref = np.mean([fn(p, g).statistic for p, g in zip(proxy[1:], gold[1:])])
        assert R.per_prompt_correlation(proxy, gold, stat) == pytest.approx(ref, abs=1e-12)


def test_mrr_hand_examples():
    assert R.mrr([[3.0, 2.0, 1.0]], [[1.0, 3.0, 2.0]]) == 0.5
    assert R.mrr([[3.0, 2.0, 1.0], [0.0, 1.0, 2.0]], [[3.0, 0.0, 0.0], [0.0, 0.0, 1.0]]) == 1.0
    assert R.mrr([[1.0, 1.0, 0.0]], [[0.0, 1.0, 0.0]]) == pytest.approx(0.75)  # proxy tie at the top
    assert R.mrr([[0.0, 1.0, 2.0]], [[1.0, 1.0, 0.0]]) == pytest.approx(0.5)  # gold tie: first relevant
    assert R.mrr([[1.0, 1.0, 1.0]], [[0.0, 0.0, 1.0]]) == pytest.approx((1 + 1 / 2 + 1 / 3) / 3)


def test_ndcg_hand_example_and_bounds():
    # gains from gold ranks: [0, 1, 0.5]; proxy order 0, 1, 2
    dcg = 0 + 1 / np.log2(3) + 0.5 / np.log2(4)
    idcg = 1 + 0.5 / np.log2(3)
    assert R.ndcg([[3.0, 2.0, 1.0]], [[1.0, 3.0, 2.0]]) == pytest.approx(dcg / idcg, abs=1e-12)
    assert R.ndcg([[1.0, 2.0, 3.0]], [[10.0, 20.0, 30.0]]) == pytest.approx(1.0)
    assert R.ndcg([[3.0, 2.0, 1.0]], [[1.0, 3.0, 2.0]], at=1) == 0.0
    # a fully tied proxy gets the mean discount at every position
    gain = np.array([0.0, 0.5, 1.0])
    disc = 1 / np.log2(np.arange(2, 5))
    assert R.ndcg([[0.0, 0.0, 0.0]], [[1.0, 2.0, 3.0]]) == pytest.approx(gain.sum() * disc.mean() / (gain[::-1] @ disc))


def test_mrr_ndcg_ties_equal_average_over_tie_breaks():
    """Exact: average over every ordering consistent with the proxy (all tie-breaks equally likely)."""
    rng = np.random.default_rng(14)
    disc = 1 / np.log2(np.arange(2, 7))
    for _ in range(10):
        p, g = rng.integers(0, 3, 5).astype(float), rng.integers(0, 3, 5).astype(float)
        orders = [np.array(o) for o in permutations(range(5)) if (np.diff(p[list(o)]) <= 0).all()]
        gain = (stats.rankdata(g) - 1) / 4
        rr = np.mean([1 / (np.argmax(g[o] == g.max()) + 1) for o in orders])
        nd = np.mean([gain[o] @ disc for o in orders]) / (np.sort(gain)[::-1] @ disc)
        assert R.mrr([p], [g]) == pytest.approx(rr, abs=1e-12)
        assert R.ndcg([p], [g]) == pytest.approx(nd, abs=1e-12)


def test_best_of_k_matches_bon_at_n_equals_n():
    rng = np.random.default_rng(8)
    gold = rng.normal(size=(40, 6))
    proxy = np.round(gold + rng.normal(size=(40, 6)))  # with ties
    assert R.best_of_k(proxy, gold) == pytest.approx(best_of_n(gold, proxy, [6])["gold"].iloc[0], abs=1e-12)
    assert R.best_of_k([[1.0, 1.0, 0.0]], [[2.0, 4.0, 9.0]]) == 3.0


def test_ece_calibrated_vs_miscalibrated():
    rng = np.random.default_rng(9)
    gap = rng.normal(0, 2, 100_000)
    y = (rng.random(gap.size) < expit(gap)).astype(float)
    assert R.ece(gap, y) < 0.01
    assert R.ece(5 * gap, y) > 0.1  # overconfident
    assert R.ece(gap, expit(gap)) < 1e-12  # exact probabilities as outcomes
    assert R.ece([0.0, 0.0], [1.0, 0.0]) == 0.0


def test_ece_is_of_the_rms_own_probabilities():
    """Raw gaps ln 3, ln 3, ln 9, 0 give p = 3/4, 3/4, 9/10, 1/2 (bins 7, 7, 9, 5) with
    outcomes 1, 0, 1, 1: ECE = 2/4 |1/2 - 3/4| + 1/4 |1 - 9/10| + 1/4 |1 - 1/2| = 0.275. The
    scores arrive normalized, (raw - shift) / std; ``scale`` = std restores the raw gaps."""
    raw = np.array([[np.log(3), 0.0], [np.log(3), 0.0], [np.log(9), 0.0], [0.0, 0.0]])
    gold = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0]])
    assert R.ece(raw[:, 0] - raw[:, 1], gold[:, 0] > gold[:, 1]) == pytest.approx(0.275, abs=1e-12)
    for shift, std in ((0.0, 1.0), (-0.3, 2.0), (5.0, 0.25)):
        norm = (raw - shift) / std
        assert R.ranking_ece(norm, gold, scale=std) == pytest.approx(0.275, abs=1e-12)
        assert R.ranking_metrics(norm, gold, ece_scale=std)["ece"] == pytest.approx(0.275, abs=1e-12)
    # without the scale the ECE is of sigmoid(gap / std): p = sigmoid(ln 3 / 2) = 0.634 in bin 6,
    # 3/4 in bin 7, 1/2 in bin 5
    p = expit(np.log(3) / 2)
    assert R.ranking_ece(raw / 2, gold, scale=1.0) == pytest.approx(0.5 * abs(0.5 - p) + 0.25 * 0.25 + 0.25 * 0.5)
    assert np.isnan(R.ranking_ece(raw, gold, scale=None))
    assert np.isnan(R.ranking_metrics(raw, gold, ece_scale=None)["ece"])
    for bad in (0.0, -1.0, np.inf, np.nan):
        with pytest.raises(ValueError, match="scale"):
            R.ranking_ece(raw, gold, scale=bad)


def test_ece_does_not_depend_on_the_normalization():
    rng = np.random.default_rng(11)
    gold = rng.normal(size=(200, 6))
    raw = 3.0 * gold + rng.normal(size=gold.shape) + 7.0  # nearly calibrated in its raw units
    e = R.ranking_ece(raw, gold)
    assert e < 0.05
    for std in (0.5, 3.0, 20.0):
        assert R.ranking_ece((raw - 7.0) / std, gold, scale=std) == pytest.approx(e, abs=1e-12)
    # on normalized gaps alone the ECE moves with the std (what rm_eval used to report)
    assert R.ranking_ece(raw / 20.0, gold) > e + 0.2


def _rm_eval_inputs(rng, P=12, N=8, M=2):
    from overopt.settings import RMEval

    gold = rng.normal(size=(P, N))
    pool = {"gold": gold, "p1": gold + rng.normal(0, 0.5, (P, N)), "p2": gold + rng.normal(0, 1.0, (P, N))}
    extra = {rm: {"ood": s[:, :4] + 0.1, "swapped": rng.normal(size=(P, 2, 1 + M))} for rm, s in pool.items()}
    ident = {"family": "grid", "rm_size": "xs", "params": 100, "data_size": 50, "objective": "bt", "seed": 0}
    meta = pd.DataFrame([{"rm": "gold", "kind": "gold", **ident, "family": "gold", "gold_accuracy": np.nan},
                         {"rm": "p1", "kind": "proxy", **ident, "gold_accuracy": 0.8},
                         {"rm": "p2", "kind": "proxy", **ident, "gold_accuracy": 0.7},
                         {"rm": "gold_flat", "kind": "reference", **ident, "family": "flat", "gold_accuracy": np.nan}])
    setting = {"policy": "small", "algorithm": "rloo", "kl_coef": 0.1, "rl_seed": 0}
    curves = pd.DataFrame([{"method": "rl", "rm": rm, "kind": kind, **setting, "step": step, "gold": 0.1 * step,
                            "proxy": 0.2 * step, "kl": 0.5 * step}
                           for rm, kind in (("gold", "gold"), ("p1", "proxy"), ("gold_flat", "reference"))
                           for step in (0, 1, 2)])
    refs = {"gold_flat": {"base": "gold", "transform": {"flat": 0.1}, "identity": {}}}
    s = RMEval(k=4, budget=6, rank_bins=2, budget_ks=[2, 4], test_sizes=[5], bon_n=2, rl_step=None, kl_budget=0.5, n_boot=10, level=0.95,
               setting=setting, references=refs, seed=0)
    return meta, pool, extra, curves, [f"prompt {i}" for i in range(P)], s


def test_rm_eval_table_ece_uses_each_rms_scale(tmp_path):
    from overopt.tables.rm_eval import rm_eval_table, rm_metrics, rm_scales

    meta, pool, extra, curves, prompts, s = _rm_eval_inputs(np.random.default_rng(12))
    paths = []
    for rm, std in (("gold", 1.5), ("p1", 4.0), ("p2", 0.5)):
        (tmp_path / rm).mkdir()
        (tmp_path / rm / "normalization.json").write_text(f'{{"shift": 0.2, "scale": {std}, "n": 96}}')
        paths.append(tmp_path / rm / "normalization.json")
    scales = rm_scales(paths)
    assert scales == {"gold": 1.5, "p1": 4.0, "p2": 0.5}
    ece = rm_eval_table(meta, pool, extra, curves, prompts, s, scales=scales).drop_duplicates("rm").set_index("rm")["ece"]
    for rm, std in scales.items():
        assert ece[rm] == pytest.approx(R.ranking_ece(pool[rm][:, :s.k], pool["gold"][:, :s.k], scale=std), abs=1e-12)
    assert ece["p1"] != pytest.approx(R.ranking_ece(pool["p1"][:, :s.k], pool["gold"][:, :s.k]))  # scale matters
    assert np.isnan(ece["gold_flat"])  # a transform of gold's normalized scores: no probabilities of its own
    assert ece.index.is_unique and set(ece.index) == {"gold", "p1", "p2", "gold_flat"}
    no_scale = rm_eval_table(meta, pool, extra, curves, prompts, s)  # not given: NaN, never the normalized ECE
    assert no_scale["ece"].isna().all()
    m = rm_metrics(pool["p1"], pool["gold"], extra["p1"], extra["gold"], s.k, s.budget, s.test_sizes, s.seed, 4.0)
    assert m["ece"] == pytest.approx(ece["p1"], abs=1e-12)


def test_ranking_metrics_perfect_proxy():
    gold = np.random.default_rng(10).normal(size=(25, 5))
    m = R.ranking_metrics(3 * gold, gold)
    for key in ("pearson", "spearman", "kendall", "mrr", "ndcg", "accuracy"):
        assert m[key] == pytest.approx(1.0), key
    assert m["best_of_k"] == pytest.approx(gold.max(1).mean())
    assert 0 <= m["ece"] < 1


# ----------------------------------------------------------------------------- downstream


def test_ndr_and_regressional_goodhart():
    assert A.ndr(1.5, 1.0, 2.0) == 0.5
    np.testing.assert_allclose(A.ndr([1.0, 0.5, 3.0], 1.0, 2.0), [0.0, -0.5, 2.0])
    assert np.isnan(A.ndr(1.0, 1.0, 1.0))
    assert A.regressional_goodhart(0.5) == 0.0
    assert A.regressional_goodhart(1.0) == pytest.approx(1.0)
    assert A.regressional_goodhart(0.0) == pytest.approx(-1.0)
    acc = np.linspace(0, 1, 11)
    np.testing.assert_allclose(A.accuracy_from_correlation(A.regressional_goodhart(acc)), acc, atol=1e-12)


def test_regressional_goodhart_on_gaussian_noise():
    rng = np.random.default_rng(11)
    gold = rng.normal(size=(100_000, 2))
    rho = 0.6
    proxy = rho * gold + np.sqrt(1 - rho**2) * rng.normal(size=gold.shape)
    acc = A.pairwise_accuracy(proxy[:, 0] - proxy[:, 1], gold[:, 0] - gold[:, 1])
    assert A.regressional_goodhart(acc) == pytest.approx(rho, abs=0.01)


# ----------------------------------------------------------------------------- correlations


@pytest.fixture
def proxies():
    rng = np.random.default_rng(12)
    n = 24
    acc = rng.uniform(0.6, 0.9, n)
    var = rng.uniform(0.2, 1.0, n)
    return pd.DataFrame({"method": np.repeat(["bon", "rl"], n // 2), "accuracy": acc, "variance": var,
                         "ndr": acc + rng.normal(0, 0.05, n), "gold_increase": var + acc + rng.normal(0, 0.05, n)})


def test_correlations_equal_scipy_and_cis_contain_estimate(proxies):
    c = C.correlations(proxies, ["accuracy", "variance"], ["ndr", "gold_increase"], by="method", n_boot=300)
    assert len(c) == 2 * 2 * 2 * 3
    assert list(c.columns[:4]) == ["method", "metric", "outcome", "stat"]
    for _, r in c.iterrows():
        g = proxies[proxies["method"] == r["method"]]
        fn = {"pearson": stats.pearsonr, "spearman": stats.spearmanr, "kendall": stats.kendalltau}[r["stat"]]
        res = fn(g[r["metric"]], g[r["outcome"]])
        assert r["value"] == res.statistic and r["p_value"] == res.pvalue
        assert r["ci_low"] <= r["value"] <= r["ci_high"]
        assert r["n"] == 12 and 250 < r["n_boot"] <= 300
    again = C.correlations(proxies, ["accuracy", "variance"], ["ndr", "gold_increase"], by="method", n_boot=300)
    pd.testing.assert_frame_equal(c, again)  # seeded


def test_bootstrap_statistics_match_scipy_on_resamples():
    rng = np.random.default_rng(13)
    x, y = np.round(rng.normal(size=15), 1), np.round(rng.normal(size=15), 1)
    idx = rng.integers(0, 15, (40, 15))
    for stat, fn in (("pearson", stats.pearsonr), ("spearman", stats.spearmanr), ("kendall", stats.kendalltau)):
        ref = [fn(x[i], y[i]).statistic for i in idx]
        np.testing.assert_allclose(C._boot_stats(stat, x, y, idx), ref, atol=1e-12)


def test_correlations_degenerate_and_nan_rows():
    f = pd.DataFrame({"m": [1.0, 2.0, 3.0, np.nan, 5.0], "o": [1.0, 1.0, 1.0, 2.0, 1.0], "o2": [2.0, 1, 4, 3, 5]})
    c = C.correlations(f, ["m"], ["o", "o2"], n_boot=50)
    assert c.loc[c["outcome"] == "o", "value"].isna().all()  # constant outcome after dropping the NaN row
    assert (c.loc[c["outcome"] == "o2", "n"] == 4).all()
    assert c.loc[(c["outcome"] == "o2") & (c["stat"] == "spearman"), "value"].item() == pytest.approx(0.8)


def test_best_predictor_ranks_combo_first(proxies):
    t = C.best_predictor(proxies, ["accuracy", "variance"], "gold_increase", combos=[("variance", "accuracy")],
                         n_boot=300)
    assert t["metric"].iloc[0] == "combo:variance+accuracy" and t["rank"].tolist() == [1, 2, 3]
    assert (t["value"].diff().dropna() <= 0).all()
    assert (t["ci_low"] <= t["value"]).all() and (t["value"] <= t["ci_high"]).all()
    assert t["p_best"].sum() == pytest.approx(1.0) and t["p_best"].iloc[0] > 0.5
    z = C.add_combos(proxies, ["variance+accuracy"])["combo:variance+accuracy"]
    ref = stats.spearmanr(z, proxies["gold_increase"]).statistic
    assert t["value"].iloc[0] == ref
    per_method = C.best_predictor(proxies, ["accuracy", "variance"], "ndr", by="method", n_boot=100)
    assert per_method.groupby("method")["rank"].apply(list).tolist() == [[1, 2], [1, 2]]
    assert (per_method.groupby("method")["metric"].first() == "accuracy").all()


def test_headlines_per_seed_against_known_answers():
    """Two proxy seeds: accuracy orders NDR exactly (Spearman 1) in seed 0 and reversed in seed 1;
    pfr beats bt by 0.02 OOD in 3 of 4 cells; the flat teacher gains 0.3 less than the gold RM."""
    from overopt.tables import summaries

    setting = {"policy": "small", "algorithm": "rloo", "kl_coef": 0.0, "rl_seed": 0}
    rows = []
    for seed, sign in ((0, 1), (1, -1)):
        for i, (size, data) in enumerate([(s, d) for s in ("xs", "s") for d in (200, 600)]):
            for obj, shift in (("bt", 0.0), ("pfr", 0.02 if i < 3 else -0.02)):
                acc = 0.6 + 0.05 * i + (0.01 if obj == "pfr" else 0)
                rows.append({"rm": f"{size}-d{data}-{obj}-s{seed}", "kind": "proxy", "family": "grid",
                             "rm_size": size, "data_size": data,
                             "objective": obj, "seed": seed, "acc_labeled": acc, "ndr_bon": sign * acc,
                             "ndr_rl_final": sign * acc, "variance": acc, "rl_gold_gain_step": acc,
                             "acc_ood": 0.7 + 0.01 * i + shift, **setting})
    rows += [{"rm": "gold", "kind": "gold", "family": "gold", "rl_gold_gain_step": 0.9, **setting},
             {"rm": "gold_flat", "kind": "reference", "family": "flat", "rl_gold_gain_step": 0.6, **setting}]
    h = summaries.headlines(pd.DataFrame(rows), n_boot=200, level=0.95, seed=0)
    assert list(h.columns) == summaries.HEADLINE_COLS
    assert set(h["proxy_seed"]) == {0, 1} and len(h) == 2 * (3 + 1 + 2)
    rho = h[h["stat"] == "spearman"].set_index(["proxy_seed", "headline"])["value"]
    assert rho[(0, "accuracy vs NDR, BoN")] == pytest.approx(1) and rho[(1, "accuracy vs NDR, RL at end")] == -1
    pfr = h[h["stat"] == "mean_difference"].iloc[0]
    assert pfr["value"] == pytest.approx(0.01) and pfr["n"] == 4  # (3 x 0.02 - 0.02) / 4
    assert pfr["ci_low"] < pfr["value"] < pfr["ci_high"]
    assert h.loc[h["stat"] == "share_pfr_better", "value"].tolist() == [0.75, 0.75]
    assert h.loc[h["stat"] == "gain_difference", "value"].tolist() == pytest.approx([-0.3, -0.3])


# ----------------------------------------------------------------------------- public API


def test_public_api_imports_still_work():
    """The names the docs first gave keep working (re-export shims)."""
    from overopt.bon import best_of_n as bon_best_of_n
    from overopt.bon import kl_bon
    from overopt.fit import fit_form, fit_rl_shared_alpha
    from overopt.metrics import bon
    from overopt.models import RewardModel
    from overopt.rm_eval import prompt_free_gap, reward_variance

    assert bon_best_of_n is bon.best_of_n and kl_bon is bon.kl_bon
    assert prompt_free_gap is PF.prompt_free_gap and reward_variance is V.reward_variance
    assert callable(fit_form) and callable(fit_rl_shared_alpha) and hasattr(RewardModel, "scores")
