"""Inversion speed: single curve in-process, batch throughput, Keras for comparison, and a cold CLI run.

    python benchmarks/bench_invert.py [--model default] [--batch 200000] [--repeats 5]

Medians of several runs; the ratio to Keras is measured in the same process.
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
from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.physics import kernels as physics

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "sasfit_schulz_R20_phi0.3.txt"


def timeit(fn, number, repeats):
    """Median seconds per call over ``repeats`` runs of ``number`` calls."""
    runs = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - t0) / number)
    return statistics.median(runs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="default")
    ap.add_argument("--batch", type=int, default=200_000)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    nn = load_model(args.model)
    rng = np.random.default_rng(0)
    basis = physics.sphere_basis(nn.q, nn.radius)
    w = rng.random((256, len(nn.radius))) ** 8
    phi = rng.uniform(0.1, 0.5, 256)
    pool = physics.intensity(basis, w, phi).astype(np.float32)
    print(f"model {nn.name}: {len(nn.q)} q points, block {nn.block}, layers "
          f"{[w.shape[1] for w in nn.weights]}; {os.cpu_count()} cores")

    q, one = nn.q, pool[0].astype(float)
    t_single = timeit(lambda: invert(q, one, volume_fraction=0.3, model=nn), 2000, args.repeats)
    q2 = np.geomspace(0.03, 0.15, 400)
    one2 = np.exp(np.interp(np.log(q2), np.log(q), np.log(one), left=np.log(one[0]), right=np.log(one[-1])))
    t_interp = timeit(lambda: invert(q2, one2, volume_fraction=0.3, model=nn), 2000, args.repeats)
    t_fwd = timeit(lambda: nn.predict(one, 0.3), 2000, args.repeats)
    print(f"single curve, invert() on the model grid: median {t_single * 1e6:.1f} us "
          f"(network forward alone {t_fwd * 1e6:.1f} us)")
    print(f"single curve, invert() from 400 log-spaced points (interpolation): median {t_interp * 1e6:.1f} us")

    batch = pool[rng.integers(0, len(pool), args.batch)]
    phis = rng.uniform(0.1, 0.5, args.batch).astype(np.float32)
    t_batch = timeit(lambda: nn.predict(batch, phis), 1, args.repeats)
    print(f"batch of {args.batch:,} curves (numpy, all cores): median {t_batch:.3f} s = "
          f"{args.batch / t_batch:,.0f} curves/s")

    try:
        from sasview_nn_plugin.training.train import keras_twin

        net = keras_twin(nn)
        x = (nn.features(one[None]) - nn.input_shift) / nn.input_scale
        x = np.concatenate([x, [[(0.3 - nn.phi_shift) / nn.phi_scale]]], axis=1).astype(np.float32)
        net.predict(x, verbose=0)
        t_keras = timeit(lambda: net.predict(x, verbose=0), 50, args.repeats)
        t_call = timeit(lambda: net(x, training=False), 200, args.repeats)
        print(f"Keras predict() on the same curve: median {t_keras * 1e6:.0f} us "
              f"({t_keras / t_fwd:.0f}x the numpy forward pass); Keras __call__: {t_call * 1e6:.0f} us "
              f"({t_call / t_fwd:.0f}x)")
    except ImportError:
        print("Keras predict: TensorFlow not installed (pip install -e '.[train]'), skipped")

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
