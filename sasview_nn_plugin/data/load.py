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
from typing import NamedTuple

import numpy as np

from ..errors import InputError
from .curve import (
    INVERSE_LENGTH,
    MAX_POINTS,
    Curve,
    check_q_plausible,
    check_q_unit,
    one_unit,
    q_unit_factor,
    repair_columns,
    resolve_q_unit,
    unit_of,
)
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
# ... and "q in 1/nm", "Q nm^-1 I dI", "q: 1/A" (q, then a spelling of 1/nm or 1/A), "units: 1/nm" (a units line naming
# one of them; 1/cm there is the intensity's)
_ASCII_Q_THEN_UNIT = re.compile(r"(?<![A-Za-z0-9_])q(?![A-Za-z0-9_])\s*(?:in\s+|[:=]\s*)?(?=\S)", re.IGNORECASE)
_ASCII_UNITS_LINE = re.compile(r"(?<![A-Za-z0-9_])units?\s*[:=]", re.IGNORECASE)


def _header_line_units(line: str) -> set[str]:
    """The q units one ASCII header line states, as spelled (module comments above)."""
    units = {next(g for g in m.groups() if g is not None).strip() for m in _ASCII_Q_UNIT.finditer(line)}
    for m in _ASCII_Q_THEN_UNIT.finditer(line):
        if (u := INVERSE_LENGTH.match(line, m.end())) is not None:
            units.add("1/" + unit_of(u))
    if not units and (m := _ASCII_UNITS_LINE.search(line)):
        units |= {"1/" + unit_of(u) for u in INVERSE_LENGTH.finditer(line, m.end())}
    return units


# CanSAS XML: the unit attribute of every <Q> element (not Qdev, Qmean, ...)
_XML_Q_UNIT = re.compile(rb"<(?:[\w.-]+:)?Q(?=[\s/>])[^>]*?\bunit\s*=\s*(['\"])(.*?)\1")


def _ascii_header_unit(path: Path) -> str | None:
    """The q unit an ASCII file's header states (the comment/text lines before the first data row), or None."""
    with open(path, "rb") as fh:
        head = fh.read(4096)
    if b"\0" in head or head.lstrip().startswith((b"<", b"\x89HDF")):
        return None  # binary, XML or HDF5
    header_units: set[str] = set()
    for line in path.read_text(errors="replace").splitlines():
        tokens = [t for t in re.split(r"[\s,;]+", line.strip()) if t]
        try:
            if len([float(t) for t in tokens]) >= 2:
                break
        except ValueError:
            header_units |= _header_line_units(line)
    for u in header_units:
        if q_unit_factor(u) is None:
            raise InputError(f"{path}: the header gives q in {u!r}, which is not a unit of inverse length; "
                             "write q in 1/A or 1/nm and say so in the header (e.g. '# q(1/nm) I(1/cm)')",
                             parameter=None)
    return one_unit(f"{path}: the header", header_units)


