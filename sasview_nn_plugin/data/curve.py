"""A measured 1-D curve and its q unit.

q units: a unit stated in the file (an ASCII header such as ``# q(1/nm) I``, the ``unit`` of CanSAS XML
``<Q>``, the ``units`` of NXcanSAS ``Q`` or of a frame table's ``q``) is used, with exactly one conversion
to 1/A.  ``q_unit=None`` (the default) means "the file's unit, else 1/A"; an explicit ``q_unit`` ("A" or
"nm") applies to files that state no unit and must agree with a file that does (else InputError naming
both).  Each Curve records the unit it was read in and where that came from (``q_unit_source``: "file",
"argument" or "default").

Repairs (:func:`repair_curve`): what SasView's loader (sasdata) and fitter drop or sort is accepted, and each
Curve records what was changed (``repairs``); with ``strict=True`` every such case is an InputError instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

import numpy as np

from ..errors import InputError
from .repairs import repair_columns, repair_curve  # noqa: F401  (repair_curve: its documented home)
from .validation import check_dq, check_q_range, check_resolution

Q_UNITS = {"A": 1.0, "nm": 0.1}  # factor to 1/A
Q_UNIT_SOURCES = ("file", "argument", "default")
MAX_POINTS = 100_000            # points per curve (a frame table's q, one NXcanSAS Q, one ASCII curve)
Q_PLAUSIBLE_MAX = 3.0           # 1/A; beyond this q is not SAXS (typically 1/nm read as 1/A)

# inverse nanometres and inverse angstroms as files spell them (the table in docs/domain.md): 1/nm, nm^-1, nm^{-1},
# nm^(-1), nm-1, nm**-1, nm⁻¹, "inverse nm"; nm also nanometer(s) / nanometre(s); the same with A, Å, Ang, Angstrom(s)
_NM = r"nm|nanomet(?:er|re)s?"
_A = r"Å|Å|angstr(?:o|ö|oe)ms?|ang|a"
_POWER = r"(?:\^\s*\{\s*-\s*1\s*\}|\^\s*\(\s*-\s*1\s*\)|\^\s*-\s*1|\*\*\s*-\s*1|-1|⁻¹)"
INVERSE_LENGTH = re.compile(
    rf"(?<![\w/^.])(?:1\s*/\s*(?:(?P<nm1>{_NM})|(?P<a1>{_A}))|(?:(?P<nm2>{_NM})|(?P<a2>{_A}))\s*{_POWER}"
    rf"|inverse\s+(?:(?P<nm3>{_NM})|(?P<a3>{_A})))(?![\w^])", re.IGNORECASE)


def spelled_unit(text: str) -> str | None:
    """"nm" or "A" when ``text`` is, as a whole, one of the spellings of 1/nm or 1/A (:data:`INVERSE_LENGTH`)."""
    m = INVERSE_LENGTH.fullmatch((text or "").strip())
    return None if m is None else unit_of(m)


def unit_of(m: re.Match) -> str:
    """"nm" or "A": the unit an :data:`INVERSE_LENGTH` match spells."""
    return "nm" if any(m.group(f"nm{k}") for k in (1, 2, 3)) else "A"


@dataclass(frozen=True, eq=False)
class Curve:
    """One 1-D curve: q (1/A, ascending), intensity, optional dI and a q resolution, dq (pinhole, 1-sigma) or
    slit_length (slit smearing), all 1/A.  The one data type of the pipeline: built once by the loaders
    (:func:`~.load.load_curves`, frame tables), by :meth:`from_data1d` from a sasdata ``Data1D`` or by
    :meth:`from_arrays`; ``invert(curve)`` checks it, its :class:`~..inference.result.Inversion` keeps the
    points used, and ``refine(result)`` fits them.

    ``dq``: 1-sigma Gaussian q resolution per point (sasdata's ``dx``; all 0: None).  ``slit_length`` and
    ``slit_width``: slit smearing per point (sasdata's ``dxl`` and ``dxw``; sasmodels' ``Slit1D`` qy_width and
    qx_width; all 0: None).  ``q_unit`` is the unit q was given in ("A", "nm", or the file's own spelling of
    another unit) and ``q_unit_source`` where that came from: "file" (stated in it), "argument" (``q_unit=``)
    or "default" (1/A); ``repairs`` what the loader changed in the file's points (:func:`repair_curve`), empty if
    nothing; ``q_range`` (q_min, q_max in 1/A, ends included) the points to use, None: all of them.

    Constructing one checks the arrays' shapes and the resolution (finite, >= 0, one value per point; a
    scalar slit length is given to every point); the values of q and I are checked by the inversion, which
    knows the model's q range (points it never uses may be bad)."""

    q: np.ndarray
    intensity: np.ndarray
    di: np.ndarray | None = None
    dq: np.ndarray | None = None
    source: str = ""
    label: str = ""
    q_unit: str = "A"
    q_unit_source: str = "default"
    repairs: tuple[str, ...] = ()  # what the loader changed (one sentence each; see repair_curve)
    slit_length: np.ndarray | None = None   # 1/A per point (sasdata dxl); None: no slit smearing
    slit_width: np.ndarray | None = None    # 1/A per point (sasdata dxw)
    q_range: tuple[float, float] | None = None  # the points to use (1/A); None: all

    def __post_init__(self):
        set_ = object.__setattr__
        q = np.asarray(self.q, dtype=float)
        set_(self, "q", q)
        set_(self, "intensity", np.ascontiguousarray(self.intensity, dtype=float))
        if self.di is not None:
            set_(self, "di", np.asarray(self.di, dtype=float))
        if self.dq is not None:
            set_(self, "dq", check_dq(self.dq, q))
        if self.slit_length is not None or self.slit_width is not None:
            self._check_slit(q)
        if self.q_range is not None:
            set_(self, "q_range", check_q_range(self.q_range))
        if type(self.repairs) is not tuple:
            set_(self, "repairs", tuple(self.repairs))

    def _check_slit(self, q: np.ndarray) -> None:
        for name in ("slit_length", "slit_width"):
            object.__setattr__(self, name, check_resolution(getattr(self, name), q, name))
        if self.slit_width is not None and self.slit_length is None:
            raise InputError("a `slit_width` without a `slit_length` is no slit smearing sasmodels knows; "
                             "give the slit length too, or neither", parameter="slit_width")
        if self.dq is not None and self.slit_length is not None:
            raise InputError("a curve has either a pinhole resolution `dq` or a slit (`slit_length`), not both; "
                             "pass the one the instrument has", parameter="dq")

    @classmethod
    def from_arrays(cls, q, intensity, dI=None, dq=None, source: str = "arrays", **fields) -> Curve:
        """A Curve of arrays given in 1/A (q, dq); ``fields``: the other fields (``slit_length``, ``q_range``, ...)."""
        return cls(q, intensity, dI, dq, source, **fields)

    @classmethod
    def from_data1d(cls, data, *, strict: bool = False, label: str | None = None) -> Curve:
        """The Curve of a sasdata (SasView) ``Data1D``: x, y, dy, dx, dxl, dxw, converted from its q unit
        (``_xunit``, else 1/A) to 1/A and repaired as the loaders repair files (:func:`repair_curve`; ``strict``:
        InputError instead)."""
        stated = str(getattr(data, "_xunit", "") or "").strip() or None
        factor = 1.0 if stated is None else q_unit_factor(stated)
        if factor is None:
            raise InputError(f"the Data1D gives q in {stated!r}, which is not a unit of inverse length; "
                             "state q in 1/A or 1/nm", parameter="data")

        def column(name, scale=1.0):
            a = getattr(data, name, None)
            return None if a is None or not np.size(a) or not np.any(a) else np.asarray(a, dtype=float) * scale

        q, intensity = column("x", factor), column("y")
        if q is None or intensity is None:
            raise InputError("the Data1D holds no points (x and y empty); load a 1-D curve", parameter="data")
        q, intensity, di, dq, repairs, (dxl, dxw) = repair_columns(
            q, intensity, column("dy"), column("dx", factor), extra=(column("dxl", factor), column("dxw", factor)),
            strict=strict)
        name = "A" if stated is None else unit_name(factor, stated)
        title = label if label is not None else (getattr(data, "title", "") or getattr(data, "filename", "") or "")
        return cls(q, intensity, di, dq, str(getattr(data, "filename", "") or "Data1D"), label=str(title),
                   q_unit=name, q_unit_source="default" if stated is None else "file", repairs=repairs,
                   slit_length=dxl, slit_width=dxw)

    def take(self, keep: np.ndarray) -> Curve:
        """The curve of the points ``keep`` (a mask or indices) selects."""
        per_point = {k: None if getattr(self, k) is None else getattr(self, k)[keep]
                     for k in ("q", "intensity", "di", "dq", "slit_length", "slit_width")}
        return replace(self, **per_point)

    def within(self, q_range: tuple[float, float]) -> Curve:
        """The curve of the points inside ``q_range`` (1/A, ends included to 1e-9)."""
        lo, hi = q_range
        return self.take((self.q >= lo * (1 - 1e-9)) & (self.q <= hi * (1 + 1e-9)))

    def one_slit_length(self, where: str) -> float | None:
        """The curve's one slit length (1/A; None: no slit) for code that takes one value per curve; InputError
        when it varies from point to point or a slit width is given, which ``where`` does not support."""
        if self.slit_length is None:
            return None
        if self.slit_width is not None or np.ptp(self.slit_length) > 1e-9 * self.slit_length.max():
            raise InputError(f"{where} takes one slit length per curve and no slit width; this curve's varies "
                             "from point to point or has a `slit_width`", parameter="slit_length")
        return float(self.slit_length[0])

    def refuse_slit(self, where: str) -> None:
        """InputError when the curve is slit-smeared and ``where`` cannot smear that way yet."""
        if self.slit_length is not None:
            raise InputError(f"slit-smeared data are not supported yet by {where}: this curve has a "
                             "`slit_length`; use pinhole (`dq`) or desmeared data until then",
                             parameter="slit_length")


