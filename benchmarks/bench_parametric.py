"""Parametric heads: how often the bumps fit of sasmodels sphere@hardsphere (Schulz / log-normal
polydispersity) converges (reduced chi^2 <= 1.5) when started by the network, against the same fit
from sasmodels' default start (radius 50 A, radius_pd 0.1, scale 1, background 0.001).

Curves: sasmodels' own dispersion (radius_pd_n 80, nsigmas 8), radius 15-85 A, radius_pd 0.04-0.28
(log-uniform), phi 0.1-0.5, noise 1-3 %, 300 points over 0.03-0.15 1/A.

    python benchmarks/bench_parametric.py [--n 100] [--seed 21]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from test_parametric import Q, _cases  # noqa: E402  (the test's case generator, sasmodels' own dispersion)

from sasview_nn_plugin.fitting.parametric import SASMODELS_DEFAULT_START, fit_sphere_hs, invert_parametric  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100, help="curves per family")
    ap.add_argument("--seed", type=int, default=21)
    args = ap.parse_args()
    print(f"{args.n} curves per family, {len(Q)} points over {Q[0]:g}-{Q[-1]:g} 1/A")
    for family in ("schulz", "lognormal"):
        rows = {"network start": [], "default start": []}
        for i, di, phi, r, pd in _cases(family, args.n, args.seed):
            for label in rows:
                t0 = time.perf_counter()
                if label == "network start":
                    fit = invert_parametric(Q, i, di, volume_fraction=phi, family=family)
                else:
                    fit = fit_sphere_hs(Q, i, di, volume_fraction=phi, family=family, **SASMODELS_DEFAULT_START)
                dt = time.perf_counter() - t0
                rows[label].append((fit.fit.chi2_reduced, dt, fit.fit.parameters["radius"][0] / r - 1,
                                    fit.fit.parameters["radius_pd"][0] / pd - 1))
        for label, vals in rows.items():
            a = np.array(vals)
            ok = a[:, 0] <= 1.5
            err_r, err_pd = (100 * np.median(np.abs(a[:, k])) for k in (2, 3))
            print(f"{family:9s} {label:13s}: converged (chi2_red <= 1.5) {100 * ok.mean():5.1f} %, "
                  f"median time {statistics.median(a[:, 1]):.3f} s, median |radius err| {err_r:.2f} %, "
                  f"median |radius_pd err| {err_pd:.1f} %")


if __name__ == "__main__":
    main()
