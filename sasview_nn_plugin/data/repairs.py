"""Repairs of a curve's points as SasView reads them (:func:`repair_curve`): what its loader (sasdata) and fitter
drop or sort is accepted and recorded; what no repair can save is refused."""

from __future__ import annotations

import numpy as np

from ..errors import InputError

# --- repairs: SasView's own rules (sasdata 0.11, the loader of SasView 6.1.3, and SasView's fit engine) ---------
# 1. rows holding NaN/inf in any column are dropped: sasdata/dataloader/filereader.py FileReader._remove_nans_in_data
#    (l. 277-301: good = isfinite(x) & isfinite(y) & isfinite(dx) & isfinite(dy) ...), called by sort_data (l. 217)
# 2. rows with q == 0 are dropped: FileReader.remove_empty_q_values (l. 417-460: x[x != 0] ...), which the ASCII,
#    ABS and CanSAS XML readers call (ascii_reader.py l. 159, abs_reader.py l. 216, cansas_reader.py data_cleanup);
#    the NXcanSAS reader keeps them, but the inversion cannot use q = 0, so here it applies to every format
# 3. points are sorted by q, ties by I: FileReader.sort_data (l. 196: ind = np.lexsort((data.y, data.x)))
# 4. rows with dI == 0 are left out of the fit: sas/sascalc/fit/AbstractFitEngine.py FitData1D.set_fit_range
#    (l. 214: self.idx = self.idx & (self.dy != 0), "zero error can not participate for fitting"), and dI == 0
#    on every row means no dI, all points weighted equally (l. 164: np.all(dy == 0) -> self.dy = np.ones(len(y)))
#    dI < 0 weighs as |dI| there: the residuals (y - fx) / dy (l. 254) are squared; so |dI| is used here
# 5. not SasView's (it keeps repeated q): points at one q are merged by inverse-variance averaging (I and dq
#    weighted by 1/dI^2, dI = (sum 1/dI^2)^-1/2; equal weights without dI), since the inversion needs one I per q
# Refused, not repaired: q < 0, no points left, fewer than 2, I <= 0 at every point.  A few I <= 0 points
# are the inversion's to judge (refused inside the q range it uses, dropped outside: inference.invert).

_SASVIEW = "as SasView's loader does"


def _n_rows(n: int) -> str:
    return "1 row" if n == 1 else f"{n} rows"


def _listed(values, fmt: str = "{:.4g}", at_most: int = 5) -> str:
    vals = list(values)
    return ", ".join(fmt.format(v) for v in vals[:at_most]) + (", ..." if len(vals) > at_most else "")


def _where(q: np.ndarray, rows: np.ndarray | None, mask: np.ndarray, with_q: bool = True) -> str:
    """' (line 3)', ' (lines 3, 9)' (the file's line numbers) or ' (q = 0.0123, 0.05 1/A)' for the masked points."""
    if rows is not None:
        lines = rows[mask]
        return f" (line{'s' if len(lines) > 1 else ''} {_listed(lines, '{:d}')})"
    qs = q[mask][np.isfinite(q[mask])]
    return f" (q = {_listed(qs)} 1/A)" if with_q and qs.size else ""


def _keep(arrays: list, keep: np.ndarray) -> list:
    return [None if a is None else a[keep] for a in arrays]


def repair_curve(q: np.ndarray, intensity: np.ndarray, di: np.ndarray | None, dq: np.ndarray | None, *,
                 rows: np.ndarray | None = None, strict: bool = False):
    """(q, intensity, di, dq, repairs): :func:`repair_columns` without extra columns."""
    return repair_columns(q, intensity, di, dq, rows=rows, strict=strict)[:5]


