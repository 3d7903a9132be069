"""Accuracy of trained models on fresh test sets whose shapes lie outside the paper's Schulz family.

Per family (log-normal, Gaussian, bimodal, top-hat, narrow Schulz), phi 0.1-0.5, 1-3 % noise:
median relative error of the number- and volume-mean radius and median Wasserstein-1 distance
between predicted and true number distributions (A), under two conditions:
  clean     : data on the model's q grid, the true phi given to invert;
  realistic : 400 log-spaced points over 0.03-0.15 1/A, flat background up to 2 % of I(0.105),
              phi given off by up to +-10 %, half the curves pinhole-smeared (dQ/Q = 5 %, sasmodels Pinhole1D).
Curves come from physics.intensity, which equals sasmodels sphere@hardsphere (tests/test_physics.py).

    python benchmarks/bench_accuracy.py [--models default he2024] [--n 300] [--seed 7] [--baseline PATH]
"""

from __future__ import annotations

import argparse

import numpy as np

from sasview_nn_plugin.inference.invert import to_model_grid
from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.training.train import w1_distance

FAMILIES = ["lognormal", "gaussian", "bimodal", "tophat", "narrow_schulz"]


def make_set(nn, family, n, rng, realistic):
    """(curves on the model grid after the data path, phi given, true number distributions, dQ/Q per curve: what
    a user who passes dq gives the network; models without the resolution input ignore it)."""
    from sasmodels.resolution import Pinhole1D

    from sasview_nn_plugin.physics.grids import RadiusGrid

    grid = RadiusGrid(nn.radius[0], nn.radius[-1], len(nn.radius))
    w = distributions.sample(rng, n, grid, family)
    phi = rng.uniform(0.1, 0.5, n)
    noise = rng.uniform(0.01, 0.03, n)
    if not realistic:
        basis = physics.sphere_basis(nn.q, nn.radius)
        clean = physics.intensity(basis, w, phi)
        return clean * (1 + noise[:, None] * rng.standard_normal(clean.shape)), phi, w, np.zeros(n)
    q = np.geomspace(0.03, 0.15, 400)
    res = Pinhole1D(q, 0.05 * q)
    plain = physics.intensity(physics.sphere_basis(q, nn.radius), w, phi)
    calc = physics.intensity(physics.sphere_basis(res.q_calc, nn.radius), w, phi)
    smeared = rng.random(n) < 0.5
    curves = np.where(smeared[:, None], np.stack([res.apply(c) for c in calc]), plain)
    i105 = np.array([np.interp(0.105, q, c) for c in curves])
    curves += (rng.uniform(0, 0.02, n) * i105)[:, None]
    curves *= 1 + noise[:, None] * rng.standard_normal(curves.shape)
    curves = np.abs(curves)
    on_grid = np.stack([to_model_grid(q, c, nn) for c in curves])
    return on_grid, phi * rng.uniform(0.9, 1.1, n), w, np.where(smeared, 0.05, 0.0)


def per_curve(pred, true, radius) -> dict[str, np.ndarray]:
    """Per-curve errors behind the table's medians: err <R>n, the same for true mean >= 30 A (NaN below), err <R>v,
    W1 (A)."""
    rn_p, rn_t = physics.mean_radius(pred, radius), physics.mean_radius(true, radius)
    vp, vt = physics.number_to_volume(pred, radius), physics.number_to_volume(true, radius)
    err_n = np.abs(rn_p / rn_t - 1)
    return {"err <R>n": err_n, "(R>=30)": np.where(rn_t >= 30, err_n, np.nan),
            "err <R>v": np.abs(physics.mean_radius(vp, radius) / physics.mean_radius(vt, radius) - 1),
            "W1 (A)": w1_distance(pred, true, radius)}


