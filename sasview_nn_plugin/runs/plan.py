"""Planning a run: list the inputs, keep the run's own outputs out of them, cut the frames into units.

Units are keyed by what their inputs *are*, not by their position in the listing: a single file by
its resolved path, size and modification time; a frame-table unit by the table (file and dataset)
and its rows, its content checked by a hash when a run resumes.  So a directory that grew gets its
new files processed, and a changed file is processed again.
"""

from __future__ import annotations

import glob
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data.curve import Curve
from ..data.files import printable
from ..data.frames import FrameTable, open_frame_table
from ..data.load import load_curves
from ..errors import InputError
from .guard import file_identity, not_a_file, resolved_path, unique_labels

PARTS = ".parts"
FRAMES = "frames"
RUN_FILES = ("summary.csv", "results.h5", "timeseries.png")  # written at the top of a run directory
UNIT_FILES = 16     # single files per unit (fewer with refinement)


@dataclass
class Unit:
    """A piece of work: rows of one frame table, or a few single files (with their identities)."""

    uid: str
    table: FrameTable | None = None
    rows: np.ndarray | None = None
    label: str = ""                                      # the table's label in frame ids
    files: list[str] = field(default_factory=list)
    file_ids: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)      # frame-id stem of each file
    error: str = ""                                      # why a file could not even be opened as a table

    @property
    def n_frames(self) -> int:
        return len(self.rows) if self.table is not None else len(self.files)


def is_run_directory(d: Path) -> bool:
    return (d / PARTS / "run.json").is_file()


def refuse_foreign_run_files(out: Path) -> None:
    """InputError if ``out`` holds a file named like a run file (summary.csv, results.h5, timeseries.png) or a
    non-empty frames/ folder but is not a run directory: they are the user's own and never replaced."""
    if not out.is_dir() or is_run_directory(out):
        return
    for name in (*RUN_FILES, FRAMES):
        p = out / name
        if name == FRAMES and not p.is_dir():
            continue   # a file called frames is refused where the folder is made
        if os.path.lexists(p) and not (p.is_dir() and not any(p.iterdir())):
            raise InputError(f"{printable(p)} was not written by a sasview-nn run (no {PARTS}/run.json beside it) "
                             "and would be replaced; choose another `output` directory or move that file",
                             parameter="output")


def _own_output(p: Path) -> bool:
    """Is ``p`` a file written by a sasview-nn batch run (in a directory holding its run record)?"""
    parent = p.parent
    if parent.name in (FRAMES, PARTS) and is_run_directory(parent.parent):
        return True
    return p.name in RUN_FILES and is_run_directory(parent)


