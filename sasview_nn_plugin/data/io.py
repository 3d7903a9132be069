"""Loading measured curves (sasdata's readers), validating them, and writing results atomically.

Supported input: whatever sasdata reads as 1-D data: ASCII columns (q I [dI [dq]]), CanSAS 1-D
XML, NXcanSAS HDF5; and HDF5 frame tables (time series, :func:`open_frame_table`).

q units: a unit stated in the file (an ASCII header such as ``# q(1/nm) I``, the ``unit`` of CanSAS XML
``<Q>``, the ``units`` of NXcanSAS ``Q`` or of a frame table's ``q``) is used, with exactly one conversion
to 1/A.  ``q_unit=None`` (the default) means "the file's unit, else 1/A"; an explicit ``q_unit`` ("A" or
"nm") applies to files that state no unit and must agree with a file that does (else InputError naming
both).  Each Curve records the unit it was read in and where that came from (``q_unit_source``: "file",
"argument" or "default").

Untrusted HDF5: external links, virtual datasets and external raw storage read other files on this machine,
so they are refused unless ``allow_external_hdf5=True``; datasets that would read as fill values
(unallocated storage, unwritten chunks, missing virtual sources, short external files) and declared shapes
the file cannot hold are refused always; all of it before any data are read.
"""

from __future__ import annotations

import contextlib
import io as _io
import json
import logging
import math
import os
import re
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

MAX_FILE_BYTES = 512 * 2**20
Q_UNITS = {"A": 1.0, "nm": 0.1}  # factor to 1/A
Q_UNIT_SOURCES = ("file", "argument", "default")
MAX_POINTS = 100_000            # points per curve (a frame table's q, one NXcanSAS Q, one ASCII curve)
MAX_FRAMES = 10_000_000         # rows of a frame table
MAX_HDF5_DATASET_BYTES = 2**31  # any one dataset of an NXcanSAS file (sasdata reads every dataset whole)
Q_PLAUSIBLE_MAX = 3.0           # 1/A; beyond this q is not SAXS (typically 1/nm read as 1/A)
_OPT_IN = "allow_external_hdf5=True"


@dataclass
class Curve:
    """One 1-D curve: q (1/A, ascending), intensity, optional dI and dq (1-sigma, 1/A).

    ``q_unit`` is the unit q was given in ("A", "nm", or the file's own spelling of another unit) and
    ``q_unit_source`` where that came from: "file" (stated in it), "argument" (``q_unit=``) or "default" (1/A)."""

    q: np.ndarray
    intensity: np.ndarray
    di: np.ndarray | None
    dq: np.ndarray | None
    source: str
    label: str = ""
    q_unit: str = "A"
    q_unit_source: str = "default"


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


# -- q units -------------------------------------------------------------------------------------------------

def check_q_unit(q_unit: str | None) -> None:
    """InputError unless q_unit is None (the file's unit, else 1/A) or one of Q_UNITS."""
    if q_unit is not None and q_unit not in Q_UNITS:
        raise InputError(f"q_unit must be 'A' (1/A), 'nm' (1/nm) or None (the file's unit, else 1/A); "
                         f"got {q_unit!r}")


def q_unit_factor(unit: str) -> float | None:
    """The factor from a q unit as files spell it ('1/nm', 'nm^-1', 'A^{-1}', '1/angstrom', 'Å⁻¹', ...) to 1/A;
    None when the string is empty or not a unit of inverse length.  Uses sasdata's unit parser, the one its
    readers convert with."""
    u = (unit or "").strip().replace("⁻¹", "^-1").replace("−", "-")
    if not u:
        return None
    from sasdata.data_util.nxsunit import Converter

    try:
        f = float(Converter(u)(1.0, units="1/A"))
    except Exception:  # sasdata raises KeyError/ValueError/TypeError for what it cannot parse
        return None
    return f if np.isfinite(f) and f > 0 else None


def _unit_name(factor: float, spelled: str) -> str:
    for name, f in Q_UNITS.items():
        if abs(factor / f - 1) < 1e-9:
            return name
    return spelled


