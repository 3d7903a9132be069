"""Refinement: time per curve for LM from the network (histogram and schulz3) and for DREAM, and
reduced chi^2 / W1 (number distribution vs truth) before and after, on sasmodels-generated curves.

    python benchmarks/bench_refine.py [--n 20] [--n-dream 3] [--seed 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from bench_calibration import w1  # noqa: E402  (W1 across radius grids: a mapped window's result is on R x s)
from test_refine import Q, sasmodels_curve, truth  # noqa: E402  (sasmodels' own dispersion, test helper)

from sasview_nn_plugin import invert  # noqa: E402
from sasview_nn_plugin.fitting.curves import model_curve  # noqa: E402
from sasview_nn_plugin.fitting.refine import refine  # noqa: E402
from sasview_nn_plugin.physics.grids import RadiusGrid  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=20)
    ap.add_argument("--n-dream", type=int, default=3)
    ap.add_argument("--seed", type=int, default=5)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    cases = []
    for _ in range(args.n):
        kind = rng.choice(["schulz", "lognormal"])
        r, pd, phi = rng.uniform(25, 75), rng.uniform(0.05, 0.2), rng.uniform(0.1, 0.5)
        i = sasmodels_curve(Q, r, pd, kind, phi)
        di = 0.01 * i
        cases.append((i + di * rng.standard_normal(len(Q)), di, phi, truth(r, pd, kind)))
    print(f"{args.n} sasmodels sphere@hardsphere curves (Schulz/log-normal, R 25-75 A, pd 0.05-0.2, "
          f"phi 0.1-0.5, 1 % noise, 300 points 0.03-0.15 1/A)")
    invert(Q, cases[0][0], cases[0][1], volume_fraction=cases[0][2])  # load the model once
    for label, method, par, n in [("nn-lm histogram", "lm", "histogram", args.n),
                                  ("nn-lm schulz3", "lm", "schulz3", args.n),
                                  ("nn-dream schulz3", "dream", "schulz3", args.n_dream)]:
        if n == 0:
            continue
        t_net, t_ref, chi_net, chi_ref, w_net, w_ref = [], [], [], [], [], []
        for i, di, phi, w_true in cases[:n]:
            t0 = time.perf_counter()
            start = invert(Q, i, di, volume_fraction=phi)
            t1 = time.perf_counter()
            ref = refine(Q, i, di, start, method=method, parametrization=par)
            t2 = time.perf_counter()
            t_net.append(t1 - t0)
            t_ref.append(t2 - t1)
            chi_net.append(model_curve(start).chi2_reduced)
            chi_ref.append(ref.fit.chi2_reduced)
            grid = RadiusGrid().radius  # the truth's (tests/test_refine.truth)
            w_net.append(w1(start.radius, start.number_distribution, grid, w_true))
            w_ref.append(w1(ref.radius, ref.number_distribution, grid, w_true))
        med = statistics.median
        print(f"{label:18s} n={n:3d}: time/curve median {med(t_ref):.3f} s (network {1e3 * med(t_net):.2f} ms); "
              f"chi2_red median {med(chi_net):.2f} -> {med(chi_ref):.2f}; W1 median {med(w_net):.2f} -> "
              f"{med(w_ref):.2f} A")


if __name__ == "__main__":
    main()
