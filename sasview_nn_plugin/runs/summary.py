"""The run files of `batch`: summary.csv (one row per frame, real CSV) and results.h5 (NeXus)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from ..data.files import atomic_path, printable, write_atomic

COLUMNS = ("frame", "source", "index", "mean_radius_number_A", "mean_radius_volume_A", "width_number_A",
           "width_volume_A", "volume_fraction", "volume_fraction_sigma", "chi2_reduced", "weighting", "status",
           "reason", "warnings")
# refined frames' calibrated intervals (Uncertainty.intervals), appended after the columns above
INTERVAL_NAMES = ("mean_radius_number", "mean_radius_volume", "volume_fraction")
PERCENTILES = (2.5, 16.0, 84.0, 97.5)   # the order of Uncertainty.intervals' values (lo95, lo68, hi68, hi95)
INTERVAL_COLUMNS = tuple(f"{n}_{b}" for n in INTERVAL_NAMES for b in ("lo68", "hi68", "lo95", "hi95"))
REFINED_COLUMNS = (*INTERVAL_COLUMNS, "refinement_chi2_reduced", "refinement_retried", "refinement_dq_scale")
ALL_COLUMNS = COLUMNS + REFINED_COLUMNS
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: object) -> str:
    """A text cell a spreadsheet shows as text: valid UTF-8, and a leading =, +, -, @, tab or CR
    neutralised with a quote (OWASP's advice against CSV injection)."""
    s = printable(str(value))
    return "'" + s if s.startswith(FORMULA_START) else s


def _number(x: float) -> str:
    return f"{x:.6g}" if np.isfinite(x) else ""


def no_intervals(n: int) -> np.ndarray:
    """The (n, 3, 4) interval table of n frames none of which was refined (NaN)."""
    return np.full((n, len(INTERVAL_NAMES), len(PERCENTILES)), np.nan)


def refined_columns(inversions: list, model_radius: np.ndarray) -> dict[str, np.ndarray]:
    """A unit's per-frame refinement record (None: a failed frame): ``intervals`` (N, 3, 4) and ``retried``
    (the number of other starts tried) and ``dq_scale`` (the fitted resolution factor, 1 where the BIC rule held
    it; NaN without dq or held by ``dq_scale_sigma=0``), NaN where not refined; ``radius_scale`` (a mapped q
    window's result lies on the model's radii times s); ``cumulative`` (N, 4, n_r), only when a frame has that
    band; ``fit_q_range`` (N, 2: the first and last q refined, 1/A; NaN where not refined), only when a frame was
    refined."""
    n = len(inversions)
    out = {"intervals": no_intervals(n), "retried": np.full(n, np.nan), "dq_scale": np.full(n, np.nan),
           "radius_scale": np.ones(n)}
    for k, inv in enumerate(inversions):
        if inv is None:
            continue
        out["radius_scale"][k] = float(np.median(inv.radius / model_radius))
        out["retried"][k] = np.nan if inv.fit is None else len(inv.fit.retried)
        if inv.fit is not None:
            out.setdefault("fit_q_range", np.full((n, 2), np.nan))[k] = (inv.fit.q[0], inv.fit.q[-1])
        if inv.fit is not None and inv.fit.dq_scale is not None:
            out["dq_scale"][k] = inv.fit.dq_scale
        u = inv.uncertainty
        if u is not None and u.intervals is not None:
            out["intervals"][k] = [u.intervals.get(name, (np.nan,) * 4) for name in INTERVAL_NAMES]
        if u is not None and u.cumulative_band is not None:
            out.setdefault("cumulative", np.full((n, *np.shape(u.cumulative_band)), np.nan))[k] = u.cumulative_band
    return out


def _refined_cells(cat: dict, k: int) -> list[str]:
    """The REFINED_COLUMNS cells of frame k: empty where the frame was not refined (or has no intervals)."""
    cells = []
    for lo95, lo68, hi68, hi95 in cat["intervals"][k]:
        cells += map(_number, (lo68, hi68, lo95, hi95))
    retried = cat["retried"][k]
    return cells + [_number(cat["chi2"][k]), "" if not np.isfinite(retried) else str(int(retried)),
                    _number(cat["dq_scale"][k])]


def summary_csv(cat: dict, mean_n, mean_v, width_n, width_v) -> str:
    """summary.csv's text: a header and one row per frame (csv module: quoting of commas, quotes, newlines)."""
    buf = io.StringIO()
    w = csv.writer(buf)  # RFC 4180: CRLF rows, so a CR or LF inside a name is always quoted
    w.writerow(ALL_COLUMNS)
    n = len(cat["frame"])
    cat = {"intervals": no_intervals(n), "retried": np.full(n, np.nan), "dq_scale": np.full(n, np.nan)} | cat
    for k in range(n):
        nums = (mean_n[k], mean_v[k], width_n[k], width_v[k], cat["phi"][k], cat["phi_sigma"][k], cat["chi2"][k])
        w.writerow([text_cell(cat["frame"][k]), text_cell(cat["source"][k]), int(cat["index"][k]),
                    *map(_number, nums), text_cell(cat["weighting"][k]), text_cell(cat["status"][k]),
                    text_cell(cat["reason"][k]), text_cell(cat["warnings"][k]), *_refined_cells(cat, k)])
    return buf.getvalue()


def write_summary_csv(path: Path, cat: dict, mean_n, mean_v, width_n, width_v) -> Path:
    return write_atomic(path, summary_csv(cat, mean_n, mean_v, width_n, width_v))


def write_results_h5(path: Path, radius, cat, volume, mean_n, mean_v, width_n, width_v) -> None:
    """All distributions in one NeXus-style HDF5 file (NXentry/NXdata; readable by nexusformat, silx)."""
    import h5py

    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["NX_class"] = "NXroot"
        f.attrs["default"] = "entry"
        f.attrs["creator"] = "sasview_nn_plugin"
        e = f.create_group("entry")
        e.attrs["NX_class"] = "NXentry"
        e.attrs["default"] = "distributions"
        e["definition"] = "sasview_nn_plugin.batch"
        d = e.create_group("distributions")
        d.attrs["NX_class"] = "NXdata"
        d.attrs["signal"] = "volume_distribution"
        d.attrs["axes"] = ["frame_index", "radius"]
        d.attrs["frame_index_indices"] = 0
        d.attrs["radius_indices"] = 1
        d["radius"] = radius
        d["radius"].attrs["units"] = "Angstrom"
        d["frame_index"] = np.arange(len(cat["frame"]))
        d["volume_distribution"] = volume
        d["number_distribution"] = cat["number"]
        for name, values in (("mean_radius_number", mean_n), ("mean_radius_volume", mean_v),
                             ("width_number", width_n), ("width_volume", width_v)):
            d[name] = values
            d[name].attrs["units"] = "Angstrom"
        d["volume_fraction"] = cat["phi"]
        d["volume_fraction_sigma"] = cat["phi_sigma"]  # NaN where the volume fraction was given, not estimated
        d["chi2_reduced"] = cat["chi2"]
        _write_refined(d, cat, len(cat["frame"]))
        str_dt = h5py.string_dtype()
        for name in ("frame", "source", "status", "reason"):
            d.create_dataset(name, data=np.asarray([printable(x) for x in cat[name]], dtype=object), dtype=str_dt)
        d["index"] = cat["index"]


def _write_refined(d, cat: dict, n: int) -> None:
    """Refined frames' calibrated intervals (NaN rows where not refined), retries, the radius grid of each
    frame and, when any frame has one, the cumulative number distribution's band."""
    d["radius_scale"] = cat.get("radius_scale", np.ones(n))
    d["radius_scale"].attrs["long_name"] = "frame k's radius bins are radius * radius_scale[k] (a mapped q window)"
    intervals = cat.get("intervals", no_intervals(n))
    for j, name in enumerate(INTERVAL_NAMES):
        key = f"{name}_percentiles"
        d[key] = intervals[:, j, :]
        d[key].attrs["percentiles"] = PERCENTILES
        if name != "volume_fraction":
            d[key].attrs["units"] = "Angstrom"
    d["refinement_retried"] = cat.get("retried", np.full(n, np.nan))  # other starts tried; NaN: not refined
    d["refinement_dq_scale"] = cat.get("dq_scale", np.full(n, np.nan))  # fitted dQ / dQ given; NaN: no dq, not refined
    if "fit_q_range" in cat:
        d["refinement_q_range"] = cat["fit_q_range"]   # (N, 2) first and last q refined; NaN: not refined
        d["refinement_q_range"].attrs["units"] = "1/Angstrom"
    band = cat.get("cumulative")
    if band is not None:
        d["cumulative_number_band"] = band   # (N, 4, n_r) on each frame's radius bins; NaN: none
        d["cumulative_number_band"].attrs["percentiles"] = PERCENTILES
