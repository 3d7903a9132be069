r"""Self-similarity: a network trained on one q window serves any window with the same q_max / q_min.

Polydisperse hard spheres with R_eff = the number-mean radius are self-similar: scaling every radius by s
maps I(q) onto s^3 I(s q) at the same volume fraction (F^2 of a sphere depends on q R, V scales as s^3,
S_PY on q R_eff and phi).  So data measured at q of a sample with radii R are the model-window curve
at q' = q s of a sample with radii R' = R / s, times a constant that the unknown scale absorbs.

Units: q in 1/A, radius in A.  numpy only.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError

WINDOW_STEP = 1.1  # relative step between candidate scale factors
# Data wholly above the model's window map with s in [MIN_WINDOW_SCALE, 1) (radii x s: >= 4.5 A on the shipped 9-99 A
# grid, the issue's ~5 A); below, they are refused: q in 1/nm read as 1/A maps a typical window to s ~ 0.1-0.4 with a
# perfect fit and radii 10x too small, a unit error that self-similarity makes invisible to the quality check.
MIN_WINDOW_SCALE = 0.5


def scale_for_window(q_data_range: tuple[float, float], q_model_range: tuple[float, float],
                     step: float = WINDOW_STEP, s_min: float = 0.0) -> list[float]:
    """The scale factors s for which the model's window, mapped to the data (q_model / s), lies inside the data.

    s runs from q_model_max / q_data_max (or ``s_min`` if larger) to q_model_min / q_data_min, log-spaced by at
    most ``step``, both ends included (one value when the ranges have the same ratio; s = 1 is included when the
    data cover the model window).  Empty when the data's q_max / q_min is below the model's, or no s >= s_min.
    """
    (d0, d1), (m0, m1) = q_data_range, q_model_range
    lo, hi = max(m1 / d1, s_min), m0 / d0
    if not hi >= lo * (1 - 1e-9):
        return []
    if hi <= lo * (1 + 1e-9):
        return [math.sqrt(lo * hi)]
    n = max(2, math.ceil(math.log(hi / lo) / math.log(step)) + 1)
    out = np.geomspace(lo, hi, n).tolist()
    if lo < 1.0 < hi:
        out = sorted(set(out) | {1.0})
    return out


def window_scales(q_data_range: tuple[float, float], q_model_range: tuple[float, float]) -> list[float]:
    """The candidate scales of the map for these data: :func:`scale_for_window`, with s >= :data:`MIN_WINDOW_SCALE`
    alone for data starting above the model's window (s < 1 only)."""
    above = q_data_range[0] > q_model_range[0] * (1 + 1e-9)
    # 1e-6 of slack: q written to a file with 7 digits must not fall off the bound
    return scale_for_window(q_data_range, q_model_range, s_min=MIN_WINDOW_SCALE * (1 - 1e-6) if above else 0.0)