def repair_columns(q: np.ndarray, intensity: np.ndarray, di: np.ndarray | None, dq: np.ndarray | None, *,
                   rows: np.ndarray | None = None, strict: bool = False, extra: tuple = ()):
    """(q, intensity, di, dq, repairs): the points as SasView would use them, and one sentence per change.

    Arrays in file order, q in 1/A; ``rows`` the points' line numbers in the file (for the sentences), if known.
    In order: rows with NaN/inf dropped, rows with q = 0 dropped, |dI| for dI < 0, points sorted by q, rows with
    dI = 0 dropped (dI = 0 everywhere: no dI), points at one q merged by inverse-variance averaging (the rules
    and the SasView/sasdata lines they follow are in the comment above).  ``strict``: InputError for the first
    change instead.  InputError for what no repair can save: q < 0, no points left, fewer than 2, I <= 0 at every
    point.  The inputs are not modified.  ``extra``: other per-point columns (None or arrays: a slit's length and
    width), dropped, sorted and merged as dq is; returned as a tuple after ``repairs``."""
    q, intensity = np.asarray(q, dtype=float), np.asarray(intensity, dtype=float)
    di = None if di is None else np.asarray(di, dtype=float)
    dq = None if dq is None else np.asarray(dq, dtype=float)
    rows = None if rows is None else np.asarray(rows, dtype=int)
    extra = tuple(None if a is None else np.array(np.broadcast_to(np.asarray(a, dtype=float), q.shape)) for a in extra)
    arrays = [q, intensity, di, dq, rows, *extra]   # each step takes and returns them, in this order
    repairs: list[str] = []
    arrays = _drop_zero_q(_drop_non_finite(arrays, repairs, strict), repairs, strict)
    _refuse_unsaveable(arrays, repairs, len(q))
    for step in (_abs_negative_di, _sort_by_q, _drop_zero_di, _merge_duplicates):
        arrays = step(arrays, repairs, strict)
    q, intensity, di, dq, _, *extra = arrays
    if len(q) < 2:
        raise InputError(f"fewer than 2 points left ({len(q)}) after the repairs ({'; '.join(repairs)}); "
                         "a curve needs at least 2", parameter=None)
    if not (intensity > 0).any():
        raise InputError(f"intensity is <= 0 at every point ({len(q)} points): nothing to invert; check the file "
                         "holds I(q) and how much background was subtracted", parameter=None)
    return q, intensity, di, dq, tuple(repairs), tuple(extra)


_WITHOUT = " (or read it without `strict_input`: {})"   # how a strict refusal ends: what the repair would do


def _refuse_strict(message: str, repair: str):
    """The InputError of ``strict`` reading: ``message``, then what reading without it would do (``repair``)."""
    return InputError(message + _WITHOUT.format(repair), parameter="strict_input")


def _drop_non_finite(arrays: list, repairs: list[str], strict: bool) -> list:
    """Rows with NaN/inf in any column dropped (and said in ``repairs``), or refused when ``strict``."""
    q, intensity, _, _, rows, *_ = arrays
    with np.errstate(invalid="ignore"):
        bad = ~(np.isfinite(q) & np.isfinite(intensity))
        for a in (arrays[2], arrays[3], *arrays[5:]):
            if a is not None:
                bad |= ~np.isfinite(a)
    if not bad.any():
        return arrays
    what = f"{_n_rows(int(bad.sum()))} with NaN/inf values{_where(q, rows, bad)}"
    if strict:
        raise _refuse_strict(f"{what}; remove or fix them", "they are dropped, " + _SASVIEW)
    repairs.append(f"dropped {what}, {_SASVIEW}")
    return _keep(arrays, ~bad)


def _drop_zero_q(arrays: list, repairs: list[str], strict: bool) -> list:
    """Rows with q = 0 dropped (and said in ``repairs``), or refused when ``strict``."""
    q, intensity, _, _, rows, *_ = arrays
    zero = q == 0
    if not zero.any():
        return arrays
    what = (f"{_n_rows(int(zero.sum()))} with q = 0{' and I = 0' if np.all(intensity[zero] == 0) else ''}"
            f"{_where(q, rows, zero, with_q=False)}")
    if strict:
        raise _refuse_strict(f"{what}; remove them", "they are dropped, " + _SASVIEW)
    repairs.append(f"dropped {what}, {_SASVIEW}")
    return _keep(arrays, ~zero)


def _refuse_unsaveable(arrays: list, repairs: list[str], n_file: int) -> None:
    """InputError where no repair can help: no points left, or q < 0."""
    q, rows = arrays[0], arrays[4]
    if not len(q):
        raise InputError(f"no points left after dropping {_n_rows(n_file)} ({'; '.join(repairs)}); "
                         "check the file holds a curve: columns q I [dI [dq]]", parameter=None)
    if (q < 0).any():
        neg = q < 0
        raise InputError(f"q < 0 on {_n_rows(int(neg.sum()))}{_where(q, rows, neg)}: not a scattering curve; "
                         "a 1-D SAS data file holds q > 0 (columns q I [dI [dq]])", parameter=None)


