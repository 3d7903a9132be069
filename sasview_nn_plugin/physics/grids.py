"""q and radius grids: small frozen dataclasses with validation.

Units: q in 1/Angstrom, radius in Angstrom.  Defaults follow He et al. (2024):
1000 linear q points over 0.04-0.105 1/A and 100 radius bin centres over 9-99 A.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError

DEFAULT_Q = (0.04, 0.105, 1000)
DEFAULT_R = (9.0, 99.0, 100)


def _check_range(name: str, lo: float, hi: float, n: int, unit: str) -> None:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise InputError(f"{name} grid limits must be finite numbers (got {lo}, {hi})", parameter=f"{name}_min")
    if lo <= 0 or hi <= 0:
        raise InputError(f"{name} grid must be positive (got {lo}..{hi} {unit}); give --{name}-min > 0",
                         parameter=f"{name}_min")
    if hi <= lo:
        raise InputError(f"{name} grid is inverted or empty ({lo}..{hi} {unit}); `{name}_max` must exceed `{name}_min`",
                         parameter=f"{name}_max")
    if int(n) != n or n < 2:
        raise InputError(f"{name} grid needs at least 2 points (got `n_{name}` {n})", parameter=f"n_{name}")


@dataclass(frozen=True)
class QGrid:
    """Linear grid of scattering vectors q (1/A)."""

    q_min: float = DEFAULT_Q[0]
    q_max: float = DEFAULT_Q[1]
    n: int = DEFAULT_Q[2]

    def __post_init__(self) -> None:
        _check_range("q", self.q_min, self.q_max, self.n, "1/A")

    @property
    def q(self) -> np.ndarray:
        """Grid points, 1/A."""
        return np.linspace(self.q_min, self.q_max, int(self.n))


@dataclass(frozen=True)
class RadiusGrid:
    """Linear grid of radius bin centres (A); bins have equal width ``step``."""

    r_min: float = DEFAULT_R[0]
    r_max: float = DEFAULT_R[1]
    n: int = DEFAULT_R[2]

    def __post_init__(self) -> None:
        _check_range("r", self.r_min, self.r_max, self.n, "A")

    @property
    def radius(self) -> np.ndarray:
        """Bin centres, A."""
        return np.linspace(self.r_min, self.r_max, int(self.n))

    @property
    def step(self) -> float:
        """Bin width, A."""
        return (self.r_max - self.r_min) / (int(self.n) - 1)

    @property
    def edges(self) -> np.ndarray:
        """Bin edges (n + 1 values), A; the first edge is clipped at 0."""
        r = self.radius
        e = np.concatenate([r - self.step / 2, [r[-1] + self.step / 2]])
        return np.maximum(e, 0.0)


def grid_from_array(x: np.ndarray, name: str) -> tuple[float, float, int]:
    """(min, max, n) of a stored linear grid; raise if it is not linear."""
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or len(x) < 2:
        raise InputError(f"stored {name} grid is not a 1-D array of >= 2 points", parameter=None)
    lin = np.linspace(x[0], x[-1], len(x))
    if not np.allclose(x, lin, rtol=1e-9, atol=0):
        raise InputError(f"stored {name} grid is not linear; only linear grids are supported", parameter=None)
    return float(x[0]), float(x[-1]), len(x)


LOG_GRID_RATIO = 20.0   # a radius grid spanning more than this is log-spaced (the whole-curve model's, over decades)


def is_log_grid(radius: np.ndarray) -> bool:
    """Whether a radius grid spans decades (log-spaced: the whole-curve model's) rather than the linear grid."""
    return float(radius[-1]) / float(radius[0]) > LOG_GRID_RATIO


def radius_edges(radius: np.ndarray) -> np.ndarray:
    """Bin edges (n + 1, A) of a radius grid: the linear grid's (:class:`RadiusGrid`), or for a log grid over
    decades (the whole-curve model's 900 fine radii) the geometric midpoints, the ends one half-step out."""
    radius = np.asarray(radius, float)
    if not is_log_grid(radius):
        return RadiusGrid(radius[0], radius[-1], len(radius)).edges
    lr = np.log(radius)
    mid = 0.5 * (lr[1:] + lr[:-1])
    return np.exp(np.concatenate([[lr[0] - (mid[0] - lr[0])], mid, [lr[-1] + (lr[-1] - mid[-1])]]))


def occupied(radius: np.ndarray, number: np.ndarray, volume: np.ndarray, margin: int = 8) -> slice:
    """The radii worth showing of a distribution: on a log grid over decades, from where the first 0.1 % of the
    number or volume lies to where the last 0.1 % of both begins, ``margin`` points more each side; a linear grid
    whole.  The CLI's figures and SasView's size plot crop the whole-curve model's 3 decades to this."""
    if not is_log_grid(radius):
        return slice(0, len(radius))
    cn, cv = np.cumsum(number), np.cumsum(volume)
    i0 = int(np.searchsorted(np.maximum(cn, cv), 1e-3 * cn[-1]))
    i1 = int(np.searchsorted(np.minimum(cn, cv), (1 - 1e-3) * cn[-1]))
    return slice(max(i0 - margin, 0), min(i1 + margin, len(radius) - 1) + 1)
