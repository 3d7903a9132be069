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
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from helpers import write_synthetic_parts  # the same synthetic parts as tests/test_batch_memory.py

    from sasview_nn_plugin.inference.modelfile import load_model
    from sasview_nn_plugin.runs import batch

    radius = load_model(None).radius
    out = Path(tempfile.mkdtemp(prefix="bench-mem-"))
    units = write_synthetic_parts(out, n, radius)
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
