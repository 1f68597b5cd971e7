"""fits.csv from curves and evaluation samples: per-run and seed-pooled rows with bootstrap CIs,
the saturation flag, what the scaling regresses, and the saturation rule itself."""
import numpy as np
import pandas as pd
import pytest

from overopt import settings
from overopt.metrics.saturation import saturated
from overopt.tables import fits
from overopt.tables.curves import RM_COLUMNS

STEPS = [0, 10, 20, 30, 40]
PROMPTS, SAMPLES = 30, 2
FIT = settings.Fit(level=0.9, min_n=2, extrapolate_from=3, n_boot=200,
                   saturation={"window": 0.5, "min_gain": 0.1}, seed=0)


def test_saturation_rule():
    assert not saturated([0, 1, 2, 3, 4])  # still rising: the last half adds half the gain
    assert saturated([0, 1, 2, 2.02, 2.03])  # flat for the last half
    assert saturated([0, -0.1, -0.2])  # never rose
    assert not saturated([0, 1, 1.05, 1.2], window=0.5, min_gain=0.1)  # 0.2 of 1.2 > 0.1
    with pytest.raises(ValueError):
        saturated([0, 1])


def _run(rng, rm, params, seed, plateau: bool):
    """A proxy run whose gold rises then falls with d; the proxy plateaus or keeps rising. At step 0
    the policy is pi_init: every sequence KL is exactly 0."""
    ident = {"method": "rl", "rm": rm, "kind": "proxy", "family": "grid", "rm_size": rm.split("-")[0],
             "params": params, "data_size": 500, "objective": "bt", "seed": 0, "label_mode": "hard",
             "flip_rate": 0.0, "policy": "small", "algorithm": "rloo", "kl_coef": 0.0, "rl_seed": seed}
    rows, samples = [], []
    for step in STEPS:
        d = np.sqrt(step / 10)
        gold_mean = d * (0.6 - 0.3 * np.log(max(d, 1e-9))) if d > 0 else 0.0
        proxy_mean = min(d, 1.0) if plateau else d
        n = PROMPTS * SAMPLES
        s = pd.DataFrame({"step": step, "prompt": np.repeat(np.arange(PROMPTS), SAMPLES),
                          "sample": np.tile(np.arange(SAMPLES), PROMPTS), "response": "a b",
                          "kl": d**2 + (step > 0) * rng.normal(0, 0.3, n), "gold": gold_mean + rng.normal(0, 0.5, n),
                          "proxy": proxy_mean + rng.normal(0, 0.05, n), "length": 3})
        samples.append(s.assign(**ident))
        rows.append({**ident, "step": step, "kl": s["kl"].mean(), "d": np.sqrt(max(s["kl"].mean(), 0)),
                     "gold": s["gold"].mean(), "proxy": s["proxy"].mean()})
    return pd.DataFrame(rows), pd.concat(samples, ignore_index=True)


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    runs = [_run(rng, "xs-d500-bt-s0", 1000, s, plateau=False) for s in (0, 1, 2)]
    runs += [_run(rng, "s-d500-bt-s0", 3000, 0, plateau=True), _run(rng, "m-d500-bt-s0", 9000, 0, plateau=False)]
    curves = pd.concat([r[0] for r in runs], ignore_index=True)
    samples = pd.concat([r[1] for r in runs], ignore_index=True)
    bon = pd.DataFrame(columns=["method", *RM_COLUMNS, "policy", "curve", "form", "alpha", "beta"])
    return fits.fits_table(curves, bon, samples, FIT)


def test_rows_per_run_and_pooled_over_seeds(table):
    rl = table[table["form"] == "rl"]
    xs = rl[(rl["rm"] == "xs-d500-bt-s0") & (rl["curve"] == "gold")]
    assert sorted(xs["n_seeds"]) == [1, 1, 1, 3]
    pooled = xs[xs["n_seeds"] == 3].iloc[0]
    assert np.isnan(pooled["rl_seed"]) and pooled["ci_method"] == "bootstrap_seeds_prompts"
    assert (xs[xs["n_seeds"] == 1]["ci_method"] == "bootstrap_prompts").all()
    assert (rl["alpha_ci_low"] <= rl["alpha"]).all() and (rl["alpha"] <= rl["alpha_ci_high"]).all()
    assert (rl["n_prompts"] == PROMPTS).all() and (rl["n_boot_ok"] > 0).all()
    # the point fit is the fit of the mean curve (RL form R/d = alpha - beta ln d)
    assert pooled["beta"] == pytest.approx(0.3, abs=0.15) and pooled["alpha"] == pytest.approx(0.6, abs=0.15)


def test_saturated_runs_are_flagged_and_kept_out_of_joint_fit_and_scaling(table):
    rl = table[table["form"] == "rl"]
    flags = rl.groupby("rm")["saturated"].agg(lambda s: set(s))
    assert flags["s-d500-bt-s0"] == {True} and flags["xs-d500-bt-s0"] == {False} and flags["m-d500-bt-s0"] == {False}
    joint = table[table["form"] == "rl_joint"]
    assert "s-d500-bt-s0" not in set(joint["rm"]) and {"xs-d500-bt-s0", "m-d500-bt-s0"} <= set(joint["rm"])
    runs = fits.per_proxy_runs(table)
    xs = runs[(runs["rm"] == "xs-d500-bt-s0") & (runs["curve"] == "gold")]
    assert list(xs["n_seeds"]) == [3]  # the pooled row stands for the seeds
    assert len(runs[runs["curve"] == "gold"]) == 3
    sc = fits.scaling_table(runs, 0.9)
    row = sc[(sc["method"] == "rl") & (sc["curve"] == "gold") & (sc["predictor"] == "log10_params")
             & (sc["group"] == "all") & (sc["coefficient"] == "beta")].iloc[0]
    assert row["n_points"] == 2 and row["n_saturated"] == 1


def test_a_run_without_samples_is_an_error():
    rng = np.random.default_rng(1)
    curve, samples = _run(rng, "xs-d500-bt-s0", 1000, 0, plateau=False)
    bon = pd.DataFrame(columns=["method", *RM_COLUMNS, "policy", "curve"])
    with pytest.raises(ValueError, match="no evaluation samples"):
        fits.fits_table(curve, bon, samples.iloc[:0], FIT)


def test_length_slopes_recover_the_construction():
    from overopt.tables.length import length_table

    rng = np.random.default_rng(3)
    n = 400
    length = rng.integers(1, 17, n)
    ident = {"method": "daa", "rm": "l-d500-bt-s0", "kind": "proxy", "family": "grid", "rm_size": "l",
             "params": 1, "data_size": 500, "objective": "bt", "seed": 0, "label_mode": "hard", "flip_rate": 0.0,
             "policy": "small", "loss": "dpo", "daa_beta": 0.1, "daa_seed": 0, "pairs": 500}
    s = pd.DataFrame({"step": 5, "prompt": np.arange(n) // 4, "length": length,
                      "gold": 0.05 * length + rng.normal(0, 0.2, n), "kl": 2.0 * length + rng.normal(0, 1, n),
                      "proxy": 0.0}).assign(**ident)
    row = length_table(s, 0.95).iloc[0]
    assert row["gold_ci_low"] < 0.05 < row["gold_ci_high"] and row["gold_ci_high"] - row["gold_ci_low"] < 0.02
    assert row["implicit_slope"] == pytest.approx(0.2, abs=0.01)  # beta x 2 nats per token
    flat = length_table(s.assign(length=7), 0.95).iloc[0]
    assert np.isnan(flat["gold_slope"])
