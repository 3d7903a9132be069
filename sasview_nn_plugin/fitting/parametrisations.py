"""Parametrisations of the number distribution over the model's radius bins, for refinement.

- ``histogram``: log-amplitudes at K knots (default 24, i.e. coarsened ~4x), linear interpolation
  in log space between them (positive, smooth at the knot scale), with a Gaussian smoothness prior
  on second differences of the log-amplitudes (see docs/refine.md for the rule).
- ``schulz3``: a volume-weighted mixture of up to three Schulz components (mean, pd, weight each),
  fitted first to the network's histogram, then to the data.
"""

from __future__ import annotations

import numpy as np
from bumps.fitproblem import Fitness, FitProblem
from bumps.fitters import fit
from bumps.parameter import Parameter

from ..physics import distributions
from ..physics import kernels as physics
from ..physics.grids import is_log_grid, radius_edges

SMOOTHNESS_SIGMA = 0.3  # prior: 1-sigma second difference of log-amplitude between knots
ANCHOR_SIGMA = 3.0      # prior: 1-sigma log-correction of the network's distribution at each knot





class HistogramDistribution:
    """The network's distribution times a smooth correction: w = w_net * exp(theta(R)), theta
    interpolated linearly between K knots, theta = 0 at the start (so the fit starts exactly at the
    network's answer and moves only as far as the data ask)."""

    name = "histogram"

    def __init__(self, radius: np.ndarray, start: np.ndarray, n_knots: int = 24,
                 smoothness: float = SMOOTHNESS_SIGMA, anchor: float = ANCHOR_SIGMA):
        self.radius = radius
        self.smoothness, self.anchor = float(smoothness), float(anchor)
        # floor at 1e-4 of the peak so the correction can also put mass where the network put ~none
        self.base = np.maximum(start, 1e-4 * start.max())
        if is_log_grid(radius):
            # a log grid over decades (the whole-curve model): knots log-spaced over the radii the start occupies
            # (its volume above 1e-6 of the peak, 3 % margin), the floor only there
            vol = start * radius**3
            used = np.flatnonzero(vol > 1e-6 * vol.max())
            lo, hi = radius[used[0]] / 1.03, radius[used[-1]] * 1.03
            self.knots = np.geomspace(lo, hi, n_knots)
            # the floor in volume (what the data see): 1e-4 of the peak's number at radii 30x the peak's would carry
            # ~3x the peak's volume, a tail of large particles before the fit has begun
            floor = np.maximum(vol, 1e-4 * vol.max()) / radius**3
            self.base = np.where((radius >= lo) & (radius <= hi), floor, start)
            axis, knot_axis = np.log(radius), np.log(self.knots)
        else:
            self.knots = np.linspace(radius[0], radius[-1], n_knots)
            axis, knot_axis = radius, self.knots
        self.base /= self.base.sum()
        self.pars = [Parameter(0.0, name=f"log_w{k}").range(-25.0, 25.0) for k in range(n_knots)]
        # linear interpolation knots -> bins as a matrix: theta(R) = theta @ interp.T
        self.interp = np.stack([np.interp(axis, knot_axis, e) for e in np.eye(n_knots)], axis=1)

    def parameters(self) -> dict:
        return {p.name: p for p in self.pars}

    def weights(self) -> np.ndarray:
        return self.batch_weights(self._values())[0]

    def prior_residuals(self) -> np.ndarray:
        return self.batch_prior(self._values())[0]

    def _values(self) -> dict:
        return {p.name: np.array([p.value]) for p in self.pars}

    def _theta(self, values: dict) -> np.ndarray:
        return np.stack(np.broadcast_arrays(*(np.asarray(values[p.name], float) for p in self.pars)), axis=-1)

    def batch_weights(self, values: dict) -> np.ndarray:
        """(m, n_r) number distributions for ``values``: parameter name -> (m,) array."""
        theta = self._theta(values)
        w = self.base * np.exp(theta @ self.interp.T - theta.max(axis=-1, keepdims=True))
        return w / w.sum(axis=-1, keepdims=True)

    def prior_precision(self) -> np.ndarray:
        """(K, K) precision of the Gaussian prior on the knots' log-corrections (smoothness and anchor)."""
        k = len(self.pars)
        d2 = np.diff(np.eye(k), 2, axis=0)
        return d2.T @ d2 / self.smoothness**2 + np.eye(k) / self.anchor**2

    def batch_prior(self, values: dict) -> np.ndarray:
        """(m, n_prior) prior residuals (smoothness, anchor) for ``values``."""
        theta = self._theta(values)
        return np.concatenate([np.diff(theta, 2, axis=-1) / self.smoothness, theta / self.anchor], axis=-1)


