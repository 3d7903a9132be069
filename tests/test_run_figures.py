"""Figures and outputs that show the truth (issue 28, items 12 and 13)."""

from __future__ import annotations

import h5py
import numpy as np
import pytest
from conftest import REPO

from sasview_nn_plugin.data import plots
from sasview_nn_plugin.runs.batch import run_batch

EXAMPLES = [REPO / "examples" / n for n in ("bimodal_phi0.3.xml", "sasfit_schulz_R20_phi0.3.txt",
                                             "schulz_R45_phi0.3_nxcansas.h5")]


@pytest.fixture
def drawn(monkeypatch):
    """The figures a run draws, kept open for the test to read what is on them."""
    figures = []
    save = plots.save_figure

    def keep(fig, path):
        figures.append(fig)   # (closing it in save_figure leaves its artists readable)
        return save(fig, path)

    monkeypatch.setattr(plots, "save_figure", keep)
    return figures


def test_batch_heatmap_draws_each_frame_on_its_own_radii(tmp_path, drawn):
    """The R20 frame appeared at ~72 A and the R45 one at ~60 A (frame 0's radius grid)."""
    out = tmp_path / "run"
    run_batch([str(p) for p in EXAMPLES], output=out, volume_fraction=0.3, progress=False)
    with h5py.File(out / "results.h5") as f:
        d = f["entry/distributions"]
        radius, scale, volume = d["radius"][:], d["radius_scale"][:], d["volume_distribution"][:]
        frames = [x.decode() if isinstance(x, bytes) else x for x in d["frame"][:]]
    peaks = {fr: radius[np.argmax(v)] * s for fr, v, s in zip(frames, volume, scale, strict=True)}
    assert abs(peaks["sasfit_schulz_R20_phi0.3.txt"] - 20.3) < 3
    assert abs(peaks["schulz_R45_phi0.3_nxcansas.h5"] - 46) < 4
    heat_ax = next(ax for ax in drawn[-1].axes if ax.images)
    image = heat_ax.images[0]
    heat = np.asarray(image.get_array())          # (n_r, n_frames), origin lower
    x0, x1, r0, r1 = image.get_extent()
    r = r0 + (np.arange(heat.shape[0]) + 0.5) * (r1 - r0) / heat.shape[0]
    for k, fr in enumerate(frames):
        drawn_peak = r[np.nanargmax(np.ma.filled(heat[:, k].astype(float), np.nan))]
        assert abs(drawn_peak - peaks[fr]) < 2.5 * (radius[1] - radius[0]) * scale[k], (fr, drawn_peak, peaks[fr])


def test_invert_outputs_units_mean_radii_and_no_lock_left(tmp_path, drawn):
    import json

    from sasview_nn_plugin.cli import main
    from sasview_nn_plugin.data.writers import read_result_csv

    out = tmp_path / "o"
    assert main(["invert", str(EXAMPLES[2]), "--volume-fraction", "0.3", "--output", str(out), "--plot"]) == 0
    stem = EXAMPLES[2].stem
    text = (out / f"{stem}.json").read_text()
    record = json.loads(text)
    assert text.count("\n") > 20 and record["units"]["radius"] == "A" and record["units"]["q"] == "1/A"
    meta, cols = read_result_csv(out / f"{stem}.csv")
    assert abs(float(meta["mean_radius_number_A"]) - record["mean_radius_number"]) < 1e-4
    assert abs(float(meta["mean_radius_volume_A"]) - record["mean_radius_volume"]) < 1e-4
    assert not (out / ".sasview-nn.lock").exists()
    assert main(["batch", str(EXAMPLES[2]), "--volume-fraction", "0.3", "--output", str(tmp_path / "b"),
                 "--quiet"]) == 0
    assert not (tmp_path / "b" / ".sasview-nn.lock").exists()
    # the figure: I(q) with its unit, a residual panel, density per A, legends outside the data
    fig = drawn[0]
    labels = {ax.get_ylabel() for ax in fig.axes}
    assert any(lab.startswith("I(q) (") for lab in labels) and any("residual" in lab for lab in labels)
    assert any("per A" in lab and "1/A" in lab for lab in labels), labels
    fig.canvas.draw()
    for ax in fig.axes:
        leg = ax.get_legend()
        if leg is not None:
            box, area = leg.get_window_extent(), ax.get_window_extent()
            assert box.y1 <= area.y0 + 1 or box.x0 >= area.x1 - 1, ax.get_ylabel()   # below or beside the axes
