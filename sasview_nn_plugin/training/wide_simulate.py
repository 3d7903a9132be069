"""Training set of the whole-curve network: dimensionless curves of polydisperse hard spheres, as measured.

Each curve (all in the dimensionless units of :mod:`..physics.wide`: x = q L, rho = R / L):
- a window of 1.0-3.6 decades centred on x = 1 (the placement every curve gets at inference);
- a volume distribution over the rho bins from one of FAMILIES, placed where the window can see it;
- phi 0 (20 %) or 0.02-0.5, Percus-Yevick S(q) at R_eff = number-mean radius (decoupling, sasmodels
  ``sphere@hardsphere`` with ``radius_effective_mode=1``, ``structure_factor_mode=0``);
- nuisances the network learns to ignore: a low-q power law A x^-p (p 2-4) in 35 %, a flat background in
  50 %, over-subtraction (a negative offset that sends high-q points to I <= 0) in 20 %;
- resolution by sasmodels itself: ``Pinhole1D`` (1-sigma dQ/Q 0.5-20 %) in 45 %, ``Slit1D`` (slit length
  0.1-5 x the window's q_max) in 15 %, none in 40 %;
- noise: relative 0.5-5 % plus an absolute floor, dI known.
Points outside the window or with I <= 0 are masked.  Reproducible: chunk k draws from child k of
``SeedSequence(seed)``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from scipy.special import erf, gammainc

from ..data.files import atomic_path
from ..errors import InputError
from ..physics.scattering import hardsphere_sq, power_law
from ..physics.wide import WideGrids, sphere_amplitude2

CHUNK = 4096
FAMILIES = ("schulz", "gaussian", "lognormal", "narrow", "tophat", "bimodal", "trimodal", "smooth")
FAMILY_P = (0.10, 0.07, 0.18, 0.10, 0.07, 0.24, 0.10, 0.14)
PINHOLE_LEVELS = np.geomspace(0.005, 0.2, 20)
SLIT_LEVELS = 10.0 ** np.arange(-1.3, 2.55, 0.05)      # slit length in x units
W_MIN, W_MAX = 1.0, 3.6                                  # window width, decades


def _number_cdf(family: str, edges: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Number CDF at bin edges for (n,) parameter arrays: centre a (rho) and relative width b."""
    e = edges[None, :]
    a, b = a[:, None], b[:, None]
    if family in ("schulz", "narrow"):
        k = 1.0 / b**2
        return gammainc(k, e * k / a)
    if family == "gaussian":
        return 0.5 * (1 + erf((e - a) / (np.sqrt(2) * b * a)))
    if family == "lognormal":
        return 0.5 * (1 + erf((np.log(e) - np.log(a)) / (np.sqrt(2) * b)))
    if family == "tophat":  # a: lower edge, b: hi / lo ratio
        return np.clip((e - a) / (a * b - a), 0, 1)
    raise ValueError(family)


def _volume_lognormal(edges, centre, sigma):
    """Volume mass per bin of a log-normal in volume (centre = volume median, sigma of ln R)."""
    c = 0.5 * (1 + erf((np.log(edges[None, :]) - np.log(centre[:, None])) / (np.sqrt(2) * sigma[:, None])))
    return np.diff(c, axis=1)


