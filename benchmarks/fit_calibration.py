"""Fit the refinement's interval calibration from bench_calibration rows, and write it into the model file.

    python benchmarks/bench_calibration.py --seed 21 --n-dream 0 --save /tmp/cal21.json   (and seed 23)
    python benchmarks/fit_calibration.py /tmp/cal21.json /tmp/cal23.json --write trained_models/default.h5

The last step of the training recipe (docs/model.md): the factors belong to the model they were fitted for and
live in its file (``info["interval_calibration"]``, inference.modelfile.CALIBRATION; every array of the file kept
as it was); ``refine`` reads them from there, and reports the intervals of a model without them as uncalibrated.

The rows hold each quantity's best fit, truth and calibrated percentiles (2.5, 16, 84, 97.5), and the
observability factor; dividing a percentile's distance from the best fit by the factor it was calibrated with
(the SCALE the run used, saved in the file, times the observability factor) gives the raw Laplace distance.
The rule (docs/refine.md): each factor is the smallest (step 0.01) at which the pooled set (all conditions of all
files) reaches the nominal coverage (68 % or 95 %), raised where one condition alone would fall more than 3 %
below it.  Prints the new SCALE and the coverage it gives per condition.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

QUANTITIES = ["mean_radius_number", "mean_radius_volume", "volume_fraction", "cumulative"]
SLACK = 0.03


def raw_distances(rows, name, scale_used):
    """(best, truth, d_lo68, d_hi68, d_lo95, d_hi95) per row: the raw (uncalibrated) distances."""
    f68, f95 = scale_used[name]
    out = []
    for r in rows:
        best, truth, lo95, lo68, hi68, hi95 = r[f"{name}_raw"][:6]
        obs = r.get("observability_factor", 1.0)
        out.append((best, truth, (best - lo68) / (f68 * obs), (hi68 - best) / (f68 * obs),
                    (best - lo95) / (f95 * obs), (hi95 - best) / (f95 * obs), obs))
    return np.array(out, float)


def coverage(d: np.ndarray, factor: float, level: int) -> float:
    best, truth, obs = d[:, 0], d[:, 1], d[:, 6]
    lo, hi = (d[:, 2], d[:, 3]) if level == 68 else (d[:, 4], d[:, 5])
    inside = (truth >= best - factor * obs * lo) & (truth <= best + factor * obs * hi)
    return float(np.mean(inside))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+")
    ap.add_argument("--fit-conditions", nargs="+", default=None,
                    help="the conditions the factors are fitted on (default: all); the others are only reported")
    ap.add_argument("--write", metavar="MODEL.h5", default=None,
                    help="write the factors into this model file (the model the rows were computed with)")
    args = ap.parse_args()
    by_condition: dict[str, list] = {}
    scales = []
    for path in args.files:
        saved = json.load(open(path))
        scales.append(saved["calibration"]["SCALE"])
        for cond, fams in saved.items():
            if cond in ("calibration", "dream"):
                continue
            by_condition.setdefault(cond, []).append((saved["calibration"]["SCALE"],
                                                      [r for rows in fams.values() for r in rows]))
    new = {}
    for name in QUANTITIES:
        per_cond = {c: np.concatenate([raw_distances(rows, name, sc) for sc, rows in parts])
                    for c, parts in by_condition.items()}
        fit_on = {c: d for c, d in per_cond.items() if args.fit_conditions is None or c in args.fit_conditions}
        pooled = np.concatenate(list(fit_on.values()))
        factors = []
        for level in (68, 95):
            nominal = level / 100
            f = 0.01
            while coverage(pooled, f, level) < nominal and f < 10:
                f = round(f + 0.01, 2)
            while any(coverage(d, f, level) < nominal - SLACK for d in fit_on.values()) and f < 10:
                f = round(f + 0.01, 2)
            factors.append(f)
        new[name] = tuple(factors)
        cov = ", ".join(f"{c} {100 * coverage(d, factors[0], 68):.0f}/{100 * coverage(d, factors[1], 95):.0f}"
                        for c, d in per_cond.items())
        print(f"{name:20s} {factors[0]:.2f} {factors[1]:.2f}   pooled {100 * coverage(pooled, factors[0], 68):.0f}/"
              f"{100 * coverage(pooled, factors[1], 95):.0f}   {cov}   (n={len(pooled)})")
    print("SCALE = " + repr(new))
    if args.write:
        from sasview_nn_plugin.inference.modelfile import write_calibration

        obs = saved["calibration"].get("OBS", [7.0, 2.0])
        write_calibration(args.write, {
            "factors": {k: list(v) for k, v in new.items()}, "observability": {"x": obs[0], "power": obs[1]},
            "fitted_by": "benchmarks/fit_calibration.py", "fitted_on": ", ".join(args.files)})
        print(f"written into {args.write}")


if __name__ == "__main__":
    main()
