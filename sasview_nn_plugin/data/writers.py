"""Writing results and curves: per-curve JSON/CSV of an inversion, and curves in the formats we read."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ..errors import InputError
from .curve import Q_UNITS
from .files import printable, write_atomic
from .load import quiet_sasdata

CSV_FORMAT = "sasview-nn result CSV 1"   # the first `# key: value` line of a per-curve CSV
JSON_UNITS = {"radius": "A", "mean_radius_number": "A", "mean_radius_volume": "A", "q": "1/A", "q_range": "1/A",
              "number_distribution": "probability per bin", "volume_distribution": "probability per bin",
              "density per A": "a distribution / bin width (radius[1] - radius[0])",
              "intensity": "as in the input file (1/cm when absolute)", "volume_fraction": "1"}
CSV_UNITS = ("radius_A: A (bin centres); number_*, volume_*: probability per bin (number- and volume-weighted); "
             "cumulative_*: cumulative number fraction")


def write_inversion(inv, out_dir: str | os.PathLike, stem: str, extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.csv`` for an Inversion into out_dir (a fit adds its bands, per bin
    and on the cumulative number distribution, and its start to the CSV)."""
    out_dir = Path(out_dir)
    record = json_safe(inv.to_dict() | (extra or {}) | {"units": JSON_UNITS})
    js = write_atomic(out_dir / f"{stem}.json", json.dumps(record, allow_nan=False, indent=1) + "\n")
    cols = {"radius_A": inv.radius, "number_distribution": inv.number_distribution,
            "volume_distribution": inv.volume_distribution}
    if inv.uncertainty is not None:  # the band of a fit
        u = inv.uncertainty
        cols.update({"number_p16": u.number_band[0], "number_p84": u.number_band[1],
                     "volume_p16": u.volume_band[0], "volume_p84": u.volume_band[1]})
    if inv.fit is not None and inv.fit.start is not None:  # where the fit started: the network's guess
        cols.update({"number_network": inv.fit.start.number, "volume_network": inv.fit.start.volume})
    band = None if inv.uncertainty is None else inv.uncertainty.cumulative_band
    if band is not None:  # the calibrated band (appended): the cumulative number distribution's percentiles
        cols["cumulative_number"] = np.cumsum(inv.number_distribution)  # the result's own, inside the band
        cols.update({f"cumulative_p{p:g}": row for p, row in zip((2.5, 16, 84, 97.5), band, strict=True)})
    table = np.column_stack(list(cols.values()))
    fmt = ",".join(["%.8g"] * table.shape[1])
    lines = [f"# {k}: {v}" for k, v in csv_metadata(inv).items()] + [",".join(cols)]
    lines += [fmt % row for row in map(tuple, table.tolist())]
    csv = write_atomic(out_dir / f"{stem}.csv", "\n".join(lines) + "\n")
    return js, csv


def json_safe(value):
    """``value`` (dicts, lists, tuples, numbers, numpy scalars and arrays) with every NaN or infinite number as None:
    JSON has neither, and a strict parser refuses Python's ``NaN`` / ``Infinity``."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [json_safe(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def csv_metadata(inv) -> dict[str, str]:
    """The `# key: value` lines that open a per-curve CSV: phi (given, estimated, or fitted within its prior), its
    1-sigma (``none`` for a given phi), its 68 % interval when refined, the forward-model check (chi2_reduced,
    flags, observable radius range, a low-q power law beside the spheres), the model, the package version and the
    columns' units."""
    from .. import __version__

    def num(x) -> str:
        return "none" if x is None else f"{x:.8g}"

    fit, u, sigma = inv.fit, inv.uncertainty, inv.volume_fraction_sigma
    meta = {"format": CSV_FORMAT, "model": " ".join(printable(inv.model).splitlines()), "package_version": __version__,
            "mean_radius_number_A": num(inv.mean_radius_number), "mean_radius_volume_A": num(inv.mean_radius_volume),
            "volume_fraction": num(inv.volume_fraction)}
    source = "given" if sigma is None else "estimated"
    phi68 = None if u is None else u.interval("volume_fraction", 68)
    if fit is not None and fit.volume_fraction is not None:  # fitted within a prior on the phi used
        prior = fit.volume_fraction_prior_sigma  # inf: no prior
        prior = prior if prior is not None and np.isfinite(prior) else None
        meta["volume_fraction_sigma"] = num(None if phi68 is None else 0.5 * (phi68[1] - phi68[0]))
        meta["volume_fraction_source"] = "fitted"
        meta["volume_fraction_prior"] = (f"{num(inv.volume_fraction_used)} +- "
                                         f"{num(prior)} ({source})")
    else:
        meta["volume_fraction_sigma"] = num(sigma)
        meta["volume_fraction_source"] = source + ("" if fit is None else " (held fixed in the fit)")
    if phi68 is not None:
        meta["volume_fraction_68"] = f"{num(phi68[0])}, {num(phi68[1])}"
    if fit is not None:  # the points the refinement fitted (all the data, a q_range, or the window it fell back to)
        meta["refined_q_range"] = f"{num(float(fit.q[0]))}, {num(float(fit.q[-1]))} 1/A ({len(fit.q)} points)"
    if fit is not None and fit.dq_scale is not None:  # the resolution factor: fitted dQ / given dQ
        meta["dq_scale"] = f"{num(fit.dq_scale)} ({'fitted' if 'dq_scale' in fit.parameters else 'held at 1'})"
    qual = inv.quality
    if qual is None:
        meta["quality"] = "not checked"
    else:
        meta["chi2_reduced"] = num(qual.chi2_reduced)  # none: no dI (the check then uses the misfit rms)
        meta["quality_flags"] = "; ".join(qual.flags) or "none"
        meta["observable_radius_A"] = f"{num(qual.observable_radius[0])}, {num(qual.observable_radius[1])}"
        if qual.power_law is not None:   # a low-q power law A q^-p fitted beside the spheres (the evidence asked)
            meta["power_law"] = f"exponent {num(qual.power_law[0])}, scale {num(qual.power_law[1])} (A q^-p)"
    meta["units"] = CSV_UNITS
    return meta


