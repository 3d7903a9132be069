"""What the review of other explanations (inference.alternatives: sticky hard spheres, fractal aggregates) costs.

On bench_domain's in-domain curves of one window (all phi bands and families, its seeds), each model: the share of
curves whose check runs the review (a significant misfit, dI given, no misfit flag), the share it flags, and the
time of ``invert`` + ``quality`` with and without the review, medians over the curves, the two interleaved curve
by curve in one process (this 2-core VM is shared: absolute figures drift between runs, the ratio less).

    nice -n 10 python benchmarks/bench_alternatives.py [--n 5] [--window lab] [--models default wide] [--phi auto]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

os.environ.setdefault("SAS_OPENCL", "none")
sys.path.insert(0, os.path.dirname(__file__))

from bench_domain import FAMILIES, PHI_BANDS, WINDOWS, in_domain_curves

from sasview_nn_plugin import invert
from sasview_nn_plugin.inference import alternatives


def curves(window: str, n: int, seed: int) -> list[tuple]:
    """(q, I, dI, dq, phi) of n curves per phi band and family: bench_domain's in-domain cells (the same curves)."""
    return [(*data, phi) for band in PHI_BANDS for family in FAMILIES
            for data, phi, _ in in_domain_curves(window, band, family, n, seed)]


def timed(fn, spent: list):
    """``fn`` that appends the seconds of each call to ``spent``."""
    def wrapped(*a, **k):
        t0 = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            spent.append(time.perf_counter() - t0)
    return wrapped


def run(model: str, data: list[tuple], phi_given: bool = True) -> None:
    real_review, real_check = alternatives.review, alternatives.review_alternatives
    spent: list[float] = []
    fits, flagged, t_with, t_without = [], 0, [], []
    for q, i, di, dq, phi in data:
        phi = phi if phi_given else None
        try:
            alternatives.review_alternatives = lambda qual, curve, **_: qual     # the check as it was before the review
            t0 = time.perf_counter()
            _ = invert(q, i, di, volume_fraction=phi, dq=dq, model=model).quality
            t_without.append(time.perf_counter() - t0)
            alternatives.review_alternatives, alternatives.review, spent[:] = real_check, timed(real_review, spent), []
            t0 = time.perf_counter()
            qual = invert(q, i, di, volume_fraction=phi, dq=dq, model=model).quality
            t_with.append(time.perf_counter() - t0)
        except Exception as exc:   # a refused curve (e.g. the whole-curve model on a window under a decade)
            print(f"  {model}: {type(exc).__name__}: {str(exc)[:80]}")
            continue
        finally:
            alternatives.review, alternatives.review_alternatives = real_review, real_check
        fits += [t for t in spent if t > 1e-3]     # the review fitted its models (else it returned at once)
        flagged += bool({"other-model-fits-better", "other-model-fits-as-well"} & set(qual.flags))
    med = statistics.median
    print(f"{model:8s} the review fitted on {len(fits)}/{len(t_with)} curves, flagged {flagged}; invert + quality "
          f"median {1e3 * med(t_with):.1f} ms with it, {1e3 * med(t_without):.1f} ms without "
          f"({med(t_with) / med(t_without):.2f}x); where it fitted: median {1e3 * med(fits) if fits else 0:.0f} ms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5, help="curves per phi band and family")
    ap.add_argument("--window", default="lab", choices=list(WINDOWS))
    ap.add_argument("--models", nargs="+", default=["default", "wide"])
    ap.add_argument("--seed", type=int, default=14)
    ap.add_argument("--phi", choices=("given", "auto"), default="given", help="the true phi given, or estimated")
    args = ap.parse_args()
    data = curves(args.window, args.n, args.seed)
    print(f"{len(data)} in-domain curves, {args.window} window, seed {args.seed}, phi {args.phi}; "
          f"{os.cpu_count()} cores")
    for model in args.models:
        run(model, data, args.phi == "given")


if __name__ == "__main__":
    main()
