"""Best-of-n estimator against brute force and closed forms."""
from itertools import combinations

import numpy as np
import pytest

from overopt.metrics.bon import best_of_n, bon_weights, kl_bon, n_grid


@pytest.mark.parametrize("n,kl", [(2, 0.1931), (4, 0.6363), (16, 1.8351), (64, 3.1745), (1024, 5.9324)])
def test_kl_bon_reference_values(n, kl):
    assert kl_bon(n) == pytest.approx(kl, abs=1e-4)


def test_kl_bon_is_zero_at_one_and_vectorized():
    assert kl_bon(1) == 0.0
    np.testing.assert_allclose(kl_bon([1, 2]), [0.0, np.log(2) - 0.5])


@pytest.mark.parametrize("N", [1, 5, 256, 10_000])
def test_weights_sum_to_one_and_vanish_below_n(N):
    for n in {n for n in (1, 2, N // 2, N) if 1 <= n <= N}:
        w = bon_weights(N, n)
        assert np.isfinite(w).all()
        assert w.sum() == pytest.approx(1.0, abs=1e-10)
        assert (w[: n - 1] == 0).all()


def brute_force(gold, proxy, n):
    """Average over every n-subset of the gold score of its proxy-argmax, ties split evenly."""
    vals = []
    for subset in combinations(range(len(gold)), n):
        s = np.array(subset)
        top = s[proxy[s] == proxy[s].max()]
        vals.append(gold[top].mean())
    return float(np.mean(vals))


@pytest.mark.parametrize("seed", range(6))
def test_matches_brute_force_with_ties(seed):
    rng = np.random.default_rng(seed)
    N = 9
    proxy = rng.integers(0, 4, size=(3, N)).astype(float)  # many ties
    gold = rng.normal(size=(3, N))
    out = best_of_n(gold, proxy, range(1, N + 1))
    for _, row in out.iterrows():
        n = int(row["n"])
        g = np.mean([brute_force(gold[p], proxy[p], n) for p in range(3)])
        q = np.mean([brute_force(proxy[p], proxy[p], n) for p in range(3)])
        assert row["gold"] == pytest.approx(g, abs=1e-12)
        assert row["proxy"] == pytest.approx(q, abs=1e-12)


def test_ignoring_ties_would_be_biased():
    """The tie correction matters: a naive sort-order estimator differs from brute force."""
    proxy = np.array([[0.0, 1.0, 1.0, 1.0]])
    gold = np.array([[0.0, 3.0, 0.0, 0.0]])
    assert best_of_n(gold, proxy, [4])["gold"].iloc[0] == pytest.approx(1.0)  # mean of tied maxima
    assert brute_force(gold[0], proxy[0], 4) == pytest.approx(1.0)


def test_endpoints_pool_mean_and_argmax():
    rng = np.random.default_rng(0)
    proxy, gold = rng.normal(size=(5, 50)), rng.normal(size=(5, 50))
    out = best_of_n(gold, proxy, [1, 50]).set_index("n")
    assert out.loc[1, "gold"] == pytest.approx(gold.mean())
    assert out.loc[50, "gold"] == pytest.approx(gold[np.arange(5), proxy.argmax(1)].mean())
    assert out.loc[1, "kl"] == 0 and out.loc[50, "d"] == pytest.approx(np.sqrt(kl_bon(50)))


def test_stable_at_ten_thousand_against_closed_form():
    """Scores equal to their ranks i/N: E[max rank of an n-subset]/N = n (N+1) / ((n+1) N)."""
    N = 10_000
    ranks = (np.arange(1, N + 1) / N)[None, ::-1].copy()
    out = best_of_n(ranks, ranks, [1, 2, 10, 100, 1000, 5000, N])
    for n, g in zip(out["n"], out["gold"]):
        assert g == pytest.approx(n * (N + 1) / ((n + 1) * N), rel=1e-10)


def test_api_columns_and_validation():
    out = best_of_n(np.zeros((2, 4)), np.arange(8.0).reshape(2, 4), [1, 2, 4])
    assert list(out.columns[:5]) == ["n", "kl", "d", "gold", "proxy"]
    with pytest.raises(ValueError, match="same shape"):
        best_of_n(np.zeros((2, 4)), np.zeros((2, 5)), [1])
    with pytest.raises(ValueError, match="n must be"):
        best_of_n(np.zeros((2, 4)), np.zeros((2, 4)), [5])


def test_n_grid_spans_one_to_N():
    g = n_grid(256, 2)
    assert g[0] == 1 and g[-1] == 256 and g == sorted(set(g))
    assert n_grid(100, 1)[-1] == 100
