"""Bootstrap-over-prompts intervals of the functional-form fits (overopt.fit.fit_bon_curve,
fit_curve_bootstrap; docs/science.md 4.4): exactness of the per-prompt best-of-n matrix, the
point fit, infinite peaks, dropped replicates, and coverage in simulated worlds where the OLS
intervals of ``fit_form`` undercover."""
import numpy as np
import pandas as pd
import pytest

from overopt.fit import (
    _fit_many,
    _quantiles,
    bon_per_prompt,
    fit_bon_curve,
    fit_bon_curves,
    fit_curve_bootstrap,
    fit_form,
)
from overopt.metrics.bon import best_of_n, kl_bon

NS = [1, 2, 4, 8, 16, 32, 64, 128]


def bon_world(rng, P, N=128):
    """Pools whose gold turns over: per prompt, gold = a x - b x^2 + noise growing in the tail
    of the proxy x, with prompt-level a, b (so prompts, not points, are the sampling unit)."""
    x = rng.normal(size=(P, N))
    a, b = rng.normal(1.0, 0.5, (P, 1)), rng.gamma(2.0, 0.1, (P, 1))
    return a * x - b * x**2 + rng.normal(0, 1.0, (P, N)) * (1 + 0.5 * np.abs(x)), x


STEPS = np.arange(9) * 50


def rl_world(rng, P, m=2, speed=1.0):
    """Per-sample RL evaluation rows: prompt p's policy moves at its own KL speed, its mean gold
    follows d_p (a_p - b_p ln d_p) on top of a prompt offset; per-sequence KL and gold are noisy."""
    s = speed * rng.gamma(4.0, 0.25, P)
    a, b, off = rng.normal(0.6, 0.3, P), rng.normal(0.3, 0.1, P), rng.normal(0, 1, P)
    k = s[:, None] * STEPS[None, :] / STEPS[-1] * 9.0
    dp = np.sqrt(k)
    mean_g = dp * (a[:, None] - b[:, None] * np.log(np.where(dp > 0, dp, 1.0))) + off[:, None]
    kl = np.repeat(k[:, :, None], m, 2) * rng.gamma(2.0, 0.5, (P, STEPS.size, m))
    gold = mean_g[:, :, None] + rng.normal(0, 1.0, (P, STEPS.size, m))
    pid, st, _ = np.meshgrid(np.arange(P), STEPS, np.arange(m), indexing="ij")
    return pd.DataFrame({"step": st.ravel(), "prompt": pid.ravel(), "gold": gold.ravel(),
                         "proxy": gold.ravel() + 0.1 * st.ravel() / 50, "kl": kl.ravel()})


def mean_curve(frame, curve="gold"):
    c = frame.groupby("step")[[curve, "kl"]].mean()
    return np.sqrt(np.maximum(c["kl"].to_numpy(), 0.0)), (c[curve] - c[curve].iloc[0]).to_numpy()


# ----------------------------------------------------------------------------- exactness


def test_per_prompt_matrix_averages_to_best_of_n_with_ties():
    rng = np.random.default_rng(0)
    gold = rng.normal(size=(30, 16))
    proxy = np.round(gold + rng.normal(size=gold.shape), 0)  # many ties in the proxy
    ns, g, p = bon_per_prompt(gold, proxy, [8, 1, 2, 4, 16, 4])
    ref = best_of_n(gold, proxy, [1, 2, 4, 8, 16])
    assert ns.tolist() == ref["n"].tolist() and g.shape == p.shape == (30, 5)
    assert np.max(np.abs(g.mean(0) - ref["gold"].to_numpy())) < 1e-12
    assert np.max(np.abs(p.mean(0) - ref["proxy"].to_numpy())) < 1e-12
    # one prompt alone is its own best-of-n
    assert np.allclose(g[3], best_of_n(gold[3:4], proxy[3:4], ns)["gold"], atol=1e-12)


def test_point_fit_is_fit_form_on_the_mean_curve():
    gold, proxy = bon_world(np.random.default_rng(1), 60, 64)
    ns = [1, 2, 3, 4, 8, 16, 32, 64]
    fits = fit_bon_curves(gold, proxy, ns, n_boot=50, min_n=3)
    ref = best_of_n(gold, proxy, ns)
    ref = ref[(ref["n"] >= 3) | (ref["n"] == 1)]
    for curve in ("gold", "proxy"):
        f, o = fits[curve], fit_form(ref["d"], ref[curve] - ref[curve].iloc[0], "bon")
        assert f.n_points == o.n_points == 6
        for k in ("alpha", "beta", "d_star", "r_star", "rmse", "r2"):
            assert f[k] == pytest.approx(o[k], rel=1e-10, abs=1e-12), (curve, k)
        for k in ("alpha_nls", "beta_nls"):  # an iterative fit: to its tolerance
            assert f[k] == pytest.approx(o[k], rel=1e-6), (curve, k)
        assert f.curve == curve and f.ci_method == "bootstrap_prompts" and f.n_prompts == 60
    g = fit_bon_curve(gold, proxy, ns, n_boot=50, curve="gold", min_n=3)
    assert g.row() == fits["gold"].row()  # same seed, same resamples
    row = g.row()
    for k in ("alpha", "beta", "d_star", "r_star"):
        assert row[f"{k}_ci_low"] <= row[k] <= row[f"{k}_ci_high"]
    with pytest.raises(ValueError, match="curve"):
        fit_bon_curve(gold, proxy, ns, curve="kl")


