"""Functional-form fits of gold score vs d = sqrt(KL) (Gao et al. 2022; docs/science.md 4.4).

    bon: R(d) = d (alpha - beta d)       rl: R(d) = d (alpha - beta ln d)

Both are linear after dividing by d, so ordinary least squares (statsmodels) gives alpha,
beta and their confidence intervals; a nonlinear least-squares fit on R itself (scipy) is
kept beside it as the cross-check. Points with d = 0 are excluded.

The OLS intervals treat a curve's points as independent and undercover; ``fit_bon_curve``
(from the pools) and ``fit_curve_bootstrap`` (from per-sample RL/DAA rows) give the same point
fit with percentile-bootstrap intervals over prompts (and seeds): ``BootFit``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

FORMS = ("bon", "rl")


def _feature(d: np.ndarray, form: str) -> np.ndarray:
    if form == "bon":
        return d
    if form == "rl":
        return np.log(d)
    raise ValueError(f"form must be one of {FORMS}, got {form!r}")


def predict(d, alpha: float, beta: float, form: str) -> np.ndarray:
    d = np.asarray(d, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(d > 0, d * (alpha - beta * _feature(np.where(d > 0, d, 1.0), form)), 0.0)


def peak(alpha: float, beta: float, form: str) -> tuple[float, float]:
    """(d*, R*): where the fitted curve peaks; infinite when beta <= 0 (no peak)."""
    if beta <= 0:
        return float("inf"), float("inf") if alpha > 0 else 0.0
    if form == "bon":
        return alpha / (2 * beta), alpha**2 / (4 * beta)
    d_star = float(np.exp(alpha / beta - 1.0))
    return d_star, beta * d_star


def _flat_row(fit) -> dict:
    """A fit's fields as one table row, each ``*_ci`` pair as ``*_ci_low`` / ``*_ci_high``."""
    d = asdict(fit)
    for k in [k for k in d if k.endswith("_ci")]:
        d[f"{k}_low"], d[f"{k}_high"] = d.pop(k)
    return d


@dataclass
class FitResult:
    form: str
    alpha: float
    beta: float
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    d_star: float
    r_star: float
    rmse: float
    r2: float
    n_points: int
    alpha_nls: float
    beta_nls: float

    def __getitem__(self, key):  # fits read as attributes or as keys
        return getattr(self, key)

    def row(self) -> dict:
        """Flat dict for a table row (CIs as ``*_ci_low`` / ``*_ci_high``)."""
        return _flat_row(self)


def fit_form(d, r, form: str, level: float = 0.95) -> FitResult:
    """Fit R(d) in the ``bon`` or ``rl`` form. ``d`` and ``r`` are 1-D arrays; r is the score
    relative to pi_init (0 at d = 0)."""
    import statsmodels.api as sm
    from scipy.optimize import curve_fit

    d, r = np.asarray(d, dtype=np.float64), np.asarray(r, dtype=np.float64)
    if d.shape != r.shape:
        raise ValueError(f"d {d.shape} and r {r.shape} differ in shape")
    keep = (d > 0) & np.isfinite(d) & np.isfinite(r)
    d, r = d[keep], r[keep]
    if d.size < 3:
        raise ValueError(f"need at least 3 points with d > 0, got {d.size}")
    X = np.column_stack([np.ones_like(d), -_feature(d, form)])
    res = sm.OLS(r / d, X).fit()
    alpha, beta = (float(v) for v in res.params)
    ci = res.conf_int(alpha=1 - level)
    resid = r - predict(d, alpha, beta, form)
    try:
        (a_nls, b_nls), _ = curve_fit(lambda x, a, b: predict(x, a, b, form), d, r, p0=[alpha, beta])
    except RuntimeError:  # NLS did not converge: the OLS fit still stands
        a_nls = b_nls = float("nan")
    d_star, r_star = peak(alpha, beta, form)
    ss_tot = float(np.sum((r - r.mean()) ** 2))
    return FitResult(form, alpha, beta, (float(ci[0, 0]), float(ci[0, 1])), (float(ci[1, 0]), float(ci[1, 1])),
                     float(d_star), float(r_star), float(np.sqrt(np.mean(resid**2))),
                     1.0 - float(np.sum(resid**2)) / ss_tot if ss_tot > 0 else float("nan"), int(d.size),
                     float(a_nls), float(b_nls))