def _resolve_q_unit(where: str, stated: str | None, q_unit: str | None) -> tuple[float, str, str]:
    """(factor to 1/A, unit name, source) from the unit a file states (None: states none) and the argument."""
    if stated is None:
        if q_unit is None:
            return 1.0, "A", "default"
        return Q_UNITS[q_unit], q_unit, "argument"
    f = q_unit_factor(stated)
    if f is None:
        raise InputError(f"{where} gives q in {stated!r}, which is not a unit of inverse length; "
                         "state q in 1/A or 1/nm")
    name = _unit_name(f, stated)
    if q_unit is not None and abs(f / Q_UNITS[q_unit] - 1) > 1e-6:
        raise InputError(f"{where} gives q in {stated!r} but q_unit={q_unit!r} was passed; omit q_unit to use "
                         f"the file's unit (or pass q_unit={name!r}), or correct the file")
    return Q_UNITS.get(name, f), name, "file"


def _one_unit(where: str, units: set[str]) -> str | None:
    """The one q unit a file states (None: none); InputError if its parts state different ones."""
    factors = {}
    for u in units:
        factors.setdefault(q_unit_factor(u), u)
    if len(factors) > 1:
        raise InputError(f"{where} gives q in several units ({', '.join(sorted(units))}); "
                         "write one unit per file")
    return next(iter(units)) if units else None


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
    return _one_unit(f"{path}: the header", header_units)


def _xml_q_unit(path: Path) -> str | None:
    units = set()
    for m in _XML_Q_UNIT.finditer(path.read_bytes()):
        u = m.group(2).decode("utf-8", "replace")
        units.add(u.split("|")[1] if "|" in u else u)  # sasdata's v4.1 "old|new" spelling
    return _one_unit(f"{path}: the file", units)


# -- untrusted HDF5 ------------------------------------------------------------------------------------------

def _file_size(path: str | os.PathLike) -> int:
    return os.stat(path).st_size


def _attr_str(obj, key: str) -> str | None:
    v = obj.attrs.get(key)
    if isinstance(v, np.ndarray):
        v = v.ravel()[0] if v.size else None
    if isinstance(v, bytes | np.bytes_):
        v = v.decode("utf-8", "replace")
    return None if v is None else str(v)


def _obj_key(obj) -> tuple:
    import h5py

    info = h5py.h5o.get_info(obj.id)
    return (info.fileno, info.addr)


def _candidates(name: str, parent_file: str | None, env: str) -> list[str]:
    """Where HDF5 looks for a file named by an external link, a virtual source or external storage: as given if
    absolute, else under the prefixes in the environment variable, next to the parent file (links and virtual
    sources; ``parent_file`` None for external storage, which HDF5 takes relative to the working directory),
    and in the working directory."""
    if os.path.isabs(name):
        return [name]
    out = [os.path.join(p, name) for p in os.environ.get(env, "").split(os.pathsep) if p]
    if parent_file is not None:
        out.append(os.path.join(os.path.dirname(os.path.abspath(parent_file)), name))
    return out + [name]


def _regular_file(name: str, parent_file: str | None, env: str) -> str | None:
    """The first existing candidate, if it is a regular file (not a FIFO or device, which could hang or never
    end); None if none exists or the first found is not a regular file."""
    for c in _candidates(name, parent_file, env):
        try:
            st = os.stat(c)
        except OSError:
            continue
        return c if stat.S_ISREG(st.st_mode) else None
    return None


def _refuse_external(path, what: str) -> None:
    raise InputError(f"{path}: {what}, i.e. it reads another file on this machine; external links, virtual "
                     f"datasets and external storage are refused by default: pass {_OPT_IN} to opt in if you "
                     "trust the file")


def _n_elements(ds) -> int:
    return 0 if ds.shape is None else int(math.prod(ds.shape))  # shape None: an empty (null) dataspace


