"""Whole-range against window-only refinement, paired on the same curves (docs/refine.md, "Every point of the data
is fitted"): bench_calibration's realistic curves (0.03-0.15 1/A, truths on a 10x finer grid), each inverted once
and refined twice, ``q_range=None`` (every point) and ``q_range=start.q_range`` (the network's window alone).
Prints per family the median W1 of the network and of both refinements, the paired median change, curves better /
worse by more than 1e-4 A, the median time of each refinement (interleaved in one process), chi2_red and number-mean
error.

    python benchmarks/bench_refine_range.py --families tophat --n 150 --condition auto --seed 42
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from bench_calibration import FAMILIES, make_curves, truth_of, w1

from sasview_nn_plugin.fitting.refine import refine
from sasview_nn_plugin.inference.invert import invert
from sasview_nn_plugin.inference.modelfile import load_model


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", nargs="+", default=FAMILIES)
    ap.add_argument("--n", type=int, default=30, help="curves per family")
    ap.add_argument("--condition", default="auto", choices=["given", "auto"])
    ap.add_argument("--seed", type=int, default=41)
    args = ap.parse_args()
    nn = load_model()
    rng = np.random.default_rng(args.seed)
    for fam in args.families:
        rows = []
        for c in make_curves(nn, fam, args.n, rng, args.condition):
            start = invert(c["q"], c["i"], c["di"], volume_fraction=c["phi_given"], model=nn, dq=c["dq"])
            row = [w1(start.radius, start.number_distribution, c["r"], c["w"])]
            for q_range in (start.q_range, None):
                t0 = time.perf_counter()
                ref = refine(c["q"], c["i"], c["di"], start, dq=c["dq"], q_range=q_range)
                t = time.perf_counter() - t0
                mn = truth_of(c, c["r"], ref.radius)["mean_radius_number"]
                row += [w1(ref.radius, ref.number_distribution, c["r"], c["w"]), t, ref.fit.chi2_reduced,
                        100 * abs(ref.mean_radius_number / mn - 1)]
            rows.append(row)
        a = np.array(rows)
        d = a[:, 5] - a[:, 1]
        print(f"{fam:14s} n={len(a)} W1 net {np.median(a[:, 0]):.3f} window {np.median(a[:, 1]):.3f} "
              f"all points {np.median(a[:, 5]):.3f} | paired all - window {np.median(d):+.3f}, better "
              f"{int(np.sum(d < -1e-4))} worse {int(np.sum(d > 1e-4))} | time {1e3 * np.median(a[:, 2]):.0f} / "
              f"{1e3 * np.median(a[:, 6]):.0f} ms | chi2 {np.median(a[:, 3]):.2f} / {np.median(a[:, 7]):.2f} | "
              f"<R>n err {np.median(a[:, 4]):.3f} / {np.median(a[:, 8]):.3f} %", flush=True)


if __name__ == "__main__":
    main()
