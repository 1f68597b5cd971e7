"""Fit recovery from curves with known coefficients, and the closed-form peaks."""
import numpy as np
import pandas as pd
import pytest

from overopt.fit import fit_form, loglinear, peak, predict
from overopt.tables.fits import scaling_table


@pytest.mark.parametrize("form,alpha,beta", [("bon", 0.6, 0.1), ("bon", 0.49, 0.12), ("rl", 0.35, 0.15)])
def test_recovers_known_coefficients(form, alpha, beta):
    rng = np.random.default_rng(1)
    d = np.linspace(0.2, 4.0, 40)
    r = predict(d, alpha, beta, form) + rng.normal(0, 0.01, d.size)
    f = fit_form(d, r, form, level=0.999)  # coverage itself is tested below
    assert f.alpha == pytest.approx(alpha, abs=0.02) and f.beta == pytest.approx(beta, abs=0.02)
    assert f.alpha_ci[0] < alpha < f.alpha_ci[1] and f.beta_ci[0] < beta < f.beta_ci[1]
    assert f.alpha_nls == pytest.approx(alpha, abs=0.02) and f.beta_nls == pytest.approx(beta, abs=0.02)
    assert f.rmse == pytest.approx(0.01, rel=0.5)
    assert f["d_star"] == f.d_star  # attributes or keys


def test_ci_coverage_is_nominal():
    """Over many noisy replicates the 95% CI covers the truth about 95% of the time."""
    rng = np.random.default_rng(0)
    d = np.linspace(0.3, 3.0, 12)
    hits = [fit_form(d, d * (0.5 - 0.1 * d) + rng.normal(0, 0.05, d.size) * d, "bon").beta_ci for _ in range(300)]
    cover = np.mean([lo < 0.1 < hi for lo, hi in hits])
    assert 0.91 < cover < 0.99


def test_peaks_closed_form():
    assert peak(0.6, 0.1, "bon") == pytest.approx((3.0, 0.9))
    d_star, r_star = peak(0.35, 0.15, "rl")
    assert d_star == pytest.approx(np.exp(0.35 / 0.15 - 1)) and r_star == pytest.approx(0.15 * d_star)
    grid = np.linspace(0.01, 30, 300_000)
    assert grid[np.argmax(predict(grid, 0.35, 0.15, "rl"))] == pytest.approx(d_star, abs=1e-3)
    assert peak(0.5, -0.1, "bon")[0] == float("inf")


def test_excludes_d_zero_and_rejects_bad_input():
    d = np.array([0.0, 0.5, 1.0, 1.5, 2.0])
    f = fit_form(d, d * (0.5 - 0.1 * d), "bon")
    assert f.n_points == 4 and f.alpha == pytest.approx(0.5)
    with pytest.raises(ValueError, match="form"):
        fit_form(d, d, "quadratic")
    with pytest.raises(ValueError, match="at least 3"):
        fit_form([0, 1, 2], [0, 1, 2], "bon")


def test_loglinear_and_scaling_table():
    params = np.array([1e3, 1e4, 1e5, 1e6])
    out = loglinear(params, 0.4 + 0.05 * np.log10(params))
    assert out["slope"] == pytest.approx(0.05) and out["intercept"] == pytest.approx(0.4)
    fits = pd.DataFrame({"method": "bon", "curve": "gold", "rm_size": list("abcdabcd"),
                         "params": np.tile(params, 2), "data_size": [1] * 4 + [2] * 4,
                         "alpha": 0.4 + 0.05 * np.log10(np.tile(params, 2)), "beta": 0.1})
    s = scaling_table(fits)
    a = s[(s.coefficient == "alpha") & (s.predictor == "log10_params")]
    assert set(a["group"]) == {"all", "1", "2"} and np.allclose(a["slope"], 0.05)
    assert set(s[s.predictor == "log10_data_size"]["group"]) == {"all", *"abcd"}


def test_shared_alpha_joint_fit_recovers_gao_style_curves():
    """One alpha across proxies, one beta each (Gao's RL fit), from noisy synthetic curves."""
    from overopt.fit import fit_rl_shared_alpha

    rng = np.random.default_rng(3)
    alpha, betas = 0.35, {"3M": 0.175, "12M": 0.167, "85M": 0.137, "3B": 0.118}
    rows = []
    for rm, b in betas.items():
        d = np.linspace(0.3, 6.0, 25)
        r = predict(d, alpha, b, "rl") + rng.normal(0, 0.01, d.size)
        rows += [{"rm": rm, "d": x, "r": y} for x, y in zip(d, r)]
    rows.append({"rm": "3M", "d": 0.0, "r": 0.0})  # d = 0 is dropped
    f = fit_rl_shared_alpha(pd.DataFrame(rows), level=0.999)
    assert f.alpha == pytest.approx(alpha, abs=0.01) and f.alpha_ci[0] < alpha < f.alpha_ci[1]
    for rm, b in betas.items():
        assert f.betas[rm] == pytest.approx(b, abs=0.01)
        assert f.betas_ci[rm][0] < b < f.betas_ci[rm][1]
        assert f.d_star[rm] == pytest.approx(np.exp(alpha / b - 1), rel=0.1)
    assert f["n_points"] == 100 and f.rmse < 0.02


def test_rmse_alternatives_prefer_the_true_form_and_extrapolation():
    from overopt.fit import extrapolation, rmse_alternatives

    d = np.linspace(0.2, 5, 40)
    r = predict(d, 0.35, 0.15, "rl")
    alt = rmse_alternatives(d, r)
    assert alt["rl"] < 1e-9 < alt["quadratic_kl"] and alt["rl"] < alt["rl_log1p"]
    ext = extrapolation(d, r, "rl", cutoff=2.0)
    assert ext["rmse_out"] < 1e-6 and ext["n_in"] + ext["n_out"] == 40
    with pytest.raises(ValueError, match="beyond"):
        extrapolation(d, r, "rl", cutoff=10)


def test_scaling_keeps_objectives_apart():
    """bt and pfr proxies follow separate laws: alpha rising in bt, falling in pfr, each recovered exactly."""
    rows = [{"method": "bon", "curve": "gold", "objective": obj, "rm_size": f"s{p}", "params": 10.0 ** p,
             "data_size": 2000, "alpha": 0.5 + sign * 0.1 * p, "beta": 0.3}
            for obj, sign in (("bt", 1), ("pfr", -1)) for p in (3, 4, 5)]
    s = scaling_table(pd.DataFrame(rows))
    alpha = s[(s.coefficient == "alpha") & (s.predictor == "log10_params") & (s.within == "all")].set_index("objective")
    assert alpha.loc["bt", "slope"] == pytest.approx(0.1) and alpha.loc["pfr", "slope"] == pytest.approx(-0.1)
    assert (alpha["n_points"] == 3).all()