def to_model_window(q, intensity, di, s: float, model) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(q', I', dI') on the model's q grid: the data at q' = q s interpolated in log-log (dI linearly in log q).

    I' = I (the factor s^3 of the exact map is absorbed by the fitted scale).  The model's grid (``model.q``
    or an array) must lie inside q s; the caller chooses s with :func:`scale_for_window`.
    """
    mq = np.asarray(getattr(model, "q", model), dtype=float)
    lq = np.log(np.asarray(q, dtype=float) * s)
    tol = 1e-9
    if mq[0] < math.exp(lq[0]) * (1 - tol) or mq[-1] > math.exp(lq[-1]) * (1 + tol):
        raise ValueError(f"the data map to q = {math.exp(lq[0]):.4g}-{math.exp(lq[-1]):.4g} 1/A with s = {s:.4g}, "
                         f"not covering the model's {mq[0]:.4g}-{mq[-1]:.4g} 1/A")
    lm = np.clip(np.log(mq), lq[0], lq[-1])
    out = np.exp(np.interp(lm, lq, np.log(np.asarray(intensity, dtype=float))))
    d = None if di is None else np.interp(lm, lq, np.asarray(di, dtype=float))
    return mq, out, d


def from_model_window(radius, s: float) -> np.ndarray:
    """Radii (A) of the sample from the network's radii R' for a curve mapped with scale s: R = R' s."""
    return np.asarray(radius, dtype=float) * s


def data_range(q_model_range: tuple[float, float], s: float) -> tuple[float, float]:
    """The data's q range (1/A) that the model window covers for scale s: q_model / s."""
    return q_model_range[0] / s, q_model_range[1] / s


# -- the model's window and the data ------------------------------------------------------------------

def to_model_grid(q: np.ndarray, intensity: np.ndarray, model) -> np.ndarray:
    """Interpolate a curve onto the model's q grid in log-log space; refuse if it does not cover it."""
    mq = model.q
    if len(q) == len(mq) and np.abs(q - mq).max() <= 1e-9 * mq[-1]:
        return intensity
    tol = 1e-6 * mq[-1]
    if q[0] > mq[0] + tol or q[-1] < mq[-1] - tol:
        raise InputError(f"data cover q = {q[0]:.4g}-{q[-1]:.4g} 1/A but model {model.name!r} needs "
                         f"{mq[0]:.4g}-{mq[-1]:.4g} 1/A; measure or merge data over that range "
                         '(or, if q is in 1/nm, pass q_unit="nm")', parameter="q_unit")
    return np.exp(np.interp(np.log(mq), np.log(q), np.log(intensity)))


def maps_to_model_window(q: np.ndarray, model) -> bool:
    """Whether off-window data can be mapped onto the model's window (:mod:`.window`): they span at least its
    q_max / q_min and, if wholly above it, need no s below :data:`~.window.MIN_WINDOW_SCALE` (the q-unit guard)."""
    return bool(window_scales((float(q[0]), float(q[-1])), model.q_range))


def window_error(q: np.ndarray, model) -> InputError:
    """The error for data that neither cover the model's q window nor map onto it (:func:`maps_to_model_window`)."""
    (m0, m1), d0, d1 = model.q_range, float(q[0]), float(q[-1])
    why = (f"the q window is too narrow: q_max/q_min >= {m1 / m0:.4g} is needed (these data span {d1 / d0:.3g})"
           if d1 / d0 < (m1 / m0) * (1 - 1e-9) else
           f"data starting above {m0 / MIN_WINDOW_SCALE:.4g} 1/A would map only with s < {MIN_WINDOW_SCALE:g} (radii < "
           f"{MIN_WINDOW_SCALE * model.radius[0]:.3g} A), the mark of q in 1/nm read as 1/A")
    return InputError(f"data cover q = {d0:.4g}-{d1:.4g} 1/A but model {model.name!r} needs {m0:.4g}-{m1:.4g} 1/A, "
                      f"or a window of the same q_max/q_min reaching below {m0 / MIN_WINDOW_SCALE:.4g} 1/A; {why}; "
                      "measure or merge data over that range "
                      '(or, if q is in 1/nm, pass q_unit="nm")', parameter="q_unit")


def covers_model_window(q: np.ndarray, model) -> bool:
    """Whether (ascending) q covers the model's q grid, to :func:`to_model_grid`'s tolerance."""
    mq = model.q
    tol = 1e-6 * mq[-1]
    return bool(q[0] <= mq[0] + tol and q[-1] >= mq[-1] - tol)


def dq_over_q(q: np.ndarray, dq: np.ndarray | None, q_range: tuple[float, float]) -> float:
    """The network's resolution input: the median 1-sigma dQ/Q of the points inside ``q_range`` (1/A), 0.0
    without dq.  Invariant under the self-similar map (q and dq scale together)."""
    if dq is None:
        return 0.0
    sel = (q >= q_range[0] * (1 - 1e-9)) & (q <= q_range[1] * (1 + 1e-9))
    return float(np.median(dq[sel] / q[sel])) if sel.any() else float(np.median(dq / q))