def _walk_hdf5(f, path, allow_external: bool, group_aliases: bool = True) -> list[tuple[str, object, object]]:
    """Every dataset reachable in an open HDF5 file, as (name, dataset, group it was found in), without
    reading any data.

    Links are examined before they are followed: an external link is refused unless allowed (and then must
    name an existing regular file); soft links are not followed (they name paths made of the links walked
    here, so they reach nothing new); hard-link cycles are visited once, or with ``group_aliases=False`` a group
    reached under a second name is refused (sasdata's NXcanSAS reader recurses into every name, without end
    around a cycle)."""
    import h5py

    seen, datasets = {}, []
    stack = [("", f)]
    while stack:
        gname, g = stack.pop()
        key = _obj_key(g)
        if key in seen:
            if not group_aliases:
                raise InputError(f"{path}: {gname} is a second hard link to the group {seen[key] or '/'}, a loop or "
                                 "alias that NXcanSAS readers follow without end; remove the link")
            continue
        seen[key] = gname
        groups = []
        for name in g:
            full = f"{gname}/{name}"
            link = g.get(name, getlink=True)
            if isinstance(link, h5py.SoftLink):
                continue
            if isinstance(link, h5py.ExternalLink):
                target = f"{link.filename}:{link.path}"
                if not allow_external:
                    _refuse_external(path, f"{full} is an HDF5 external link to {target}")
                if _regular_file(link.filename, g.file.filename, "HDF5_EXT_PREFIX") is None:
                    raise InputError(f"{path}: {full} is an external link to {target}, a file that does not exist "
                                     "or is not a regular file; provide it or remove the link")
            try:
                obj = g[name]
            except Exception:  # a broken external link, or a target that is not HDF5
                raise InputError(f"{path}: {full} is a link that cannot be followed ({link!r}); "
                                 "fix or remove it") from None
            if isinstance(obj, h5py.Group):
                groups.append((full, obj))
            elif isinstance(obj, h5py.Dataset) and _obj_key(obj) not in seen:
                seen[_obj_key(obj)] = full
                datasets.append((full, obj, g))
        stack.extend(reversed(groups))
    return datasets


def _check_allocated(path, name: str, ds, file_size: int) -> None:
    """Refuse a plain (not virtual, not external) dataset that would read fill values or more than its file."""
    import h5py

    n = _n_elements(ds)
    if n == 0:
        return
    dcpl = ds.id.get_create_plist()
    nbytes = n * ds.dtype.itemsize
    storage = ds.id.get_storage_size()
    if storage == 0:
        raise InputError(f"{path}: {name} has no data written (unallocated storage: HDF5 would return fill "
                         f"values for its {'x'.join(map(str, ds.shape))} elements); write the data or remove it")
    if dcpl.get_layout() == h5py.h5d.CONTIGUOUS and dcpl.get_nfilters() == 0 and nbytes > file_size:
        raise InputError(f"{path}: {name} declares {nbytes} bytes of contiguous data but its file holds only "
                         f"{file_size} bytes; the file is truncated or forged")
    if storage > file_size:
        raise InputError(f"{path}: {name} claims {storage} bytes of storage but its file holds only "
                         f"{file_size} bytes; the file is truncated or forged")
    if dcpl.get_layout() == h5py.h5d.CHUNKED:
        expected = math.prod(math.ceil(s / c) for s, c in zip(ds.shape, ds.chunks, strict=True))
        written = ds.id.get_num_chunks()
        if written < expected:
            raise InputError(f"{path}: {name}: only {written} of its {expected} chunks are written; the rest "
                             "would read as fill values; write the missing data")


def _check_external_storage(path, name: str, ds, nbytes: int) -> None:
    import h5py

    dcpl = ds.id.get_create_plist()
    available = 0
    for k in range(dcpl.get_external_count()):
        ext, offset, size = dcpl.get_external(k)
        ext = ext.decode("utf-8", "replace") if isinstance(ext, bytes) else str(ext)
        real = _regular_file(ext, None, "HDF5_EXTFILE_PREFIX")
        if real is None:
            raise InputError(f"{path}: {name} keeps its data in external storage {ext!r}, a file that does not "
                             "exist or is not a regular file; HDF5 would read zeros or hang")
        have = max(0, _file_size(real) - offset)
        available += have if size == h5py.h5f.UNLIMITED else min(size, have)
    if available < nbytes:
        raise InputError(f"{path}: {name} declares {nbytes} bytes but its external storage holds only "
                         f"{available} bytes; HDF5 would read zeros for the rest")


