"""KL estimators against the exact KL of a small autoregressive categorical model."""
import itertools

import numpy as np
import pytest

from overopt.metrics.kl import kl_estimates, token_log_ratios

V, T = 3, 3


def tables(seed, temp):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(T, V, V)) * temp  # step t, previous token -> next-token logits
    return np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)


def seq_logp(p, y):
    prev, out = 0, []
    for t, tok in enumerate(y):
        out.append(np.log(p[t, prev, tok]))
        prev = tok
    return np.array(out)


def exact_kl(p, q):
    return sum(np.exp(seq_logp(p, y).sum()) * (seq_logp(p, y).sum() - seq_logp(q, y).sum())
               for y in itertools.product(range(V), repeat=T))


def sample(p, n, rng):
    ys = np.zeros((n, T), dtype=int)
    prev = np.zeros(n, dtype=int)
    for t in range(T):
        u = rng.random(n)[:, None]
        ys[:, t] = (u > np.cumsum(p[t, prev], axis=1)).sum(1)
        prev = ys[:, t]
    return ys


@pytest.mark.parametrize("temp", [0.5, 2.0])
def test_k1_and_k3_are_unbiased_k3_nonnegative(temp):
    pi, ref = tables(0, temp), tables(1, temp)
    exact = exact_kl(pi, ref)
    ys = sample(pi, 100_000, np.random.default_rng(2))
    lp = np.stack([seq_logp(pi, y) for y in ys[:20_000]])
    lr = np.stack([seq_logp(ref, y) for y in ys[:20_000]])
    est = kl_estimates(token_log_ratios(lp, lr, np.ones_like(lp)))
    for k in ("k1", "k3"):
        assert abs(est[k] - exact) < 4 * est[f"{k}_se"] + 1e-9, (k, est[k], exact)
    per_seq = [kl_estimates([r])["k3"] for r in token_log_ratios(lp[:200], lr[:200], np.ones_like(lp[:200]))]
    assert min(per_seq) >= 0


def test_identical_policies_have_zero_kl_and_mask_is_respected():
    lp = np.array([[-1.0, -2.0, 5.0], [-0.5, 7.0, 7.0]])
    mask = np.array([[1, 1, 0], [1, 0, 0]])
    est = kl_estimates(lp - lp, mask)
    assert est["k1"] == est["k2"] == est["k3"] == 0.0
    est = kl_estimates(np.array([[0.1, 0.2, 9.0], [0.3, 9.0, 9.0]]), mask)
    assert est["k1"] == pytest.approx((0.3 + 0.3) / 2)