def test_vectorized_replicate_fit_equals_fit_form():
    rng = np.random.default_rng(2)
    d = np.abs(rng.normal(1.5, 1.0, (20, 9)))
    d[:, 0] = 0.0  # dropped, as in fit_form
    for form in ("bon", "rl"):
        r = d * (0.5 - 0.1 * d) + rng.normal(0, 0.05, d.shape)
        a, b, ok = _fit_many(d, r, form)
        assert ok.all()
        for i in range(d.shape[0]):
            o = fit_form(d[i], r[i], form)
            assert a[i] == pytest.approx(o.alpha, abs=1e-10) and b[i] == pytest.approx(o.beta, abs=1e-10)
    _, _, ok = _fit_many(np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 1.0], [0.5, 1.0, 2.0]]), np.ones((3, 3)), "bon")
    assert ok.tolist() == [False, False, True]  # 2 points; constant d; fine


def test_rl_point_fit_and_errors():
    f = rl_world(np.random.default_rng(3), 40)
    for curve in ("gold", "proxy"):
        b = fit_curve_bootstrap(f, "rl", curve, n_boot=100, seed=1)
        o = fit_form(*mean_curve(f, curve), "rl")
        assert b.alpha == pytest.approx(o.alpha, rel=1e-10) and b.beta == pytest.approx(o.beta, rel=1e-10)
        assert b.n_points == o.n_points == STEPS.size - 1 and b.n_boot_ok == 100
        assert b.alpha_ci[0] < b.alpha < b.alpha_ci[1]
    again = fit_curve_bootstrap(f, "rl", "gold", n_boot=100, seed=1)
    assert again.row() == fit_curve_bootstrap(f, "rl", "gold", n_boot=100, seed=1).row()  # deterministic
    assert again.beta_ci != fit_curve_bootstrap(f, "rl", "gold", n_boot=100, seed=2).beta_ci
    with pytest.raises(ValueError, match="step-0"):
        fit_curve_bootstrap(f[f["step"] > 0], "rl", "gold")
    with pytest.raises(ValueError, match="columns"):
        fit_curve_bootstrap(f.drop(columns="kl"), "rl", "gold")
    two = pd.concat([f.assign(run_seed=0), f[f["step"] < 400].assign(run_seed=1)])
    with pytest.raises(ValueError, match="same steps"):
        fit_curve_bootstrap(two, "rl", "gold")


# ----------------------------------------------------------------------------- infinite peaks, dropped replicates


def test_quantiles_keep_infinity():
    x = np.array([1.0, 2.0, 3.0, np.inf, np.inf])
    lo, hi = _quantiles(x, (0.025, 0.975))
    assert lo == pytest.approx(np.quantile(x[:3], 0.05)) and hi == np.inf
    assert _quantiles(np.array([1.0, np.inf]), (0.5,)) == (np.inf,)  # not NaN
    assert _quantiles(np.arange(11.0), (0.1, 0.55)) == pytest.approx(tuple(np.quantile(np.arange(11.0), [0.1, 0.55])))


def test_no_turnover_gives_infinite_upper_peak():
    """The proxy's own best-of-n curve barely bends: beta's interval spans 0, so some
    replicates have no peak and the upper bound of d* is honestly infinite."""
    gold, proxy = bon_world(np.random.default_rng(4), 150)
    f = fit_bon_curve(gold, proxy, NS, curve="proxy", n_boot=400)
    assert f.beta_ci[0] < 0 < f.beta_ci[1]
    assert f.d_star_ci[1] == np.inf and f.r_star_ci[1] == np.inf and np.isfinite(f.d_star_ci[0])
    g = fit_bon_curve(gold, proxy, NS, curve="gold", n_boot=400)  # gold turns over: finite
    assert np.isfinite(g.d_star_ci).all() and g.d_star_ci[0] < g.d_star < g.d_star_ci[1]


def test_replicates_with_too_few_points_are_dropped_and_counted():
    # step 30's mean KL is positive only while prompt 0 is in the resample: without it the
    # replicate keeps 2 points with d > 0 and is dropped
    rows = []
    for p in range(8):
        for step, kl in ((0, 0.0), (10, 1.0), (20, 4.0), (30, 40.0 if p == 0 else -1.0)):
            rows.append({"step": step, "prompt": p, "kl": kl, "gold": np.sqrt(max(kl, 0)) * 0.1 + 0.01 * p,
                         "proxy": 0.0})
    f = fit_curve_bootstrap(pd.DataFrame(rows), "rl", "gold", n_boot=500)
    assert f.n_points == 3
    expected = 500 * (1 - (7 / 8) ** 8)  # P(prompt 0 drawn at least once)
    assert 0 < f.n_boot_ok < 500 and abs(f.n_boot_ok - expected) < 4 * np.sqrt(500 * 0.66 * 0.34)