def read_result_csv(path: str | os.PathLike) -> tuple[dict[str, str], dict[str, np.ndarray]]:
    """(metadata, columns) of a per-curve result CSV (:func:`write_inversion`): the `# key: value` lines as
    strings, and each column of the table by its name."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    meta = dict(line[1:].strip().partition(": ")[::2] for line in lines if line.startswith("#"))
    body = [line for line in lines if line.strip() and not line.startswith("#")]
    if not body or not body[0].startswith("radius_A"):
        raise InputError(f"`path` {path} is not a result CSV: no column-name row starting with radius_A",
                         parameter="path")
    names = body[0].split(",")
    table = np.loadtxt(body[1:], delimiter=",", ndmin=2).reshape(-1, len(names))
    return meta, {name: table[:, k] for k, name in enumerate(names)}


def save_curve(path: str | os.PathLike, q: np.ndarray, intensity: np.ndarray, di: np.ndarray | None = None,
               dq: np.ndarray | None = None, fmt: str = "txt", title: str = "", q_unit: str = "A") -> Path:
    """Write a curve as ASCII (``txt``), CanSAS XML (``xml``) or NXcanSAS (``h5``); used for examples/tests.

    ``q_unit`` ("A" or "nm") is the unit q and dq are given in; the file states it (ASCII header, XML/NXcanSAS
    unit attributes), so :func:`load_curves` reads them back in 1/A."""
    if q_unit not in Q_UNITS:
        raise ValueError(f"q_unit must be one of {sorted(Q_UNITS)}, got {q_unit!r}")
    path = Path(path)
    if fmt == "txt":
        cols = [q, intensity] + ([di] if di is not None else []) + ([dq] if dq is not None and di is not None else [])
        header = f"q(1/{q_unit}) I(1/cm)" + (" dI" if di is not None else "") + (" dq" if dq is not None else "")
        np.savetxt(path, np.column_stack(cols), header=(title + "\n" if title else "") + header)
        return path
    from sasdata.dataloader.data_info import Data1D

    d = Data1D(x=np.asarray(q, float), y=np.asarray(intensity, float),
               dy=None if di is None else np.asarray(di, float), dx=None if dq is None else np.asarray(dq, float))
    d.title = title
    d.xaxis("\\rm{Q}", f"{q_unit}^{{-1}}")
    d.x_unit = f"1/{q_unit}"  # what the NXcanSAS writer writes (the XML writer writes the xaxis unit)
    d.yaxis("\\rm{Intensity}", "cm^{-1}")
    with quiet_sasdata():
        if fmt == "xml":
            from sasdata.dataloader.readers.cansas_reader import Reader

            Reader().write(str(path), d)
        elif fmt == "h5":
            from sasdata.file_converter.nxcansas_writer import NXcanSASWriter

            NXcanSASWriter().write([d], str(path))
        else:
            raise ValueError(f"unknown format {fmt!r}")
    return path
