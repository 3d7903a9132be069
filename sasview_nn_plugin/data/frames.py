"""HDF5 frame tables (time series): a 1-D ``q`` and a 2-D intensity of shape (n_frames, n_q), read in blocks
after the file passed the safety scan of :mod:`.hdf5`."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from .curve import MAX_POINTS, Curve, check_q_plausible, check_q_unit, resolve_q_unit
from .hdf5 import attr_str, scan_hdf5

MAX_FRAMES = 10_000_000         # rows of a frame table

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
                             "accepted in one table; split the table", parameter=None)
        if n_q > MAX_POINTS:
            raise InputError(f"{path}: {prefix}/{name} has {n_q} points per curve, more than the {MAX_POINTS} "
                             "accepted; rebin the data", parameter=None)
        if g["q"].shape != (n_q,):
            raise InputError(f"{path}: q has shape {g['q'].shape} but {name} has {n_q} columns", parameter=None)
        for extra in ("dI",):
            if extra in g and g[extra].shape != (n_frames, n_q):
                raise InputError(f"{path}: {extra} has shape {g[extra].shape}, expected {(n_frames, n_q)}",
                                 parameter=None)
        if "dq" in g and g["dq"].shape not in ((n_q,), (n_frames, n_q)):
            raise InputError(f"{path}: dq has shape {g['dq'].shape}, expected {(n_q,)} or {(n_frames, n_q)}",
                             parameter=None)
        stated = attr_str(g["q"], "units") or attr_str(g["q"], "unit")
        factor, unit_name, unit_source = resolve_q_unit(f"{path}: {prefix}/q", stated, q_unit)
        check_q_plausible(path, np.asarray(g["q"][:], dtype=float) * factor, unit_name, unit_source)
        fields = tuple(k for k, d in g.items() if isinstance(d, h5py.Dataset) and d.shape == (n_frames,))
        return FrameTable(str(path), found[0], name, n_frames, factor, fields, unit_name, unit_source)
