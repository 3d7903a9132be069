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
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: object) -> str:
    """A text cell a spreadsheet shows as text: valid UTF-8, and a leading =, +, -, @, tab or CR
    neutralised with a quote (OWASP's advice against CSV injection)."""
    s = printable(str(value))
    return "'" + s if s.startswith(FORMULA_START) else s


def _number(x: float) -> str:
    return f"{x:.6g}" if np.isfinite(x) else ""


def summary_csv(cat: dict, mean_n, mean_v, width_n, width_v) -> str:
    """summary.csv's text: a header and one row per frame (csv module: quoting of commas, quotes, newlines)."""
    buf = io.StringIO()
    w = csv.writer(buf)  # RFC 4180: CRLF rows, so a CR or LF inside a name is always quoted
    w.writerow(COLUMNS)
    for k in range(len(cat["frame"])):
        nums = (mean_n[k], mean_v[k], width_n[k], width_v[k], cat["phi"][k], cat["phi_sigma"][k], cat["chi2"][k])
        w.writerow([text_cell(cat["frame"][k]), text_cell(cat["source"][k]), int(cat["index"][k]),
                    *map(_number, nums), text_cell(cat["weighting"][k]), text_cell(cat["status"][k]),
                    text_cell(cat["reason"][k]), text_cell(cat["warnings"][k])])
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
        str_dt = h5py.string_dtype()
        for name in ("frame", "source", "status", "reason"):
            d.create_dataset(name, data=np.asarray([printable(x) for x in cat[name]], dtype=object), dtype=str_dt)
        d["index"] = cat["index"]
