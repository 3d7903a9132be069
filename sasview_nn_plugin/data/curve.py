"""A measured 1-D curve and its q unit.

q units: a unit stated in the file (an ASCII header such as ``# q(1/nm) I``, the ``unit`` of CanSAS XML
``<Q>``, the ``units`` of NXcanSAS ``Q`` or of a frame table's ``q``) is used, with exactly one conversion
to 1/A.  ``q_unit=None`` (the default) means "the file's unit, else 1/A"; an explicit ``q_unit`` ("A" or
"nm") applies to files that state no unit and must agree with a file that does (else InputError naming
both).  Each Curve records the unit it was read in and where that came from (``q_unit_source``: "file",
"argument" or "default").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

Q_UNITS = {"A": 1.0, "nm": 0.1}  # factor to 1/A
Q_UNIT_SOURCES = ("file", "argument", "default")
MAX_POINTS = 100_000            # points per curve (a frame table's q, one NXcanSAS Q, one ASCII curve)
Q_PLAUSIBLE_MAX = 3.0           # 1/A; beyond this q is not SAXS (typically 1/nm read as 1/A)


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


def unit_name(factor: float, spelled: str) -> str:
    for name, f in Q_UNITS.items():
        if abs(factor / f - 1) < 1e-9:
            return name
    return spelled


def resolve_q_unit(where: str, stated: str | None, q_unit: str | None) -> tuple[float, str, str]:
    """(factor to 1/A, unit name, source) from the unit a file states (None: states none) and the argument."""
    if stated is None:
        if q_unit is None:
            return 1.0, "A", "default"
        return Q_UNITS[q_unit], q_unit, "argument"
    f = q_unit_factor(stated)
    if f is None:
        raise InputError(f"{where} gives q in {stated!r}, which is not a unit of inverse length; "
                         "state q in 1/A or 1/nm")
    name = unit_name(f, stated)
    if q_unit is not None and abs(f / Q_UNITS[q_unit] - 1) > 1e-6:
        raise InputError(f"{where} gives q in {stated!r} but q_unit={q_unit!r} was passed; omit q_unit to use "
                         f"the file's unit (or pass q_unit={name!r}), or correct the file")
    return Q_UNITS.get(name, f), name, "file"


def one_unit(where: str, units: set[str]) -> str | None:
    """The one q unit a file states (None: none); InputError if its parts state different ones."""
    factors = {}
    for u in units:
        factors.setdefault(q_unit_factor(u), u)
    if len(factors) > 1:
        raise InputError(f"{where} gives q in several units ({', '.join(sorted(units))}); "
                         "write one unit per file")
    return next(iter(units)) if units else None


def check_q_plausible(path, q: np.ndarray, unit_name: str, unit_source: str) -> None:
    qmax = float(np.max(q)) if q.size else 0.0
    if qmax <= Q_PLAUSIBLE_MAX:
        return
    if unit_source == "default":
        raise InputError(f"{path}: q reaches {qmax:.3g} 1/A, implausible for SAXS, and the file states no q unit; "
                         'if q is in 1/nm pass q_unit="nm" (or state the unit in the file)')
    said = "the file states" if unit_source == "file" else "q_unit says"
    raise InputError(f"{path}: q reaches {qmax:.3g} 1/A ({said} q is in {unit_name}), implausible for SAXS; "
                     "check the q unit")
