"""Loading measured curves (sasdata's readers), validating them, and writing results atomically.

Supported input: whatever sasdata reads as 1-D data: ASCII columns (q I [dI [dq]]), CanSAS 1-D
XML, NXcanSAS HDF5.  q is taken in 1/A unless the user says ``q_unit="nm"``; a file whose own
metadata says 1/nm while the user did not say so is refused rather than guessed.
"""

from __future__ import annotations

import contextlib
import io as _io
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import InputError

MAX_FILE_BYTES = 512 * 2**20
Q_UNITS = {"A": 1.0, "nm": 0.1}  # factor to 1/A


@dataclass
class Curve:
    """One 1-D curve: q (1/A, ascending), intensity, optional dI and dq (1-sigma, 1/A)."""

    q: np.ndarray
    intensity: np.ndarray
    di: np.ndarray | None
    dq: np.ndarray | None
    source: str
    label: str = ""


@contextlib.contextmanager
def _quiet():
    """sasdata prints and logs freely while probing readers; keep the user's terminal clean."""
    buf = _io.StringIO()
    logger = logging.getLogger("sasdata")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    root_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.CRITICAL)
    try:
        with contextlib.redirect_stdout(buf), contextlib.redirect_stderr(buf):
            yield
    finally:
        logger.setLevel(level)
        logging.getLogger().setLevel(root_level)


def _check_text_rows(path: Path) -> None:
    """sasdata's ASCII reader silently drops NaN/inf rows and sorts q; refuse such files instead."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\0" in head or head.lstrip().startswith((b"<", b"\x89HDF")):
        return  # binary, XML or HDF5: sasdata's arrays are checked later
    import re

    last_q = None
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        tokens = [t for t in re.split(r"[\s,;]+", line.strip()) if t]
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            continue
        if len(values) < 2:
            continue
        if not all(np.isfinite(values)):
            raise InputError(f"{path}: line {n} holds NaN/inf values; remove or fix those points")
        if len(values) >= 3 and values[2] <= 0:  # sasdata would take an all-zero dI column for "no dI"
            raise InputError(f"{path}: line {n} has dI = {values[2]:g} <= 0; fix the uncertainties or drop the "
                             "dI column (without dI all points are weighted equally)")
        if last_q is not None and values[0] == last_q:
            raise InputError(f"{path}: line {n} repeats q = {last_q:.6g} (duplicate q); merge or remove it")
        if last_q is not None and values[0] < last_q:
            raise InputError(f"{path}: line {n}: q is not sorted in ascending order; sort the points by q")
        last_q = values[0]


def _unit_is_nm(unit: str) -> bool:
    u = (unit or "").replace(" ", "").lower()
    return "nm" in u


def load_curves(path: str | os.PathLike, q_unit: str = "A") -> list[Curve]:
    """All 1-D curves in a data file, q converted to 1/A.  Raises InputError with the reason."""
    if q_unit not in Q_UNITS:
        raise InputError(f"--q-unit must be A or nm (got {q_unit!r})")
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: file is empty")
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: file is {size / 2**20:.0f} MiB, more than the {MAX_FILE_BYTES // 2**20} MiB "
                         "accepted for one curve; split it or use `sasview-nn batch`")
    _check_text_rows(path)
    from sasdata.dataloader.loader import Loader

    try:
        with _quiet():
            datasets = Loader().load(str(path))
    except Exception as exc:  # sasdata raises many kinds; all mean "cannot read"
        raise InputError(f"{path}: not a readable ASCII, CanSAS XML or NXcanSAS file ({type(exc).__name__})") from None
    curves = []
    for k, d in enumerate(datasets):
        if isinstance(d, Exception) or not hasattr(d, "x") or getattr(d, "data", None) is not None:
            continue  # reader errors and 2-D data
        x = np.asarray(d.x if d.x is not None else [], dtype=float)
        y = np.asarray(d.y if d.y is not None else [], dtype=float)
        if x.size < 2 or y.shape != x.shape:
            continue
        file_unit = getattr(d, "_xunit", "") or ""
        if _unit_is_nm(file_unit) and q_unit != "nm":
            raise InputError(f"{path}: the file says q is in {file_unit}; pass --q-unit nm to use it")
        f = Q_UNITS[q_unit]
        di = None if d.dy is None or not np.any(np.asarray(d.dy)) else np.asarray(d.dy, dtype=float)
        dq = None if d.dx is None or not np.any(np.asarray(d.dx)) else np.asarray(d.dx, dtype=float) * f
        curves.append(Curve(x * f, y, di, dq, str(path), label=getattr(d, "title", "") or f"{path.stem}[{k}]"))
    if not curves:
        raise InputError(f"{path}: no 1-D data points found; expected columns q I [dI [dq]], CanSAS XML or NXcanSAS")
    for c in curves:
        qmax = c.q.max() if c.q.size else 0
        if q_unit == "A" and qmax > 3.0:
            raise InputError(f"{path}: q reaches {qmax:.3g} 1/A, implausible for SAXS; "
                             "if q is in 1/nm pass --q-unit nm")
    return curves


def write_atomic(path: str | os.PathLike, text: str) -> Path:
    """Write text to path via a temporary file in the same directory, then rename."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def write_inversion(inv, out_dir: str | os.PathLike, stem: str, extra: dict | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.json`` and ``<stem>.csv`` for an Inversion into out_dir."""
    out_dir = Path(out_dir)
    record = inv.to_dict() | (extra or {})
    # no indent: json's C encoder (4x faster; batch runs write one per frame); `python -m json.tool` pretty-prints
    js = write_atomic(out_dir / f"{stem}.json", json.dumps(record))
    cols = {"radius_A": inv.radius, "number_distribution": inv.number_distribution,
            "volume_distribution": inv.volume_distribution}
    if getattr(inv, "start", None) is not None:  # a refinement: add the band and the network's guess
        cols.update({"number_p16": inv.number_band[0], "number_p84": inv.number_band[1],
                     "volume_p16": inv.volume_band[0], "volume_p84": inv.volume_band[1],
                     "number_network": inv.start.number_distribution,
                     "volume_network": inv.start.volume_distribution})
    table = np.column_stack(list(cols.values()))
    fmt = ",".join(["%.8g"] * table.shape[1])
    lines = [",".join(cols)] + [fmt % row for row in map(tuple, table.tolist())]
    csv = write_atomic(out_dir / f"{stem}.csv", "\n".join(lines) + "\n")
    return js, csv


