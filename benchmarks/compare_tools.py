"""Side by side on the same sasmodels-generated curves: our network, our network + bumps LM, McSAS3 and
a plain bumps LM fit of sphere@hardsphere (Schulz) from sasmodels' default start.

Curves: sasmodels ``sphere@hardsphere`` with an array (number) distribution on the 9-99 A grid, so
the truth is known bin by bin; 250 log-spaced points over 0.04-0.105 1/A (every tool sees the same
points); Gaussian noise of 1-3 % (dI given to every tool).  Four classes, ``--n-per-class`` each:
dilute (phi = 0.01) / concentrated (phi 0.1-0.5) x unimodal (Schulz or log-normal) / multimodal
(two modes, ``distributions.bimodal``).

Tools
- ``nn``        : ``invert`` (shipped network, numpy), the true phi given.
- ``nn+lm``     : ``invert`` then ``refine(method="lm")`` (histogram), as ``sasview-nn invert --refine lm``.
- ``mcsas-sph`` : McSAS3 1.0.6, sasmodels ``sphere``, radius 9-99 A, 300 contributions, convergence at
                  chi2/N <= 1, ``--mcsas-reps`` repetitions of at most ``--mcsas-max-iter`` steps.
- ``mcsas-hs``  : same with ``sphere@hardsphere`` on concentrated curves; phi AND the true effective radius
                  are given to it (radius_effective_mode=0: every contribution sees the exact S(q)), a best case.
- ``bumps-lm``  : bumps LM on sasmodels ``sphere@hardsphere``, Schulz (npts 80, nsigmas 8), started at
                  sasmodels' defaults (radius 50 A, scale 1, background 0.001) with radius_pd 0.1;
                  phi fixed at the truth.

Per curve and tool: wall time (one core; McSAS in ``--workers`` processes, one curve per process), relative
error of the number- and volume-weighted mean radius, Wasserstein-1 distance (A) between the volume
distributions (tool vs truth, on the 9-99 A grid) and chi2/N of the tool's own model curve on the data.

    pip install -e .[bench]        # McSAS3 is GPL-3: a benchmark-only dependency, never imported by the package
    python benchmarks/compare_tools.py [--n-per-class 4] [--mcsas-reps 2] [--mcsas-max-iter 4000]
                                       [--workers 2] [--seed 2026] [--output DIR] [--without-mcsas]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from sasmodels_reference import sasmodels_sphere_hs  # noqa: E402  (sasmodels' own array dispersion)

from sasview_nn_plugin import distributions, physics  # noqa: E402
from sasview_nn_plugin.physics.grids import RadiusGrid  # noqa: E402
from sasview_nn_plugin.training.train import w1_distance  # noqa: E402

GRID = RadiusGrid()
Q = np.geomspace(0.04, 0.105, 250)
CLASSES = [("dilute", "unimodal"), ("dilute", "multimodal"), ("concentrated", "unimodal"),
           ("concentrated", "multimodal")]
TOOLS = ["nn", "nn+lm", "mcsas-sph", "mcsas-hs", "bumps-lm"]


@dataclass
class Case:
    index: int
    regime: str          # dilute | concentrated
    modality: str        # unimodal | multimodal
    phi: float
    noise: float         # relative 1-sigma
    number: np.ndarray   # true number distribution on GRID
    intensity: np.ndarray
    di: np.ndarray


@dataclass
class ToolResult:
    tool: str
    case: int
    seconds: float
    number: np.ndarray   # number distribution on GRID
    volume: np.ndarray   # volume distribution on GRID
    model: np.ndarray    # the tool's model intensity at Q
    converged: float = 1.0  # McSAS3: fraction of repetitions that reached chi2/N <= 1 within max_iter


def make_cases(n_per_class: int, seed: int) -> list[Case]:
    """Curves with known truth, ``n_per_class`` per (regime, modality)."""
    rng = np.random.default_rng(seed)
    cases = []
    for regime, modality in CLASSES:
        for _ in range(n_per_class):
            if modality == "unimodal":
                family = rng.choice(["schulz", "lognormal"])
                mean, width = rng.uniform(20, 75), rng.uniform(0.08, 0.25)
                cdf = distributions.schulz_cdf if family == "schulz" else distributions.lognormal_cdf
                w = distributions.bin_mass(cdf, GRID, np.array([mean]), np.array([width]))[0]
            else:
                w = distributions.bimodal(rng, 1, GRID)[0]
            phi = 0.01 if regime == "dilute" else float(rng.uniform(0.1, 0.5))
            noise = float(rng.uniform(0.01, 0.03))
            clean = sasmodels_sphere_hs(Q, GRID.radius, w, phi)
            di = noise * clean
            cases.append(Case(len(cases), regime, modality, phi, noise, w,
                              clean + di * rng.standard_normal(len(Q)), di))
    return cases


def _timed(fn, repeats: int = 1):
    """(last result, median wall time in s) of ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return out, statistics.median(times)


