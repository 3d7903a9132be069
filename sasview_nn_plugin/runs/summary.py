"""The run files of `batch`: summary.csv (one row per frame, real CSV) and results.h5 (NeXus)."""

from __future__ import annotations

import contextlib
import csv
from pathlib import Path

import numpy as np

from ..data.files import atomic_path, printable

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


def summary_rows(cat: dict, mean_n, mean_v, width_n, width_v):
    """summary.csv's rows of the frames in ``cat`` (one block of a run)."""
    n = len(cat["frame"])
    cat = {"intervals": no_intervals(n), "retried": np.full(n, np.nan), "dq_scale": np.full(n, np.nan)} | cat
    for k in range(n):
        nums = (mean_n[k], mean_v[k], width_n[k], width_v[k], cat["phi"][k], cat["phi_sigma"][k], cat["chi2"][k])
        yield [text_cell(cat["frame"][k]), text_cell(cat["source"][k]), int(cat["index"][k]),
               *map(_number, nums), text_cell(cat["weighting"][k]), text_cell(cat["status"][k]),
               text_cell(cat["reason"][k]), text_cell(cat["warnings"][k]), *_refined_cells(cat, k)]


DERIVED = ("volume_distribution", "mean_radius_number", "mean_radius_volume", "width_number", "width_volume")
FRAME_DATASETS = {"number": "number_distribution", "phi": "volume_fraction", "phi_sigma": "volume_fraction_sigma",
                  "chi2": "chi2_reduced", "index": "index", "radius_scale": "radius_scale",
                  "retried": "refinement_retried", "dq_scale": "refinement_dq_scale",
                  "fit_q_range": "refinement_q_range", "cumulative": "cumulative_number_band"}
TEXT = ("frame", "source", "status", "reason")


class RunFiles:
    """summary.csv and results.h5 of a run written a block of frames at a time, so memory stays flat with the
    frame count: both go to temporary names and replace the old files together, after the last block."""

    def __init__(self, out: Path, radius: np.ndarray, n: int, optional: set[str]):
        import h5py

        self._stack = contextlib.ExitStack()
        csv_tmp = self._stack.enter_context(atomic_path(out / "summary.csv"))
        h5_tmp = self._stack.enter_context(atomic_path(out / "results.h5"))
        self._fh = self._stack.enter_context(open(csv_tmp, "w", newline="", encoding="utf-8", errors="surrogateescape"))
        self._csv = csv.writer(self._fh)   # RFC 4180: CRLF rows, so a CR or LF inside a name is always quoted
        self._csv.writerow(ALL_COLUMNS)
        self._h5 = self._stack.enter_context(h5py.File(h5_tmp, "w"))
        self.d = _results_layout(self._h5, radius)
        self.n, self.done = n, 0
        shapes = {"number": (len(radius),), "fit_q_range": (2,), "cumulative": (len(PERCENTILES), len(radius))}
        for key, name in FRAME_DATASETS.items():
            if key in ("fit_q_range", "cumulative") and key not in optional:
                continue
            self.d.create_dataset(name, (n, *shapes.get(key, ())), dtype=np.int64 if key == "index" else float,
                                  chunks=(min(n, 512), *shapes.get(key, ())) if n else None)
        for name in DERIVED:
            self.d.create_dataset(name, (n, *shapes["number"]) if name == DERIVED[0] else (n,), dtype=float)
        for name in INTERVAL_NAMES:
            self.d.create_dataset(f"{name}_percentiles", (n, len(PERCENTILES)), dtype=float)
        for name in TEXT:
            self.d.create_dataset(name, (n,), dtype=h5py.string_dtype())
        _attributes(self.d)

    def add(self, cat: dict, volume, mean_n, mean_v, width_n, width_v) -> None:
        """The next block of frames (consecutive in run order)."""
        self._csv.writerows(summary_rows(cat, mean_n, mean_v, width_n, width_v))
        sl = slice(self.done, self.done + len(cat["frame"]))
        for key, name in FRAME_DATASETS.items():
            if name in self.d and key in cat:
                self.d[name][sl] = cat[key]
        for name, values in zip(DERIVED, (volume, mean_n, mean_v, width_n, width_v), strict=True):
            self.d[name][sl] = values
        for j, name in enumerate(INTERVAL_NAMES):
            self.d[f"{name}_percentiles"][sl] = cat["intervals"][:, j, :]
        for name in TEXT:
            self.d[name][sl] = np.asarray([printable(x) for x in cat[name]], dtype=object)
        self.done = sl.stop

    def close(self) -> None:
        self.d["frame_index"] = np.arange(self.n)
        self._stack.close()   # the files are closed, fsync'ed and renamed into place (removed on an error)

    def __enter__(self) -> RunFiles:
        return self

    def __exit__(self, *exc) -> None:
        if exc[0] is None:
            self.close()
        else:
            self._stack.__exit__(*exc)


def _results_layout(f, radius) -> object:
    """results.h5's NeXus frame (NXroot / NXentry / NXdata) and its radius axis; returns the NXdata group."""
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
    return d


def _attributes(d) -> None:
    """Units and meanings of results.h5's per-frame datasets."""
    for name in ("mean_radius_number", "mean_radius_volume", "width_number", "width_volume"):
        d[name].attrs["units"] = "Angstrom"
    d["volume_distribution"].attrs["long_name"] = "probability per bin (frame k's bins: radius * radius_scale[k])"
    d["radius_scale"].attrs["long_name"] = "frame k's radius bins are radius * radius_scale[k] (a mapped q window)"
    for name in INTERVAL_NAMES:
        d[f"{name}_percentiles"].attrs["percentiles"] = PERCENTILES
        if name != "volume_fraction":
            d[f"{name}_percentiles"].attrs["units"] = "Angstrom"
    if "refinement_q_range" in d:
        d["refinement_q_range"].attrs["units"] = "1/Angstrom"
    if "cumulative_number_band" in d:   # (N, 4, n_r) on each frame's radius bins; NaN: none
        d["cumulative_number_band"].attrs["percentiles"] = PERCENTILES
