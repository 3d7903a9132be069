"""Calibration of the refinement (issue 15): accuracy, fit quality, coverage of the intervals and timing.

Freshly generated curves of every family (physics.intensity == sasmodels sphere@hardsphere), under
  given     : truths on a grid 10x finer than the model's (continuous on the scale of its bins, as real samples
              are), 400 log points over 0.03-0.15 1/A, flat background up to 2 % of I(0.105), 1-3 % noise (dI
              passed), phi given off by up to +-10 %, half pinhole-smeared (dQ/Q = 5 %, dq passed);
  auto      : the same curves with ``volume_fraction=None`` (the network estimates phi);
  clean     : truths on the model's grid, its q grid, true phi, 1-3 % noise, no background or smearing
              (bench_accuracy's clean).
Per family: median W1 network -> refined (A; the histograms' masses spread evenly over their bins, see ``w1``),
median |number-mean error| (%), median |phi error| (%) given and refined, median chi2_red, fits with chi2_red > 3
and how many carry no flag, results the network gave through the self-similar window map (``mapped``: on the
model's radius grid times s), smeared curves whose resolution factor the refinement freed (``dq fit``), results
that kept the network's shape (``kept``: the evidence rule), and W1 with each bin a point mass at its centre
(``W1p``: the measure before 2026-12-01, which charges the offset between the result's grid and the truth's), and
the median per-curve change of W1 with its 95 % bootstrap interval (``paired dW1``, refined - network);
coverage of the 68 % / 95 % intervals (number mean, volume mean, phi, cumulative number distribution at the true
median radius); timing medians (LM, the fast uncertainty beyond it, DREAM from it with its Gelman-Rubin R-hat).

    nice -n 10 python benchmarks/bench_calibration.py [--n 34] [--n-dream 6] [--seed 21] [--conditions given auto clean]
        [--model default|wide]

``--model wide`` (the whole-curve model): the same families and conditions on bench_wide's lab window, 0.005-0.5
1/A (300 log points), truths on a grid over 10-250 A (``clean``: on that grid, the lab window, no background or
smearing).

Issue 15's acceptance is read at ``--n 200 --n-dream 12`` (seeds 22, 24 and 25, ~10 min each; docs/refine.md): at 34 or
100 curves a family the medians of a cell move between draws by as much as refinement changed them on the window
alone; refinement now fits every point (0.03-0.15 1/A here), and every cell's paired change lies below 0.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from sasview_nn_plugin.fitting.refine import refine
from sasview_nn_plugin.inference.invert import invert
from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.inference.wide_model import WideModel, wide_model
from sasview_nn_plugin.physics import distributions
from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.physics.grids import RadiusGrid

WIDE_WINDOW = (0.005, 0.5, 300)    # --model wide: bench_wide's lab window (1/A, log points) ...
WIDE_TRUTHS = (10.0, 250.0, 100)   # ... and the truths' grid (A): radii that window sees (q_min R <= 1.3)
FAMILIES = ["schulz", "lognormal", "gaussian", "bimodal", "tophat", "narrow_schulz"]
QUANTITIES = ["mean_radius_number", "mean_radius_volume", "volume_fraction", "cumulative"]


def is_wide(nn) -> bool:
    return isinstance(nn, WideModel)


def truth_grid(nn) -> RadiusGrid:
    """The radii truths are drawn on: the windowed model's own grid, or :data:`WIDE_TRUTHS` for the whole-curve
    model."""
    return RadiusGrid(*WIDE_TRUTHS) if is_wide(nn) else RadiusGrid(nn.radius[0], nn.radius[-1], len(nn.radius))


def window_q(nn) -> np.ndarray:
    """The q points (1/A) of the curves: 0.03-0.15 (400 log points), or :data:`WIDE_WINDOW` for the whole-curve
    model."""
    return np.geomspace(*WIDE_WINDOW) if is_wide(nn) else np.geomspace(0.03, 0.15, 400)


def make_curves(nn, family: str, n: int, rng, condition: str) -> list[dict]:
    """n curves: q, I, dI, dq (or None), phi given (None for auto), and the truth."""
    from sasmodels.resolution import Pinhole1D

    grid = truth_grid(nn)
    phi = rng.uniform(0.1, 0.5, n)
    noise = rng.uniform(0.01, 0.03, n)
    out = []
    if condition == "clean":   # bench_accuracy's clean set: truths on the model's own grid, results on it too
        w = distributions.sample(rng, n, grid, family)
        q = window_q(nn) if is_wide(nn) else nn.q
        clean = physics.intensity(physics.sphere_basis(q, grid.radius), w, phi)
        for k in range(n):
            di = noise[k] * clean[k]
            out.append(dict(q=q, i=clean[k] + di * rng.standard_normal(len(q)), di=di, dq=None, phi_given=phi[k],
                            w=w[k], r=grid.radius, phi=phi[k], smeared=False))
        return out
    fine = fine_grid(grid)   # the realistic truths: continuous on the scale of a model bin, as real samples are
    w = distributions.sample(rng, n, fine, family)
    q = window_q(nn)
    res = Pinhole1D(q, 0.05 * q)
    plain = physics.intensity(physics.sphere_basis(q, fine.radius), w, phi)
    calc = physics.intensity(physics.sphere_basis(res.q_calc, fine.radius), w, phi)
    smeared = rng.random(n) < 0.5
    given = phi * rng.uniform(0.9, 1.1, n)
    bkg = rng.uniform(0, 0.02, n)
    for k in range(n):
        c = res.apply(calc[k]) if smeared[k] else plain[k]
        c = c + bkg[k] * np.interp(0.105, q, c)
        di = noise[k] * c
        out.append(dict(q=q, i=np.abs(c + di * rng.standard_normal(len(q))), di=di,
                        dq=0.05 * q if smeared[k] else None, phi_given=None if condition == "auto" else given[k],
                        w=w[k], r=fine.radius, phi=phi[k], smeared=bool(smeared[k])))
    return out


def fine_grid(grid: RadiusGrid, k: int = 10) -> RadiusGrid:
    """The grid of ``grid``'s span cut k times finer: k sub-bins tile each bin exactly."""
    half = 0.5 * grid.step * (1 - 1 / k)
    return RadiusGrid(grid.r_min - half, grid.r_max + half, k * grid.n)


