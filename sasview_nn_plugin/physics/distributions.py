"""Seeded samplers of number-weighted size distributions over radius bins.

Every sampler returns an (n, n_r) array of bin probabilities (rows sum to 1) over the bins of a
:class:`~sasview_nn_plugin.physics.grids.RadiusGrid`: the probability mass of a continuous distribution
in each bin, placed at the bin centre.  That is exactly what sasmodels' array dispersion means.

Mixture components are weighted by *volume* (as McSAS and SasView display), then converted to
number weights: a component that holds a third of the particle volume is visible in the
scattering, one that holds a third of the particle *number* at small radius often is not.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import erf, gammainc

from .grids import RadiusGrid
from .kernels import number_to_volume, volume_to_number

Sampler = Callable[[np.random.Generator, int, RadiusGrid], np.ndarray]


def _normalise(mass: np.ndarray) -> np.ndarray:
    total = mass.sum(axis=-1, keepdims=True)
    if np.any(total <= 0):
        raise ValueError("a sampled distribution has no mass inside the radius grid")
    return mass / total


def schulz_cdf(x: np.ndarray, mean: np.ndarray, pd: np.ndarray) -> np.ndarray:
    """Schulz CDF at radius x (A); ``pd`` = sigma/mean as in sasmodels (z = 1/pd^2 - 1)."""
    k = 1.0 / np.square(pd)  # shape z + 1
    return gammainc(k, np.maximum(x, 0.0) * k / mean)


def lognormal_cdf(x: np.ndarray, median: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log-normal CDF at radius x (A); sigma is the width of ln(R)."""
    with np.errstate(divide="ignore"):
        z = (np.log(np.maximum(x, 1e-300)) - np.log(median)) / (np.sqrt(2.0) * sigma)
    return 0.5 * (1.0 + erf(z))