def sample_volume(rng: np.random.Generator, family: str, n: int, lo: np.ndarray, hi: np.ndarray,
                  grids: WideGrids) -> np.ndarray:
    """(n, n_rho) volume fractions per bin of ``family``, its mass within log10 rho in [lo, hi] per row."""
    edges, rho = grids.rho_edges, grids.rho
    span = hi - lo
    u = rng.uniform(size=n)
    if family in ("schulz", "gaussian", "lognormal", "narrow", "tophat"):
        width = {"schulz": (0.05, 0.3), "gaussian": (0.05, 0.25), "lognormal": (0.05, 0.8),
                 "narrow": (0.01, 0.05), "tophat": (1.2, 3.0)}[family]
        b = rng.uniform(*width, size=n)
        if family == "lognormal":
            b = np.exp(rng.uniform(np.log(width[0]), np.log(width[1]), size=n))
        half = {"tophat": np.log10(b) / 2}.get(family, np.minimum(1.2 * b / np.log(10), span / 3))
        centre = 10 ** (lo + half + u * np.maximum(span - 2 * half, 0))
        a = centre / np.sqrt(b) if family == "tophat" else centre
        if family in ("schulz", "gaussian", "narrow", "lognormal"):
            # number distribution centred so that its volume mode lands near `centre`: shift by the width
            shift = {"lognormal": np.exp(-3 * b**2)}.get(family, 1.0 / (1 + 3 * b**2))
            a = centre * shift
        number = np.diff(_number_cdf(family, edges, a, b), axis=1)
        vol = number * rho**3
    elif family in ("bimodal", "trimodal"):
        k = 2 if family == "bimodal" else 3
        sep = 10 ** rng.uniform(np.log10(1.5), np.log10(20.0), size=n)          # largest / smallest mode
        sep = np.minimum(sep, 10 ** np.maximum(span - 0.2, 0.1))
        first = lo + 0.1 + u * np.maximum(span - 0.2 - np.log10(sep), 0)
        pos = [first, first + np.log10(sep)] + ([first + rng.uniform(0.2, 0.8, n) * np.log10(sep)] if k == 3 else [])
        share = rng.dirichlet(np.ones(k), size=n)
        share = 0.1 / k + (1 - 0.1) * share                                     # each >= ~3-5 % volume
        vol = np.zeros((n, len(rho)))
        for j in range(k):
            sig = np.exp(rng.uniform(np.log(0.03), np.log(0.4), n))
            vol += share[:, j:j + 1] * _volume_lognormal(edges, 10 ** pos[j], sig)
    elif family == "smooth":
        width = rng.uniform(0.2, 1.5, n)
        width = np.minimum(width, np.maximum(span - 0.1, 0.1))
        start = lo + u * np.maximum(span - width, 0)
        vol = np.zeros((n, len(rho)))
        for _ in range(5):
            c = 10 ** (start + rng.uniform(0, 1, n) * width)
            vol += rng.uniform(0.1, 1, n)[:, None] * _volume_lognormal(edges, c, np.exp(rng.uniform(-3.5, -1.5, n)))
    else:
        raise ValueError(family)
    vol = np.maximum(vol, 0)
    total = vol.sum(axis=1, keepdims=True)
    return vol / np.where(total > 0, total, 1)


class Smearing:
    """sasmodels' resolution weight matrices from ``grids.x_calc`` onto ``grids.x``, built once per level."""

    def __init__(self, grids: WideGrids):
        from sasmodels.resolution import Pinhole1D, Slit1D

        x, xc = grids.x, grids.x_calc
        self.pinhole = [Pinhole1D(x, r * x, q_calc=xc).weight_matrix for r in PINHOLE_LEVELS]
        self.slit = []
        for length in SLIT_LEVELS:
            res = Slit1D(x, q_length=length, q_calc=xc)
            if len(res.q_calc) != len(xc):
                raise RuntimeError("Slit1D dropped computation points; extend CALC_LO")
            self.slit.append(res.weight_matrix)