def save_curve(path: str | os.PathLike, q: np.ndarray, intensity: np.ndarray, di: np.ndarray | None = None,
               dq: np.ndarray | None = None, fmt: str = "txt", title: str = "") -> Path:
    """Write a curve as ASCII (``txt``), CanSAS XML (``xml``) or NXcanSAS (``h5``); used for examples/tests."""
    path = Path(path)
    if fmt == "txt":
        cols = [q, intensity] + ([di] if di is not None else []) + ([dq] if dq is not None and di is not None else [])
        header = "q(1/A) I(1/cm)" + (" dI" if di is not None else "") + (" dq" if dq is not None else "")
        np.savetxt(path, np.column_stack(cols), header=(title + "\n" if title else "") + header)
        return path
    from sasdata.dataloader.data_info import Data1D

    d = Data1D(x=np.asarray(q, float), y=np.asarray(intensity, float),
               dy=None if di is None else np.asarray(di, float), dx=None if dq is None else np.asarray(dq, float))
    d.title = title
    d.xaxis("\\rm{Q}", "A^{-1}")
    d.yaxis("\\rm{Intensity}", "cm^{-1}")
    with _quiet():
        if fmt == "xml":
            from sasdata.dataloader.readers.cansas_reader import Reader

            Reader().write(str(path), d)
        elif fmt == "h5":
            from sasdata.file_converter.nxcansas_writer import NXcanSASWriter

            NXcanSASWriter().write([d], str(path))
        else:
            raise ValueError(f"unknown format {fmt!r}")
    return path


# -- multi-frame HDF5 tables (time series) ---------------------------------------------------------

INTENSITY_NAMES = ("intensity", "I", "data")


@dataclass
class FrameTable:
    """A 2-D HDF5 table of frames: 1-D ``q`` and ``intensity`` (n_frames, n_q), optional ``dI``
    (same shape), ``dq`` (1-D or same shape) and 1-D per-frame fields (e.g. ``time``)."""

    path: str
    group: str               # HDF5 group holding the datasets ("/" for the root)
    intensity_name: str
    n_frames: int
    q_factor: float          # to 1/A
    fields: tuple[str, ...]  # 1-D datasets of length n_frames, usable as --order FIELD

    def read(self, rows: np.ndarray) -> list[Curve]:
        """Curves for the given (sorted) row indices; streamed, only those rows are read."""
        import h5py

        rows = np.asarray(rows, dtype=int)
        with h5py.File(self.path, "r") as f:
            g = f[self.group]
            q = np.asarray(g["q"][:], dtype=float) * self.q_factor
            inten = np.asarray(g[self.intensity_name][rows], dtype=float)
            di = np.asarray(g["dI"][rows], dtype=float) if "dI" in g else None
            dq = None
            if "dq" in g:
                dq = np.asarray(g["dq"][rows] if g["dq"].ndim == 2 else np.broadcast_to(g["dq"][:], inten.shape),
                                dtype=float) * self.q_factor
        return [Curve(q, inten[k], None if di is None else di[k], None if dq is None else dq[k], self.path,
                      label=f"{Path(self.path).name}#{r}") for k, r in enumerate(rows)]

    def field(self, name: str) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.group][name][:])


def open_frame_table(path: str | os.PathLike, q_unit: str = "A") -> FrameTable | None:
    """The frame table in an HDF5 file, or None if the file is not one (e.g. NXcanSAS entries).

    Raises InputError for a table that is inconsistent (shapes, units)."""
    import h5py

    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if fh.read(8) != b"\x89HDF\r\n\x1a\n":
                return None
        f = h5py.File(path, "r")
    except OSError:
        return None
    with f:
        found = []

        def visit(name, obj):
            if isinstance(obj, h5py.Group) and "q" in obj and any(
                    n in obj and obj[n].ndim == 2 for n in INTENSITY_NAMES):
                found.append(name)

        if "q" in f and any(n in f and f[n].ndim == 2 for n in INTENSITY_NAMES):
            found.append("/")
        else:
            f.visititems(visit)
        if not found:
            return None
        g = f[found[0]]
        name = next(n for n in INTENSITY_NAMES if n in g and g[n].ndim == 2)
        n_frames, n_q = g[name].shape
        if g["q"].shape != (n_q,):
            raise InputError(f"{path}: q has shape {g['q'].shape} but {name} has {n_q} columns")
        for extra in ("dI",):
            if extra in g and g[extra].shape != (n_frames, n_q):
                raise InputError(f"{path}: {extra} has shape {g[extra].shape}, expected {(n_frames, n_q)}")
        unit = g["q"].attrs.get("units", b"")
        unit = unit.decode() if isinstance(unit, bytes) else str(unit)
        if _unit_is_nm(unit) and q_unit != "nm":
            raise InputError(f"{path}: the file says q is in {unit}; pass --q-unit nm to use it")
        fields = tuple(k for k, d in g.items() if isinstance(d, h5py.Dataset) and d.shape == (n_frames,))
        return FrameTable(str(path), found[0], name, n_frames, Q_UNITS[q_unit], fields)
