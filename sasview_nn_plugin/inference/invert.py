"""Inversion of a measured curve with a trained network: numpy + h5py only, no TensorFlow.

``invert(q, intensity, dI, volume_fraction=phi)`` interpolates the data onto the model's q grid
(linear in log q - log I), runs the network and returns an :class:`Inversion` (the result types are in
:mod:`.result`).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ..data.validation import check_curve, check_volume_fraction, drop_unused_bad_points
from ..errors import InputError
from ..physics.kernels import PHI_MAX  # physics imports sasmodels only inside its functions
from .modelfile import load_model
from .network import NNModel
from .quality import assess, training_of
from .result import Distribution, Inversion


def nnls_scale_background(shape: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
    """Non-negative (scale, background) minimising sum(((scale * shape + background - data) / sigma)^2)."""
    from scipy.optimize import nnls

    a = np.stack([shape / sigma, 1.0 / sigma], axis=1)
    (scale, bkg), _ = nnls(a, data / sigma)
    return float(scale), float(bkg)


def to_model_grid(q: np.ndarray, intensity: np.ndarray, model: NNModel) -> np.ndarray:
    """Interpolate a curve onto the model's q grid in log-log space; refuse if it does not cover it."""
    mq = model.q
    if len(q) == len(mq) and np.abs(q - mq).max() <= 1e-9 * mq[-1]:
        return intensity
    tol = 1e-6 * mq[-1]
    if q[0] > mq[0] + tol or q[-1] < mq[-1] - tol:
        raise InputError(f"data cover q = {q[0]:.4g}-{q[-1]:.4g} 1/A but model {model.name!r} needs "
                         f"{mq[0]:.4g}-{mq[-1]:.4g} 1/A; measure or merge data over that range "
                         '(or, if q is in 1/nm, pass q_unit="nm")')
    return np.exp(np.interp(np.log(mq), np.log(q), np.log(intensity)))


def invert(q, intensity, dI=None, *, volume_fraction: float, model: str | NNModel | None = None) -> Inversion:
    """Invert one SAXS curve into a size distribution.

    q in 1/A (ascending), intensity in any units (absolute scale is not needed), dI optional (used
    for the model curve's chi^2 only), volume_fraction in (0, 0.74).  ``model``: a shipped name, a
    path, a loaded :class:`NNModel`, or None for the shipped default.
    """
    q = np.asarray(q, dtype=float)
    intensity = np.ascontiguousarray(intensity, dtype=float)
    di = None if dI is None else np.asarray(dI, dtype=float)
    phi = check_volume_fraction(volume_fraction)
    nn = load_model(model)
    if q.shape == nn.q.shape and intensity.shape == q.shape:
        d = q - nn.q
        on_grid = bool(d @ d <= (1e-9 * nn.q[-1]) ** 2)  # one dot instead of abs + max: this path is hot
    else:
        on_grid = False
    note = None
    if on_grid and di is None:
        # hot path: two reductions; min() catches NaN and I <= 0, max() catches inf
        if not intensity.min() > 0 or intensity.max() == math.inf:
            check_curve(q, intensity, di, q_known_good=True)
    else:
        if not on_grid:  # on the grid every point is inside the model's q range
            q, intensity, di, note = drop_unused_bad_points(q, intensity, di, nn.q_range)
        check_curve(q, intensity, di, q_known_good=on_grid)
    x = intensity if on_grid else to_model_grid(q, intensity, nn)
    number = nn.predict(x, phi, normalise=False).astype(float)  # a softmax's rows: normalised below, in float64
    moments = number @ nn.radius_moments  # sums of w, w R, w R^3, w R^4
    if not (moments[0] > 0 and math.isfinite(moments[1] + moments[3])):
        check_curve(q, intensity, di, q_known_good=on_grid)
        raise InputError("the network gave a non-finite result: intensities overflow; rescale the data")
    return _inversion(nn, number, moments.tolist(), q, intensity, di, phi, (note,) if note else ())


def _inversion(nn: NNModel, number: np.ndarray, moments: list[float], q, intensity, di, phi: float,
               notes: tuple[str, ...] = ()) -> Inversion:
    """The Inversion for an unnormalised float64 number distribution and its moments (1, R, R^3, R^4)."""
    s0, s1, s3, s4 = moments
    vol = number * (nn.radius_cubed / s3)
    number *= 1.0 / s0
    dist = Distribution(nn.radius, number, vol, s1 / s0, s4 / s3)
    check = functools.partial(assess, q, intensity, di, nn.radius, number, phi, training=training_of(nn))
    return Inversion(dist, phi, nn.name, q, intensity, di, nn.q_range, notes, check=check)


def invert_many(q, intensities, dIs=None, *, volume_fractions, model: str | NNModel | None = None,
                ) -> list[Inversion | InputError]:
    """Invert N curves sharing one q grid in one batched forward pass (frame tables, time series).

    ``intensities`` (N, n_q), ``dIs`` None or (N, n_q), ``volume_fractions`` scalar or (N,).  Returns,
    per curve, its Inversion or the InputError that :func:`invert` would raise for it (a bad curve
    never stops the others).
    """
    q = np.asarray(q, dtype=float)
    inten = np.asarray(intensities, dtype=float)
    n = len(inten)
    dis = [None] * n if dIs is None else list(np.asarray(dIs, dtype=float))
    phis = np.broadcast_to(np.asarray(volume_fractions, dtype=float), (n,))
    nn = load_model(model)
    out: list = [None] * n
    good = np.isfinite(inten).all(axis=1) & (inten > 0).all(axis=1) & (phis > 0) & (phis < PHI_MAX)
    if dIs is not None:
        d = np.asarray(dIs, dtype=float)
        good &= np.isfinite(d).all(axis=1) & (d > 0).all(axis=1)
    try:
        check_curve(q, np.ones_like(q), None)  # q alone: sorted, positive, finite (intensities: per row)
        to_model_grid(q, np.ones_like(q), nn)  # q covers the model's range
    except InputError as exc:
        return [exc] * n
    rows = [to_model_grid(q, row, nn) for row in inten[good]]
    x = np.stack(rows) if rows else np.empty((0, len(nn.q)))
    idx = np.flatnonzero(good)
    number = nn.predict(x, phis[idx]).astype(float) if len(idx) else np.empty((0, len(nn.radius)))
    moments = number @ nn.radius_moments
    for k, i in enumerate(idx):
        if moments[k, 0] > 0 and np.isfinite(moments[k]).all():
            out[i] = _inversion(nn, number[k], moments[k].tolist(), q, inten[i], dis[i], float(phis[i]))
    for i in range(n):
        if out[i] is None:  # the single-curve path names the problem
            try:
                out[i] = invert(q, inten[i], dis[i], volume_fraction=phis[i], model=nn)
            except InputError as exc:
                out[i] = exc
    return out