# ----------------------------------------------------------------------------- seeds


def test_two_stage_bootstrap_over_seeds_and_prompts():
    rng = np.random.default_rng(5)
    P = 100
    base = rl_world(rng, P)
    # seeds of one run setting that move at different speeds: the seed is a sampling unit too
    frames = [rl_world(np.random.default_rng(10 + s), P, speed=v).assign(run_seed=s)
              for s, v in enumerate((0.6, 1.0, 1.5, 2.2))]
    seeds = pd.concat(frames, ignore_index=True)
    f2 = fit_curve_bootstrap(seeds, "rl", "gold", n_boot=400)
    assert f2.ci_method == "bootstrap_seeds_prompts" and f2.n_seeds == 4 and f2.n_prompts == P
    o = fit_form(*mean_curve(seeds), "rl")  # point: the pooled mean curve
    assert f2.alpha == pytest.approx(o.alpha, rel=1e-10) and f2.beta == pytest.approx(o.beta, rel=1e-10)
    f1 = fit_curve_bootstrap(seeds.drop(columns="run_seed"), "rl", "gold", n_boot=400)  # prompts only
    assert f1.ci_method == "bootstrap_prompts" and f1.n_seeds == 1
    width = lambda ci: ci[1] - ci[0]
    assert width(f2.beta_ci) > 1.3 * width(f1.beta_ci)  # seed-to-seed variation enters the interval
    one = fit_curve_bootstrap(base.assign(run_seed=7), "rl", "gold", n_boot=50)
    assert one.ci_method == "bootstrap_prompts" and one.row() == fit_curve_bootstrap(base, "rl", "gold", n_boot=50).row()


# ----------------------------------------------------------------------------- coverage


def _covers(ci, truth) -> bool:
    return ci[0] < truth < ci[1]


@pytest.mark.slow
def test_bon_bootstrap_covers_and_ols_does_not():
    """Truth: the fit on 20,000 prompts. Over 300 draws of 200 prompts the bootstrap's 95%
    intervals cover it at about the nominal rate; the OLS intervals of ``fit_form`` on the same
    mean curves do not (measured: bootstrap alpha 0.95, beta 0.91; OLS alpha 0.51, beta 0.41),
    because the nested best-of-n points of one set of pools are not independent."""
    big = np.random.default_rng(123)
    curves = [bon_per_prompt(*bon_world(big, 1000), NS)[1] for _ in range(20)]
    g = np.concatenate(curves).mean(0)
    d = np.sqrt(kl_bon(np.array(NS)))
    truth = fit_form(d, g - g[0], "bon")
    rng = np.random.default_rng(7)
    boot, ols = np.zeros(2), np.zeros(2)
    reps = 300
    for i in range(reps):
        gold, proxy = bon_world(rng, 200)
        f = fit_bon_curve(gold, proxy, NS, n_boot=250, seed=i)
        _, per, _ = bon_per_prompt(gold, proxy, NS)
        o = fit_form(d, per.mean(0) - per.mean(0)[0], "bon")
        boot += [_covers(f.alpha_ci, truth.alpha), _covers(f.beta_ci, truth.beta)]
        ols += [_covers(o.alpha_ci, truth.alpha), _covers(o.beta_ci, truth.beta)]
    boot, ols = boot / reps, ols / reps
    print("coverage alpha, beta: bootstrap", boot, "OLS", ols)
    assert (boot >= 0.88).all() and (boot <= 0.99).all(), boot  # binomial SE ~0.013 at 0.95
    assert (ols <= 0.75).all() and (boot - ols >= 0.15).all(), ols


@pytest.mark.slow
def test_rl_bootstrap_covers_and_ols_does_not():
    """The same for RL-like per-sample rows (200 prompts, 2 samples per prompt and step, 9
    steps; truth from 20,000 prompts). Measured: bootstrap alpha 0.92, beta 0.95; OLS alpha
    0.51, beta 0.79."""
    truth = fit_form(*mean_curve(rl_world(np.random.default_rng(5), 20_000)), "rl")
    rng = np.random.default_rng(8)
    boot, ols = np.zeros(2), np.zeros(2)
    reps = 300
    for i in range(reps):
        f = rl_world(rng, 200)
        b = fit_curve_bootstrap(f, "rl", "gold", n_boot=250, seed=i)
        o = fit_form(*mean_curve(f), "rl")
        boot += [_covers(b.alpha_ci, truth.alpha), _covers(b.beta_ci, truth.beta)]
        ols += [_covers(o.alpha_ci, truth.alpha), _covers(o.beta_ci, truth.beta)]
    boot, ols = boot / reps, ols / reps
    print("coverage alpha, beta: bootstrap", boot, "OLS", ols)
    assert (boot >= 0.88).all() and (boot <= 0.99).all(), boot
    assert (ols <= 0.85).all() and (boot - ols >= 0.1).all(), ols