@dataclass
class SharedAlphaFit:
    """Gao's joint RL fit: one alpha for every proxy, one beta per proxy."""

    alpha: float
    alpha_ci: tuple[float, float]
    betas: dict
    betas_ci: dict
    d_star: dict
    r_star: dict
    rmse: float
    n_points: int

    def __getitem__(self, key):
        return getattr(self, key)


def fit_rl_shared_alpha(frame: pd.DataFrame, level: float = 0.95) -> SharedAlphaFit:
    """Joint fit of R(d) = d (alpha - beta_rm ln d) over proxies (Gao et al. 2022, RL): one
    alpha shared across ``rm`` values, one beta per ``rm``. ``frame`` has columns ``rm, d, r``;
    OLS on R/d (statsmodels) gives every coefficient with a CI. Points with d = 0 are dropped."""
    import statsmodels.api as sm

    f = frame[["rm", "d", "r"]].copy()
    f = f[(f["d"] > 0) & np.isfinite(f["d"]) & np.isfinite(f["r"])]
    rms = sorted(f["rm"].unique(), key=str)
    if not rms or any((f["rm"] == rm).sum() < 2 for rm in rms):
        raise ValueError("every rm needs at least 2 points with d > 0")
    X = np.column_stack([np.ones(len(f))] + [-np.log(f["d"]) * (f["rm"] == rm) for rm in rms])
    res = sm.OLS((f["r"] / f["d"]).to_numpy(), X).fit()
    ci = np.asarray(res.conf_int(alpha=1 - level))
    alpha = float(res.params[0])
    betas = {rm: float(b) for rm, b in zip(rms, res.params[1:])}
    peaks = {rm: peak(alpha, b, "rl") for rm, b in betas.items()}
    pred = f["d"] * (alpha - f["rm"].map(betas) * np.log(f["d"]))
    return SharedAlphaFit(alpha, (float(ci[0, 0]), float(ci[0, 1])), betas,
                          {rm: (float(lo), float(hi)) for rm, (lo, hi) in zip(rms, ci[1:])},
                          {rm: p[0] for rm, p in peaks.items()}, {rm: p[1] for rm, p in peaks.items()},
                          float(np.sqrt(np.mean((f["r"] - pred) ** 2))), len(f))


def rmse_alternatives(d, r) -> dict:
    """RMSE on R of the RL form and its alternatives (docs/science.md 4.4; Rafailov et al. 2024):
    ``rl`` d(alpha - beta ln d), ``rl_log1p`` d(alpha - beta ln(1 + d)), and ``quadratic_kl``
    b1 KL + b2 KL^2 (through the origin), each by least squares."""
    d, r = np.asarray(d, dtype=np.float64), np.asarray(r, dtype=np.float64)
    keep = (d > 0) & np.isfinite(d) & np.isfinite(r)
    d, r = d[keep], r[keep]
    designs = {"rl": np.column_stack([d, -d * np.log(d)]),
               "rl_log1p": np.column_stack([d, -d * np.log1p(d)]),
               "quadratic_kl": np.column_stack([d**2, d**4])}
    out = {}
    for name, X in designs.items():
        coef, *_ = np.linalg.lstsq(X, r, rcond=None)
        out[name] = float(np.sqrt(np.mean((r - X @ coef) ** 2)))
    return out


def extrapolation(d, r, form: str, cutoff: float) -> dict:
    """Fit on d <= cutoff, report the RMSE of the prediction beyond it (Gao's extrapolation test)."""
    d, r = np.asarray(d, dtype=np.float64), np.asarray(r, dtype=np.float64)
    inside, beyond = d <= cutoff, d > cutoff
    if not beyond.any():
        raise ValueError(f"no points beyond the cutoff d = {cutoff}")
    f = fit_form(d[inside], r[inside], form)
    err = r[beyond] - predict(d[beyond], f.alpha, f.beta, form)
    return {"cutoff": cutoff, "alpha": f.alpha, "beta": f.beta, "rmse_in": f.rmse,
            "rmse_out": float(np.sqrt(np.mean(err**2))), "n_in": f.n_points, "n_out": int(beyond.sum())}