def gaussian_cdf(x: np.ndarray, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Gaussian CDF at radius x (A)."""
    return 0.5 * (1.0 + erf((x - mean) / (np.sqrt(2.0) * sigma)))


def tophat_cdf(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Uniform-distribution CDF on [lo, hi] (A)."""
    return np.clip((x - lo) / (hi - lo), 0.0, 1.0)


def bin_mass(cdf: Callable[..., np.ndarray], grid: RadiusGrid, *params: np.ndarray) -> np.ndarray:
    """Probability per radius bin of a distribution given by its CDF; params are (n,) arrays."""
    edges = grid.edges
    c = cdf(edges[None, :], *(np.asarray(p, dtype=float)[:, None] for p in params))
    return _normalise(np.diff(c, axis=1))


def _mixture(rng: np.random.Generator, n: int, grid: RadiusGrid, component: Callable,
             k_max: int) -> np.ndarray:
    """Volume-weighted mixture of 1..k_max components, returned as number weights."""
    k = rng.integers(1, k_max + 1, size=n)
    frac = rng.dirichlet(np.ones(k_max), size=n)
    frac[np.arange(k_max)[None, :] >= k[:, None]] = 0.0
    frac /= frac.sum(axis=1, keepdims=True)
    vol = np.zeros((n, grid.n))
    for j in range(k_max):
        rows = np.flatnonzero(k > j)
        vol[rows] += frac[rows, j:j + 1] * number_to_volume(component(rng, len(rows), grid), grid.radius)
    return volume_to_number(vol, grid.radius)


def _means(rng: np.random.Generator, n: int, grid: RadiusGrid) -> np.ndarray:
    span = grid.r_max - grid.r_min
    return rng.uniform(grid.r_min + 0.03 * span, grid.r_max - 0.08 * span, size=n)


def schulz(rng, n, grid, pd_range=(0.02, 0.3)):
    """Single Schulz distributions: mean uniform over the grid, pd log-uniform in pd_range."""
    pd = np.exp(rng.uniform(*np.log(pd_range), size=n))
    return bin_mass(schulz_cdf, grid, _means(rng, n, grid), pd)


def narrow_schulz(rng, n, grid):
    """Schulz with pd 0.02-0.05 (a few bins wide)."""
    return schulz(rng, n, grid, pd_range=(0.02, 0.05))


def lognormal(rng, n, grid):
    """Log-normal: median uniform over the grid, sigma of ln R in 0.03-0.35."""
    return bin_mass(lognormal_cdf, grid, _means(rng, n, grid), rng.uniform(0.03, 0.35, size=n))


def gaussian(rng, n, grid):
    """Gaussian: mean uniform over the grid, sigma 1-15 % of the mean (at least 0.7 bin)."""
    mean = _means(rng, n, grid)
    sigma = np.maximum(rng.uniform(0.01, 0.15, size=n) * mean, 0.7 * grid.step)
    return bin_mass(gaussian_cdf, grid, mean, sigma)


def tophat(rng, n, grid):
    """Uniform on [lo, hi]: width 2-40 % of the grid span."""
    span = grid.r_max - grid.r_min
    width = rng.uniform(0.02, 0.4, size=n) * span
    lo = rng.uniform(grid.r_min, grid.r_max - width)
    return bin_mass(tophat_cdf, grid, lo, lo + width)


def schulz_mixture(rng, n, grid):
    """The paper's family: random mixtures of 1-3 Schulz distributions."""
    return _mixture(rng, n, grid, schulz, 3)


def bimodal(rng, n, grid):
    """Two log-normal/Gaussian modes at least 15 % of the span apart, volume-weighted."""
    span = grid.r_max - grid.r_min
    m1 = rng.uniform(grid.r_min + 0.05 * span, grid.r_min + 0.55 * span, size=n)
    m2 = np.minimum(m1 + rng.uniform(0.15, 0.45, size=n) * span, grid.r_max - 0.08 * span)
    s1, s2 = (rng.uniform(0.03, 0.12, size=n) for _ in range(2))
    frac = rng.uniform(0.25, 0.75, size=n)[:, None]
    v1 = number_to_volume(bin_mass(lognormal_cdf, grid, m1, s1), grid.radius)
    v2 = number_to_volume(bin_mass(gaussian_cdf, grid, m2, s2 * m2), grid.radius)
    return volume_to_number(frac * v1 + (1 - frac) * v2, grid.radius)


def smooth_random(rng, n, grid):
    """Arbitrary smooth shapes: exp of a random low-frequency Fourier series, windowed."""
    x = np.linspace(0.0, 1.0, grid.n)
    n_modes = 8
    freq = np.arange(1, n_modes + 1)
    amp = rng.normal(size=(n, n_modes)) * rng.uniform(1.0, 4.0, size=(n, 1)) / freq
    phase = rng.uniform(0, 2 * np.pi, size=(n, n_modes))
    arg = np.pi * freq[:, None] * x[None, :]  # sin(arg + phase) = sin(arg)cos(phase) + cos(arg)sin(phase)
    log_shape = (amp * np.cos(phase)) @ np.sin(arg) + (amp * np.sin(phase)) @ np.cos(arg)
    centre, width = rng.uniform(0.05, 0.9, size=(n, 1)), rng.uniform(0.05, 0.5, size=(n, 1))
    log_shape -= 0.5 * ((x - centre) / width) ** 2
    vol = np.exp(log_shape - log_shape.max(axis=1, keepdims=True))
    vol[vol < 1e-6] = 0.0
    return volume_to_number(vol, grid.radius)


def lognormal_mixture(rng, n, grid):
    """Mixtures of 1-2 log-normals."""
    return _mixture(rng, n, grid, lognormal, 2)


# Named families.  "mixed" is what the shipped model is trained on.
FAMILIES: dict[str, Sampler] = {
    "schulz3": schulz_mixture,
    "schulz": schulz,
    "narrow_schulz": narrow_schulz,
    "lognormal": lognormal,
    "lognormal2": lognormal_mixture,
    "gaussian": gaussian,
    "tophat": tophat,
    "bimodal": bimodal,
    "smooth": smooth_random,
}
MIXED = {"schulz3": 0.5, "lognormal2": 0.2, "gaussian": 0.1, "tophat": 0.05, "smooth": 0.15}


# Single-component families with sasmodels' parameters: (CDF, width range). Schulz: radius = mean,
# radius_pd = sigma / mean; log-normal: radius = median, radius_pd = sigma of ln R (sasmodels' meanings).
PARAMETRIC: dict[str, tuple[Callable[..., np.ndarray], tuple[float, float]]] = {
    "schulz": (schulz_cdf, (0.03, 0.3)),
    "lognormal": (lognormal_cdf, (0.03, 0.3)),
}
PARAMETER_NAMES = ("radius", "radius_pd")


def sample_parametric(rng: np.random.Generator, n: int, grid: RadiusGrid, family: str
                      ) -> tuple[np.ndarray, np.ndarray]:
    """n single-component distributions and their sasmodels parameters (n, 2): radius (A), radius_pd.

    Radius uniform over the grid's interior, radius_pd log-uniform over the family's width range."""
    if family not in PARAMETRIC:
        raise ValueError(f"no parametric family {family!r}; choose from {', '.join(PARAMETRIC)}")
    cdf, (lo, hi) = PARAMETRIC[family]
    radius = _means(rng, n, grid)
    pd = np.exp(rng.uniform(np.log(lo), np.log(hi), size=n))
    return bin_mass(cdf, grid, radius, pd), np.stack([radius, pd], axis=1)


def sample(rng: np.random.Generator, n: int, grid: RadiusGrid, family: str = "mixed") -> np.ndarray:
    """n number distributions (n, n_r) from a named family, or "mixed" (see MIXED)."""
    if family != "mixed":
        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; choose from mixed, {', '.join(FAMILIES)}")
        return FAMILIES[family](rng, n, grid)
    names = list(MIXED)
    pick = rng.choice(len(names), size=n, p=np.array(list(MIXED.values())))
    out = np.empty((n, grid.n))
    for j, name in enumerate(names):
        idx = np.flatnonzero(pick == j)
        if len(idx):
            out[idx] = FAMILIES[name](rng, len(idx), grid)
    return out
