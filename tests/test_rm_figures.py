"""The RM-evaluation figures from small synthetic tables built with the real table code: every
declared figure is written, also with one objective only and no downstream outcomes."""
import numpy as np
import pandas as pd
import pytest

from overopt import outputs, settings
from overopt.figures import frames
from overopt.figures.rm_style import _in_setting
from overopt.tables import rm_eval as rm_tables
from overopt.tables import role_swap as rs
from overopt.tables import summaries

SETTING = {"policy": "small", "algorithm": "rloo", "kl_coef": 0.1, "rl_seed": 0}
OTHER = {**SETTING, "kl_coef": 0.05}
STEMS = ["acc_vs_ndr", "acc_vs_test_size", "role_swap", "variance_vs_gain", "flat_teacher", "teachers", "prompt_free", "bt_vs_pfr", "shift",
         "report_card"]
# the reference targets' identity (the registry's kinds and families): the gold RM and the flat teacher
REFERENCES = {"gold": {"kind": "gold", "family": "gold"}, "gold_flat": {"kind": "reference", "family": "flat"}}
PROXY = {"kind": "proxy", "family": "grid"}
PF = ["pf_accuracy_true_prompt", "pf_accuracy_prompt_free", "pf_mean_abs_gap", "pf_mean_abs_swapped_gap",
      "pf_mean_abs_prompt_free"]


def _rm_eval(objectives, nan_outcomes: bool) -> pd.DataFrame:
    """rm_eval.csv's shape: proxies x objectives plus the two references, in two RL settings;
    with both objectives also the accuracy-vs-size and second-policy columns (else absent)."""
    rng = np.random.default_rng(0)
    ident = [{"rm": f"{size}-d{data}-{obj}-s0", **PROXY, "rm_size": size, "params": params, "data_size": data,
              "objective": obj, "seed": 0}
             for size, params in (("xs", 1608), ("s", 4752), ("m", 20000)) for data in (200, 600)
             for obj in objectives] + [{"rm": rm, **kind, "rm_size": rm} for rm, kind in REFERENCES.items()]
    frame = pd.DataFrame(ident)
    extra = ["acc_n50_mean", "acc_n50_sd", "acc_n200_mean", "acc_n200_sd", "variance_policy_large",
             "acc_policy_large"] if len(objectives) > 1 else []
    for col in [*rm_tables.METRICS, *PF, *extra]:
        frame[col] = rng.uniform(0.5, 1.0, len(frame))
    frame.loc[frame["rm"].isin(list(REFERENCES)), [c for c in frame if c.startswith("acc_")]] = 1.0
    frame.loc[0, "acc_adjacent"] = np.inf
    frame = frame.assign(bon_n=16, rl_step=20, rl_final_step=100)
    out = []
    for setting in (SETTING, OTHER):
        f = frame.assign(**setting)
        for col in [*rm_tables.OUTCOMES, "bon_gold", "rl_gold_gain_final"]:
            f[col] = np.nan if nan_outcomes else rng.uniform(0.0, 1.2, len(f))
        out.append(f)
    return pd.concat(out, ignore_index=True)


def _curves(rms) -> pd.DataFrame:
    """RL curves (gold gain rising then falling) per target in both settings, and a BoN curve."""
    rows = []
    for setting in (SETTING, OTHER):
        for i, rm in enumerate(rms):
            for step in range(0, 101, 20):
                kl = 0.05 * step
                rows.append({"method": "rl", "rm": rm, **REFERENCES.get(rm, PROXY), **setting, "step": step,
                             "kl": kl, "d": np.sqrt(kl),
                             "gold": np.sqrt(kl) * (1 - 0.1 * i * np.sqrt(kl)), "proxy": np.sqrt(kl)})
    rows.append({"method": "bon", "rm": "gold", **REFERENCES["gold"], "policy": "small", "n": 1, "kl": 0.0, "d": 0.0,
                 "gold": 0.0, "proxy": 0.0})
    return pd.DataFrame(rows)


def _fits(frame: pd.DataFrame) -> pd.DataFrame:
    """Peaks per target for the report card: BoN (one with no peak: inf) and RL in both settings."""
    rms = frame["rm"].unique()
    bon = pd.DataFrame({"method": "bon", "curve": "gold", "form": "bon", "rm": rms, "d_star": 2.0, "r_star": 1.0})
    bon.loc[1, ["d_star", "r_star"]] = np.inf
    rl = [pd.DataFrame({"method": "rl", "curve": "gold", "form": "rl", "rm": rms, "d_star": 3.0, "r_star": 0.5,
                        **s}) for s in (SETTING, OTHER)]
    return pd.concat([bon, *rl], ignore_index=True)


def _role_swap(full: bool) -> pd.DataFrame:
    """role_swap.csv from the real table code on synthetic pools: both views with the RL rows,
    or, with the family switched off, the grid view only."""
    rng = np.random.default_rng(3)
    latent = rng.normal(size=(6, 8))
    pools = {f"f{i}": latent + rng.normal(scale=0.3 + i, size=latent.shape) for i in range(3)}
    meta = {rm: {"flip_rate": 0.1 * i, "gold_accuracy": 0.9 - 0.1 * i} for i, rm in enumerate(pools)}
    frames = [rs._identity(pd.DataFrame(rs.bon_rows(pools, [4])), meta, "grid")]
    if full:
        runs, scores = {}, {g: {} for g in pools}
        for t in pools:
            runs[t] = pd.DataFrame([{"rm": t, "step": st, "prompt": 0, "kl": 0.5 * st, **SETTING} for st in (0, 2, 4)])
            for g in pools:
                scores[g][t] = np.array([0.0, rng.uniform(0.2, 1), rng.uniform(0.5, 2)])
        rows = rs.bon_rows(pools, [4]) + rs.rl_rows(runs, scores, pools, None, 1.0)
        frames.append(rs._identity(pd.DataFrame(rows), meta, "flip"))
    return pd.concat(frames, ignore_index=True).reindex(columns=rs.COLUMNS)


