"""Peak memory (RSS) of finishing a batch run against its frame count: summary.csv, results.h5 and the figure
written from N recorded frames (synthetic parts of 512 frames, as `batch` records them).

    python benchmarks/bench_batch_memory.py 20000 100000

Each N runs in its own process; it prints the peak RSS (ru_maxrss) after importing and after finishing."""

from __future__ import annotations

import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def one(n: int) -> None:
    import numpy as np

    from sasview_nn_plugin.inference.modelfile import load_model
    from sasview_nn_plugin.runs import batch
    from sasview_nn_plugin.runs.plan import PARTS, Unit
    from sasview_nn_plugin.runs.summary import no_intervals

    radius = load_model(None).radius
    rng = np.random.default_rng(0)
    out = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    (out / PARTS).mkdir()
    units = []
    for start in range(0, n, 512):
        k = min(512, n - start)
        uid = f"t{start:012d}"
        number = rng.random((k, len(radius)))
        number /= number.sum(axis=1, keepdims=True)
        text = {key: np.array([f"g.h5#{start + i}" if key == "frame" else "g.h5" if key == "source" else
                               uid if key == "source_id" else "ok" if key == "status" else "" for i in range(k)])
                for key in ("frame", "source", "source_id", "status", "reason", "warnings")}
        np.savez(out / PARTS / f"{uid}.npz", **text, index=np.arange(start, start + k), number=number,
                 chi2=np.full(k, np.nan), phi=np.full(k, 0.3), phi_sigma=np.full(k, np.nan),
                 weighting=np.array(["dI"] * k), intervals=no_intervals(k), retried=np.full(k, np.nan),
                 dq_scale=np.full(k, np.nan), radius_scale=np.exp(rng.normal(0, 0.1, k)), content=np.array(""))
        units.append(Unit(uid, table=object(), rows=np.arange(start, start + k)))
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    s = batch.finish_run(out, units, radius)
    dt = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{n:>9,} frames ({len(radius)} radius bins): peak RSS {peak:7.0f} MB (before finishing {base:5.0f} MB, "
          f"+{peak - base:5.0f} MB), {dt:5.1f} s, ok {s.done}")
    import shutil

    shutil.rmtree(out)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--one":
        one(int(sys.argv[2]))
    else:
        for n in map(int, sys.argv[1:] or ["20000", "100000"]):
            subprocess.run([sys.executable, __file__, "--one", str(n)], check=True)