def paired(a: np.ndarray, b: np.ndarray, rng, levels=(0.95,), n_boot: int = 4000) -> tuple[float, list]:
    """median(a) - median(b) over the same curves and its paired-bootstrap intervals (curves resampled in pairs), one
    (lo, hi) per confidence level in ``levels``."""
    ok = np.isfinite(a) & np.isfinite(b)
    a, b = a[ok], b[ok]
    diff = np.concatenate([np.median(a[idx], axis=1) - np.median(b[idx], axis=1)
                           for idx in (rng.integers(0, len(a), (500, len(a))) for _ in range(n_boot // 500))])
    bounds = [tuple(np.percentile(diff, [50 * (1 - c), 50 * (1 + c)])) for c in levels]
    return float(np.median(a) - np.median(b)), bounds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["default"])
    ap.add_argument("--n", type=int, default=300, help="curves per family and condition")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--baseline", default=None, help="a model (name or path) every --models entry is compared with on "
                    "the same curves: median difference and its 95 %% paired-bootstrap interval per row and column")
    args = ap.parse_args()
    print(f"{args.n} curves per family and condition, seed {args.seed}")
    print(f"{'model':10s} {'condition':10s} {'family':14s} {'err <R>n':>9s} {'(R>=30)':>8s} {'err <R>v':>9s} "
          f"{'W1 (A)':>7s}")
    models = {name: load_model(name) for name in args.models}
    base = None if args.baseline is None else load_model(args.baseline)
    comparisons = []
    for name, nn in models.items():
        for cond in ("clean", "realistic"):
            rng = np.random.default_rng(args.seed)
            for fam in FAMILIES:
                x, phi, w, dq_over_q = make_set(nn, fam, args.n, rng, cond == "realistic")
                pred = nn.predict(x, phi, resolution=dq_over_q)
                m = per_curve(pred, w, nn.radius)
                print(f"{name:10s} {cond:10s} {fam:14s} " + " ".join(
                    f"{np.nanmedian(v) if k == 'W1 (A)' else 100 * np.nanmedian(v):{8 if k == '(R>=30)' else 9}.2f}"
                    + ("" if k == "W1 (A)" else "%") for k, v in m.items()))
                if base is not None:   # the same curves (the baseline must share the model's grid)
                    mb = per_curve(base.predict(x, phi, resolution=dq_over_q), w, nn.radius)
                    comparisons.append((name, cond, fam, {k: (m[k], mb[k]) for k in m}))
    if comparisons:
        cells = len(comparisons) * len(comparisons[0][3])
        family = 1 - 0.05 / cells   # Bonferroni: 95 % for all the cells together
        print(f"\nagainst {args.baseline} on the same curves: median(model) - median(baseline) and its "
              f"paired-bootstrap interval, 95 % per cell and {100 * family:.4g} % (95 % for all {cells} cells "
              "together, Bonferroni); worse = the interval wholly above 0 (errors in percentage points, W1 in A)")
        verdicts = {"per cell": [], "all cells": []}
        for name, cond, fam, cols in comparisons:
            out = []
            for k, (a, b) in cols.items():
                f = 1 if k == "W1 (A)" else 100
                d, (cell, joint) = paired(a, b, np.random.default_rng(0), (0.95, family))
                v = ["worse" if lo > 0 else ("better" if hi < 0 else "same") for lo, hi in (cell, joint)]
                verdicts["per cell"].append(v[0])
                verdicts["all cells"].append(v[1])
                out.append(f"{k} {f * d:+.3f} [{f * cell[0]:+.3f},{f * cell[1]:+.3f}] {v[0]:6s} "
                           f"[{f * joint[0]:+.3f},{f * joint[1]:+.3f}] {v[1]:6s}")
            print(f"{name:10s} {cond:10s} {fam:14s} " + "  ".join(out))
        for how, v in verdicts.items():
            print(f"{how}: {v.count('better')} better, {v.count('same')} same, {v.count('worse')} worse of {len(v)}")

if __name__ == "__main__":
    main()
