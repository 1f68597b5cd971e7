"""Razin's own design (overopt/tables/teachers.py, overopt/tables/replication/razin.py): the
data mix, the (student, teacher) table against brute force, Table 2 against scipy, and the
scorecard's verdicts on tables whose answer is known."""
import numpy as np
import pandas as pd
import pytest
from scipy import stats

from overopt.data.labels import mix_pairs
from overopt.settings import Teachers
from overopt.tables import teachers as tt
from overopt.tables.replication.razin import _razin
from overopt.teachers import flat_half


def _pairs(n, tag):
    return pd.DataFrame({"prompt": [f"p{i} " for i in range(n)], "chosen": [f"{tag}c{i}" for i in range(n)],
                         "rejected": [f"{tag}r{i}" for i in range(n)]})


def test_mix_takes_the_first_share_on_policy_on_the_same_prompts():
    on, off = _pairs(8, "on"), _pairs(8, "off")
    m = mix_pairs(on, off, 0.25)
    assert list(m["source"]) == ["onpolicy"] * 2 + ["offpolicy"] * 6
    assert list(m["chosen"][:2]) == ["onc0", "onc1"] and list(m["chosen"][2:]) == [f"offc{i}" for i in range(2, 8)]
    assert list(m["prompt"]) == list(on["prompt"])
    assert (mix_pairs(on, off, 1.0)["source"] == "onpolicy").all()
    assert (mix_pairs(on, off, 0.0)["source"] == "offpolicy").all()
    with pytest.raises(ValueError, match="share their prompts"):
        mix_pairs(on, off.iloc[::-1].reset_index(drop=True), 0.5)


def _world(rng, P=6, N=10, k=5):
    """Two members, gold and the flat teacher under two students, with RL curves."""
    prompts = [f"prompt {i} " for i in range(P)]
    gold = rng.normal(size=(P, N))
    members = {"a": gold + rng.normal(scale=0.3, size=(P, N)), "b": rng.normal(size=(P, N))}
    pool = {**members, "gold": gold}
    big = {rm: rng.normal(size=(P, k)) for rm in pool}
    big["gold"] = big["a"] + rng.normal(scale=0.5, size=(P, k))
    gap = rng.normal(size=20)
    extra = {rm: {"offpolicy": np.stack([gap * (1 if rm != "b" else -1) + rng.normal(size=20) * 0.1, np.zeros(20)], 1),
                  "offpolicy_gold_gap": gap, "policy_large": big[rm]} for rm in pool}
    extra["gold"]["offpolicy"] = np.stack([gap, np.zeros(20)], 1)  # gold scores the pairs it labeled
    meta = pd.DataFrame({"rm": ["a", "b"], "kind": "proxy", "family": "mix", "onpolicy_fraction": [1.0, 0.0],
                         "params": [10, 10], "gold_accuracy": [0.8, 0.6]})
    rows = []
    for student, gains in (("small", {"a": 0.5, "b": 0.1, "gold": 0.7, "gold_flat": 0.2}),
                           ("large", {"a": 0.3, "b": 0.4, "gold": 0.6, "gold_flat": 0.1})):
        for rm, g in gains.items():
            for step, f in ((0, 0.0), (2, 0.5), (4, 1.0)):
                rows.append({"method": "rl", "policy": student, "policy_params": 99, "rm": rm, "algorithm": "rloo",
                             "kl_coef": 0.1, "rl_seed": 0, "step": step, "gold": 1 + g * f, "proxy": 2 + 2 * g * f,
                             "gold_se": 0.03, "proxy_se": 0.04})
    s = Teachers(members=["a", "b"], gold="gold", flat={"id": "gold_flat", "transform": {"flat": 0.01}},
                 students=["small", "large"], k=k, rl_step=None, pass_per_step=0.25,
                 setting={"algorithm": "rloo", "kl_coef": 0.1, "rl_seed": 0}, n_boot=200, level=0.95, seed=0)
    return s, pool, extra, meta, pd.DataFrame(rows), prompts


def _brute_variance(scores):
    return np.mean([np.var(row, ddof=1) for row in scores])


def _brute_accuracy(p, g):
    hits = []
    for pr, gr in zip(p, g):
        for i in range(len(pr)):
            for j in range(i + 1, len(pr)):
                if gr[i] != gr[j]:
                    hits.append(1.0 if (pr[i] - pr[j]) * (gr[i] - gr[j]) > 0 else 0.5 if pr[i] == pr[j] else 0.0)
    return float(np.mean(hits))