def edges(r: np.ndarray) -> np.ndarray:
    """Bin edges of uniformly spaced bin centres ``r``."""
    h = 0.5 * (r[1] - r[0])
    return np.append(r - h, r[-1] + h)


def w1(r_a: np.ndarray, w_a: np.ndarray, r_b: np.ndarray, w_b: np.ndarray) -> float:
    """Wasserstein-1 distance (A) between two histograms on their own grids, each bin's mass spread evenly over
    the bin (what a distribution over bins means; the CDFs are piecewise linear): the exact integral of |F_a - F_b|.
    On one grid it is within ~1 % of training.train.w1_distance (point masses at the centres: ``w1_points``); across
    grids it does not charge the offset between two grids' centres (a mapped window's result lies on the model grid
    times s)."""
    x = np.union1d(edges(r_a), edges(r_b))
    d = (np.interp(x, edges(r_a), np.concatenate([[0.0], np.cumsum(w_a)]))
         - np.interp(x, edges(r_b), np.concatenate([[0.0], np.cumsum(w_b)])))
    a, b, dx = d[:-1], d[1:], np.diff(x)
    same = a * b >= 0   # |linear| over a segment: trapezoid, or two triangles where it crosses 0
    total = np.maximum(np.abs(a) + np.abs(b), 1e-300)
    area = np.where(same, 0.5 * (np.abs(a) + np.abs(b)), (a * a + b * b) / (2 * total))
    return float(np.sum(area * dx))