def simulate_chunk(rng: np.random.Generator, n: int, grids: WideGrids, basis: np.ndarray, smear: Smearing) -> dict:
    """One chunk of ``n`` curves: features (centred log I, mask), scalars and the volume targets."""
    x, xc, rho = grids.x, grids.x_calc, grids.rho
    lx = np.log10(x)
    w = rng.uniform(W_MIN, W_MAX, n)
    window = np.abs(lx[None, :]) <= w[:, None] / 2 + 1e-9
    x_hi = 10 ** (w / 2)
    lo = np.maximum(np.log10(3.0 / x_hi), grids.rho_lo + 0.05)
    hi = np.minimum(np.log10(2.0 * x_hi), grids.rho_hi - 0.05)      # 2 / x_lo, x_lo = 1 / x_hi
    fam = rng.choice(len(FAMILIES), size=n, p=FAMILY_P)
    vol = np.zeros((n, len(rho)))
    for k, name in enumerate(FAMILIES):
        rows = np.flatnonzero(fam == k)
        if len(rows):
            vol[rows] = sample_volume(rng, name, len(rows), lo[rows], hi[rows], grids)
    number = vol / rho**3
    r_eff = (number @ rho) / number.sum(axis=1)
    phi = np.where(rng.uniform(size=n) < 0.2, 0.0, rng.uniform(0.02, 0.5, n))
    p = vol @ basis
    s = hardsphere_sq(xc, r_eff, phi)
    inten = np.where(phi[:, None] > 0, p * s, p)
    k1 = np.argmin(np.abs(xc - 1.0))
    inten /= inten[:, k1:k1 + 1]
    # nuisance: low-q power law, scaled against I at the window's low end
    i_lo = inten[np.arange(n), np.argmin(np.abs(xc[None, :] - 1 / x_hi[:, None]), axis=1)]
    has_pl = rng.uniform(size=n) < 0.35
    pexp = rng.uniform(2.0, 4.0, n)
    amp = np.where(has_pl, i_lo * 10 ** rng.uniform(-1.5, 1.0, n), 0.0)
    inten = inten + amp[:, None] * power_law(xc[None, :] * x_hi[:, None], pexp[:, None])
    # resolution
    kind = rng.choice(3, size=n, p=(0.40, 0.45, 0.15))
    dq = np.zeros(n)
    slit = np.zeros(n)
    out = np.empty((n, len(x)))
    none = kind == 0
    out[none] = inten[none][:, grids.x_index]
    pin_level = rng.integers(len(PINHOLE_LEVELS), size=n)
    slit_want = np.log10(x_hi) + rng.uniform(-1.0, 0.7, n)
    slit_level = np.clip(np.round((slit_want - np.log10(SLIT_LEVELS[0])) / 0.05).astype(int), 0, len(SLIT_LEVELS) - 1)
    for lev in range(len(PINHOLE_LEVELS)):
        rows = np.flatnonzero((kind == 1) & (pin_level == lev))
        if len(rows):
            out[rows] = inten[rows] @ smear.pinhole[lev]
            dq[rows] = PINHOLE_LEVELS[lev]
    for lev in range(len(SLIT_LEVELS)):
        rows = np.flatnonzero((kind == 2) & (slit_level == lev))
        if len(rows):
            out[rows] = inten[rows] @ smear.slit[lev]
            slit[rows] = SLIT_LEVELS[lev]
    # noise, background, over-subtraction
    i_hi = out[np.arange(n), np.argmin(np.abs(lx[None, :] - w[:, None] / 2), axis=1)]
    rel = 10 ** rng.uniform(np.log10(0.005), np.log10(0.05), n)
    floor = rel * i_hi * rng.uniform(0, 1, n)
    di = rel[:, None] * out + floor[:, None]
    bg = np.where(rng.uniform(size=n) < 0.5, i_hi * 10 ** rng.uniform(-2, 0.3, n), 0.0)
    bg -= np.where(rng.uniform(size=n) < 0.2, i_hi * rng.uniform(0.1, 1.0, n), 0.0)
    meas = out + bg[:, None] + di * rng.standard_normal(out.shape)
    mask = window & (meas > 0)
    return {"features": features(meas, mask), "mask": mask.astype(np.uint8), "volume": vol.astype(np.float32),
            "phi": phi.astype(np.float32), "dq_over_q": dq.astype(np.float32), "slit": slit.astype(np.float32),
            "width": w.astype(np.float32), "family": fam.astype(np.int8)}


def features(meas: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Centred log intensity on the grid: log I minus its mean over the unmasked points, 0 where masked."""
    with np.errstate(divide="ignore", invalid="ignore"):
        li = np.where(mask, np.log(np.where(mask, meas, 1.0)), 0.0)
    count = np.maximum(mask.sum(axis=1, keepdims=True), 1)
    centre = li.sum(axis=1, keepdims=True) / count
    return np.where(mask, li - centre, 0.0).astype(np.float32)


def simulate_wide(n: int, seed: int, out: str | os.PathLike, grids: WideGrids | None = None) -> Path:
    """Write ``n`` training curves (chunks of CHUNK, child k of SeedSequence(seed)) to the HDF5 file ``out``."""
    import h5py

    if n < 1:
        raise InputError(f"`n` must be >= 1 (got {n})", parameter="n")
    out = Path(out)
    if out.exists():
        raise InputError(f"{out} exists; choose a new file name (training sets are never overwritten)", parameter="out")
    grids = grids or WideGrids()
    basis = sphere_amplitude2(grids.x_calc, grids.rho)
    smear = Smearing(grids)
    children = np.random.SeedSequence(seed).spawn(-(-n // CHUNK))
    with atomic_path(out) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["kind"] = "wide-training-set"
        f.attrs["seed"] = seed
        for k, v in grids.as_dict().items():
            f.attrs[k] = v
        f["x"], f["rho"] = grids.x, grids.rho
        made = 0
        for k, child in enumerate(children):
            m = min(CHUNK, n - made)
            part = simulate_chunk(np.random.default_rng(child), m, grids, basis, smear)
            for name, arr in part.items():
                if k == 0:
                    f.create_dataset(name, shape=(n,) + arr.shape[1:], dtype=arr.dtype,
                                     chunks=(min(CHUNK, n),) + arr.shape[1:])
                f[name][made:made + m] = arr
            made += m
    return out