def _rm_metrics(frame: pd.DataFrame, shift: bool) -> pd.DataFrame:
    """rm_metrics.csv's shape: the proxies' identity and accuracies, with the shift family's rows
    (bt and pfr x 2 seeds, with the cue accuracies) when ``shift``."""
    rng = np.random.default_rng(4)
    grid = frame[frame["kind"] == "proxy"].drop_duplicates("rm")[["rm", "kind", "family", "objective", "seed"]]
    rows = [grid.assign(gold_accuracy=0.8)]
    if shift:
        rows.append(pd.DataFrame([{"rm": f"s-d600-cue-{o}-s{k}", "kind": "proxy", "family": "cue", "objective": o,
                                   "seed": k, "gold_accuracy": rng.uniform(0.7, 0.8),
                                   "cue_accuracy": rng.uniform(0.8, 0.9), "shift_accuracy": rng.uniform(0.4, 0.6)}
                                  for o in ("bt", "pfr") for k in range(2)]))
    return pd.concat(rows, ignore_index=True)


def _teachers(rl: bool) -> dict[str, pd.DataFrame]:
    """Razin's (student, teacher) table and its Table 2: both students, with RL or without
    (``mix.rl: false``: no increases)."""
    from overopt.tables import teachers as tt

    rng = np.random.default_rng(2)
    rows = [{"student": st, "student_params": 10, "teacher": t, "kind": kind, "family": fam, "onpolicy_fraction": f,
             "params": 5, "variance": rng.uniform(0.3, 1), "acc_onpolicy": rng.uniform(0.6, 1),
             "acc_offpolicy": rng.uniform(0.6, 1), "acc_labeled": rng.uniform(0.6, 1), "algorithm": "rloo",
             "kl_coef": 0.1, "rl_seed": 0, "rl_step": 6 if rl else np.nan,
             "gold_gain": rng.uniform(0, 0.5) if rl else np.nan, "gold_gain_se": 0.05,
             "proxy_gain": rng.uniform(0, 0.5) if rl else np.nan, "proxy_gain_se": 0.05}
            for st in ("small", "large") for t, kind, fam, f in
            (("s-d600-bt-s0", "proxy", "grid", 1.0), ("s-d600-on0.5-s0", "proxy", "mix", 0.5),
             ("s-d600-on0-s0", "proxy", "mix", 0.0), ("gold", "gold", "gold", np.nan),
             ("gold_flat", "reference", "flat", np.nan))]
    frame = pd.DataFrame(rows, columns=tt.COLUMNS)
    return {"teachers": frame, "teacher_correlations": tt.correlation_table(frame, 20, 0.9, 0)}


def _write(tmp_path, objectives, nan_outcomes: bool, curve_rms) -> dict[str, str]:
    frame = _rm_eval(objectives, nan_outcomes)
    corr = summaries.correlation_table(frame, n_boot=20, level=0.9, seed=0)
    card, predictors = summaries.report_card(frame, _fits(frame), SETTING, n_boot=20, level=0.9, seed=0)
    tables = {"rm_eval": frame, "correlations": corr, "report_card": card, "predictors": predictors,
              "curves": _curves(curve_rms(frame)), "role_swap": _role_swap(len(objectives) > 1),
              "rm_metrics": _rm_metrics(frame, len(objectives) > 1), **_teachers(len(objectives) > 1)}
    paths = {}
    for name, t in tables.items():
        paths[name] = str(tmp_path / f"{name}.csv")
        t.to_csv(paths[name], index=False)
    return paths


def _check(out) -> None:
    for stem in STEMS:
        for ext in ("png", "pdf"):
            f = out / f"{stem}.{ext}"
            assert f.exists() and f.stat().st_size > 5000, f


@pytest.mark.parametrize("objectives, nan_outcomes, flat_run", [
    (("bt", "pfr"), False, True),
    (("bt",), True, False),
], ids=["both-objectives", "bt-only-nan-outcomes-no-flat-run"])
def test_draw_writes_every_figure(tmp_path, objectives, nan_outcomes, flat_run):
    def curve_rms(frame):
        return [rm for rm in frame["rm"].unique() if flat_run or rm != "gold_flat"]

    paths = _write(tmp_path, objectives, nan_outcomes, curve_rms)
    out = tmp_path / "figures"
    frames.draw(paths, settings.Figures(names=STEMS, rl_algorithm="rloo", objective="bt", setting=SETTING), str(out))
    _check(out)


def test_stems_are_the_rm_figures_of_the_registry():
    assert [f.name for f in outputs.FIGURES if f.job == "rm_figures"] == STEMS


def test_setting_matches_across_csv_types():
    """A CSV round trip turns seed 0 into 0.0 and the KL coefficient into a float: still the same setting."""
    frame = pd.DataFrame({"policy": ["small", "small", "large"], "algorithm": "rloo", "kl_coef": [0.1, 0.05, 0.1],
                          "rl_seed": [0.0, 0.0, 0.0]})
    assert list(_in_setting(frame, SETTING).index) == [0]