def _check_virtual(path, name: str, ds, depth: int = 0) -> None:
    """Refuse a virtual dataset any of whose elements would read as fill values."""
    import h5py

    dcpl = ds.id.get_create_plist()
    n = _n_elements(ds)
    mapped = 0
    for k in range(dcpl.get_virtual_count()):
        src_file, src_name = dcpl.get_virtual_filename(k), dcpl.get_virtual_dsetname(k)
        npoints = dcpl.get_virtual_vspace(k).get_select_npoints()
        mapped += npoints
        where = f"{src_file}:{src_name}"
        missing = (f"{path}: {name} is a virtual dataset whose source {where} is missing; HDF5 would read fill "
                   "values in its place; provide the source or write the data into the file")
        if "%" in src_file or "%" in src_name:
            raise InputError(f"{path}: {name} is a virtual dataset with pattern-named sources ({where}); "
                             "not supported, write the data into the file")
        if src_file == ".":
            src_path = ds.file.filename
        else:
            src_path = _regular_file(src_file, ds.file.filename, "HDF5_VDS_PREFIX")
            if src_path is None or not h5py.is_hdf5(src_path):
                raise InputError(missing)
        with h5py.File(src_path, "r") as sf:
            link = sf.get(src_name, getlink=True)
            if link is None or isinstance(link, h5py.ExternalLink) or not isinstance(sf.get(src_name), h5py.Dataset):
                raise InputError(missing)
            src = sf[src_name]
            if src.size < npoints:
                raise InputError(f"{path}: {name} is a virtual dataset mapping {npoints} elements from {where}, "
                                 f"which holds only {src.size}; the rest would read as fill values")
            sdcpl = src.id.get_create_plist()
            if sdcpl.get_layout() == h5py.h5d.VIRTUAL:
                if depth >= 4:
                    raise InputError(f"{path}: {name}: virtual datasets nested too deep; write the data into the file")
                _check_virtual(path, f"{name} (source {where})", src, depth + 1)
            elif sdcpl.get_external_count():
                _check_external_storage(path, f"{name} (source {where})", src, src.size * src.dtype.itemsize)
            else:
                _check_allocated(path, f"{name} (source {where})", src, _file_size(src_path))
    if mapped < n:
        raise InputError(f"{path}: {name} is a virtual dataset whose sources cover only {mapped} of its {n} "
                         "elements; the rest would read as fill values")


def _check_dataset(path, name: str, ds, allow_external: bool, max_bytes: int | None) -> None:
    import h5py

    dcpl = ds.id.get_create_plist()
    virtual = dcpl.get_layout() == h5py.h5d.VIRTUAL
    n_ext = dcpl.get_external_count()
    if virtual and not allow_external:
        sources = sorted({f"{dcpl.get_virtual_filename(k)}:{dcpl.get_virtual_dsetname(k)}"
                          for k in range(dcpl.get_virtual_count())})
        _refuse_external(path, f"{name} is an HDF5 virtual dataset (its data come from {', '.join(sources)})")
    if n_ext and not allow_external:
        ext = dcpl.get_external(0)[0]
        _refuse_external(path, f"{name} keeps its data in external storage "
                               f"({ext.decode('utf-8', 'replace') if isinstance(ext, bytes) else ext})")
    nbytes = _n_elements(ds) * ds.dtype.itemsize
    if max_bytes is not None and nbytes > max_bytes:
        raise InputError(f"{path}: {name} declares {nbytes} bytes, more than the {max_bytes} accepted for one "
                         "dataset of a curve file; remove it or split the file")
    if virtual:
        _check_virtual(path, name, ds)
    elif n_ext:
        _check_external_storage(path, name, ds, nbytes)
    else:
        _check_allocated(path, name, ds, _file_size(ds.file.filename))


def scan_hdf5(f, path, allow_external_hdf5: bool = False, max_dataset_bytes: int | None = None,
              group_aliases: bool = True) -> list:
    """The safety scan of an open HDF5 file, before any data are read: every dataset is checked (policy on
    external links, virtual datasets and external storage; fill values; declared sizes).  Returns the
    (name, dataset, group) triples walked.  Raises InputError naming the first offending dataset."""
    try:
        datasets = _walk_hdf5(f, path, allow_external_hdf5, group_aliases)
        for name, ds, _ in datasets:
            _check_dataset(path, name, ds, allow_external_hdf5, max_dataset_bytes)
    except InputError:
        raise
    except Exception as exc:  # h5py/HDF5 errors on damaged metadata
        raise InputError(f"{path}: HDF5 metadata cannot be read ({type(exc).__name__}); the file is damaged") from None
    return datasets


def _nxcansas_preflight(path: Path, allow_external: bool) -> tuple[str | None, bool]:
    """Scan an NXcanSAS file before sasdata reads it (sasdata reads every dataset whole).

    Returns (the q unit its SASdata groups state or None, whether it reaches other files)."""
    import h5py

    try:
        f = h5py.File(path, "r")
    except OSError:
        return None, False  # not openable by HDF5: sasdata will say it cannot read it
    with f:
        datasets = scan_hdf5(f, path, allow_external, MAX_HDF5_DATASET_BYTES, group_aliases=False)
        try:
            units, reaches_out = _nxcansas_units(path, f, datasets)
        except InputError:
            raise
        except Exception as exc:  # h5py/HDF5 errors on damaged attributes
            raise InputError(f"{path}: HDF5 attributes cannot be read ({type(exc).__name__}); the file is damaged"
                             ) from None
        return _one_unit(f"{path}: the file", units), reaches_out