def w1_points(r_a: np.ndarray, w_a: np.ndarray, r_b: np.ndarray, w_b: np.ndarray) -> float:
    """W1 (A) with each bin's mass a point at its centre (step CDFs): the measure before 2026-12-01, which across two
    grids also charges their offset (up to a quarter of a bin on average: 0.27-0.33 A on the mapped grids)."""
    x = np.union1d(r_a, r_b)
    fa = np.concatenate([[0.0], np.cumsum(w_a)])[np.searchsorted(r_a, x, side="right")]
    fb = np.concatenate([[0.0], np.cumsum(w_b)])[np.searchsorted(r_b, x, side="right")]
    return float(np.sum(np.abs(fa - fb)[:-1] * np.diff(x)))


def truth_of(c: dict, radius: np.ndarray, result_radius: np.ndarray) -> dict:
    """The truth's means, phi, and its cumulative number distribution at the result's median bin (mass spread
    evenly in each bin: the result's cumulative at bin j is its mass below that bin's upper edge)."""
    w = c["w"]
    v = physics.number_to_volume(w, radius)
    cdf = np.interp(edges(result_radius)[1:], edges(radius), np.concatenate([[0.0], np.cumsum(w)]))
    j = min(int(np.searchsorted(cdf, 0.5)), len(cdf) - 1)
    return {"mean_radius_number": float(w @ radius), "mean_radius_volume": float(v @ radius),
            "volume_fraction": c["phi"], "median_bin": j, "cumulative": float(cdf[j])}


def run_one(nn, c: dict, method: str = "lm") -> dict:
    r = c["r"]
    t0 = time.perf_counter()
    start = invert(c["q"], c["i"], c["di"], volume_fraction=c["phi_given"], model=nn, dq=c["dq"])
    t1 = time.perf_counter()
    ref = refine(c["q"], c["i"], c["di"], start, dq=c["dq"], method=method)
    t2 = time.perf_counter()
    truth = truth_of(c, r, ref.radius)
    u = ref.uncertainty
    row = {"w1_net": w1(start.radius, start.number_distribution, r, c["w"]),
           "w1_ref": w1(ref.radius, ref.number_distribution, r, c["w"]),
           "w1p_net": w1_points(start.radius, start.number_distribution, r, c["w"]),
           "w1p_ref": w1_points(ref.radius, ref.number_distribution, r, c["w"]),
           "dq_fit": "dq_scale" in ref.fit.parameters, "dq_scale": ref.fit.dq_scale,
           "dq_drop": ref.fit.dq_scale_drop,
           "pd_ref": float(np.sqrt(ref.number_distribution @ (ref.radius - ref.mean_radius_number) ** 2)
                           / ref.mean_radius_number),
           "mapped": bool(abs(start.radius[-1] / r[-1] - 1) > 1e-9),
           "mn_net": 100 * abs(start.mean_radius_number / truth["mean_radius_number"] - 1),
           "mn_ref": 100 * abs(ref.mean_radius_number / truth["mean_radius_number"] - 1),
           "phi_start": 100 * abs(start.volume_fraction_used / truth["volume_fraction"] - 1),
           "phi_ref": 100 * abs(ref.volume_fraction / truth["volume_fraction"] - 1),
           "chi2": ref.fit.chi2_reduced, "flagged": "poor-fit" in ref.quality.flags,
           "t_net": t1 - t0, "t_total": t2 - t1, **(u.diagnostics or {})}
    for name in QUANTITIES[:3]:
        lo95, lo68, hi68, hi95 = u.intervals[name]
        x = truth[name]
        net = start.volume_fraction_used if name == "volume_fraction" else getattr(start, name)
        row[f"{name}_raw"] = [float(getattr(ref, name)), x, lo95, lo68, hi68, hi95, float(net)]
        row[f"{name}_68"], row[f"{name}_95"] = lo68 <= x <= hi68, lo95 <= x <= hi95
        row[f"{name}_z"] = (getattr(ref, name) - x) / max((hi68 - lo68) / 2, 1e-300)
    band, j = u.cumulative_band, truth["median_bin"]
    net_cum = float(np.cumsum(start.number_distribution)[j]) if len(start.radius) == len(ref.radius) else np.nan
    row["cumulative_raw"] = [float(np.cumsum(ref.number_distribution)[j]), truth["cumulative"], *band[:, j].tolist(),
                             net_cum]
    row["cumulative_68"] = band[1, j] <= truth["cumulative"] <= band[2, j]
    row["cumulative_95"] = band[0, j] <= truth["cumulative"] <= band[3, j]
    return row