def ascii_rows(data: bytes) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The rows sasdata's ASCII reader takes from a text file, in file order: (line numbers, values (n, 4), number
    of columns), absent columns 0; None where it takes none (or sees 2-D data).

    A port of its row selection (sasdata 0.11 ``dataloader/readers/ascii_reader.py`` ``get_file_contents``,
    l. 72-133): a data block is 5 or more consecutive lines of numbers with the same number of columns (so
    numeric lines of an instrument header, such as ISIS's ``121 0 0 0 1 121 0``, are not data); a line of
    another length or a non-number after it ends the block.  Only q, I, dI and dq (the first 4 columns) are read.
    """
    from sasdata.dataloader.filereader import FileReader, decode

    text = decode(data)
    if not isinstance(text, str):
        return None
    lines: list[int] = []
    values: list[list[float]] = []
    lentoks, is_data = 2, False
    for n, line in enumerate(text.splitlines(), 1):
        toks = FileReader.splitline(line.strip())
        if not toks:
            continue
        if len(toks) != lentoks and is_data:
            break  # a footer
        if len(toks) != lentoks:
            lines, values = [], []  # numeric header lines of another length
        try:
            row = [float(t) for t in toks[:4]]
        except ValueError:
            if is_data:
                break
            lines, values, lentoks = [], [], 2
            continue
        lines.append(n)
        values.append(row + [0.0] * (4 - len(row)))
        is_data = is_data or len(values) >= 5
        if is_data and len(toks) >= 8:
            return None  # sasdata: "This data looks like 2D ASCII data"
        lentoks = len(toks)
    if not is_data:
        return None
    return np.array(lines, dtype=int), np.array(values, dtype=float), lentoks


def _as_sasdata_keeps(values: np.ndarray) -> np.ndarray:
    """What sasdata makes of raw ASCII rows: q = 0 rows removed, sorted by (q, I), rows with NaN/inf removed."""
    v = values[values[:, 0] != 0]
    v = v[np.lexsort((v[:, 1], v[:, 0]))]
    return v[np.isfinite(v).all(axis=1)]


def _same_rows(values: np.ndarray, d) -> bool:
    """Whether sasdata's 1-D data set ``d`` is exactly these raw rows after its own rules (then the rows, with their
    line numbers, stand for the file).  To 1e-12: sasdata passes q through its unit converter, even 1/A to 1/A."""
    kept = _as_sasdata_keeps(values)
    try:
        cols = [np.asarray(a if a is not None and np.size(a) else np.zeros(len(d.x)), dtype=float)
                for a in (d.x, d.y, d.dy, d.dx)]
        return all(c.shape == kept[:, k].shape and np.allclose(c, kept[:, k], rtol=1e-12, atol=0)
                   for k, c in enumerate(cols))
    except (TypeError, ValueError):
        return False


# ASCII: a header naming the 4th column dQl (or slit_length, dxl) gives slit lengths there, not dq
_ASCII_SLIT = re.compile(r"^(dql|slit_length|dxl)(?![a-z0-9_])", re.IGNORECASE)


def _ascii_slit_column(path: Path) -> bool:
    """Whether an ASCII file's header (its last text line before the first data row) names the 4th column
    ``dQl`` / ``slit_length`` / ``dxl``: slit lengths (in q's unit), not dq.  InputError if it names another."""
    names: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        tokens = [t for t in re.split(r"[\s,;]+", line.strip().lstrip("#").strip()) if t]
        try:
            if len([float(t) for t in tokens]) >= 2:
                break
        except ValueError:
            names = [t for t in tokens if t[0].isalpha()] if tokens else names
    at = [k for k, t in enumerate(names) if _ASCII_SLIT.match(t)]
    if at and at != [3]:
        raise InputError(f"{path}: the header names {names[at[0]]!r} as column {at[0] + 1}; slit lengths are read "
                         "from the 4th column: write the columns as q I dI dQl", parameter="path")
    return bool(at)


def _xml_q_unit(path: Path) -> str | None:
    units = set()
    for m in _XML_Q_UNIT.finditer(path.read_bytes()):
        u = m.group(2).decode("utf-8", "replace")
        units.add(u.split("|")[1] if "|" in u else u)  # sasdata's v4.1 "old|new" spelling
    return one_unit(f"{path}: the file", units)


def load_curves(path: str | os.PathLike, q_unit: str | None = None, *,
                allow_external_hdf5: bool = False, strict_input: bool = False) -> list[Curve]:
    """All 1-D curves in a data file, q converted to 1/A, repaired as SasView reads them.  Raises InputError with
    the reason.

    ``q_unit``: None (the unit the file states, else 1/A), "A" or "nm" (for files that state none; a file
    stating another unit is refused).  ``allow_external_hdf5``: let an HDF5 file read other files (external
    links, virtual datasets, external storage); fill values and oversized declarations are refused anyway.

    Each curve goes through :func:`~.curve.repair_curve` (rows with NaN/inf or q = 0 dropped, |dI| for dI < 0,
    q sorted, rows with dI = 0 dropped, duplicate q merged), and ``Curve.repairs`` says what was changed; for
    ASCII files with the line numbers of the rows sasdata read.  ``strict_input``: refuse each such case instead.  For
    CanSAS XML and NXcanSAS, sasdata itself has sorted the points and dropped NaN/inf (XML: and q = 0) points
    before the arrays reach us, as SasView does; those silent steps are not in ``repairs``."""
    check_q_unit(q_unit)
    path = Path(path)
    _check_file_size(path)
    kind, stated, read_path, tmp = _locate_data(path, allow_external_hdf5)
    factor, unit_name, unit_source = resolve_q_unit(f"{path}: the file", stated, q_unit)
    if kind != "ascii" and stated is not None:
        factor = 1.0  # sasdata's XML and NXcanSAS readers convert a stated unit to 1/A themselves
    datasets = _sasdata_datasets(path, read_path, tmp)
    one_d = [d for d in datasets
             if not isinstance(d, Exception) and hasattr(d, "x") and getattr(d, "data", None) is None]
    raw = None
    if kind == "ascii" and len(one_d) == 1:  # (sasdata may have dropped every row: then the rows say why)
        with quiet_sasdata():  # (its decoder logs what it cannot decode)
            raw = ascii_rows(path.read_bytes())
        raw = raw if raw is not None and _same_rows(raw[1], one_d[0]) else None
    how = _HowRead(kind, stated, factor, raw, kind == "ascii" and _ascii_slit_column(path), strict_input,
                   unit_name, unit_source)
    curves = [c for k, d in enumerate(one_d) if (c := _curve_of(path, k, d, how)) is not None]
    if not curves:
        raise InputError(f"{path}: {(kind == 'hdf5' and _nxcansas_why(path)) or _nothing_read(datasets)}",
                         parameter=None)
    for c in curves:
        check_q_plausible(path, c.q, unit_name, unit_source)
    return curves


def _check_file_size(path: Path) -> None:
    """InputError unless ``path`` is a file of 1 byte to MAX_FILE_BYTES."""
    if not path.is_file():
        raise InputError(f"{path}: no such file", parameter="path")
    size = path.stat().st_size
    if size == 0:
        raise InputError(f"{path}: file is empty", parameter=None)
    if size > MAX_FILE_BYTES:
        raise InputError(f"{path}: file is {size / 2**20:.0f} MiB, more than the {MAX_FILE_BYTES // 2**20} MiB "
                         "accepted for one curve; split it or use `sasview-nn batch`", parameter=None)


def _locate_data(path: Path, allow_external_hdf5: bool):
    """(kind "hdf5" | "xml" | "ascii", the q unit the file states or None, the path sasdata reads, the temporary
    directory holding it or None): an HDF5 file that reaches out (allowed, and scanned) is resolved into a plain
    copy that sasdata can read."""
    import h5py

    if not h5py.is_hdf5(path):  # (is_hdf5 finds the signature after a user block too)
        with open(path, "rb") as fh:
            start = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        kind = "xml" if start.startswith(b"<") else "ascii"
        return kind, _xml_q_unit(path) if kind == "xml" else _ascii_header_unit(path), path, None
    stated, reaches_out = nxcansas_preflight(path, allow_external_hdf5)
    if not reaches_out:
        return "hdf5", stated, path, None
    tmp = tempfile.TemporaryDirectory(prefix="sasview-nn-")
    read_path = Path(tmp.name) / path.name
    try:
        materialise(path, read_path)
    except Exception as exc:
        tmp.cleanup()
        raise InputError(f"{path}: the data its external links, virtual datasets or external storage point "
                         f"to cannot be read ({type(exc).__name__}: {exc})".replace("\n", " "),
                         parameter=None) from None
    return "hdf5", stated, read_path, tmp


def _sasdata_datasets(path: Path, read_path: Path, tmp) -> list:
    """What sasdata's Loader reads from ``read_path`` (``tmp``, its temporary directory, is removed after)."""
    from sasdata.dataloader.loader import Loader

    try:
        with quiet_sasdata():
            return Loader().load(str(read_path))
    except Exception as exc:  # sasdata raises many kinds; all mean "cannot read"
        raise InputError(f"{path}: not a readable ASCII, CanSAS XML or NXcanSAS file ({type(exc).__name__})",
                         parameter=None) from None
    finally:
        if tmp is not None:
            tmp.cleanup()


class _HowRead(NamedTuple):
    """How a file's datasets become curves: its kind, stated q unit, q factor to 1/A, the ASCII rows as listed (or
    None), whether its 4th column holds slit lengths, strict_input, and the q unit's name and source."""
    kind: str
    stated: str | None
    factor: float
    raw: tuple | None
    slit_column: bool
    strict: bool
    unit_name: str
    unit_source: str


def _curve_of(path: Path, k: int, d, how: _HowRead) -> Curve | None:
    """The repaired Curve of sasdata's 1-D dataset ``d`` (the ``k``-th of ``path``), or None where it holds no
    curve."""
    x = np.asarray(d.x if d.x is not None else [], dtype=float)
    y = np.asarray(d.y if d.y is not None else [], dtype=float)
    raw, factor = how.raw, how.factor
    if x.ndim != 1 or y.shape != x.shape or (raw is None and x.size < 2):
        return None
    if max(x.size, 0 if raw is None else len(raw[0])) > MAX_POINTS:
        raise InputError(f"{path}: {x.size} points in one curve, more than the {MAX_POINTS} accepted; "
                         "rebin the data", parameter=None)
    converted = q_unit_factor(getattr(d, "_xunit", "")) or 0
    if how.kind != "ascii" and how.stated is not None and abs(converted - 1) > 1e-9:
        raise InputError(f"{path}: the file gives q in {how.stated!r}, which sasdata could not convert to 1/A; "
                         "state q in 1/A or 1/nm", parameter=None)
    if raw is not None:  # the rows as the file lists them: what sasdata dropped and sorted is recorded too
        rows, v, ncol = raw
        arrays = (v[:, 0] * factor, v[:, 1], v[:, 2] if ncol >= 3 else None,
                  v[:, 3] * factor if ncol >= 4 else None)
    else:
        rows = None
        di = None if d.dy is None or not np.any(np.asarray(d.dy)) else np.asarray(d.dy, dtype=float)
        dq = None if d.dx is None or not np.any(np.asarray(d.dx)) else np.asarray(d.dx, dtype=float) * factor
        arrays = (x * factor, y, di, dq)
    slit = tuple(None if getattr(d, a, None) is None or not np.any(getattr(d, a)) else
                 np.asarray(getattr(d, a), dtype=float) * factor for a in ("dxl", "dxw"))
    if how.slit_column:  # the 4th column (read as dq) holds slit lengths
        arrays, slit = (*arrays[:3], None), (arrays[3], None)
    try:
        q, i, di, dq, repairs, (dxl, dxw) = repair_columns(*arrays, rows=rows, strict=how.strict, extra=slit)
    except InputError as exc:
        raise InputError(f"{path}: {exc}", parameter=exc.parameter) from None
    dq = None if dq is None or not np.any(dq) else dq
    return Curve(q, i, di, dq, str(path), label=getattr(d, "title", "") or f"{path.stem}[{k}]",
                 q_unit=how.unit_name, q_unit_source=how.unit_source, repairs=repairs, slit_length=dxl,
                 slit_width=dxw)


def _nothing_read(datasets: list) -> str:
    """Why a file gave no 1-D curve: 2-D data (sasdata read it as such, or said so), or no numbers at all."""
    reasons = [str(e) for d in datasets for e in ([d] if isinstance(d, Exception) else getattr(d, "errors", []) or [])]
    if any(getattr(d, "data", None) is not None for d in datasets) or any("2D" in r for r in reasons):
        return ("holds 2-D data (I(qx, qy)), not a 1-D curve; reduce it to I(q) first (e.g. SasView's circular "
                "average) and save that as ASCII, CanSAS XML or NXcanSAS")
    return "no 1-D data points found; expected columns q I [dI [dq]], CanSAS XML or NXcanSAS"


def _nxcansas_why(path: Path) -> str:
    """Why sasdata read no 1-D curve from an NXcanSAS file ("" if not known): a 2-D I such as I[t, Q] (a
    series), or a Q dataset without units (which NXcanSAS requires)."""
    import h5py

    found: list[str] = []

    def visit(name: str, obj) -> None:
        if found or not isinstance(obj, h5py.Group) or obj.attrs.get("canSAS_class") not in ("SASdata", b"SASdata"):
            return
        i, q = obj.get("I", getclass=True), obj.get("Q", getclass=True)
        if i is h5py.Dataset and obj["I"].ndim > 1 and q is h5py.Dataset and obj["Q"].ndim == 1:
            found.append(f"its {name}/I has shape {obj['I'].shape} against a 1-D Q: a series of curves (I[t, Q]), "
                         "not one 1-D curve; write each curve as its own SASentry, or as an HDF5 frame table "
                         "(1-D q, 2-D intensity) for `sasview-nn batch`")
        elif q is h5py.Dataset and "units" not in obj["Q"].attrs:
            found.append(f"its {name}/Q has no units attribute, which NXcanSAS requires; add units='1/A' (or '1/nm')")

    try:
        with h5py.File(path, "r") as f:
            f.visititems(visit)
    except (OSError, KeyError, ValueError):
        return ""
    return found[0] if found else ""
