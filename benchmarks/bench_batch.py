"""Beamline batch throughput: a 10,000-frame HDF5 frame table through `sasview-nn batch`.

    python benchmarks/bench_batch.py [--frames 10000] [--refine-frames 40] [--repeats 3]

Prints frames/s for: reading the frames alone (the file-reading limit), the run without refinement
(with and without per-frame JSON/CSV), and with `--refine lm` serially and on a 2-worker Dask
LocalCluster (same frames; the summaries must be identical).  Medians of --repeats runs where cheap.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from sasview_nn_plugin.data.frames import open_frame_table
from sasview_nn_plugin.runs.batch import UNIT_FRAMES, run_batch
from sasview_nn_plugin.training.simulate import growth_series


def timed_run(inputs, out, **kw):
    shutil.rmtree(out, ignore_errors=True)
    t0 = time.perf_counter()
    s = run_batch(inputs, output=out, volume_fraction=0.3, progress=False, **kw)
    return time.perf_counter() - t0, s


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=10_000)
    ap.add_argument("--refine-frames", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    try:
        table = growth_series(work / "series.h5", args.frames, seed=1)
        print(f"{args.frames} frames x 1000 q points ({table.stat().st_size / 2**20:.0f} MiB HDF5), "
              f"{os.cpu_count()} cores")
        t = open_frame_table(table)
        reads = []
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            for s in range(0, t.n_frames, UNIT_FRAMES):
                t.read(np.arange(s, min(s + UNIT_FRAMES, t.n_frames)))
            reads.append(time.perf_counter() - t0)
        print(f"reading the frames alone: median {args.frames / statistics.median(reads):,.0f} frames/s")
        runs = [timed_run([str(table)], work / "run", frame_files=False)[0] for _ in range(args.repeats)]
        print(f"batch, no refinement, run files only (--no-frame-files): median {statistics.median(runs):.2f} s "
              f"= {args.frames / statistics.median(runs):,.0f} frames/s (incl. summary, results.h5, figure)")
        dt, s = timed_run([str(table)], work / "run", frame_files=True)
        print(f"batch, no refinement, with per-frame JSON+CSV: {dt:.1f} s = {args.frames / dt:,.0f} frames/s "
              f"({s.done} done, {s.failed} failed)")

        small = growth_series(work / "small.h5", args.refine_frames, seed=2, radius_start=30.0)
        dt_serial, _ = timed_run([str(small)], work / "serial", frame_files=False, refine="lm")
        dt_dask, _ = timed_run([str(small)], work / "dask", frame_files=False, refine="lm", workers=2)
        import h5py

        with h5py.File(work / "serial" / "results.h5") as a, h5py.File(work / "dask" / "results.h5") as b:
            x, y = a["entry/distributions/number_distribution"][:], b["entry/distributions/number_distribution"][:]
            same = f"max |difference| of the distributions {np.nanmax(np.abs(x - y)):.1e}"
        print(f"--refine lm, {args.refine_frames} frames: serial {dt_serial:.1f} s = "
              f"{args.refine_frames / dt_serial:.2f} frames/s; Dask LocalCluster (2 workers) {dt_dask:.1f} s = "
              f"{args.refine_frames / dt_dask:.2f} frames/s (ratio {dt_serial / dt_dask:.2f}x); "
              f"{same}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