def run_nn(case: Case) -> list[ToolResult]:
    """Our network alone (median of 5 calls) and network + bumps LM refinement (one call)."""
    from sasview_nn_plugin import invert
    from sasview_nn_plugin.fitting.curves import model_curve
    from sasview_nn_plugin.fitting.refine import refine

    inv, t_inv = _timed(lambda: invert(Q, case.intensity, case.di, volume_fraction=case.phi), repeats=5)
    ref, t_ref = _timed(lambda: refine(Q, case.intensity, case.di,
                                       invert(Q, case.intensity, case.di, volume_fraction=case.phi), method="lm"))
    return [ToolResult("nn", case.index, t_inv, inv.number_distribution, inv.volume_distribution,
                       model_curve(inv).intensity),
            ToolResult("nn+lm", case.index, t_ref, ref.number_distribution, ref.volume_distribution,
                       ref.fit.intensity)]


def run_bumps(case: Case) -> ToolResult:
    """Plain bumps LM on sphere@hardsphere with Schulz polydispersity from sasmodels' default start."""
    from sasview_nn_plugin.fitting.parametric import SASMODELS_DEFAULT_START, fit_sphere_hs

    fit, seconds = _timed(lambda: fit_sphere_hs(Q, case.intensity, case.di, volume_fraction=case.phi,
                                                family="schulz", grid=GRID, **SASMODELS_DEFAULT_START))
    return ToolResult("bumps-lm", case.index, seconds, fit.number_distribution, fit.volume_distribution,
                      fit.fit.intensity)


def run_mcsas(case: Case, model_name: str, reps: int, max_iter: int, seed: int) -> ToolResult:
    """McSAS3 (McCore, as McHat.runOnce does it) for ``reps`` repetitions, serially in this process."""
    from mcsas3.mc_core import McCore
    from mcsas3.mc_model import McModel
    from mcsas3.mc_opt import McOpt

    static = {"sld": physics.DEFAULT_SLD, "sld_solvent": physics.DEFAULT_SLD_SOLVENT}
    if model_name == "sphere@hardsphere":
        static.update(volfraction=case.phi, radius_effective=float(case.number @ GRID.radius),
                      radius_effective_mode=0)
    data = {"Q": [Q], "I": case.intensity, "ISigma": case.di}
    radii, curves, converged = [], [], []
    t0 = time.perf_counter()
    for rep in range(reps):
        model = McModel(fitParameterLimits={"radius": (float(GRID.r_min), float(GRID.r_max))},
                        staticParameters=dict(static), modelName=model_name, nContrib=300, seed=seed + rep)
        opt = McOpt(maxIter=max_iter, convCrit=1.0)
        opt.repetition = rep
        with contextlib.redirect_stdout(io.StringIO()):
            core = McCore(data, model=model, opt=opt)
            core.optimize()
        radii.append(model.parameterSet["radius"].to_numpy(float))
        curves.append(opt.modelI * opt.x0[0] + opt.x0[1])
        converged.append(opt.gof <= opt.convCrit)
    seconds = time.perf_counter() - t0
    r = np.concatenate(radii)
    # each McSAS contribution carries equal volume (its intensity is V F^2): counts are volume weights
    volume = np.histogram(r, bins=GRID.edges)[0].astype(float)
    volume /= volume.sum()
    tool = "mcsas-hs" if model_name == "sphere@hardsphere" else "mcsas-sph"
    return ToolResult(tool, case.index, seconds, physics.volume_to_number(volume, GRID.radius), volume,
                      np.mean(curves, axis=0), float(np.mean(converged)))