def test_teacher_rows_match_brute_force():
    s, pool, extra, meta, curves, prompts = _world(np.random.default_rng(0))
    t = tt.teacher_table(s, pool, extra, meta, curves, prompts).set_index(["student", "teacher"])
    assert [c for c in tt.COLUMNS if c not in ("student", "teacher")] == list(t.columns) and len(t) == 2 * 4
    half = flat_half(prompts)
    for student in s.students:
        under = {rm: pool[rm][:, :s.k] if student == "small" else extra[rm]["policy_large"] for rm in pool}
        under["gold_flat"] = under["gold"] * np.where(half, 0.01, 1.0)[:, None]
        for rm, sc in under.items():
            r = t.loc[(student, rm)]
            assert r["variance"] == pytest.approx(_brute_variance(sc))
            assert r["acc_onpolicy"] == pytest.approx(_brute_accuracy(sc, under["gold"]))
        assert t.loc[(student, "gold_flat"), "acc_onpolicy"] == 1.0
    assert t.loc[("small", "b"), "acc_offpolicy"] < 0.2 < 0.8 < t.loc[("small", "a"), "acc_offpolicy"]
    assert t.loc[("small", "gold_flat"), "acc_offpolicy"] == t.loc[("small", "gold"), "acc_offpolicy"] == 1.0
    assert t.loc[("small", "a"), "acc_labeled"] == 0.8 and t.loc[("small", "gold"), "acc_labeled"] == 1.0
    r = t.loc[("large", "b")]
    assert r["rl_step"] == 4 and r["rl_passes"] == 1.0 and r["gold_gain"] == pytest.approx(0.4) and r["proxy_gain"] == pytest.approx(0.8)
    assert r["gold_gain_se"] == pytest.approx(np.hypot(0.03, 0.03)) and r["student_params"] == 99
    assert t.loc[("small", "gold_flat"), "family"] == "flat" and t.loc[("small", "a"), "onpolicy_fraction"] == 1.0
    s2 = Teachers(**{**s.__dict__, "rl_step": 2})
    assert tt.teacher_table(s2, pool, extra, meta, curves, prompts)["gold_gain"].iloc[0] == pytest.approx(0.25)


def test_table2_is_scipy_on_each_group():
    s, pool, extra, meta, curves, prompts = _world(np.random.default_rng(1))
    frame = tt.teacher_table(s, pool, extra, meta, curves, prompts)
    c = tt.correlation_table(frame, n_boot=200, level=0.95, seed=0)
    for student in s.students:
        f = frame[frame["student"] == student]
        row = c[(c["student"] == student) & (c["over"] == "all") & (c["metric"] == "variance")
                & (c["outcome"] == "gold_gain") & (c["stat"] == "pearson")].iloc[0]
        assert row["value"] == pytest.approx(stats.pearsonr(f["variance"], f["gold_gain"]).statistic)
        assert row["n"] == 4 and row["ci_low"] <= row["value"] <= row["ci_high"]
    # two members only: a correlation over them is not defined
    assert c[c["over"] == "members"]["value"].isna().all()
    assert set(c["metric"]) == {*tt.PROPERTIES, "combo:variance+acc_onpolicy"}
    assert tt.correlation_table(frame.iloc[:0], 10, 0.95, 0).empty


def _frame(gains, variance, acc, se=0.01, students=("small", "large")):
    rows = []
    for si, student in enumerate(students):
        for i, (g, v, a) in enumerate(zip(gains[si], variance, acc)):
            fam = "gold" if i == len(variance) - 2 else "flat" if i == len(variance) - 1 else "mix"
            rows.append({"student": student, "teacher": f"t{i}" if fam == "mix" else fam, "kind": fam, "family": fam,
                         "variance": v, "acc_onpolicy": a, "gold_gain": g, "gold_gain_se": se, "gold_step_se": se,
                         "gold_seed_var": np.nan, "seed_groups": 0,
                         "algorithm": "rloo", "kl_coef": 0.0, "rl_step": 100})
    return pd.DataFrame(rows)


def _verdicts(rows):
    return {(r["claim"], r["policy"]): r["verdict"] for r in rows}


def test_scorecard_reads_the_known_answers():
    variance = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 0.001]  # five members, gold, flat
    acc = [0.6, 0.62, 0.61, 0.6, 0.63, 1.0, 1.0]  # accuracy flat: it cannot tell the gains apart
    gains = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.02],  # pi_init: the gain follows variance
             [0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.02]]  # the other student: the order reversed
    v = _verdicts(_razin(_frame(gains, variance, acc), 0.95))
    assert v[("variance_predicts_gold_gain", "small")] == "replicated"
    assert v[("variance_predicts_gold_gain", "large")] != "replicated"
    assert v[("flat_teacher_slower", "small")] == "replicated"
    assert v[("best_teacher_depends_on_student", "large")] == "replicated"
    same = _verdicts(_razin(_frame([gains[0], gains[0]], variance, acc), 0.95))
    assert same[("best_teacher_depends_on_student", "large")] == "not replicated"
    noisy = _verdicts(_razin(_frame([gains[0], gains[0]], variance, acc, se=1.0), 0.95))
    assert noisy[("best_teacher_depends_on_student", "large")] == "inconclusive"