def loglinear(x, y, level: float = 0.95) -> dict:
    """OLS of y on log10(x): slope, intercept, their CIs, R^2 (coefficient scaling, Gao Fig. 3)."""
    import statsmodels.api as sm

    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = np.isfinite(x) & np.isfinite(y) & (x > 0)
    if np.unique(x[keep]).size < 2:
        raise ValueError("need at least two distinct x values")
    x, y = x[keep], y[keep]
    res = sm.OLS(y, sm.add_constant(np.log10(x))).fit()
    ci = np.asarray(res.conf_int(alpha=1 - level)) if x.size > 2 else np.full((2, 2), np.nan)
    return {"intercept": float(res.params[0]), "slope": float(res.params[1]),
            "intercept_ci_low": float(ci[0, 0]), "intercept_ci_high": float(ci[0, 1]),
            "slope_ci_low": float(ci[1, 0]), "slope_ci_high": float(ci[1, 1]),
            "r2": float(res.rsquared), "n_points": int(x.size)}


# --- bootstrap intervals over prompts (docs/science.md 4.4) --------------------------------
#
# The OLS intervals of ``fit_form`` treat the points of one curve as independent; they are not:
# every best-of-n point is computed from the same pools, every RL step from the same eval
# prompts. The sampling unit is the prompt (and, with several seeds, the seed), so the
# intervals below resample those and refit.

@dataclass
class BootFit:
    """A functional-form fit with percentile-bootstrap intervals over prompts (or over seeds,
    then prompts within each drawn seed). The point fit is ``fit_form`` on the mean curve;
    ``*_ci`` are percentile intervals over the ``n_boot_ok`` usable replicates (replicates with
    fewer than 3 points with d > 0, or with all their d equal, are dropped and counted).
    Replicates with beta <= 0 have no peak (d* = R* = inf, R* = 0 if also alpha <= 0), so
    the upper bound of ``d_star_ci``/``r_star_ci`` is inf whenever more than a tail share of
    the replicates has no peak: the data do not rule out a curve that never turns over."""

    form: str
    curve: str
    alpha: float
    beta: float
    d_star: float
    r_star: float
    rmse: float
    r2: float
    n_points: int
    alpha_nls: float
    beta_nls: float
    alpha_ci: tuple[float, float]
    beta_ci: tuple[float, float]
    d_star_ci: tuple[float, float]
    r_star_ci: tuple[float, float]
    level: float
    n_boot: int
    n_boot_ok: int
    ci_method: str
    n_prompts: int
    n_seeds: int = 1

    def __getitem__(self, key):
        return getattr(self, key)

    def row(self) -> dict:
        """Flat dict for a table row (CIs as ``*_ci_low`` / ``*_ci_high``), the columns of
        ``FitResult.row()`` and more."""
        return _flat_row(self)


