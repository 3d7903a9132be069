"""Single-scattering Mie backscatter of a log-normal population of spheres (miepython).

    beta(lambda) = integral K(lambda, m, r) n(r) dr,    K = Q_back(m, 2 pi r / lambda) * pi r^2

n(r) is the log-normal number density with median r_m and geometric standard deviation sigma
(ln sigma = the sigma of ln r), normalised to one particle.  As in Lam et al. (1990) the integral is a
quadrature over 31 radii, log-spaced from 0.01 to 40 um.  Units: um (radii, wavelengths), um^2 (beta).
miepython's complex index uses the m = n - i k convention, as the paper's m = 1.53 - 0.008j.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class MieSetup:
    """The 1990 paper's measurement: wavelengths (um), refractive index, quadrature radii (um)."""

    wavelengths: tuple[float, ...] = (0.53, 1.06, 2.12)
    m: complex = 1.53 - 0.008j
    r_min: float = 0.01
    r_max: float = 40.0
    n_radii: int = 31

    @property
    def radii(self) -> np.ndarray:
        return np.geomspace(self.r_min, self.r_max, self.n_radii)


def backscatter_kernel(setup: MieSetup) -> np.ndarray:
    """K(lambda_i, r_j) = Q_back * pi r^2 in um^2, shape (n_wavelengths, n_radii)."""
    import miepython

    r = setup.radii
    return np.stack([np.asarray(miepython.efficiencies(setup.m, 2 * r, lam)[2], float) * np.pi * r**2
                     for lam in setup.wavelengths])


def lognormal_density(r: np.ndarray, r_m: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """n(r) per um for each (r_m, sigma) row: shape (..., n_r); sigma is the geometric std (> 1)."""
    r_m, sigma = np.asarray(r_m, float)[..., None], np.asarray(sigma, float)[..., None]
    s = np.log(sigma)
    return np.exp(-0.5 * (np.log(r / r_m) / s) ** 2) / (np.sqrt(2 * np.pi) * s * r)


def backscatter(setup: MieSetup, r_m, sigma, kernel: np.ndarray | None = None) -> np.ndarray:
    """beta (um^2 per particle) at each wavelength, shape (..., n_wavelengths), by the trapezoid rule."""
    kernel = backscatter_kernel(setup) if kernel is None else kernel
    r = setup.radii
    n = lognormal_density(r, r_m, sigma)
    return np.trapezoid(n[..., None, :] * kernel, r, axis=-1)