def _nxcansas_units(path, f, datasets) -> tuple[set[str], bool]:
    """The q units stated by the 1-D Q axes of SASdata groups; whether any dataset reaches another file."""
    import h5py

    units, reaches_out = set(), False
    for name, ds, parent in datasets:
        dcpl = ds.id.get_create_plist()
        reaches_out |= bool(dcpl.get_layout() == h5py.h5d.VIRTUAL or dcpl.get_external_count()
                            or os.path.abspath(ds.file.filename) != os.path.abspath(f.filename))
        cls = _attr_str(parent, "canSAS_class") or _attr_str(parent, "NX_class")
        if cls != "SASdata":
            continue
        axes = parent.attrs.get("I_axes", "Q")
        axes = [a.decode() if isinstance(a, bytes) else str(a) for a in np.atleast_1d(axes)]
        axes = {a.strip() for s in axes for a in s.split(",")}
        if name.rsplit("/", 1)[-1] in axes and ds.ndim == 1:
            if ds.size > MAX_POINTS:
                raise InputError(f"{path}: {name} has {ds.size} points, more than the {MAX_POINTS} accepted "
                                 "per curve; rebin the data")
            u = _attr_str(ds, "units") or _attr_str(ds, "unit")
            if u is not None:
                units.add(u)
    return units, reaches_out


def _materialise(src: Path, dst: Path) -> None:
    """A copy of an (already scanned) HDF5 file with links, virtual datasets and external storage resolved into
    plain datasets: sasdata opens HDF5 through a Python file object, through which HDF5 cannot open other
    files (a virtual dataset would silently read fill values)."""
    import h5py

    with h5py.File(src, "r") as s, h5py.File(dst, "w") as d:
        copied = {}  # object key -> its copy (a second hard link to it becomes a hard link to the copy)

        def attrs(a, b):
            for k in a.attrs:
                b.attrs[k] = a.attrs[k]

        def copy(sg, dg):
            attrs(sg, dg)
            for name in sg:
                link = sg.get(name, getlink=True)
                if isinstance(link, h5py.SoftLink):
                    dg[name] = h5py.SoftLink(link.path)
                    continue
                obj = sg[name]
                key = _obj_key(obj)
                if key in copied:
                    dg[name] = copied[key]
                    continue
                if isinstance(obj, h5py.Group):
                    copied[key] = dg.create_group(name)
                    copy(obj, copied[key])
                else:
                    dcpl = obj.id.get_create_plist()
                    if dcpl.get_layout() != h5py.h5d.VIRTUAL and not dcpl.get_external_count():
                        dg.copy(obj, dg, name=name)
                    else:
                        attrs(obj, dg.create_dataset(name, data=obj[()], dtype=obj.dtype))
                    copied[key] = dg[name]

        copied[_obj_key(s)] = d
        copy(s, d)


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
        stated, reaches_out = _nxcansas_preflight(path, allow_external_hdf5)
        if reaches_out:  # allowed, and scanned: resolve it into a plain copy that sasdata can read
            tmp = tempfile.TemporaryDirectory(prefix="sasview-nn-")
            read_path = Path(tmp.name) / path.name
            try:
                _materialise(path, read_path)
            except Exception as exc:
                tmp.cleanup()
                raise InputError(f"{path}: the data its external links, virtual datasets or external storage point "
                                 f"to cannot be read ({type(exc).__name__}: {exc})".replace("\n", " ")) from None
    else:
        with open(path, "rb") as fh:
            start = fh.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
        kind = "xml" if start.startswith(b"<") else "ascii"
        stated = _xml_q_unit(path) if kind == "xml" else _check_text_rows(path)
    factor, unit_name, unit_source = _resolve_q_unit(f"{path}: the file", stated, q_unit)
    if kind != "ascii" and stated is not None:
        factor = 1.0  # sasdata's XML and NXcanSAS readers convert a stated unit to 1/A themselves
    from sasdata.dataloader.loader import Loader

    try:
        with _quiet():
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
        _check_q_plausible(path, c.q, unit_name, unit_source)
    return curves