def test_variance_and_accuracy_beat_accuracy_when_accuracy_misleads():
    variance = [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 0.001]
    acc = [0.9, 0.8, 0.7, 0.6, 0.65, 1.0, 1.0]
    gains = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.02]] * 2
    rows = [r for r in _razin(_frame(gains, variance, acc), 0.95)
            if r["claim"] == "variance_and_accuracy_beat_accuracy"]
    assert rows and all(r["value"] > 0 for r in rows)


def test_design_off_keeps_every_claim_inconclusive():
    rows = _razin(None, 0.95)
    assert {r["claim"] for r in rows} == {"variance_predicts_gold_gain", "variance_and_accuracy_beat_accuracy",
                                          "flat_teacher_slower", "best_teacher_depends_on_student"}
    assert all(r["verdict"] == "inconclusive" and r["description"].startswith("not run") for r in rows)
    one = _frame([[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.02]], [0.2, 0.4, 0.6, 0.8, 1.0, 1.2, 0.001], [0.6] * 7,
                 students=("small",))
    rows = _razin(one, 0.95)
    assert [r["description"] for r in rows if r["claim"] == "best_teacher_depends_on_student"] == \
        ["not run: one student (policy.more_sizes)"]


@pytest.mark.parametrize("swap", [False, True])
def test_best_switch_interval_covers(swap):
    """The simultaneous interval of the best-teacher switch covers its true value (simulated
    runs with normal noise), whether one teacher is best under both students or not."""
    from overopt.tables.replication.razin import _best_switch

    def truth(a, b):
        off = ~np.eye(5, dtype=bool)
        lead = lambda g: np.where(off, g[:, None] - g[None, :], np.inf).min(1)  # noqa: E731
        return np.where(off, np.minimum(lead(a)[:, None], lead(b)[None, :]), -np.inf).max()

    rng = np.random.default_rng(3)
    ta = np.array([0.1, 0.2, 0.25, 0.4, 0.45])
    tb = ta[::-1].copy() if swap else ta + 0.05
    se, hits = 0.04, 0
    for _ in range(400):
        a, b = (pd.DataFrame({"gold_gain": t + rng.normal(scale=se, size=5), "gold_step_se": se,
                              "gold_seed_var": np.nan}, index=list("abcde")) for t in (ta, tb))
        _, (lo, hi) = _best_switch(a, b, 0.95)
        hits += lo <= truth(ta, tb) <= hi
    assert hits / 400 >= 0.93


def test_zou_interval_covers_the_difference_of_dependent_correlations():
    from overopt.tables.replication.razin import zou_difference

    rng = np.random.default_rng(4)
    cov = np.array([[1.0, 0.5, 0.6], [0.5, 1.0, 0.2], [0.6, 0.2, 1.0]])  # x1, x2, y
    true = cov[0, 2] - cov[1, 2]
    hits = 0
    for _ in range(400):
        x1, x2, y = rng.multivariate_normal(np.zeros(3), cov, size=30).T
        r = lambda p, q: np.corrcoef(p, q)[0, 1]  # noqa: E731
        lo, hi = zou_difference(r(x1, y), r(x2, y), r(x1, x2), 30, 0.95)
        hits += lo <= true <= hi
    assert 0.92 <= hits / 400 <= 0.98


def test_seed_variance_is_the_spread_beyond_evaluation_noise():
    rows = [{"method": "rl", "policy": "small", "rm": rm, "algorithm": "rloo", "kl_coef": 0.0, "rl_seed": seed,
             "step": step, "gold": g if step else 0.0, "gold_se": 0.1}
            for rm, golds in (("gold", [1.0, 1.4, 1.2]), ("p", [0.5, 0.5]), ("q", [0.3]))
            for seed, g in enumerate(golds) for step in (0, 10)]
    tau2, groups = tt.seed_variance(pd.DataFrame(rows), None)
    # gold: var 0.04 - 0.01 = 0.03 on 2 dof; p: floored at 0 on 1 dof; q: one seed, left out
    assert groups == 2 and tau2 == pytest.approx((0.03 * 2 + 0.0) / 3)
    assert np.isnan(tt.seed_variance(pd.DataFrame(rows[-2:]), None)[0])
