"""HDF5 inputs read safely: the scan every HDF5 file gets before any data are read, and frame tables.

Untrusted HDF5: external links, virtual datasets and external raw storage read other files on this machine,
so they are refused unless ``allow_external_hdf5=True``; datasets that would read as fill values
(unallocated storage, unwritten chunks, missing virtual sources, short external files) and declared shapes
the file cannot hold are refused always; all of it before any data are read.

Frame tables (time series) are in :mod:`.frames`.
"""

from __future__ import annotations

import math
import os
import stat
from pathlib import Path

import numpy as np

from ..errors import InputError
from .curve import MAX_POINTS, one_unit

MAX_HDF5_DATASET_BYTES = 2**31  # any one dataset of an NXcanSAS file (sasdata reads every dataset whole)
_OPT_IN = "allow_external_hdf5=True"


def file_size(path: str | os.PathLike) -> int:
    return os.stat(path).st_size


def attr_str(obj, key: str) -> str | None:
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
                     "trust the file", parameter=None)


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
                                 "alias that NXcanSAS readers follow without end; remove the link", parameter=None)
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
                                     "or is not a regular file; provide it or remove the link", parameter=None)
            try:
                obj = g[name]
            except Exception:  # a broken external link, or a target that is not HDF5
                raise InputError(f"{path}: {full} is a link that cannot be followed ({link!r}); "
                                 "fix or remove it", parameter=None) from None
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
                         f"values for its {'x'.join(map(str, ds.shape))} elements); write the data or remove it",
                         parameter=None)
    if dcpl.get_layout() == h5py.h5d.CONTIGUOUS and dcpl.get_nfilters() == 0 and nbytes > file_size:
        raise InputError(f"{path}: {name} declares {nbytes} bytes of contiguous data but its file holds only "
                         f"{file_size} bytes; the file is truncated or forged", parameter=None)
    if storage > file_size:
        raise InputError(f"{path}: {name} claims {storage} bytes of storage but its file holds only "
                         f"{file_size} bytes; the file is truncated or forged", parameter=None)
    if dcpl.get_layout() == h5py.h5d.CHUNKED:
        expected = math.prod(math.ceil(s / c) for s, c in zip(ds.shape, ds.chunks, strict=True))
        written = ds.id.get_num_chunks()
        if written < expected:
            raise InputError(f"{path}: {name}: only {written} of its {expected} chunks are written; the rest "
                             "would read as fill values; write the missing data", parameter=None)


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
                             "exist or is not a regular file; HDF5 would read zeros or hang", parameter=None)
        have = max(0, file_size(real) - offset)
        available += have if size == h5py.h5f.UNLIMITED else min(size, have)
    if available < nbytes:
        raise InputError(f"{path}: {name} declares {nbytes} bytes but its external storage holds only "
                         f"{available} bytes; HDF5 would read zeros for the rest", parameter=None)


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
                             "not supported, write the data into the file", parameter=None)
        if src_file == ".":
            src_path = ds.file.filename
        else:
            src_path = _regular_file(src_file, ds.file.filename, "HDF5_VDS_PREFIX")
            if src_path is None or not h5py.is_hdf5(src_path):
                raise InputError(missing, parameter=None)
        with h5py.File(src_path, "r") as sf:
            link = sf.get(src_name, getlink=True)
            if link is None or isinstance(link, h5py.ExternalLink) or not isinstance(sf.get(src_name), h5py.Dataset):
                raise InputError(missing, parameter=None)
            src = sf[src_name]
            if src.size < npoints:
                raise InputError(f"{path}: {name} is a virtual dataset mapping {npoints} elements from {where}, "
                                 f"which holds only {src.size}; the rest would read as fill values", parameter=None)
            sdcpl = src.id.get_create_plist()
            if sdcpl.get_layout() == h5py.h5d.VIRTUAL:
                if depth >= 4:
                    raise InputError(f"{path}: {name}: virtual datasets nested too deep; write the data into the file",
                                     parameter=None)
                _check_virtual(path, f"{name} (source {where})", src, depth + 1)
            elif sdcpl.get_external_count():
                _check_external_storage(path, f"{name} (source {where})", src, src.size * src.dtype.itemsize)
            else:
                _check_allocated(path, f"{name} (source {where})", src, file_size(src_path))
    if mapped < n:
        raise InputError(f"{path}: {name} is a virtual dataset whose sources cover only {mapped} of its {n} "
                         "elements; the rest would read as fill values", parameter=None)


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
                         "dataset of a curve file; remove it or split the file", parameter=None)
    if virtual:
        _check_virtual(path, name, ds)
    elif n_ext:
        _check_external_storage(path, name, ds, nbytes)
    else:
        _check_allocated(path, name, ds, file_size(ds.file.filename))


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
        raise InputError(f"{path}: HDF5 metadata cannot be read ({type(exc).__name__}); the file is damaged",
                         parameter=None) from None
    return datasets


def nxcansas_preflight(path: Path, allow_external: bool) -> tuple[str | None, bool]:
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
                             , parameter=None) from None
        return one_unit(f"{path}: the file", units), reaches_out


def _nxcansas_units(path, f, datasets) -> tuple[set[str], bool]:
    """The q units stated by the 1-D Q axes of SASdata groups; whether any dataset reaches another file."""
    import h5py

    units, reaches_out = set(), False
    for name, ds, parent in datasets:
        dcpl = ds.id.get_create_plist()
        reaches_out |= bool(dcpl.get_layout() == h5py.h5d.VIRTUAL or dcpl.get_external_count()
                            or os.path.abspath(ds.file.filename) != os.path.abspath(f.filename))
        cls = attr_str(parent, "canSAS_class") or attr_str(parent, "NX_class")
        if cls != "SASdata":
            continue
        axes = parent.attrs.get("I_axes", "Q")
        axes = [a.decode() if isinstance(a, bytes) else str(a) for a in np.atleast_1d(axes)]
        axes = {a.strip() for s in axes for a in s.split(",")}
        if name.rsplit("/", 1)[-1] in axes and ds.ndim == 1:
            if ds.size > MAX_POINTS:
                raise InputError(f"{path}: {name} has {ds.size} points, more than the {MAX_POINTS} accepted "
                                 "per curve; rebin the data", parameter=None)
            u = attr_str(ds, "units") or attr_str(ds, "unit")
            if u is not None:
                units.add(u)
    return units, reaches_out


def materialise(src: Path, dst: Path) -> None:
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
