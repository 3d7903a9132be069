"""The part files of a run (``DIR/.parts/<unit>.npz``, one per finished unit): an index read without the
distributions, each part read whole only when its frames are written out, and the frames the inputs hold now."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from .plan import PARTS, Unit
from .summary import no_intervals

PART_KEYS = ("frame", "source", "source_id", "index", "status", "reason", "number", "chi2", "phi", "phi_sigma",
             "weighting", "warnings", "intervals", "retried", "dq_scale", "radius_scale")
OPTIONAL_KEYS = ("cumulative", "fit_q_range")  # in a part only when one of its frames has it (refined frames')
INDEX_KEYS = ("source_id", "source", "content")


def part_index(out: Path) -> dict[str, dict]:
    """Every readable part of ``out`` by unit id: its path, ``source_id``, ``source``, ``content``, its frame
    count ``n`` and which optional keys it holds (not the distributions).  An unreadable part (a crash mid-write
    on a file system without atomic rename, a truncated copy) is removed, so its unit is simply done again."""
    index = {}
    for p in sorted((out / PARTS).glob("*.npz")):
        try:
            with np.load(p) as z:
                entry = {k: z[k] for k in INDEX_KEYS}
                entry["optional"] = tuple(k for k in OPTIONAL_KEYS if k in z.files)
                entry["n"] = int(z["frame"].shape[0])
        except (OSError, EOFError, ValueError, KeyError, IndexError, zipfile.BadZipFile):  # damage: redo that unit
            # (an unreadable zip, a pickle refused, a key or shape missing); any other error is a bug, raised
            p.unlink(missing_ok=True)
            continue
        index[p.stem] = {"path": p, **entry}
    return index


def read_part(path: Path) -> dict:
    """One part whole, with the defaults of parts written by earlier versions."""
    with np.load(path) as z:
        part = {k: z[k] for k in z.files}
    n = len(part["frame"])
    part.setdefault("warnings", np.array([""] * n))
    part.setdefault("phi_sigma", np.full(n, np.nan))
    part.setdefault("intervals", no_intervals(n))
    part.setdefault("retried", np.full(n, np.nan))
    part.setdefault("dq_scale", np.full(n, np.nan))
    part.setdefault("radius_scale", np.ones(n))
    return {k: part[k] for k in (*PART_KEYS, *OPTIONAL_KEYS) if k in part}


def frame_groups(index: dict[str, dict], units: list[Unit]) -> tuple[list[tuple[str, np.ndarray]], list[str]]:
    """The recorded frames of the inputs as they are now, in run order, as (unit id, rows of its part); and the
    stale sources (recorded, no longer among the inputs as they were)."""
    groups: list[tuple[str, np.ndarray]] = []
    by_file: dict[str, list[tuple[str, int]]] = {}
    for uid, p in index.items():
        if uid.startswith("f"):
            for k, sid in enumerate(p["source_id"]):
                by_file.setdefault(str(sid), []).append((uid, k))
    used_tables, used_files = set(), set()
    for u in units:
        if u.table is not None:
            if u.uid in index:
                used_tables.add(u.uid)
                groups.append((u.uid, np.arange(index[u.uid]["n"])))
        else:
            for sid in u.file_ids:
                used_files.add(sid)
                groups += [(uid, np.array([k])) for uid, k in by_file.get(sid, [])]
    stale = sorted({str(index[uid]["source"][0]) for uid in index
                    if uid.startswith("t") and uid not in used_tables and len(index[uid]["source"])}
                   | {str(index[uid]["source"][k]) for sid, hits in by_file.items() if sid not in used_files
                      for uid, k in hits})
    return groups, stale


def blocks(index: dict[str, dict], groups: list[tuple[str, np.ndarray]]):
    """The frames of ``groups`` a block at a time (consecutive rows of one part read once): dicts of PART_KEYS (and
    the optional keys any part has, NaN rows where a part lacks one)."""
    optional = {k for p in index.values() for k in p["optional"]}
    k = 0
    while k < len(groups):
        uid, rows = groups[k][0], [groups[k][1]]
        while k + 1 < len(groups) and groups[k + 1][0] == uid:
            k += 1
            rows.append(groups[k][1])
        k += 1
        part, idx = read_part(index[uid]["path"]), np.concatenate(rows)
        block = {key: part[key][idx] for key in PART_KEYS}
        for key in sorted(optional):
            block[key] = part[key][idx] if key in part else np.full((len(idx), *optional_shape(key, part)), np.nan)
        yield block


def optional_shape(key: str, part: dict) -> tuple[int, ...]:
    """A frame's shape of an optional key: ``fit_q_range`` (first, last q), ``cumulative`` (4 percentiles, n_r)."""
    return (2,) if key == "fit_q_range" else (4, part["number"].shape[1])


def gather(index: dict[str, dict], groups: list[tuple[str, np.ndarray]]) -> dict:
    """All the frames of ``groups`` at once (the SasView project of a run, which reads every curve anyway)."""
    parts = list(blocks(index, groups))
    if not parts:
        return {key: np.array([]) for key in PART_KEYS}
    keys = set.intersection(*(set(p) for p in parts))
    return {key: np.concatenate([p[key] for p in parts]) for key in keys}
