"""Pinhole resolution with a fitted width factor: the package's one pinhole smearing
(:func:`..physics.smearing.pinhole_weights`, sasmodels' ``Pinhole1D`` in numpy) for dQ = f * dq (1/A), f the
refinement's ``dq_scale``, on one q_calc for every f in its bounds.

q_calc is :func:`..physics.smearing.pinhole_q_calc` for the whole range of f: a log grid over every point's cut
(-2.5/+3 sigma) at the widest f, with >= 4 steps per the smallest dQ/Q at the narrowest, so the model curve is
computed once per parameter set whatever f is, and the smeared curve is continuous in f.  The weight matrix W(f) is
computed exactly at nodes f_k = exp(k * :data:`STEP`), when first needed and kept (one per node: an LM fit of f
touches a handful), and linear in ln f between nodes (between nodes 4 % apart the interpolation is off by ~1e-3 of
the smearing's own effect).  Many rows at one f (an LM step, a Jacobian) cost one product with W(f); rows at many f
(posterior draws, DREAM) two products per node interval.  Equal to sasmodels' ``Pinhole1D`` on a fine q_calc to
1e-3 (tests/test_dq_scale.py).
"""

from __future__ import annotations

import math

import numpy as np

from ..physics.smearing import SMEAR_STEPS, pinhole_q_calc, pinhole_weights

STEP = 0.04  # node spacing in ln f


class ScaledPinhole:
    """Smearing of curves on :attr:`q_calc` to the data's q with 1-sigma widths f * dq, f in ``f_range``."""

    def __init__(self, q: np.ndarray, dq: np.ndarray, f_range: tuple[float, float] = (1.0, 1.0)):
        self.q = np.asarray(q, float)
        self.dq = np.asarray(dq, float)
        self.f_range = (float(f_range[0]), float(f_range[1]))
        per_log = (len(self.q) - 1) / math.log(self.q[-1] / self.q[0])  # the data's mean density in ln q
        self.q_calc = pinhole_q_calc(self.q, self.dq, widest=self.f_range[1], narrowest=self.f_range[0],
                                     steps=(0, SMEAR_STEPS[1]), per_log=per_log)
        self._nodes: dict[int, np.ndarray] = {}

    def node(self, k: int) -> np.ndarray:
        """(n_calc, n_q) the weights at f = exp(k * STEP)."""
        if k not in self._nodes:
            self._nodes[k] = np.ascontiguousarray(pinhole_weights(self.q_calc, self.q, math.exp(k * STEP) * self.dq).T)
        return self._nodes[k]
    def _position(self, f):
        u = np.log(np.clip(np.asarray(f, float), *self.f_range)) / STEP
        k = np.floor(u + 1e-12).astype(int)
        return k, np.clip(u - k, 0.0, 1.0)

    def matrix(self, f: float) -> np.ndarray:
        """(n_calc, n_q) W(f): sasmodels' weights at a node, linear in ln f between nodes."""
        k, t = (int(v) if i == 0 else float(v) for i, v in enumerate(self._position(f)))
        if t < 1e-12:
            return self.node(k)
        return (1.0 - t) * self.node(k) + t * self.node(k + 1)

    def apply(self, i_calc: np.ndarray, f) -> np.ndarray:
        """Smeared curves: ``i_calc`` (n_calc,) or (m, n_calc) on q_calc, f a scalar or one per row."""
        f = np.asarray(f, float)
        first = float(np.ravel(f)[0])
        if i_calc.ndim == 1 or np.all(f == first):  # one width for every row (dq_scale held: DREAM, LM): one product
            return i_calc @ self.matrix(first)
        f = np.broadcast_to(f, (len(i_calc),))
        values, inverse = np.unique(f, return_inverse=True)
        out = np.empty((len(i_calc), len(self.q)))
        if len(values) <= 4:  # an LM step, a Jacobian: one matrix per value
            for j, v in enumerate(values):
                rows = inverse == j
                out[rows] = i_calc[rows] @ self.matrix(v)
            return out
        k, t = self._position(f)
        for kk in np.unique(k):  # draws: per node interval, both nodes' products, interpolated per row
            rows = k == kk
            lo = i_calc[rows] @ self.node(int(kk))
            hi = i_calc[rows] @ self.node(int(kk) + 1)
            out[rows] = lo + t[rows, None] * (hi - lo)
        return out