def bon_per_prompt(gold, proxy, ns) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``overopt.metrics.bon.per_prompt``: the per-prompt BoN curves a bootstrap resamples."""
    from overopt.metrics.bon import per_prompt

    return per_prompt(gold, proxy, ns)


def _quantiles(x: np.ndarray, probs) -> tuple[float, ...]:
    """Linear-interpolation quantiles (numpy's default) that keep +-inf: a bound between a
    finite and an infinite replicate is infinite, not NaN."""
    x = np.sort(x[~np.isnan(x)])
    if x.size == 0:
        return tuple(float("nan") for _ in probs)
    out = []
    for q in probs:
        h = (x.size - 1) * q
        lo = int(np.floor(h))
        hi = min(lo + 1, x.size - 1)
        frac = h - lo
        if frac == 0 or x[lo] == x[hi]:
            out.append(float(x[lo]))
        else:
            out.append(float(x[lo] + frac * (x[hi] - x[lo])))
    return tuple(out)


def _peaks(alpha: np.ndarray, beta: np.ndarray, form: str) -> tuple[np.ndarray, np.ndarray]:
    """``peak`` over arrays."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pos = beta > 0
        if form == "bon":
            d = np.where(pos, alpha / (2 * beta), np.inf)
            r = np.where(pos, alpha**2 / (4 * beta), np.where(alpha > 0, np.inf, 0.0))
        else:
            d = np.where(pos, np.exp(alpha / beta - 1.0), np.inf)
            r = np.where(pos, beta * d, np.where(alpha > 0, np.inf, 0.0))
    return d, r


def _fit_many(d: np.ndarray, r: np.ndarray, form: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The OLS of ``fit_form`` (R/d on [1, -feature(d)]) for many curves at once: d, r are
    [B, T] (d may differ per row). A two-parameter regression in closed form per row, on the
    points with d > 0 and finite r. Returns alpha, beta, ok (>= 3 points, non-constant d)."""
    d, r = np.broadcast_arrays(np.asarray(d, dtype=np.float64), np.asarray(r, dtype=np.float64))
    m = (d > 0) & np.isfinite(d) & np.isfinite(r)
    safe = np.where(m, d, 1.0)
    x = np.where(m, -_feature(safe, form), 0.0)
    y = np.where(m, r / safe, 0.0)
    n = m.sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        mx, my = x.sum(1) / n, y.sum(1) / n
        xc, yc = np.where(m, x - mx[:, None], 0.0), np.where(m, y - my[:, None], 0.0)
        sxx, sxy = (xc**2).sum(1), (xc * yc).sum(1)
        beta = sxy / sxx
        alpha = my - beta * mx
    scale = np.where(m, x**2, 0.0).sum(1)
    ok = (n >= 3) & (sxx > 1e-12 * np.maximum(scale, 1e-300)) & np.isfinite(alpha) & np.isfinite(beta)
    return alpha, beta, ok


def _boot_fit(point_d, point_r, boot_d, boot_r, form: str, curve: str, level: float, n_boot: int,
              ci_method: str, n_prompts: int, n_seeds: int = 1) -> BootFit:
    f = fit_form(point_d, point_r, form, level)
    a, b, ok = _fit_many(boot_d, boot_r, form)
    a, b = a[ok], b[ok]
    ds, rs = _peaks(a, b, form)
    q = ((1 - level) / 2, (1 + level) / 2)
    return BootFit(form, curve, f.alpha, f.beta, f.d_star, f.r_star, f.rmse, f.r2, f.n_points, f.alpha_nls,
                   f.beta_nls, _quantiles(a, q), _quantiles(b, q), _quantiles(ds, q), _quantiles(rs, q), level,
                   int(n_boot), int(ok.sum()), ci_method, int(n_prompts), int(n_seeds))


def _prompt_weights(rng: np.random.Generator, n_boot: int, P: int) -> np.ndarray:
    """[n_boot, P] multiplicities of a with-replacement resample of P prompts."""
    return rng.multinomial(P, np.full(P, 1.0 / P), size=n_boot).astype(np.float64)


CURVES = ("gold", "proxy")


def fit_bon_curve(gold, proxy, ns, level: float = 0.95, n_boot: int = 1000, seed: int = 0, *,
                  curve: str = "gold", min_n: int = 1) -> BootFit:
    """The BoN form fitted to the best-of-n curve of ``curve`` (``gold`` or ``proxy``) from
    pools gold, proxy [P, N] (the same samples scored by both), with bootstrap CIs over prompts.

    Point: ``fit_form`` on the mean curve, r = score(n) - score(1), d = sqrt(log n - (n-1)/n),
    points with n < ``min_n`` (and n = 1, d = 0) left out; n = 1 is always computed as the
    base. CIs: the per-prompt curves [P, len(ns)] are resampled by rows (a prompt keeps its
    whole pool), ``n_boot`` times with ``seed``, each replicate's mean curve refitted by the
    same OLS; percentile intervals at ``level``. See ``BootFit`` for infinite peaks."""
    return fit_bon_curves(gold, proxy, ns, level, n_boot, seed, min_n=min_n)[_check_curve(curve)]


def fit_bon_curves(gold, proxy, ns, level: float = 0.95, n_boot: int = 1000, seed: int = 0, *,
                   min_n: int = 1) -> dict[str, BootFit]:
    """``fit_bon_curve`` for both curves at once, ``{"gold": ..., "proxy": ...}``: one
    per-prompt matrix and the same bootstrap resamples for both."""
    from overopt.metrics.bon import kl_bon

    ns, g, p = bon_per_prompt(gold, proxy, {1, *ns})
    keep = (ns == 1) | (ns >= min_n)
    ns, g, p = ns[keep], g[:, keep], p[:, keep]
    d = np.sqrt(kl_bon(ns))
    P = g.shape[0]
    w = _prompt_weights(np.random.default_rng(seed), n_boot, P) / P
    out = {}
    for name, s in (("gold", g), ("proxy", p)):
        rel = s - s[:, :1]  # relative to n = 1 per prompt: the mean of differences is the difference of means
        out[name] = _boot_fit(d, rel.mean(0), d[None, :], w @ rel, "bon", name, level, n_boot, "bootstrap_prompts", P)
    return out


def _check_curve(curve: str) -> str:
    if curve not in CURVES:
        raise ValueError(f"curve must be one of {CURVES}, got {curve!r}")
    return curve


def fit_curve_bootstrap(samples: pd.DataFrame, form: str, curve: str, level: float = 0.95, n_boot: int = 1000,
                        seed: int = 0) -> BootFit:
    """The ``form`` (``rl`` for RL and DAA) fitted to an evaluation curve from its per-sample
    rows, with bootstrap CIs over prompts.

    ``samples``: columns ``step, prompt, gold, proxy, kl`` (kl: the per-sequence estimate,
    sum over tokens of log pi/pi_init) and optionally ``run_seed`` (several seeds of one run
    setting; every seed must have the same steps). Per step: the mean over all samples of
    ``curve`` and of kl, d = sqrt(max(mean kl, 0)), r = score(step) - score(step 0); step 0
    (pi_init) must exist. Point: ``fit_form`` on that curve.

    CIs: the eval prompts are the same at every step, so a replicate draws prompt ids with
    replacement once and uses them at every step (the cluster is the prompt; a prompt's
    samples at every step move together). With several run seeds the bootstrap has two
    stages: draw seeds with replacement, then, for each drawn seed, draw its prompts with
    replacement (``ci_method`` ``bootstrap_seeds_prompts``; with a handful of seeds the
    seed stage is coarse, and its intervals are as good as the seeds are many). Per replicate
    and step, means are ratios of weighted sums over samples, so unequal sample counts per
    prompt are handled. Percentile intervals at ``level``; see ``BootFit``."""
    if form not in FORMS:
        raise ValueError(f"form must be one of {FORMS}, got {form!r}")
    _check_curve(curve)
    need = {"step", "prompt", "gold", "proxy", "kl"}
    if missing := need - set(samples.columns):
        raise ValueError(f"samples lack columns {sorted(missing)}")
    f = samples.assign(run_seed=samples["run_seed"] if "run_seed" in samples.columns else 0)
    f = f[["run_seed", "step", "prompt", curve, "kl"]]
    if not np.isfinite(f[[curve, "kl"]].to_numpy(dtype=np.float64)).all():
        raise ValueError("scores and kl must be finite")
    steps = np.sort(f["step"].unique())
    if steps.size == 0 or steps[0] != 0:
        raise ValueError("the curve needs its step-0 (pi_init) samples")
    per_seed = f.groupby("run_seed")["step"].unique()
    if any(set(s) != set(steps) for s in per_seed):
        raise ValueError("every run_seed must have the same steps")
    seeds, prompts = np.sort(f["run_seed"].unique()), np.sort(f["prompt"].unique())
    S, P, T = seeds.size, prompts.size, steps.size
    cell = (np.searchsorted(seeds, f["run_seed"]) * P + np.searchsorted(prompts, f["prompt"])) * T \
        + np.searchsorted(steps, f["step"])
    size = S * P * T
    cnt = np.bincount(cell, minlength=size).reshape(S * P, T).astype(np.float64)
    tot = np.bincount(cell, f[curve].to_numpy(np.float64), size).reshape(S * P, T)
    kl = np.bincount(cell, f["kl"].to_numpy(np.float64), size).reshape(S * P, T)

    def curves(w):  # w [B, S*P] cluster weights -> d, r [B, T]
        with np.errstate(divide="ignore", invalid="ignore"):
            n = w @ cnt
            score, k = (w @ tot) / n, (w @ kl) / n
        return np.sqrt(np.maximum(k, 0.0)), score - score[:, :1]

    rng = np.random.default_rng(seed)
    if S == 1:
        w, method = _prompt_weights(rng, n_boot, P), "bootstrap_prompts"
    else:
        draws = rng.integers(0, S, size=(n_boot, S))  # stage 1: seeds
        within = rng.multinomial(P, np.full(P, 1.0 / P), size=(n_boot, S))  # stage 2: prompts in each draw
        w = np.zeros((n_boot, S, P))
        np.add.at(w, (np.arange(n_boot)[:, None], draws), within)
        w, method = w.reshape(n_boot, S * P), "bootstrap_seeds_prompts"
    d0, r0 = curves(np.ones((1, S * P)))
    bd, br = curves(w)
    return _boot_fit(d0[0], r0[0], bd, br, form, curve, level, n_boot, method, P, S)
