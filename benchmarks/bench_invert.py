"""Inversion speed: single curve in-process (the network alone and with the forward-model check `quality`),
the check alone against its straightforward computation, batch throughput (the network, invert_many, the
batched check assess_many), Keras for comparison, and a cold CLI run.

    python benchmarks/bench_invert.py [--model default] [--batch 200000] [--repeats 5] [--no-cold]

Medians of --repeats runs; every ratio (the check against ``assess(..., reference=True)``, the check's
pre-cache arithmetic; assess_many against one assess per curve; Keras) is measured in the same process, the
two sides interleaved run by run (this 2-core VM is shared, so absolute figures drift between runs).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from sasview_nn_plugin import invert
from sasview_nn_plugin.inference import quality
from sasview_nn_plugin.inference.invert import invert_many
from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.physics import kernels as physics

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sasfit_schulz_R20_phi0.3.txt"


def timeit(fn, number, repeats):
    """Median seconds per call over ``repeats`` runs of ``number`` calls."""
    return interleaved({"": fn}, number, repeats)[""]


def interleaved(fns: dict, number, repeats) -> dict:
    """{name: median seconds per call}: each run calls every fn ``number`` times in turn (A/B in one process)."""
    runs: dict = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            for _ in range(number):
                fn()
            runs[k].append((time.perf_counter() - t0) / number)
    return {k: statistics.median(v) for k, v in runs.items()}


def check_speed(nn, one, pool, args) -> None:
    """The forward-model check: invert with it, alone against its straightforward form, and batched."""
    q = nn.q
    di = 0.01 * one
    t = interleaved({"net": lambda: invert(q, one, volume_fraction=0.3, model=nn),
                     "check": lambda: invert(q, one, volume_fraction=0.3, model=nn).quality,
                     "check_di": lambda: invert(q, one, di, volume_fraction=0.3, model=nn).quality}, 1000, args.repeats)
    print(f"single curve, invert() + result.quality on the model grid: median {t['check'] * 1e6:.1f} us without dI, "
          f"{t['check_di'] * 1e6:.1f} us with dI (invert alone {t['net'] * 1e6:.1f} us; target <= 300 us)")
    res = invert(q, one, volume_fraction=0.3, model=nn)
    tr = quality.training_of(nn)
    for label, d, dq in (("without dI", None, None), ("with dI", di, None), ("with dI and dQ/Q 3 %", di, 0.03 * q)):
        call = (q, one, d, nn.radius, res.number_distribution, 0.3)
        t = interleaved({"fast": lambda c=call, r=dq: quality.assess(*c, training=tr, dq=r),
                         "ref": lambda c=call, r=dq: quality.assess(*c, training=tr, dq=r, reference=True)},
                        200, args.repeats)
        print(f"forward-model check alone, {label}: median {t['fast'] * 1e6:.1f} us "
              f"(straightforward, the pre-cache arithmetic: {t['ref'] * 1e6:.1f} us; {t['ref'] / t['fast']:.1f}x)")
    n = args.check_batch
    rng = np.random.default_rng(1)
    rows = pool[rng.integers(0, len(pool), n)].astype(float)
    phis = rng.uniform(0.1, 0.5, n)
    numbers = nn.predict(rows, phis).astype(float)
    dis = 0.01 * rows
    t = interleaved({"many": lambda: quality.assess_many(q, rows, dis, nn.radius, numbers, phis, training=tr),
                     "one": lambda: [quality.assess(q, rows[k], dis[k], nn.radius, numbers[k], phis[k], training=tr)
                                     for k in range(n)]}, 1, args.repeats)
    print(f"batched check assess_many, {n:,} curves with dI: median {t['many'] / n * 1e6:.1f} us/curve = "
          f"{n / t['many']:,.0f} curves/s (one assess per curve: {t['one'] / n * 1e6:.1f} us; "
          f"{t['one'] / t['many']:.1f}x)")
    t_many = timeit(lambda: invert_many(q, rows, volume_fractions=phis, model=nn), 1, args.repeats)
    print(f"invert_many, {n:,} curves (Inversions, check not computed): median {n / t_many:,.0f} curves/s")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--batch", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--check-batch", type=int, default=2000)
    ap.add_argument("--no-cold", action="store_true", help="skip the cold CLI runs")
    args = ap.parse_args()
    nn = load_model(args.model)
    rng = np.random.default_rng(0)
    basis = physics.sphere_basis(nn.q, nn.radius)
    w = rng.random((256, len(nn.radius))) ** 8
    phi = rng.uniform(0.1, 0.5, 256)
    pool = physics.intensity(basis, w, phi).astype(np.float32)
    print(f"model {nn.name}: {len(nn.q)} q points, block {nn.block}, layers "
          f"{[w.shape[1] for w in nn.weights]}; {os.cpu_count()} cores")

    gauss = np.exp(-0.5 * ((nn.radius - 40.0) / 6.0) ** 2)   # single curves: a trusted one (no flags), phi 0.3
    q, one = nn.q, physics.intensity(basis, gauss, 0.3)
    t_single = timeit(lambda: invert(q, one, volume_fraction=0.3, model=nn), 2000, args.repeats)
    q2 = np.geomspace(0.039, 0.107, 400)   # covers the model's window without room for another: interpolation
    one2 = physics.intensity(physics.sphere_basis(q2, nn.radius), gauss, 0.3)  # the same sample, other q
    t_interp = timeit(lambda: invert(q2, one2, volume_fraction=0.3, model=nn), 2000, args.repeats)
    q3 = np.geomspace(0.03, 0.15, 400)     # 1.9x the model's ratio: the best of the self-similar map's windows
    one3 = physics.intensity(physics.sphere_basis(q3, nn.radius), gauss, 0.3)
    di3 = 0.01 * one3
    t_wide = timeit(lambda: invert(q3, one3, di3, volume_fraction=0.3, model=nn).quality, 200, args.repeats)
    n_windows = invert(q3, one3, di3, volume_fraction=0.3, model=nn).notes[-1].split("chosen of ")[1].split()[0]
    t_fwd = timeit(lambda: nn.predict(one, 0.3), 2000, args.repeats)
    print(f"single curve, invert() on the model grid: median {t_single * 1e6:.1f} us "
          f"(network forward alone {t_fwd * 1e6:.1f} us)")
    print(f"single curve, invert() from 400 log-spaced points over 0.039-0.107 1/A (interpolation): median "
          f"{t_interp * 1e6:.1f} us")
    print(f"single curve, invert() + result.quality from 400 points over 0.03-0.15 1/A with dI ({n_windows} windows "
          f"of the self-similar map scored): median {t_wide * 1e6:.1f} us")
    check_speed(nn, one, pool, args)

    batch = pool[rng.integers(0, len(pool), args.batch)]
    phis = rng.uniform(0.1, 0.5, args.batch).astype(np.float32)
    t_batch = timeit(lambda: nn.predict(batch, phis), 1, args.repeats)
    print(f"batch of {args.batch:,} curves (numpy, all cores): median {t_batch:.3f} s = "
          f"{args.batch / t_batch:,.0f} curves/s")

    try:
        from sasview_nn_plugin.training.train import keras_twin

        net = keras_twin(nn)
        x = nn.standardised_inputs(one[None], 0.3)
        net.predict(x, verbose=0)
        t_keras = timeit(lambda: net.predict(x, verbose=0), 50, args.repeats)
        t_call = timeit(lambda: net(x, training=False), 200, args.repeats)
        print(f"Keras predict() on the same curve: median {t_keras * 1e6:.0f} us "
              f"({t_keras / t_fwd:.0f}x the numpy forward pass); Keras __call__: {t_call * 1e6:.0f} us "
              f"({t_call / t_fwd:.0f}x)")
    except ImportError:
        print("Keras predict: TensorFlow not installed (pip install -e '.[train]'), skipped")

    if args.no_cold:
        return
    with tempfile.TemporaryDirectory() as tmp:
        cold = []
        for k in range(args.repeats):
            t0 = time.perf_counter()
            subprocess.run([sys.executable, "-m", "sasview_nn_plugin.cli", "invert", str(EXAMPLE),
                            "--volume-fraction", "0.3", "--model", args.model, "--output", f"{tmp}/{k}"],
                           check=True, capture_output=True)
            cold.append(time.perf_counter() - t0)
    print(f"cold `sasview-nn invert` process (one file, no plot): median {statistics.median(cold):.2f} s "
          f"(runs: {', '.join(f'{c:.2f}' for c in cold)})")


if __name__ == "__main__":
    main()