class Schulz3Distribution:
    """Volume-weighted mixture of up to three Schulz components (sasmodels' Schulz, pd = sigma/mean)."""

    name = "schulz3"

    def __init__(self, radius: np.ndarray, start: np.ndarray, n_components: int = 3):
        self.radius = radius
        self.edges = radius_edges(radius)
        means, pds, fracs = _modes(radius, physics.number_to_volume(start, radius), n_components)
        lo, hi = radius[0] * 0.8, radius[-1] * 1.1
        self.pars = []
        for k, (m, p, f) in enumerate(zip(means, pds, fracs, strict=True)):
            self.pars += [Parameter(m, name=f"mean{k}").range(lo, hi),
                          Parameter(p, name=f"pd{k}").range(0.01, 0.6),
                          Parameter(f, name=f"weight{k}").range(0.0, 1.0)]

    def parameters(self) -> dict:
        return {p.name: p for p in self.pars}

    def weights(self) -> np.ndarray:
        return self.batch_weights({p.name: np.array([p.value]) for p in self.pars})[0]

    def prior_residuals(self) -> np.ndarray:
        return np.empty(0)

    def batch_weights(self, values: dict) -> np.ndarray:
        """(m, n_r) number distributions for ``values``: parameter name -> (m,) array."""
        m_rows = max(np.size(values[p.name]) for p in self.pars)
        v = np.zeros((m_rows, len(self.radius)))
        r3 = self.radius**3
        for k in range(0, len(self.pars), 3):
            mean, pd, f = (np.broadcast_to(np.asarray(values[p.name], float), (m_rows,)) for p in self.pars[k:k + 3])
            mass = np.diff(distributions.schulz_cdf(self.edges, mean[:, None], pd[:, None]), axis=-1)
            vol = mass * r3
            total = vol.sum(axis=-1)
            ok = (f > 0) & (mass.sum(axis=-1) > 1e-12)  # a component pushed off the grid contributes nothing
            v += np.where(ok[:, None], f[:, None] * vol / np.where(ok, total, 1.0)[:, None], 0.0)
        v[v.sum(axis=-1) <= 0] = 1.0
        return physics.volume_to_number(v, self.radius)

    def batch_prior(self, values: dict) -> np.ndarray:
        return np.empty((max(np.size(values[p.name]) for p in self.pars), 0))

    def drop_empty(self, threshold: float = 0.02) -> None:
        """Fix components holding < threshold of the volume at weight 0: their mean and width are
        undetermined and would only blur the uncertainties."""
        active = []
        largest = max(range(0, len(self.pars), 3), key=lambda k: self.pars[k + 2].value)
        for k in range(0, len(self.pars), 3):
            if self.pars[k + 2].value < threshold and k != largest:
                self.pars[k + 2].value = 0.0
                for p in self.pars[k:k + 3]:
                    p.fixed = True
            else:
                active.append(k)
                self.pars[k + 2].fixed = False
        # the mixture is normalised, so one weight is redundant with the others: fix the largest
        ref = max(active, key=lambda k: self.pars[k + 2].value)
        self.pars[ref + 2].fixed = True


