"""A refined result's calibrated intervals in every output (issue 15, item 3): the per-curve CSV (the cumulative
band) and figure (bands, 68 % intervals in the title), and a batch run's summary.csv columns and results.h5
datasets; empty cells and NaN where a frame was not refined."""

from __future__ import annotations

import csv
import json
import shutil
import struct

import h5py
import numpy as np
import pytest
from conftest import REPO

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.data import plots
from sasview_nn_plugin.data.writers import read_result_csv
from sasview_nn_plugin.runs.summary import COLUMNS, INTERVAL_NAMES, REFINED_COLUMNS

EXAMPLE = REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5"   # its q window is mapped (radii scaled by s)
SUMMARY_VALUE = {"mean_radius_number": "mean_radius_number_A", "mean_radius_volume": "mean_radius_volume_A",
                 "volume_fraction": "volume_fraction"}
BAND = ["cumulative_p2.5", "cumulative_p16", "cumulative_p84", "cumulative_p97.5"]


def read_csv(path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The example curve and a file that cannot be read (a failed frame)."""
    d = tmp_path_factory.mktemp("inputs")
    shutil.copy(EXAMPLE, d / EXAMPLE.name)
    (d / "broken.txt").write_text("not a curve\n")
    return d


@pytest.fixture(scope="module")
def refined_invert(tmp_path_factory):
    """`invert --refine lm --plot` of the example; the figure's titles captured on the way."""
    out = tmp_path_factory.mktemp("invert")
    titles, real = [], plots.save_figure

    def capture(fig, path):
        titles.extend(ax.get_title() for ax in fig.axes)
        return real(fig, path)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(plots, "save_figure", capture)
        assert main(["invert", str(EXAMPLE), "--volume-fraction", "0.3", "--refine", "lm", "--plot",
                     "--output", str(out)]) == 0
    return out, titles


@pytest.fixture(scope="module")
def refined_batch(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("batch") / "run"
    assert main(["batch", str(inputs), "--volume-fraction", "0.3", "--refine", "lm", "--output", str(out),
                 "--quiet", "--no-frame-files"]) == 0   # the failed frame is recorded, not fatal
    return out


@pytest.fixture(scope="module")
def plain_batch(inputs, tmp_path_factory):
    out = tmp_path_factory.mktemp("plain") / "run"
    assert main(["batch", str(inputs), "--volume-fraction", "0.3", "--output", str(out), "--quiet"]) == 0
    return out


def test_invert_csv_has_the_cumulative_band_ordered_around_the_result(refined_invert):
    out, _ = refined_invert
    _, cols = read_result_csv(out / f"{EXAMPLE.stem}.csv")
    header = list(cols)
    assert header[-5:] == ["cumulative_number", *BAND]          # appended: the earlier columns keep their places
    assert header[:3] == ["radius_A", "number_distribution", "volume_distribution"]
    band = np.column_stack([cols[c] for c in BAND])
    cum = cols["cumulative_number"]
    np.testing.assert_allclose(cum, np.cumsum(cols["number_distribution"]), rtol=1e-6)
    assert np.all(np.diff(band, axis=1) >= -1e-12)               # p2.5 <= p16 <= p84 <= p97.5 per bin
    assert np.all((band[:, 1] <= cum + 1e-6) & (cum <= band[:, 2] + 1e-6))
    mid = np.argmin(np.abs(cum - 0.5))
    assert band[mid, 0] < band[mid, 1] < band[mid, 2] < band[mid, 3]   # a band of some width where the mass is
    js = json.loads((out / f"{EXAMPLE.stem}.json").read_text())
    np.testing.assert_allclose(js["refinement"]["cumulative_band"]["p16"], band[:, 1], rtol=1e-6)


def test_invert_csv_header_has_the_fitted_phi_its_prior_and_68_percent_interval(refined_invert):
    out, _ = refined_invert
    meta, _ = read_result_csv(out / f"{EXAMPLE.stem}.csv")
    js = json.loads((out / f"{EXAMPLE.stem}.json").read_text())
    lo, hi = js["refinement"]["intervals"]["volume_fraction"]["68"]
    assert meta["volume_fraction_source"] == "fitted"
    assert float(meta["volume_fraction"]) == pytest.approx(js["volume_fraction"], rel=1e-7)
    assert [float(x) for x in meta["volume_fraction_68"].split(",")] == pytest.approx([lo, hi], rel=1e-7)
    assert float(meta["volume_fraction_sigma"]) == pytest.approx(0.5 * (hi - lo), rel=1e-6)
    assert meta["volume_fraction_prior"] == "0.3 +- 0.03 (given)"           # the given phi's default 10 %
    assert float(meta["chi2_reduced"]) == pytest.approx(js["quality"]["chi2_reduced"], rel=1e-7)
    q_lo, q_hi = (float(x) for x in meta["refined_q_range"].split(" 1/A")[0].split(","))  # the points refined
    assert [q_lo, q_hi] == pytest.approx(js["refinement"]["q_range"], rel=1e-7)
    assert meta["refined_q_range"].endswith(f"({js['refinement']['points']} points)")
    assert meta["quality_flags"] == ("; ".join(js["quality"]["flags"]) or "none")


def test_invert_figure_shows_the_bands_and_the_68_percent_intervals(refined_invert):
    out, titles = refined_invert
    js = json.loads((out / f"{EXAMPLE.stem}.json").read_text())
    png = (out / f"{EXAMPLE.stem}.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width = struct.unpack(">I", png[16:20])[0]
    assert width > 1400                                           # three panels: the cumulative one in the middle
    head = titles[0]
    assert "<R>n = " in head and "(68 %)" in head and "estimated" not in head
    lo, hi = js["refinement"]["intervals"]["mean_radius_number"]["68"]
    digits = int(np.clip(1 - np.floor(np.log10(hi - lo)), 0, 6))   # the width to two digits (data.plots)
    assert f"[{lo:.{digits}f}, {hi:.{digits}f}]" in head
    assert any("cumulative number distribution" in t for t in titles)


def test_unrefined_invert_keeps_its_csv_columns_and_the_estimate_sigma_title(tmp_path, monkeypatch):
    titles, real = [], plots.save_figure

    def capture(fig, path):
        titles.extend(ax.get_title() for ax in fig.axes)
        return real(fig, path)

    monkeypatch.setattr(plots, "save_figure", capture)
    assert main(["invert", str(EXAMPLE), "--volume-fraction", "auto", "--plot", "--output", str(tmp_path)]) == 0
    meta, cols = read_result_csv(tmp_path / f"{EXAMPLE.stem}.csv")
    assert list(cols) == ["radius_A", "number_distribution", "volume_distribution"]
    js = json.loads((tmp_path / f"{EXAMPLE.stem}.json").read_text())
    assert meta["volume_fraction_source"] == "estimated" and "volume_fraction_68" not in meta
    assert float(meta["volume_fraction_sigma"]) == pytest.approx(js["volume_fraction_sigma"], rel=1e-7)
    assert "+-" in titles[0] and "(estimated)" in titles[0] and "68 %" not in titles[0]
    assert len(titles) == 3 and not any("cumulative" in t for t in titles)   # distributions, I(q), residuals


def test_batch_summary_has_ordered_intervals_for_refined_frames(refined_batch):
    rows = read_csv(refined_batch / "summary.csv")
    assert tuple(rows[0]) == COLUMNS + REFINED_COLUMNS            # the old columns first, in their order
    ok = [r for r in rows if r["status"] == "ok"]
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(ok) == 1 and len(failed) == 1
    r = ok[0]
    for name in INTERVAL_NAMES:
        lo95, lo68, hi68, hi95 = (float(r[f"{name}_{b}"]) for b in ("lo95", "lo68", "hi68", "hi95"))
        value = float(r[SUMMARY_VALUE[name]])
        assert lo95 < lo68 < value < hi68 < hi95, (name, lo95, lo68, value, hi68, hi95)
    assert float(r["refinement_chi2_reduced"]) == pytest.approx(float(r["chi2_reduced"]))
    assert 0 < float(r["refinement_chi2_reduced"]) < 3 and r["refinement_retried"] == "0"
    assert all(failed[0][c] == "" for c in REFINED_COLUMNS)


def test_batch_means_are_on_the_frames_own_radius_grid(refined_batch, refined_invert):
    """A mapped window's result lies on the model's radii times s: summary.csv's means are the result's."""
    js = json.loads((refined_invert[0] / f"{EXAMPLE.stem}.json").read_text())
    r = next(r for r in read_csv(refined_batch / "summary.csv") if r["status"] == "ok")
    assert float(r["mean_radius_number_A"]) == pytest.approx(js["mean_radius_number"], rel=1e-4)
    assert float(r["mean_radius_volume_A"]) == pytest.approx(js["mean_radius_volume"], rel=1e-4)
    with h5py.File(refined_batch / "results.h5") as f:
        d = f["entry/distributions"]
        k = list(d["status"].asstr()[:]).index("ok")
        radius = d["radius"][:] * d["radius_scale"][k]
        np.testing.assert_allclose(radius, js["radius"], rtol=1e-9)


def test_batch_results_h5_has_the_intervals_and_the_cumulative_band(refined_batch):
    with h5py.File(refined_batch / "results.h5") as f:
        d = f["entry/distributions"]
        status = d["status"].asstr()[:]
        ok, bad = list(status).index("ok"), list(status).index("failed")
        n, n_r = d["number_distribution"].shape
        for name in INTERVAL_NAMES:
            p = d[f"{name}_percentiles"]
            assert p.shape == (n, 4) and tuple(p.attrs["percentiles"]) == (2.5, 16, 84, 97.5)
            lo95, lo68, hi68, hi95 = p[ok]
            assert lo95 < lo68 < d[name][ok] < hi68 < hi95
            assert np.isnan(p[bad]).all()
        band = d["cumulative_number_band"]
        assert band.shape == (n, 4, n_r)
        assert np.isnan(band[bad]).all()
        assert np.all(np.diff(band[ok], axis=0) >= -1e-12)
        np.testing.assert_allclose(band[ok][:, -1], 1.0, atol=1e-6)
        assert d["refinement_retried"][ok] == 0 and np.isnan(d["refinement_retried"][bad])


def test_unrefined_batch_leaves_the_cells_empty_and_the_datasets_nan(plain_batch):
    rows = read_csv(plain_batch / "summary.csv")
    assert tuple(rows[0]) == COLUMNS + REFINED_COLUMNS
    assert all(r[c] == "" for r in rows for c in REFINED_COLUMNS)
    assert [r["status"] for r in rows].count("ok") == 1
    with h5py.File(plain_batch / "results.h5") as f:
        d = f["entry/distributions"]
        assert "cumulative_number_band" not in d
        for name in INTERVAL_NAMES:
            assert np.isnan(d[f"{name}_percentiles"][:]).all()
        assert np.isnan(d["refinement_retried"][:]).all()
    (frame_csv,) = (plain_batch / "frames").glob("*.csv")
    meta, cols = read_result_csv(frame_csv)                     # exactly what invert writes (docs/batch.md)
    assert not any(c.startswith("cumulative") for c in cols) and meta["volume_fraction_source"] == "given"


def test_a_run_recorded_before_the_intervals_resumes_with_empty_cells(inputs, tmp_path):
    """Parts written before these columns existed (no intervals, retries or radius scale) still merge."""
    out = tmp_path / "run"
    args = ["batch", str(inputs), "--volume-fraction", "0.3", "--output", str(out), "--quiet", "--no-frame-files"]
    assert main(args) == 0
    first = read_csv(out / "summary.csv")
    for part in (out / ".parts").glob("*.npz"):
        with np.load(part) as z:
            old = {k: z[k] for k in z.files if k not in ("intervals", "retried", "radius_scale", "cumulative")}
        with open(part, "wb") as fh:
            np.savez(fh, **old)
    (out / "summary.csv").unlink()
    assert main(args) == 0
    again = read_csv(out / "summary.csv")
    assert [r["frame"] for r in again] == [r["frame"] for r in first]
    assert all(r[c] == "" for r in again for c in REFINED_COLUMNS)
