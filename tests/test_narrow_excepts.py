"""Broad `except` narrowed to the errors meant (issue 27, item 6): an unexpected error (a bug) is raised, never a
silent discard of a checkpoint part or a silent switch away from batched inversion."""

from __future__ import annotations

import numpy as np
import pytest


def test_an_unreadable_part_is_removed_but_an_unexpected_error_is_raised(tmp_path, monkeypatch):
    from sasview_nn_plugin.runs import parts as mod

    parts = tmp_path / mod.PARTS
    parts.mkdir()
    (parts / "broken.npz").write_bytes(b"not a zip file")      # a truncated copy: removed, its unit done again
    assert mod.part_index(tmp_path) == {}
    assert not (parts / "broken.npz").exists()
    np.savez(parts / "good.npz", frame=np.array(["a"]), source_id=np.array("s"), source=np.array("t"),
             content=np.array(""))

    def bug(*a, **k):
        raise RuntimeError("a bug, not a damaged file")

    monkeypatch.setattr(mod.np, "load", bug)
    with pytest.raises(RuntimeError):
        mod.part_index(tmp_path)
    assert (parts / "good.npz").exists()                         # the results are kept


def test_an_unexpected_error_of_the_batched_path_is_raised(monkeypatch):
    from sasview_nn_plugin.data.curve import Curve
    from sasview_nn_plugin.inference import invert as inv
    from sasview_nn_plugin.runs import process

    q = np.geomspace(0.03, 0.15, 100)
    curves = [Curve(q, q ** -4 + k, None, None, "t.h5") for k in (1.0, 2.0)]   # one q array: a frame table
    frames = [(f"t#{k}", "t.h5", "sid", k, c) for k, c in enumerate(curves)]
    settings = process.settings_for(process.RunOptions(volume_fraction=0.3))

    def bug(*a, **k):
        raise RuntimeError("a bug in the batched path")

    monkeypatch.setattr(inv, "invert_many", bug)
    with pytest.raises(RuntimeError):
        process.process_frames(frames, settings)
