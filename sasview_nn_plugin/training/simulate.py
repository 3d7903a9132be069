"""Training sets: random distributions -> sasmodels-exact curves -> HDF5, in bounded-memory chunks.

Each chunk of ``CHUNK`` curves draws from its own child of ``SeedSequence(seed)``, so a file is
reproducible from its seed whatever the machine, and memory stays bounded for N = 10^6.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.files import atomic_path
from ..errors import InputError
from ..physics import distributions
from ..physics import kernels as physics
from ..physics.grids import QGrid, RadiusGrid

CHUNK = 4096
CONVENTIONS = {
    "units": "q in 1/Angstrom, radius in Angstrom, SLD in 1e-6/Angstrom^2, intensity in 1/cm",
    "model": "sasmodels sphere@hardsphere with an array (number) radius distribution",
    "radius_effective_mode": 1,
    "radius_effective": "number-mean radius sum_i w_i R_i",
    "structure_factor_mode": 0,
    "structure_factor": "Percus-Yevick hard spheres, decoupling approximation",
    "distribution": "number-weighted bin probabilities at the radius bin centres (rows sum to 1)",
    "noise": "intensity = intensity_clean * (1 + noise * N(0, 1)), independent per point",
    "resolution": "dq_over_q > 0: intensity_clean smeared by sasmodels Pinhole1D, 1-sigma dQ = dq_over_q * q",
}


@dataclass(frozen=True)
class SimulationSettings:
    """What varies between curves, and how.  Ranges are inclusive; units as in CONVENTIONS."""

    q_grid: QGrid = field(default_factory=QGrid)
    r_grid: RadiusGrid = field(default_factory=RadiusGrid)
    family: str = "mixed"
    phi_min: float = 0.1
    phi_max: float = 0.5
    dilute_fraction: float = 0.0     # share of curves at phi = 0 exactly (dilute: S(q) = 1); the rest phi_min..phi_max
    noise_max: float = 0.03
    scale_min: float = 1e-2          # sasmodels scale, log-uniform over [scale_min, scale_max]
    scale_max: float = 1e2
    background_probability: float = 0.5
    background_max: float = 0.02     # flat background up to this fraction of I(q_max)
    smear_fraction: float = 0.0      # share of curves smeared by pinhole resolution
    dq_over_q_max: float = 0.06      # their 1-sigma dQ/Q is one of smear_levels values up to this
    smear_levels: int = 6
    smear_spacing: str = "linear"    # levels dq_over_q_max * k / smear_levels, or "geometric": from 1/40 of it up
    parametric: bool = False         # single-component family with its sasmodels parameters recorded
    sld: float = physics.DEFAULT_SLD
    sld_solvent: float = physics.DEFAULT_SLD_SOLVENT

    def __post_init__(self) -> None:
        physics.volume_fraction_array([self.phi_min, self.phi_max])
        if self.phi_max < self.phi_min:
            raise InputError(f"phi range is inverted ({self.phi_min}..{self.phi_max}); swap `phi_min`/`phi_max`",
                             parameter="phi_min")
        if not np.isfinite(self.noise_max) or self.noise_max < 0:
            raise InputError(f"`noise_max` must be >= 0 (got {self.noise_max})", parameter="noise_max")
        if not 0 < self.scale_min <= self.scale_max:
            raise InputError(f"scale range must be positive and ordered (got {self.scale_min}..{self.scale_max})",
                             parameter="scale_min")
        if self.background_max < 0 or not 0 <= self.background_probability <= 1:
            raise InputError("background_max must be >= 0 and background_probability in [0, 1]",
                             parameter="background_max")
        if not 0 <= self.dilute_fraction <= 1:
            raise InputError(f"`dilute_fraction` must be in [0, 1] (got {self.dilute_fraction})",
                             parameter="dilute_fraction")
        if self.smear_spacing not in ("linear", "geometric"):
            raise InputError(f"`smear_spacing` must be linear or geometric (got {self.smear_spacing!r})",
                             parameter="smear_spacing")
        if not 0 <= self.smear_fraction <= 1 or not 0 < self.dq_over_q_max < 0.5 or self.smear_levels < 1:
            raise InputError("`smear_fraction` must be in [0, 1] and `dq_over_q_max` in (0, 0.5)",
                             parameter="smear_fraction")
        if self.family != "mixed" and self.family not in distributions.FAMILIES:
            raise InputError(f"unknown family {self.family!r}; choose from mixed, {', '.join(distributions.FAMILIES)}",
                             parameter="family")
        if self.parametric and self.family not in distributions.PARAMETRIC:
            raise InputError(f"`parametric` needs `family` {' or '.join(distributions.PARAMETRIC)} (got {self.family})",
                             parameter="parametric")


@dataclass
class CurveSet:
    """A batch of simulated curves (arrays have N rows)."""

    intensity: np.ndarray
    intensity_clean: np.ndarray
    number_distribution: np.ndarray
    volume_fraction: np.ndarray
    scale: np.ndarray
    background: np.ndarray
    noise: np.ndarray
    dq_over_q: np.ndarray
    parameters: np.ndarray | None = None   # (N, 2) sasmodels radius, radius_pd (parametric sets only)


@dataclass(frozen=True)
class Resolution:
    """Pinhole smearing at one dQ/Q: sphere basis on q_calc and the sasmodels weight matrix."""

    dq_over_q: float
    basis: physics.SphereBasis
    weight_matrix: np.ndarray


def make_resolutions(settings: SimulationSettings) -> list[Resolution]:
    """The smear_levels resolutions used for smeared curves (empty when smear_fraction is 0)."""
    if not settings.smear_fraction:
        return []
    out = []
    n, top = settings.smear_levels, settings.dq_over_q_max
    levels = (top * np.arange(1, n + 1) / n if settings.smear_spacing == "linear" else
              np.geomspace(top / 40, top, n))
    for level in levels.tolist():
        q_calc, wm = physics.pinhole_resolution(settings.q_grid.q, level)
        basis = physics.sphere_basis(q_calc, settings.r_grid.radius, settings.sld, settings.sld_solvent)
        out.append(Resolution(level, basis, wm))
    return out


def simulate_batch(rng: np.random.Generator, n: int, basis: physics.SphereBasis,
                   settings: SimulationSettings, resolutions: list[Resolution] | None = None) -> CurveSet:
    """Draw n random samples and compute their curves with the basis (pure apart from rng)."""
    params = None
    if settings.parametric:
        w, params = distributions.sample_parametric(rng, n, settings.r_grid, settings.family)
    else:
        w = distributions.sample(rng, n, settings.r_grid, settings.family)
    phi = rng.uniform(settings.phi_min, settings.phi_max, size=n)
    if settings.dilute_fraction:
        phi[rng.random(n) < settings.dilute_fraction] = 0.0
    scale = np.exp(rng.uniform(np.log(settings.scale_min), np.log(settings.scale_max), size=n))
    clean = physics.intensity(basis, w, phi, scale)
    dq_over_q = np.zeros(n)
    if resolutions:
        level = np.where(rng.random(n) < settings.smear_fraction, rng.integers(0, len(resolutions), n), -1)
        for k, res in enumerate(resolutions):
            rows = np.flatnonzero(level == k)
            if len(rows):
                clean[rows] = physics.intensity(res.basis, w[rows], phi[rows], scale[rows]) @ res.weight_matrix
                dq_over_q[rows] = res.dq_over_q
    has_bkg = rng.random(n) < settings.background_probability
    bkg = has_bkg * rng.uniform(0.0, settings.background_max, size=n) * clean[:, -1]
    clean += bkg[:, None]
    noise = rng.uniform(0.0, settings.noise_max, size=n)
    noisy = rng.standard_normal(clean.shape, dtype=np.float32)
    noisy *= noise[:, None]
    noisy += 1.0
    noisy *= clean
    return CurveSet(noisy, clean, w, phi, scale, bkg, noise, dq_over_q, params)


def iter_chunks(n: int, seed: int, basis: physics.SphereBasis, settings: SimulationSettings,
                workers: int | None = None) -> Iterator[tuple[int, int, CurveSet]]:
    """Yield (first row, end row, CurveSet) for N curves in order, computing chunks on threads.

    Chunk k always uses child k of SeedSequence(seed), so the result does not depend on the
    number of workers.  At most 2 * workers chunks are in memory at once.
    """
    from concurrent.futures import ThreadPoolExecutor

    workers = workers or os.cpu_count() or 1
    resolutions = make_resolutions(settings)
    n_chunks = -(-n // CHUNK)
    children = np.random.SeedSequence(seed).spawn(n_chunks)
    window = 2 * workers
    with ThreadPoolExecutor(workers) as pool:
        for first in range(0, n_chunks, window):
            ks = range(first, min(n_chunks, first + window))
            futures = [pool.submit(simulate_batch, np.random.default_rng(children[k]),
                                   min(n, (k + 1) * CHUNK) - k * CHUNK, basis, settings, resolutions)
                       for k in ks]
            for k, fut in zip(ks, futures, strict=True):
                yield k * CHUNK, min(n, (k + 1) * CHUNK), fut.result()


def _check_output(out: Path) -> None:
    parent = out.parent if str(out.parent) else Path(".")
    if out.is_dir():
        raise InputError(f"output path {out} is a directory; give a file name such as {out}/train.h5", parameter="out")
    if not parent.is_dir():
        raise InputError(f"output directory {parent} does not exist; create it first", parameter="out")
    if not os.access(parent, os.W_OK):
        raise InputError(f"output directory {parent} is not writable; choose another `out`", parameter="out")


def simulate(n: int, seed: int, out: str | os.PathLike, settings: SimulationSettings | None = None,
             progress: bool = True) -> Path:
    """Write N simulated curves to the HDF5 file ``out`` (atomically: temp name, then rename)."""
    import h5py
    from tqdm import tqdm

    settings = settings or SimulationSettings()
    if int(n) != n or n <= 0:
        raise InputError(f"`n` must be a positive integer (got {n})", parameter="n")
    n = int(n)
    out = Path(out)
    _check_output(out)
    q, radius = settings.q_grid.q, settings.r_grid.radius
    basis = physics.sphere_basis(q, radius, settings.sld, settings.sld_solvent)
    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as f:
            f["q"], f["radius"] = q, radius
            rows = min(n, CHUNK)
            ds = {
                "intensity": f.create_dataset("intensity", (n, len(q)), "f4", chunks=(min(rows, 1024), len(q))),
                "intensity_clean": f.create_dataset("intensity_clean", (n, len(q)), "f4",
                                                    chunks=(min(rows, 1024), len(q))),
                "number_distribution": f.create_dataset("number_distribution", (n, len(radius)), "f8"),
            }
            for name in ("volume_fraction", "scale", "background", "noise", "dq_over_q"):
                ds[name] = f.create_dataset(name, (n,), "f8")
            if settings.parametric:
                ds["parameters"] = f.create_dataset("parameters", (n, 2), "f8")
                ds["parameters"].attrs["names"] = list(distributions.PARAMETER_NAMES)
            f.attrs["seed"] = seed
            f.attrs["n"] = n
            f.attrs["chunk"] = CHUNK
            f.attrs["sasmodels_version"] = physics.sasmodels_version()
            f.attrs["package_version"] = _package_version()
            for key, value in CONVENTIONS.items():
                f.attrs[f"convention_{key}"] = value
            for key, value in asdict(settings).items():
                if isinstance(value, dict):
                    for k2, v2 in value.items():
                        f.attrs[f"{key}_{k2}"] = v2
                else:
                    f.attrs[key] = value
            with tqdm(total=n, unit="curve", desc="simulate", disable=not progress) as bar:
                for lo, hi, batch in iter_chunks(n, seed, basis, settings):
                    for name, dset in ds.items():
                        dset[lo:hi] = getattr(batch, name)
                    bar.update(hi - lo)
            f.attrs["complete"] = True
    return out


def _package_version() -> str:
    from .. import __version__

    return __version__


def growth_series(out: str | os.PathLike, n_frames: int = 200, seed: int = 0, q: np.ndarray | None = None,
                  radius_start: float = 20.0, radius_end: float = 60.0, pd: float = 0.12,
                  volume_fraction: float = 0.3, noise: float = 0.01) -> Path:
    """A synthetic time series of growing particles as a 2-D HDF5 frame table (``sasview-nn batch`` input).

    Frame k has a Schulz distribution (sasmodels' convention, relative width ``pd``) whose mean
    grows from ``radius_start`` to ``radius_end`` A (Lifshitz-Slyozov-like: R^3 linear in time),
    phi = ``volume_fraction``, relative Gaussian noise ``noise`` with dI given.  Datasets: ``q``
    (1/A), ``intensity`` and ``dI`` (n_frames, n_q), ``time`` (s), ``true_mean_radius`` (A).
    """
    import h5py

    rng = np.random.default_rng(seed)
    q = QGrid().q if q is None else np.asarray(q, dtype=float)
    grid = RadiusGrid(1.0, 150.0, 600)
    t = np.linspace(0.0, 1.0, n_frames)
    mean = (radius_start**3 + (radius_end**3 - radius_start**3) * t) ** (1 / 3)
    w = np.diff(distributions.schulz_cdf(grid.edges[None, :], mean[:, None], pd), axis=1)
    clean = physics.intensity(physics.sphere_basis(q, grid.radius), w, volume_fraction)
    di = noise * clean
    out = Path(out)
    with atomic_path(out) as tmp:
        with h5py.File(tmp, "w") as f:
            f["q"] = q
            f["q"].attrs["units"] = "1/angstrom"
            f["intensity"] = clean + di * rng.standard_normal(clean.shape)
            f["dI"] = di
            f["time"] = 100.0 * t
            f["true_mean_radius"] = physics.mean_radius(w, grid.radius)
            f.attrs["description"] = (f"growing Schulz spheres (pd {pd}), phi {volume_fraction}, "
                                      f"{100 * noise:g} % noise, seed {seed}")
    return out