def fitted_mixture(radius: np.ndarray, number_distribution: np.ndarray,
                   max_components: int = 3) -> Schulz3Distribution:
    """The Schulz mixture (1 to ``max_components`` components) that summarises a histogram.

    Mixtures of 1, 2, ... components are fitted (bumps LM) to the histogram's cumulative volume
    distribution; the first whose cumulative distribution stays within RMS 1 % of the histogram's
    is kept (else the best fit), so a unimodal histogram is not split into near-identical
    components, which would leave the data fit degenerate.
    """
    best = None
    for n in range(1, max_components + 1):
        dist = Schulz3Distribution(radius, number_distribution, n)
        # the mixture is normalised, so one weight is redundant: a free one makes LM's Jacobian singular
        largest = max(range(0, len(dist.pars), 3), key=lambda k: dist.pars[k + 2].value)
        dist.pars[largest + 2].fixed = True
        rms = np.sqrt(_fit_to_histogram(dist, number_distribution) / len(radius))
        if best is None or rms < best[0]:
            best = (rms, dist)
        if rms <= 0.01:
            break
    dist = best[1]
    dist.drop_empty()
    return dist


def schulz3_components(radius: np.ndarray, number_distribution: np.ndarray,
                       max_components: int = 3) -> list[tuple[float, float, float]]:
    """A number distribution over ``radius`` (A) as [(mean A, pd = sigma/mean, volume share)] of the
    Schulz components of :func:`fitted_mixture`."""
    vals = [p.value for p in fitted_mixture(radius, number_distribution, max_components).pars]
    comps = [tuple(vals[k:k + 3]) for k in range(0, len(vals), 3) if vals[k + 2] > 0]
    total = sum(c[2] for c in comps)
    return [(float(m), float(p), float(f / total)) for m, p, f in comps]


def _modes(radius, vol, n):
    """Up to n (mean, pd, volume fraction) starting components from the largest peaks of vol."""
    smooth = np.convolve(vol, np.ones(5) / 5, mode="same")
    peaks = [i for i in range(1, len(smooth) - 1) if smooth[i] >= smooth[i - 1] and smooth[i] > smooth[i + 1]]
    peaks = sorted(peaks, key=lambda i: -smooth[i])[:n] or [int(np.argmax(smooth))]
    peaks.sort()
    # split the radius axis at the minima between peaks; moments of each part
    bounds = [0] + [p + int(np.argmin(smooth[p:q])) for p, q in zip(peaks[:-1], peaks[1:], strict=True)] + [len(radius)]
    means, pds, fracs = [], [], []
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        w = vol[a:b]
        f = w.sum()
        m = (w @ radius[a:b]) / f if f > 0 else radius[(a + b) // 2]
        sd = np.sqrt(max((w @ (radius[a:b] - m) ** 2) / f, 0.0)) if f > 0 else 0.1 * m
        means.append(float(m))
        pds.append(float(np.clip(sd / m, 0.02, 0.5)))
        fracs.append(float(f))
    while len(means) < n:  # unused components start empty
        means.append(float(radius[len(radius) // 2]))
        pds.append(0.1)
        fracs.append(0.0)
    total = sum(fracs) or 1.0
    return means, pds, [f / total for f in fracs]


class _CumulativeVolumeTarget(Fitness):
    """bumps Fitness: a mixture's cumulative volume distribution against a histogram's (1 % per bin)."""

    def __init__(self, dist, target: np.ndarray):
        self.dist = dist
        self.target = np.cumsum(physics.number_to_volume(target, dist.radius))

    def parameters(self) -> dict:
        return self.dist.parameters()

    def numpoints(self) -> int:
        return len(self.target)

    def residuals(self) -> np.ndarray:
        return (np.cumsum(physics.number_to_volume(self.dist.weights(), self.dist.radius)) - self.target) / 0.01

    def nllf(self) -> float:
        return 0.5 * float(np.sum(self.residuals() ** 2))


def _fit_to_histogram(dist, target: np.ndarray) -> float:
    """Fit the mixture to the network's histogram (volume-weighted, W1-like residuals) with bumps LM.

    Returns the residual sum of squares of the cumulative volume distributions."""
    target_fit = _CumulativeVolumeTarget(dist, target)
    problem = FitProblem(target_fit)
    problem.setp(fit(problem, method="lm").x)
    return float(np.sum((target_fit.residuals() * 0.01) ** 2))
