r"""Dimensionless grids of the whole-curve network, and the self-similar placement of a curve on them.

Self-similarity: scaling every radius by s maps I(q) to s^3 I(s q) at the same volume fraction (sphere F^2
and the Percus-Yevick S(q) depend on q R only).  So a curve measured over [q_lo, q_hi] (1/A) is placed on
the network's dimensionless grid x = q L with the length L = 1 / sqrt(q_lo q_hi) (A): the window's log-centre
lands on x = 1.  The network answers on dimensionless radii rho; the radii in A are R = rho L.  The intensity
scale is unknown anyway (the input is centred log I), so the s^3 prefactor drops out and the map is exact.

Grids (log-uniform, the same step in x and rho so that x rho lies on one log lattice):
- ``x``: the network's input, X_POINTS points over 10^-X_HALF .. 10^X_HALF (3.6 decades);
- ``rho``: radius bin centres over 10^RHO_LO .. 10^RHO_HI (3 decades), volume mass per bin;
- ``x_calc``: where training curves are computed before smearing (wider, the same step).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from .scattering import sphere_form

PER_DECADE = 120            # x points per decade (rho: RHO_PER_DECADE)
X_HALF = 1.8                # x spans 10^-1.8 .. 10^1.8
RHO_LO, RHO_HI, RHO_PER_DECADE = -1.1, 1.9, 60
CALC_LO, CALC_HI = -2.4, 2.7    # pinhole (3 sigma at 20 %) and slit (length <= 5 x_hi) need beyond x


@dataclass(frozen=True)
class WideGrids:
    """The three dimensionless log grids (x: q L; rho: R / L)."""

    per_decade: int = PER_DECADE
    x_half: float = X_HALF
    rho_lo: float = RHO_LO
    rho_hi: float = RHO_HI
    rho_per_decade: int = RHO_PER_DECADE

    @cached_property
    def x(self) -> np.ndarray:
        """Input grid (dimensionless q L), X_POINTS values."""
        n = int(round(2 * self.x_half * self.per_decade)) + 1
        return np.logspace(-self.x_half, self.x_half, n)

    @cached_property
    def x_calc(self) -> np.ndarray:
        """Computation grid: ``x`` extended by the same log step to 10^CALC_LO .. 10^CALC_HI."""
        step = 1.0 / self.per_decade
        lo = int(np.ceil((self.x_half + CALC_LO) / step))   # negative: steps below x[0]
        hi = int(np.ceil((CALC_HI - self.x_half) / step))
        return 10.0 ** (-self.x_half + step * np.arange(lo, len(self.x) + hi))

    @cached_property
    def x_index(self) -> slice:
        """Where ``x`` sits inside ``x_calc``."""
        k = int(np.argmin(np.abs(self.x_calc - self.x[0])))
        return slice(k, k + len(self.x))

    @cached_property
    def rho(self) -> np.ndarray:
        """Radius bin centres (dimensionless R / L)."""
        n = int(round((self.rho_hi - self.rho_lo) * self.rho_per_decade))
        return 10.0 ** (self.rho_lo + (np.arange(n) + 0.5) / self.rho_per_decade)

    @cached_property
    def rho_edges(self) -> np.ndarray:
        """Bin edges (len(rho) + 1), geometric midpoints."""
        return 10.0 ** (self.rho_lo + np.arange(len(self.rho) + 1) / self.rho_per_decade)

    def as_dict(self) -> dict:
        return {"per_decade": self.per_decade, "x_half": self.x_half, "rho_lo": self.rho_lo,
                "rho_hi": self.rho_hi, "rho_per_decade": self.rho_per_decade}


def placement(q_lo: float, q_hi: float) -> float:
    """The length L (A) that puts the log-centre of a window [q_lo, q_hi] (1/A) on x = 1."""
    return 1.0 / float(np.sqrt(q_lo * q_hi))


def sphere_amplitude2(x: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """V(rho) * Phi^2(x rho) for every (rho, x): the volume-weighted sphere basis, shape (len(rho), len(x)).

    Phi(u) = 3 (sin u - u cos u) / u^3 (:func:`.scattering.sphere_form`), V = rho^3 (4 pi / 3 and the contrast
    drop out of a curve whose scale is fitted).  P(x) = v @ basis for volume fractions v per bin; sasmodels' sphere
    at radius R: F^2 = 1e-4 (drho V_R Phi(qR))^2, so sum_i n_i F2_i / sum_i n_i V_i = const * sum_i v_i V_i Phi_i^2.
    """
    phi = sphere_form(np.outer(rho, x))
    return (rho**3)[:, None] * phi * phi