def paired(after, before, n_boot: int = 2000) -> str:
    """Median of the per-curve differences after - before and its 95 % bootstrap interval (curves resampled)."""
    d = np.asarray(after) - np.asarray(before)
    boot = np.median(d[np.random.default_rng(0).integers(0, len(d), (n_boot, len(d)))], axis=1)
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return f"{np.median(d):+.3f} [{lo:+.3f},{hi:+.3f}]"


def coverage(rows: list[dict], q: str) -> str:
    """'68 / 95' coverage (%) of quantity ``q`` over ``rows``."""
    return f"{100 * np.mean([r[f'{q}_68'] for r in rows]):3.0f} /{100 * np.mean([r[f'{q}_95'] for r in rows]):4.0f}"


def table(rows_by_family: dict[str, list[dict]], label: str) -> None:
    med = statistics.median
    print(f"\n[{label}] accuracy and fit (medians)")
    print(f"{'family':14s} {'n':>4s} {'W1 net':>7s} {'W1 ref':>7s} {'<R>n net%':>9s} {'<R>n ref%':>9s} "
          f"{'phi in%':>7s} {'phi ref%':>8s} {'chi2':>6s} {'>3':>4s} {'>3 unflagged':>12s} {'mapped':>6s} "
          f"{'dq fit':>6s} {'kept':>4s} {'W1p net':>7s} {'W1p ref':>7s}  paired dW1 [95 %]")
    allrows = [r for rows in rows_by_family.values() for r in rows]
    for fam, rows in [*rows_by_family.items(), ("all", allrows)]:
        col = {k: [r.get(k) for r in rows] for k in rows[0]}
        poor = [r for r in rows if r["chi2"] > 3]
        print(f"{fam:14s} {len(rows):4d} {med(col['w1_net']):7.3f} {med(col['w1_ref']):7.3f} "
              f"{med(col['mn_net']):9.3f} {med(col['mn_ref']):9.3f} {med(col['phi_start']):7.2f} "
              f"{med(col['phi_ref']):8.2f} {med(col['chi2']):6.2f} {len(poor):4d} "
              f"{sum(not r['flagged'] for r in poor):12d} {sum(r['mapped'] for r in rows):6d} "
              f"{sum(r['dq_fit'] for r in rows):6d} {sum(r.get('log_evidence_correction', 1) < 0 for r in rows):4d} "
              f"{med(col['w1p_net']):7.3f} {med(col['w1p_ref']):7.3f}  {paired(col['w1_ref'], col['w1_net'])}")
    print(f"[{label}] coverage, % of curves inside the 68 % / 95 % interval")
    print(f"{'family':14s} " + " ".join(f"{q[:18]:>18s}" for q in QUANTITIES))
    for fam, rows in [*rows_by_family.items(), ("all", allrows)]:
        print(f"{fam:14s} " + " ".join(f"{coverage(rows, q) + ' ' * 4:>18s}" for q in QUANTITIES))
    t = {k: [r[k] for r in allrows if k in r] for k in ("t_net", "t_total", "seconds_fit", "seconds_uncertainty")}
    print(f"[{label}] time per curve, medians: network {1e3 * med(t['t_net']):.1f} ms; refine total "
          f"{1e3 * med(t['t_total']):.1f} ms (LM {1e3 * med(t['seconds_fit']):.1f} ms, fast uncertainty "
          f"{1e3 * med(t['seconds_uncertainty']):.1f} ms beyond it)")
    z = {q: np.array([r[f"{q}_z"] for r in allrows]) for q in QUANTITIES[:3]}
    print(f"[{label}] error / reported sigma: " + "; ".join(
        f"{q}: median |z| {np.median(np.abs(v)):.2f} (0.67 if calibrated)" for q, v in z.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=34, help="curves per family and condition (6 families)")
    ap.add_argument("--n-dream", type=int, default=6, help="curves (of the given condition) refined with DREAM")
    ap.add_argument("--seed", type=int, default=21)
    ap.add_argument("--conditions", nargs="+", default=["given", "auto", "clean"])
    ap.add_argument("--families", nargs="+", default=FAMILIES)
    ap.add_argument("--save", default=None, help="write every row (JSON) for offline analysis")
    ap.add_argument("--model", default="default", help="a shipped name or path: the windowed model (its window "
                    "0.03-0.15 1/A) or the whole-curve one (its lab window 0.005-0.5 1/A, truths 10-250 A)")
    args = ap.parse_args()
    nn = wide_model(args.model) or load_model(args.model)
    print(f"model {nn.name}; {args.n} curves per family and condition; seed {args.seed}")
    curves_given = None
    saved = {}
    for cond in args.conditions:
        rng = np.random.default_rng(args.seed + (1000 if cond == "clean" else 0))
        by_family = {}
        for fam in args.families:
            curves = make_curves(nn, fam, args.n, rng, "clean" if cond == "clean" else "given")
            if cond == "auto":
                for c in curves:
                    c["phi_given"] = None
            by_family[fam] = [run_one(nn, c) for c in curves]
            if cond == "given":
                curves_given = (curves_given or []) + curves[: 2 * max(1, args.n_dream // len(args.families) + 1)]
        table(by_family, cond)
        saved[cond] = by_family
    if args.n_dream and curves_given:
        rows, kept = [], 0   # DREAM is not run where the evidence kept the network's shape (Laplace intervals)
        for c in curves_given:
            row = run_one(nn, c, method="dream")
            kept += "gelman_rubin_max" not in row
            rows += [row] * ("gelman_rubin_max" in row)
            if len(rows) == args.n_dream:
                break
        saved["dream"] = {"given": rows}
        print(f"\n[dream] {kept} of the curves tried kept the network's shape (DREAM not run there)")
        med = statistics.median
        rhat = [r["gelman_rubin_max"] for r in rows]
        print(f"\n[dream from the Laplace posterior] n={len(rows)}: time/curve median "
              f"{med(r['t_total'] for r in rows):.2f} s (max {max(r['t_total'] for r in rows):.2f} s); Gelman-Rubin "
              f"R-hat (max over DREAM's directions) median {med(rhat):.3f}, worst {max(rhat):.3f}, < 1.1 on "
              f"{sum(h < 1.1 for h in rhat)}/{len(rows)}; bumps' test passed on "
              f"{sum(r['bumps_converged'] for r in rows)}/{len(rows)}; DREAM directions median "
              f"{med(r['dream_dimensions'] for r in rows)} of {rows[0]['parameters']}; importance ESS median "
              f"{med(r['importance_ess'] for r in rows):.2f}; "
              "coverage 68 / 95: " + ", ".join(f"{q} {coverage(rows, q)}" for q in QUANTITIES))
        print("R-hat per curve: " + ", ".join(f"{h:.2f}" for h in sorted(rhat)))
    if args.save:
        import json

        from sasview_nn_plugin.fitting.posterior import UNCALIBRATED
        from sasview_nn_plugin.inference.modelfile import calibration_of

        cal = calibration_of(nn) or UNCALIBRATED   # the factors these intervals were widened by (the model's)
        saved["calibration"] = {"SCALE": cal["factors"], "OBS": [cal["observability"]["x"],
                                                                 cal["observability"]["power"]]}
        with open(args.save, "w") as fh:
            json.dump(saved, fh, default=float)


if __name__ == "__main__":
    main()