def metrics(res: ToolResult, case: Case) -> dict:
    """Relative mean-radius errors, volume W1 (A), chi2/N of the tool's model curve."""
    r = GRID.radius
    true_v = physics.number_to_volume(case.number, r)
    rn_t, rv_t = float(case.number @ r), float(true_v @ r)
    if res.model.shape != case.intensity.shape:
        raise ValueError(f"{res.tool}: model curve has {res.model.shape} points, data {case.intensity.shape}")
    chi2 = float(np.mean(((case.intensity - res.model) / case.di) ** 2))
    return {"tool": res.tool, "case": case.index, "regime": case.regime, "modality": case.modality,
            "phi": case.phi, "noise": case.noise, "seconds": res.seconds,
            "err_rn": float(res.number @ r) / rn_t - 1, "err_rv": float(res.volume @ r) / rv_t - 1,
            "w1_volume_A": float(w1_distance(res.volume, true_v, r)), "chi2_per_point": chi2,
            "converged": res.converged}


def summary_table(rows: list[dict]) -> str:
    """Medians per class and tool."""
    med = statistics.median
    lines = [f"{'class':24s} {'tool':10s} {'n':>3s} {'time/curve':>11s} {'|err Rn|':>9s} {'|err Rv|':>9s} "
             f"{'W1 vol (A)':>10s} {'chi2/N':>7s}"]
    for regime, modality in CLASSES:
        for tool in TOOLS:
            sel = [x for x in rows if x["tool"] == tool and x["regime"] == regime and x["modality"] == modality]
            if not sel:
                continue
            t = med(x["seconds"] for x in sel)
            ern, erv = (100 * med(abs(x[k]) for x in sel) for k in ("err_rn", "err_rv"))
            lines.append(f"{regime + ' ' + modality:24s} {tool:10s} {len(sel):3d} {_fmt_time(t):>11s} "
                         f"{ern:8.1f}% {erv:8.1f}% "
                         f"{med(x['w1_volume_A'] for x in sel):10.2f} {med(x['chi2_per_point'] for x in sel):7.2f}")
    return "\n".join(lines)


def _fmt_time(t: float) -> str:
    return f"{1e3 * t:.2f} ms" if t < 1 else f"{t:.2f} s"


def headline(rows: list[dict]) -> str:
    """Concentrated curves: our best W1 and time against McSAS3 with the exact S(q)."""
    med = statistics.median

    def pick(tool):
        return [x for x in rows if x["tool"] == tool and x["regime"] == "concentrated"]

    out = []
    for ours in ("nn", "nn+lm"):
        for theirs in ("mcsas-hs", "mcsas-sph"):
            a, b = pick(ours), pick(theirs)
            if a and b:
                out.append(f"concentrated: {ours} W1 {med(x['w1_volume_A'] for x in a):.2f} A vs {theirs} "
                           f"{med(x['w1_volume_A'] for x in b):.2f} A; time ratio {theirs}/{ours} = "
                           f"{med(x['seconds'] for x in b) / med(x['seconds'] for x in a):.0f}x")
    for tool in ("mcsas-sph", "mcsas-hs"):
        sel = [x for x in rows if x["tool"] == tool]
        if sel:
            out.append(f"{tool}: {100 * np.mean([x['converged'] for x in sel]):.0f} % of repetitions reached "
                       f"chi2/N <= 1 within the step limit")
    return "\n".join(out)