def _abs_negative_di(arrays: list, repairs: list[str], strict: bool) -> list:
    """|dI| where dI < 0 (as SasView's fit weighs them), or refused when ``strict``."""
    q, _, di, _, rows, *_ = arrays
    if di is None or not (di < 0).any():
        return arrays
    neg = di < 0
    what = f"{_n_rows(int(neg.sum()))} with dI < 0{_where(q, rows, neg)}"
    if strict:
        raise _refuse_strict(f"{what}; dI is the uncertainty of I: fix the column or drop it (without dI all points "
                             "are weighted equally)", "|dI| is used, as SasView's fit weighs them")
    repairs.append(f"used |dI| for {what}, as SasView's fit weighs them (it squares (I - model) / dI)")
    return [*arrays[:2], np.abs(di), *arrays[3:]]


def _sort_by_q(arrays: list, repairs: list[str], strict: bool) -> list:
    """The points sorted by q (ties by I, as sasdata sorts; repeated q is merged later), or refused when
    ``strict``."""
    q, intensity = arrays[0], arrays[1]
    if not (q[1:] < q[:-1]).any():
        return arrays
    order = np.lexsort((intensity, q))
    moved = int(np.sum(q[order] != q))
    if strict:
        raise _refuse_strict(f"q is not sorted in ascending order ({moved} of {len(q)} points out of order); "
                             "sort the points by q", "they are sorted, " + _SASVIEW)
    repairs.append(f"sorted {len(q)} points by q ({moved} were out of order), {_SASVIEW}")
    return _keep(arrays, order)


def _drop_zero_di(arrays: list, repairs: list[str], strict: bool) -> list:
    """dI = 0 everywhere: dI not used; on some rows: those rows dropped (SasView's fit leaves them out); or refused
    when ``strict``."""
    q, _, di, _, rows, *_ = arrays
    if di is not None and not di.any():
        if strict:
            raise _refuse_strict("dI = 0 on every row; fix the uncertainties or drop the dI column (without dI all "
                                 "points are weighted equally)", "dI is then not used, as in SasView")
        repairs.append("dI is 0 on every row: not used, all points weighted equally (as SasView does)")
        return [*arrays[:2], None, *arrays[3:]]
    if di is None or not (di == 0).any():
        return arrays
    zero = di == 0
    what = f"{_n_rows(int(zero.sum()))} with dI = 0{_where(q, rows, zero)}"
    if strict:
        raise _refuse_strict(f"{what}; fix the uncertainties or drop the dI column (without dI all points are "
                             "weighted equally)", "they are dropped, as SasView's fit leaves them out")
    repairs.append(f"dropped {what}, which SasView's fit leaves out too")
    return _keep(arrays, ~zero)


def _merge_duplicates(arrays: list, repairs: list[str], strict: bool) -> list:
    """Points at one q merged by inverse-variance averaging (dI -> the combined 1-sigma; dq and the extra columns
    weighted as I), or refused when ``strict``.  Single points stay exactly as they were; rows become None."""
    q, intensity, di, dq, _, *extra = arrays
    first = np.r_[True, q[1:] != q[:-1]] if len(q) else np.ones(0, bool)
    if first.all():
        return arrays
    group = np.cumsum(first) - 1
    counts = np.bincount(group)
    dup = counts > 1
    qs, m, g = q[first][dup], int(counts[dup].sum()), int(dup.sum())
    what = (f"{m} duplicate q points (q = {_listed(qs)} 1/A)" if g == 1
            else f"{m} points at {g} duplicate q values (q = {_listed(qs)} 1/A)")
    if strict:
        raise _refuse_strict(f"q has duplicate values: {what}; merge or remove them",
                             "they are merged by inverse-variance averaging")
    repairs.append(f"merged {what} into {g} by inverse-variance averaging")
    w = np.ones_like(q) if di is None else di ** -2.0
    sw = np.bincount(group, w)

    def merged(a: np.ndarray | None, value) -> np.ndarray | None:  # single points exactly as they were
        if a is None:
            return None
        out = a[first]
        out[dup] = value(a)[dup]
        return out

    def mean(a):
        return np.bincount(group, w * a) / sw

    return [q[first], merged(intensity, mean), merged(di, lambda a: sw ** -0.5), merged(dq, mean), None,
            *(merged(a, mean) for a in extra)]