def as_curve(data, intensity=None, dI=None, dq=None) -> Curve:
    """The Curve of a function's data: a :class:`Curve` as it is (then nothing else may be given), or arrays q,
    intensity, dI, dq (1/A) made into one (:meth:`Curve.from_arrays`)."""
    if isinstance(data, Curve):
        if intensity is not None or dI is not None or dq is not None:
            raise InputError("pass either a Curve alone or the arrays q, intensity, dI, dq; not both (a Curve "
                             "carries its own dI and dq)", parameter="intensity")
        return data
    if intensity is None:
        raise InputError(f"no intensity: pass a Curve, or q and `intensity` arrays (got {type(data).__name__} "
                         "alone)", parameter="intensity")
    return Curve.from_arrays(data, intensity, dI, dq)


def check_q_unit(q_unit: str | None) -> None:
    """InputError unless q_unit is None (the file's unit, else 1/A) or one of Q_UNITS."""
    if q_unit is not None and q_unit not in Q_UNITS:
        raise InputError(f"q_unit must be 'A' (1/A), 'nm' (1/nm) or None (the file's unit, else 1/A); "
                         f"got {q_unit!r}", parameter="q_unit")


def q_unit_factor(unit: str) -> float | None:
    """The factor from a q unit as files spell it ('1/nm', 'nm^-1', 'A^{-1}', '1/angstrom', 'Å⁻¹', ...) to 1/A;
    None when the string is empty or not a unit of inverse length.  Uses sasdata's unit parser, the one its
    readers convert with."""
    u = (unit or "").strip().replace("⁻¹", "^-1").replace("−", "-")
    if not u:
        return None
    if (name := spelled_unit(u)) is not None:
        return Q_UNITS[name]
    from sasdata.data_util.nxsunit import Converter

    try:
        f = float(Converter(u)(1.0, units="1/A"))
    except (KeyError, ValueError, TypeError):  # what sasdata raises for a unit it cannot parse
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
                         "state q in 1/A or 1/nm", parameter=None)
    name = unit_name(f, stated)
    if q_unit is not None and abs(f / Q_UNITS[q_unit] - 1) > 1e-6:
        raise InputError(f"{where} gives q in {stated!r} but q_unit={q_unit!r} was passed; omit q_unit to use "
                         f"the file's unit (or pass q_unit={name!r}), or correct the file", parameter="q_unit")
    return Q_UNITS.get(name, f), name, "file"


def one_unit(where: str, units: set[str]) -> str | None:
    """The one q unit a file states (None: none); InputError if its parts state different ones."""
    factors = {}
    for u in units:
        factors.setdefault(q_unit_factor(u), u)
    if len(factors) > 1:
        raise InputError(f"{where} gives q in several units ({', '.join(sorted(units))}); "
                         "write one unit per file", parameter=None)
    return next(iter(units)) if units else None


def check_q_plausible(path, q: np.ndarray, unit_name: str, unit_source: str) -> None:
    qmax = float(np.max(q)) if q.size else 0.0
    if qmax <= Q_PLAUSIBLE_MAX:
        return
    if unit_source == "default":
        raise InputError(f"{path}: q reaches {qmax:.3g} 1/A, implausible for SAXS, and the file states no q unit; "
                         'if q is in 1/nm pass q_unit="nm" (or state the unit in the file)', parameter="q_unit")
    said = "the file states" if unit_source == "file" else "q_unit says"
    raise InputError(f"{path}: q reaches {qmax:.3g} 1/A ({said} q is in {unit_name}), implausible for SAXS; "
                     "check the q unit", parameter=None)