def figure(cases: list[Case], results: list[ToolResult], path: Path) -> None:
    """Volume distributions of every tool over the truth, one curve per class."""
    from sasview_nn_plugin.data.plots import new_figure, save_figure

    fig, axes = new_figure(2, 2, figsize=(11, 7.5), sharex=True)
    r = GRID.radius
    style = {"nn": ("C0", "-"), "nn+lm": ("C3", "-"), "mcsas-sph": ("C2", "--"), "mcsas-hs": ("C4", "-."),
             "bumps-lm": ("C1", ":")}
    for ax, (regime, modality) in zip(axes.ravel(), CLASSES, strict=True):
        case = next(c for c in cases if c.regime == regime and c.modality == modality)
        ax.fill_between(r, physics.number_to_volume(case.number, r), color="0.8", label="truth")
        for res in (x for x in results if x.case == case.index):
            colour, ls = style[res.tool]
            ax.plot(r, res.volume, color=colour, ls=ls, lw=1.6, label=res.tool)
        ax.set_title(f"{regime} {modality}: phi {case.phi:.2f}, noise {100 * case.noise:.1f} %", fontsize=10)
        ax.set_ylabel("volume fraction per bin")
    for ax in axes[1]:
        ax.set_xlabel("radius (A)")
    handles = {}
    for ax in axes.ravel():
        for h, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=len(handles), fontsize=9)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    save_figure(fig, path)


def _mcsas_job(args):
    case, model_name, reps, max_iter, seed = args
    return run_mcsas(case, model_name, reps, max_iter, seed)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-per-class", type=int, default=4, help="curves per (regime, modality) class (default 4)")
    ap.add_argument("--mcsas-reps", type=int, default=2, help="McSAS3 repetitions per curve (McSAS default 10)")
    ap.add_argument("--mcsas-max-iter", type=int, default=4000,
                    help="McSAS3 steps per repetition at most (McSAS default 100000)")
    ap.add_argument("--workers", type=int, default=2, help="processes for the McSAS3 runs (one curve each)")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--output", type=Path, default=None, help="write results.csv and compare_tools.png here")
    ap.add_argument("--without-mcsas", action="store_true", help="skip McSAS3 (when the bench extra is absent)")
    args = ap.parse_args(argv)
    if not args.without_mcsas:
        try:
            import mcsas3  # noqa: F401
        except ImportError:
            print("error: McSAS3 is not installed; install the benchmark extra (pip install -e .[bench]) "
                  "or pass --without-mcsas", file=sys.stderr)
            return 2
    t_start = time.perf_counter()
    cases = make_cases(args.n_per_class, args.seed)
    print(f"{len(cases)} curves ({args.n_per_class} per class), {len(Q)} points over {Q[0]}-{Q[-1]} 1/A, "
          f"noise 1-3 %, seed {args.seed}")
    run_nn(cases[0])  # warm-up: load the network, compile the sasmodels kernels, import bumps
    run_bumps(cases[0])
    results: list[ToolResult] = []
    for case in cases:  # ours and bumps first, alone on the machine
        results += run_nn(case)
        results.append(run_bumps(case))
    print(f"network and bumps done in {time.perf_counter() - t_start:.0f} s")
    if not args.without_mcsas:
        jobs = [(c, "sphere", args.mcsas_reps, args.mcsas_max_iter, args.seed) for c in cases]
        jobs += [(c, "sphere@hardsphere", args.mcsas_reps, args.mcsas_max_iter, args.seed)
                 for c in cases if c.regime == "concentrated"]
        if args.workers > 1:
            with ProcessPoolExecutor(args.workers) as pool:
                results += list(pool.map(_mcsas_job, jobs))
        else:
            results += [_mcsas_job(j) for j in jobs]
        print(f"McSAS3 done ({args.mcsas_reps} repetitions x <= {args.mcsas_max_iter} steps, {args.workers} "
              f"processes) at {time.perf_counter() - t_start:.0f} s")
    rows = [metrics(res, cases[res.case]) for res in results]
    print(summary_table(rows))
    print(headline(rows))
    if args.output:
        args.output.mkdir(parents=True, exist_ok=True)
        tmp = args.output / "results.csv.part"
        with open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
        tmp.replace(args.output / "results.csv")
        figure(cases, results, args.output / "compare_tools.png")
        print(f"wrote {args.output / 'results.csv'} and {args.output / 'compare_tools.png'}")
    print(f"total {time.perf_counter() - t_start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
