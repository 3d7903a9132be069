"""Accuracy of trained models on fresh test sets whose shapes lie outside the paper's Schulz family.

Per family (log-normal, Gaussian, bimodal, top-hat, narrow Schulz), phi 0.1-0.5, 1-3 % noise:
median relative error of the number- and volume-mean radius and median Wasserstein-1 distance
between predicted and true number distributions (A), under two conditions:
  clean     : data on the model's q grid, the true phi given to invert;
  realistic : 400 log-spaced points over 0.03-0.15 1/A, flat background up to 2 % of I(0.105),
              phi given off by up to +-10 %, half the curves pinhole-smeared (dQ/Q = 5 %, sasmodels Pinhole1D).
Curves come from physics.intensity, which equals sasmodels sphere@hardsphere (tests/test_physics.py).

    python benchmarks/bench_accuracy.py [--models default he2024] [--n 300] [--seed 7]
"""

from __future__ import annotations

import argparse

import numpy as np

from sasview_nn_plugin.inference.invert import to_model_grid
from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.training.train import evaluate

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", nargs="+", default=["default"])
    ap.add_argument("--n", type=int, default=300, help="curves per family and condition")
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    print(f"{args.n} curves per family and condition, seed {args.seed}")
    print(f"{'model':10s} {'condition':10s} {'family':14s} {'err <R>n':>9s} {'(R>=30)':>8s} {'err <R>v':>9s} "
          f"{'W1 (A)':>7s}")
    for name in args.models:
        nn = load_model(name)
        for cond in ("clean", "realistic"):
            rng = np.random.default_rng(args.seed)
            for fam in FAMILIES:
                x, phi, w, dq_over_q = make_set(nn, fam, args.n, rng, cond == "realistic")
                pred = nn.predict(x, phi, resolution=dq_over_q)
                m = evaluate(pred, w, nn.radius)
                big = physics.mean_radius(w, nn.radius) >= 30
                m30 = evaluate(pred[big], w[big], nn.radius)["median_rel_err_mean_radius_number"]
                print(f"{name:10s} {cond:10s} {fam:14s} {100 * m['median_rel_err_mean_radius_number']:8.2f}% "
                      f"{100 * m30:7.2f}% {100 * m['median_rel_err_mean_radius_volume']:8.2f}% "
                      f"{m['median_w1_number_A']:7.2f}")


if __name__ == "__main__":
    main()