def expand_inputs(inputs: list[str]) -> tuple[list[Path], list[Path]]:
    """Files from paths, globs and directories (not recursive), no repeats; and the run outputs left out.

    Anything but a directory is kept: a dangling link, a symbolic link loop, a FIFO or a device becomes a
    failed frame (never opened, never a silent omission); files that a
    sasview-nn run wrote (summary.csv, results.h5, timeseries.png, frames/) are never inputs."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(x for x in p.iterdir() if not x.is_dir() and not x.name.startswith("."))
        elif os.path.lexists(p):
            out.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(item) if not Path(m).is_dir())
            if not matches:
                raise InputError(f"{printable(item)}: no such file, directory or matching glob", parameter="inputs")
            out += matches
    seen, unique, own = set(), [], []
    for p in out:
        key = resolved_path(p)
        if key in seen:
            continue
        seen.add(key)
        (own if _own_output(key) else unique).append(p)
    return unique, own


def _uid(prefix: str, *parts: object) -> str:
    h = hashlib.sha256()
    for x in parts:
        h.update(x if isinstance(x, bytes) else repr(x).encode("utf-8", "backslashreplace"))
        h.update(b"\0")
    return prefix + h.hexdigest()[:20]


def _open_table(p: Path, q_unit: str | None, read_options: dict) -> tuple[FrameTable | None, str]:
    try:
        return open_frame_table(p, q_unit, allow_external_hdf5=read_options.get("allow_external_hdf5", False)), ""
    except InputError as exc:   # (the path is the frame's own column)
        return None, str(exc).removeprefix(f"{p}: ").removeprefix(f"{printable(p)}: ")
    except Exception as exc:  # an HDF5 file broken in a way the reader did not foresee: that file fails
        return None, f"cannot read: {type(exc).__name__}: {exc}"


def plan_units(files: list[Path], order: str = "name", q_unit: str | None = None, unit_frames: int = 512,
               read_options: dict | None = None) -> list[Unit]:
    """The run's units in processing order.  ``order``: name | mtime | a per-frame field of the tables."""
    read_options = read_options or {}
    if order == "name":
        files = sorted(files, key=lambda p: str(p))
    elif order == "mtime":
        files = sorted(files, key=lambda p: (p.lstat().st_mtime, str(p)))
    labels = unique_labels(files)
    tables, singles = [], []
    for p in files:
        t, error = _open_table(p, q_unit, read_options) if not not_a_file(p) else (None, "")
        (tables if t is not None else singles).append((p, t, error))
    if order not in ("name", "mtime"):
        if singles or not tables:
            raise InputError(f"`order` {order}: ordering by a field needs HDF5 frame tables holding a 1-D "
                             f"'{order}' dataset; {singles[0][0] if singles else 'no input'} is not one",
                             parameter="order")
        missing = [str(p) for p, t, _ in tables if order not in t.fields]
        if missing:
            raise InputError(f"`order` {order}: no per-frame dataset {order!r} in {missing[0]}; "
                             f"available: {', '.join(tables[0][1].fields) or 'none'}", parameter="order")
    units: list[Unit] = []
    for p, t, _ in tables:
        rows = np.arange(t.n_frames)
        if order not in ("name", "mtime"):
            rows = np.argsort(t.field(order), kind="stable")
        for start in range(0, t.n_frames, unit_frames):
            chunk = rows[start:start + unit_frames]
            uid = _uid("t", os.fsencode(p.resolve()), t.group, t.intensity_name, chunk.astype(np.int64).tobytes())
            units.append(Unit(uid, table=t, rows=chunk, label=labels[p]))
    per_unit = UNIT_FILES if unit_frames >= UNIT_FILES else unit_frames
    for start in range(0, len(singles), per_unit):
        chunk = singles[start:start + per_unit]
        ids = [file_identity(p) for p, _, _ in chunk]
        units.append(Unit(_uid("f", *ids), files=[str(p) for p, _, _ in chunk], file_ids=ids,
                          labels=[labels[p] for p, _, _ in chunk], error="\0".join(e for _, _, e in chunk)))
    return units


def content_hash(curves: list[Curve]) -> str:
    """A hash of the frames' numbers (q, I, dI, dq): tells a changed table row from a recorded one."""
    h = hashlib.sha256()
    for c in curves:
        for a in (c.q, c.intensity, c.di, c.dq):
            h.update(b"-" if a is None else np.ascontiguousarray(a, dtype=float).tobytes())
    return h.hexdigest()[:20]


def read_unit(unit: Unit, q_unit: str | None, read_options: dict | None = None) -> list[tuple]:
    """The unit's frames as (frame id, source, source id, index, curve or failure reason)."""
    read_options = read_options or {}
    if unit.table is not None:
        order = np.argsort(unit.rows)  # h5py wants increasing rows; give them back in run order
        try:
            curves = unit.table.read(unit.rows[order])
        except Exception as exc:  # an unreadable table: each of its frames fails with the reason
            reason = str(exc) if isinstance(exc, InputError) else f"cannot read: {type(exc).__name__}: {exc}"
            return [(f"{unit.label}#{int(r)}", unit.table.path, unit.uid, int(r), reason) for r in unit.rows]
        back = np.empty(len(order), dtype=int)
        back[order] = np.arange(len(order))
        return [(f"{unit.label}#{int(unit.rows[i])}", unit.table.path, unit.uid, int(unit.rows[i]), curves[back[i]])
                for i in range(len(unit.rows))]
    out: list[tuple] = []
    errors = unit.error.split("\0") if unit.error else [""] * len(unit.files)
    for f, fid, label, table_error in zip(unit.files, unit.file_ids, unit.labels, errors, strict=True):
        why = not_a_file(f)
        if why:
            out.append((label, f, fid, -1, why))
            continue
        if table_error:
            out.append((label, f, fid, -1, table_error))
            continue
        try:
            curves = load_curves(f, q_unit, **read_options)
        except InputError as exc:   # the path is the frame's own column: not repeated in its reason
            out.append((label, f, fid, -1, str(exc).removeprefix(f"{f}: ").removeprefix(f"{printable(f)}: ")))
            continue
        except Exception as exc:  # a reader we do not know failing in a way we did not foresee
            out.append((label, f, fid, -1, f"cannot read: {type(exc).__name__}: {exc}"))
            continue
        for k, c in enumerate(curves):
            frame = label if len(curves) == 1 else f"{label}#{k}"
            out.append((frame, f, fid, k if len(curves) > 1 else 0, c))
    return out