def _check_q_plausible(path, q: np.ndarray, unit_name: str, unit_source: str) -> None:
    qmax = float(np.max(q)) if q.size else 0.0
    if qmax <= Q_PLAUSIBLE_MAX:
        return
    if unit_source == "default":
        raise InputError(f"{path}: q reaches {qmax:.3g} 1/A, implausible for SAXS, and the file states no q unit; "
                         'if q is in 1/nm pass q_unit="nm" (or state the unit in the file)')
    said = "the file states" if unit_source == "file" else "q_unit says"
    raise InputError(f"{path}: q reaches {qmax:.3g} 1/A ({said} q is in {unit_name}), implausible for SAXS; "
                     "check the q unit")


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
    q_unit: str = "A"              # the unit the table's q is in (see Curve.q_unit)
    q_unit_source: str = "default"  # "file", "argument" or "default"

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
                      label=f"{Path(self.path).name}#{r}", q_unit=self.q_unit, q_unit_source=self.q_unit_source)
                for k, r in enumerate(rows)]

    def field(self, name: str) -> np.ndarray:
        import h5py

        with h5py.File(self.path, "r") as f:
            return np.asarray(f[self.group][name][:])


def open_frame_table(path: str | os.PathLike, q_unit: str | None = None, *,
                     allow_external_hdf5: bool = False) -> FrameTable | None:
    """The frame table in an HDF5 file, or None if the file is not one (e.g. NXcanSAS entries).

    ``q_unit`` and ``allow_external_hdf5`` as for :func:`load_curves`.  The whole file gets the safety scan
    (links, virtual datasets, external storage, fill values, declared sizes) before anything is read.
    Raises InputError for a table that is unsafe or inconsistent (shapes, units, sizes)."""
    import h5py

    check_q_unit(q_unit)
    path = Path(path)
    try:
        if not path.is_file() or not h5py.is_hdf5(path):
            return None
        f = h5py.File(path, "r")
    except OSError:
        return None
    with f:
        datasets = [name for name, _, _ in scan_hdf5(f, path, allow_external_hdf5)]

        def table_in(g, gname):
            if "q" not in g or not isinstance(g.get("q"), h5py.Dataset):
                return None
            return next((n for n in INTENSITY_NAMES if isinstance(g.get(n), h5py.Dataset) and g[n].ndim == 2), None)

        found = []
        if table_in(f, "/"):
            found.append("/")
        else:
            groups = sorted({name.rsplit("/", 1)[0] for name in datasets if name.count("/") > 1})
            found += [gname.lstrip("/") for gname in groups if table_in(f[gname], gname)]
        if not found:
            return None
        g = f[found[0]]
        name = table_in(g, found[0])
        n_frames, n_q = g[name].shape
        prefix = "" if found[0] == "/" else "/" + found[0]
        if n_frames > MAX_FRAMES:
            raise InputError(f"{path}: {prefix}/{name} declares {n_frames} frames, more than the {MAX_FRAMES} "
                             "accepted in one table; split the table")
        if n_q > MAX_POINTS:
            raise InputError(f"{path}: {prefix}/{name} has {n_q} points per curve, more than the {MAX_POINTS} "
                             "accepted; rebin the data")
        if g["q"].shape != (n_q,):
            raise InputError(f"{path}: q has shape {g['q'].shape} but {name} has {n_q} columns")
        for extra in ("dI",):
            if extra in g and g[extra].shape != (n_frames, n_q):
                raise InputError(f"{path}: {extra} has shape {g[extra].shape}, expected {(n_frames, n_q)}")
        if "dq" in g and g["dq"].shape not in ((n_q,), (n_frames, n_q)):
            raise InputError(f"{path}: dq has shape {g['dq'].shape}, expected {(n_q,)} or {(n_frames, n_q)}")
        stated = _attr_str(g["q"], "units") or _attr_str(g["q"], "unit")
        factor, unit_name, unit_source = _resolve_q_unit(f"{path}: {prefix}/q", stated, q_unit)
        _check_q_plausible(path, np.asarray(g["q"][:], dtype=float) * factor, unit_name, unit_source)
        fields = tuple(k for k, d in g.items() if isinstance(d, h5py.Dataset) and d.shape == (n_frames,))
        return FrameTable(str(path), found[0], name, n_frames, factor, fields, unit_name, unit_source)
