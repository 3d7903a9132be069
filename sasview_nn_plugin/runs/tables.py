"""Side tables a run reads: per-frame volume fractions (CSV as people save it, Excel included)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..data.validation import check_volume_fraction
from ..errors import InputError


def read_volume_fraction_table(path) -> dict[str, float | None]:
    """CSV with a header naming a frame column (frame|file|name) and volume_fraction (or phi); a cell ``auto``:
    estimated from the curve (None).

    Accepts what spreadsheets write: a UTF-8 byte-order mark, ``;`` or tab as the separator, and a
    decimal comma with ``;`` (as Excel does in many locales)."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"`volume_fraction_table` {p}: no such file", parameter="volume_fraction_table")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        text = p.read_text(encoding="cp1252")  # a table saved by Excel on Windows ("ANSI")
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = max((";", "\t", ","), key=first.count) if first else ","
    try:
        rows = list(csv.DictReader(text.splitlines(), delimiter=delimiter))
    except csv.Error as exc:
        raise InputError(f"`volume_fraction_table` {p}: not a CSV file ({exc})",
                         parameter="volume_fraction_table") from None
    if not rows:
        raise InputError(f"`volume_fraction_table` {p}: no rows", parameter="volume_fraction_table")
    cols = {c.strip().lower(): c for c in rows[0] if c is not None}
    key = next((cols[c] for c in ("frame", "file", "name") if c in cols), None)
    val = next((cols[c] for c in ("volume_fraction", "phi") if c in cols), None)
    if key is None or val is None:
        raise InputError(f"`volume_fraction_table` {p}: needs columns 'frame' (or file/name) and "
                         f"'volume_fraction' (or phi); found {', '.join(c for c in rows[0] if c)}",
                         parameter="volume_fraction_table")
    table, lines = {}, {}
    for n, r in enumerate(rows, 2):
        frame = str(r[key]).strip()
        if frame in lines:
            raise InputError(f"`volume_fraction_table` {p}: line {n}: {frame!r} is listed twice (also line "
                             f"{lines[frame]}); keep one row per frame", parameter="volume_fraction_table")
        lines[frame] = n
        raw = (r[val] or "").strip()
        if raw.lower() == "auto":
            table[frame] = None
            continue
        if delimiter != ",":
            raw = raw.replace(",", ".")
        try:
            phi = float(raw)
        except ValueError:
            raise InputError(f"`volume_fraction_table` {p}: line {n}: {r[val]!r} is not a number",
                             parameter="volume_fraction_table") from None
        try:
            check_volume_fraction(phi)
        except InputError as exc:
            raise InputError(f"`volume_fraction_table` {p}: line {n}: {exc}",
                             parameter="volume_fraction_table") from None
        table[frame] = phi
    return table
