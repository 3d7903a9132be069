"""Simulation speed: the basis path (matrix product + vectorised S(q)) vs a sasmodels call per curve.

Prints curves/s for both, measured in the same process (medians of several runs), their ratio,
and the wall time and peak RSS of writing a file of --file-n curves with `sasview-nn simulate`.

    python benchmarks/bench_simulate.py [--repeats 5] [--file-n 1000000]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from sasview_nn_plugin.physics import kernels as physics
from sasview_nn_plugin.training.simulate import SimulationSettings, iter_chunks, simulate_batch


def per_curve_sasmodels(q, radius, cs, n):
    """One sphere@hardsphere kernel call per curve (array dispersion through the mesh)."""
    from sasmodels.details import make_kernel_args
    from sasmodels.direct_model import get_mesh

    model = physics.kernel_model("sphere@hardsphere")
    kernel = model.make_kernel([q])
    names = [p.name for p in model.info.parameters.call_parameters]
    out = np.empty((n, len(q)))
    for i in range(n):
        pars = dict(scale=cs.scale[i], background=cs.background[i], radius=50.0,
                    volfraction=cs.volume_fraction[i], radius_effective_mode=1, structure_factor_mode=0)
        mesh = get_mesh(model.info, pars, dim="1d")
        mesh[names.index("radius")] = (50.0, radius, cs.number_distribution[i])
        details, values, magnetic = make_kernel_args(kernel, mesh)
        out[i] = kernel(details, values, 0.0, magnetic)
    kernel.release()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--per-curve-n", type=int, default=300)
    ap.add_argument("--file-n", type=int, default=100_000, help="curves in the file test (0: skip)")
    args = ap.parse_args()

    settings = SimulationSettings()
    q, radius = settings.q_grid.q, settings.r_grid.radius
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"python {platform.python_version()}, numpy {np.__version__}, sasmodels {physics.sasmodels_version()}")
    print(f"grids: {len(q)} q points, {len(radius)} radius bins")
    t0 = time.perf_counter()
    basis = physics.sphere_basis(q, radius)
    print(f"basis from the sasmodels sphere kernel: {time.perf_counter() - t0:.3f} s (once per grid)")

    n_fast = 32_768
    cs = simulate_batch(np.random.default_rng(0), args.per_curve_n, basis, settings)
    fast, slow = [], []
    for rep in range(args.repeats):
        t0 = time.perf_counter()
        for _ in iter_chunks(n_fast, rep, basis, settings):
            pass
        fast.append(n_fast / (time.perf_counter() - t0))
        t0 = time.perf_counter()
        per_curve_sasmodels(q, radius, cs, args.per_curve_n)
        slow.append(args.per_curve_n / (time.perf_counter() - t0))
    f, s = statistics.median(fast), statistics.median(slow)
    print(f"basis path (sampling + curves + noise, {n_fast} curves, all cores): median {f:,.0f} curves/s "
          f"(runs: {', '.join(f'{x:,.0f}' for x in fast)})")
    print(f"per-curve sasmodels sphere@hardsphere call (curves only):     median {s:,.0f} curves/s "
          f"(runs: {', '.join(f'{x:,.0f}' for x in slow)})")
    print(f"ratio: {f / s:.1f}x")

    if args.file_n:
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "bench.h5")
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sasview_nn_plugin.cli", "simulate", "--n", str(args.file_n),
                            "--seed", "1", "--out", out, "--quiet"], check=True)
            dt = time.perf_counter() - t0
            rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
            size = os.path.getsize(out) / 2**30
        print(f"file of {args.file_n:,} curves: {dt:.1f} s ({args.file_n / dt:,.0f} curves/s incl. HDF5 writes), "
              f"{size:.2f} GiB, peak RSS {rss:.0f} MiB")


if __name__ == "__main__":
    main()
