"""Issue 28 item 7: finishing a batch run (summary.csv, results.h5, the figure) keeps memory flat in the frame
count.  Measured with tracemalloc (numpy reports its buffers to it) on synthetic parts as `batch` records them:
sixteen times the frames must not need much more memory (the whole-run arrays of old grew with N)."""

from __future__ import annotations

import tracemalloc

import pytest
from helpers import write_synthetic_parts

from sasview_nn_plugin.inference.modelfile import load_model
from sasview_nn_plugin.runs import batch


def finish_peak(out, n: int) -> float:
    """Peak traced bytes of batch.finish_run over ``n`` frames written as parts of 512 (MB)."""
    radius = load_model(None).radius
    units = write_synthetic_parts(out, n, radius)
    tracemalloc.start()
    try:
        batch.finish_run(out, units, radius)
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


@pytest.mark.slow   # 48 s in the default run on the shared 2-core machine (pytest --durations)
def test_finishing_a_run_needs_no_more_memory_for_sixteen_times_the_frames(tmp_path):
    small = finish_peak(tmp_path / "small", 4096)
    large = finish_peak(tmp_path / "large", 65536)
    assert large < 1.3 * small + 5.0, (small, large)   # before the change: 55 -> 196 MB; after: 66 -> 49 MB
