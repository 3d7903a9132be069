"""Loading measured curves with sasdata's readers: ASCII columns (q I [dI [dq]]), CanSAS 1-D XML and
NXcanSAS, with the q unit each states (:mod:`.curve`) and HDF5 scanned first (:mod:`.hdf5`).
"""

from __future__ import annotations

import contextlib
import io as _io
import logging
import os
import re
import tempfile
from pathlib import Path

import numpy as np

from ..errors import InputError
from .curve import MAX_POINTS, Curve, check_q_plausible, check_q_unit, one_unit, q_unit_factor, resolve_q_unit
from .hdf5 import materialise, nxcansas_preflight

MAX_FILE_BYTES = 512 * 2**20


@contextlib.contextmanager
def quiet_sasdata():
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


# ASCII headers: "q(1/nm)", "Q [nm^-1]", "q / A^-1" (q not part of a longer word such as dq or Qdev)
_ASCII_Q_UNIT = re.compile(r"(?<![A-Za-z0-9_])q(?![A-Za-z0-9_])\s*(?:\(([^()]*)\)|\[([^\[\]]*)\]|/\s*([^\s,;()\[\]]+))",
                           re.IGNORECASE)
# CanSAS XML: the unit attribute of every <Q> element (not Qdev, Qmean, ...)
_XML_Q_UNIT = re.compile(rb"<(?:[\w.-]+:)?Q(?=[\s/>])[^>]*?\bunit\s*=\s*(['\"])(.*?)\1")


def _check_text_rows(path: Path) -> str | None:
    """sasdata's ASCII reader silently drops NaN/inf rows and sorts q; refuse such files instead.

    Returns the q unit the header states (the comment/text lines before the first data row), or None."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\0" in head or head.lstrip().startswith((b"<", b"\x89HDF")):
        return None  # binary, XML or HDF5: sasdata's arrays are checked later
    last_q = None
    header_units: set[str] = set()
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        tokens = [t for t in re.split(r"[\s,;]+", line.strip()) if t]
        try:
            values = [float(t) for t in tokens]
        except ValueError:
            if last_q is None:
                for m in _ASCII_Q_UNIT.finditer(line):
                    header_units.add(next(g for g in m.groups() if g is not None).strip())
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
    for u in header_units:
        if q_unit_factor(u) is None:
            raise InputError(f"{path}: the header gives q in {u!r}, which is not a unit of inverse length; "
                             "write q in 1/A or 1/nm and say so in the header (e.g. '# q(1/nm) I(1/cm)')")
    return one_unit(f"{path}: the header", header_units)


def _xml_q_unit(path: Path) -> str | None:
    units = set()
    for m in _XML_Q_UNIT.finditer(path.read_bytes()):
        u = m.group(2).decode("utf-8", "replace")
        units.add(u.split("|")[1] if "|" in u else u)  # sasdata's v4.1 "old|new" spelling
    return one_unit(f"{path}: the file", units)


def load_curves(path: str | os.PathLike, q_unit: str | None = None, *,
                allow_external_hdf5: bool = False) -> list[Curve]:
    """All 1-D curves in a data file, q converted to 1/A.  Raises InputError with the reason.

    ``q_unit``: None (the unit the file states, else 1/A), "A" or "nm" (for files that state none; a file
    stating another unit is refused).  ``allow_external_hdf5``: let an HDF5 file read other files (external
    links, virtual datasets, external storage); fill values and oversized declarations are refused anyway."""
    check_q_unit(q_unit)
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: file is empty")
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: file is {size / 2**20:.0f} MiB, more than the {MAX_FILE_BYTES // 2**20} MiB "
                         "accepted for one curve; split it or use `sasview-nn batch`")
    import h5py

    read_path, tmp = path, None
    if h5py.is_hdf5(path):  # finds the signature after a user block too
        kind = "hdf5"
        stated, reaches_out = nxcansas_preflight(path, allow_external_hdf5)
        if reaches_out:  # allowed, and scanned: resolve it into a plain copy that sasdata can read
            tmp = tempfile.TemporaryDirectory(prefix="sasview-nn-")
            read_path = Path(tmp.name) / path.name
            try:
                materialise(path, read_path)
            except Exception as exc:
                tmp.cleanup()
                raise InputError(f"{path}: the data its external links, virtual datasets or external storage point "
                                 f"to cannot be read ({type(exc).__name__}: {exc})".replace("\n", " ")) from None
    else:
        with open(path, "rb") as fh:
            start = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        kind = "xml" if start.startswith(b"<") else "ascii"
        stated = _xml_q_unit(path) if kind == "xml" else _check_text_rows(path)
    factor, unit_name, unit_source = resolve_q_unit(f"{path}: the file", stated, q_unit)
    if kind != "ascii" and stated is not None:
        factor = 1.0  # sasdata's XML and NXcanSAS readers convert a stated unit to 1/A themselves
    from sasdata.dataloader.loader import Loader

    try:
        with quiet_sasdata():
            datasets = Loader().load(str(read_path))
    except Exception as exc:  # sasdata raises many kinds; all mean "cannot read"
        raise InputError(f"{path}: not a readable ASCII, CanSAS XML or NXcanSAS file ({type(exc).__name__})") from None
    finally:
        if tmp is not None:
            tmp.cleanup()
    curves = []
    for k, d in enumerate(datasets):
        if isinstance(d, Exception) or not hasattr(d, "x") or getattr(d, "data", None) is not None:
            continue  # reader errors and 2-D data
        x = np.asarray(d.x if d.x is not None else [], dtype=float)
        y = np.asarray(d.y if d.y is not None else [], dtype=float)
        if x.ndim != 1 or x.size < 2 or y.shape != x.shape:
            continue
        if x.size > MAX_POINTS:
            raise InputError(f"{path}: {x.size} points in one curve, more than the {MAX_POINTS} accepted; "
                             "rebin the data")
        if kind != "ascii" and stated is not None and abs((q_unit_factor(getattr(d, "_xunit", "")) or 0) - 1) > 1e-9:
            raise InputError(f"{path}: the file gives q in {stated!r}, which sasdata could not convert to 1/A; "
                             "state q in 1/A or 1/nm")
        di = None if d.dy is None or not np.any(np.asarray(d.dy)) else np.asarray(d.dy, dtype=float)
        dq = None if d.dx is None or not np.any(np.asarray(d.dx)) else np.asarray(d.dx, dtype=float) * factor
        curves.append(Curve(x * factor, y, di, dq, str(path), label=getattr(d, "title", "") or f"{path.stem}[{k}]",
                            q_unit=unit_name, q_unit_source=unit_source))
    if not curves:
        raise InputError(f"{path}: no 1-D data points found; expected columns q I [dI [dq]], CanSAS XML or NXcanSAS")
    for c in curves:
        check_q_plausible(path, c.q, unit_name, unit_source)
    return curves
