"""Issue 28 item 7: finishing a batch run (summary.csv, results.h5, the figure) keeps memory flat in the frame
count.  Measured with tracemalloc (numpy reports its buffers to it) on synthetic parts as `batch` records them:
sixteen times the frames must not need much more memory (the whole-run arrays of old grew with N)."""

from __future__ import annotations

import tracemalloc

import numpy as np

from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.runs import batch
from sasview_nn_plugin.runs.plan import PARTS, Unit
from sasview_nn_plugin.runs.summary import no_intervals


def finish_peak(out, n: int) -> float:
    """Peak traced bytes of batch.finish_run over ``n`` frames written as parts of 512 (MB)."""
    radius = load_model(None).radius
    rng = np.random.default_rng(0)
    (out / PARTS).mkdir(parents=True)
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
    tracemalloc.start()
    try:
        batch.finish_run(out, units, radius)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def test_finishing_a_run_needs_no_more_memory_for_sixteen_times_the_frames(tmp_path):
    small = finish_peak(tmp_path / "small", 4096)
    large = finish_peak(tmp_path / "large", 65536)
    assert large < 1.3 * small + 5.0, (small, large)   # before the change: 55 -> 196 MB; after: 66 -> 49 MB
