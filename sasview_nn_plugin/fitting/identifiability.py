"""Where is a size inversion unique?  The 1990 allowable-region idea (Lam et al., Opt. Lett. 1990),
for SAXS curves of polydisperse hard spheres.

Over a grid of sasmodels parameters (radius, radius_pd) of one family, every grid point's curve is
compared with its four neighbours on the data's q points.  The absolute scale is unknown to the
inversion, so curves are compared in log intensity after removing the best constant offset:

    d_i = ln I_a(q_i) - ln I_b(q_i) - mean(ln I_a - ln I_b)

- 1990 criterion (noise-free): D = rms_i d_i, the relative distance of neighbouring curves; a point is
  identifiable where its smallest D over neighbours reaches ``floor`` (a floor proportional to the
  signal, as in the paper).
- noise-aware criterion: with relative noise ``noise`` per point, telling two neighbours apart is
  worth delta_chi2 = sum_i d_i^2 / noise^2; a point is identifiable where its smallest delta_chi2
  reaches ``chi2_threshold`` (default 6: ~95 % for two parameters).  Adding q points or lowering the
  noise can only raise delta_chi2, so a wider q range never shrinks this region and more noise never
  grows it.

q points are a fixed log-spaced lattice (``points_per_decade``) restricted to [q_min, q_max], so
ranges that nest give nested point sets.  Curves are sasmodels-exact (``physics.intensity``, PY S(q)
with R_eff = number-mean radius).  Units: q 1/A, radius A.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..data.validation import in_q_range
from ..errors import InputError
from ..physics import distributions
from ..physics import kernels as physics
from ..physics.grids import RadiusGrid

FAMILIES = tuple(distributions.PARAMETRIC)


@dataclass(frozen=True)
class MapSettings:
    """What the map is computed for (q in 1/A, radius in A)."""

    q_min: float = 0.04
    q_max: float = 0.105
    noise: float = 0.01                 # relative 1-sigma per point
    family: str = "lognormal"
    volume_fraction: float = 0.1
    r_min: float = 10.0                 # sasmodels ``radius`` (Schulz mean / log-normal median)
    r_max: float = 150.0
    n_radius: int = 40                  # log-spaced
    pd_min: float = 0.02                # sasmodels ``radius_pd``
    pd_max: float = 0.4
    n_pd: int = 20                      # linear
    points_per_decade: int = 200
    floor: float = 0.005                # 1990 criterion: rms relative difference of neighbours
    chi2_threshold: float = 6.0         # noise-aware criterion

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise InputError(f"unknown family {self.family!r}; choose {' or '.join(FAMILIES)}", parameter="family")
        if not 0 < self.q_min < self.q_max:
            raise InputError(f"need 0 < q_min < q_max (got {self.q_min}, {self.q_max}); q in 1/A", parameter=None)
        if not 0 < self.noise < 1:
            raise InputError(f"`noise` is the relative 1-sigma noise per point, in (0, 1) (got {self.noise})",
                             parameter="noise")
        physics.volume_fraction_array(self.volume_fraction)
        if not (0 < self.r_min < self.r_max and 0 < self.pd_min < self.pd_max < 1):
            raise InputError("need 0 < r_min < r_max and 0 < pd_min < pd_max < 1", parameter=None)
        if self.n_radius < 3 or self.n_pd < 3 or self.points_per_decade < 2:
            raise InputError("need at least 3 grid points per axis and 2 q points per decade", parameter=None)


@dataclass
class IdentifiabilityMap:
    """Neighbour distances over the (radius, radius_pd) grid; rows follow ``radius``."""

    settings: MapSettings
    radius: np.ndarray       # (n_r,) A
    width: np.ndarray        # (n_w,) radius_pd
    q: np.ndarray            # the q points compared, 1/A
    distance: np.ndarray     # (n_r, n_w) smallest rms log-distance to a neighbour
    delta_chi2: np.ndarray   # (n_r, n_w) smallest sum d^2 / noise^2 to a neighbour

    @property
    def identifiable_1990(self) -> np.ndarray:
        return self.distance >= self.settings.floor

    @property
    def identifiable(self) -> np.ndarray:
        """The noise-aware region (boolean (n_r, n_w))."""
        return self.delta_chi2 >= self.settings.chi2_threshold

    def lookup(self, radius: float, width: float) -> bool | None:
        """Is (radius, width) in the noise-aware region?  None outside the map."""
        if not (self.radius[0] <= radius <= self.radius[-1] and self.width[0] <= width <= self.width[-1]):
            return None
        i = int(np.argmin(np.abs(np.log(self.radius / radius))))
        j = int(np.argmin(np.abs(self.width - width)))
        return bool(self.identifiable[i, j])

    def warning(self, radius: float, width: float) -> str | None:
        """A one-line warning when (radius, width) is not known to be identifiable, else None."""
        s = self.settings
        where = f"q {s.q_min:g}-{s.q_max:g} 1/A, noise {100 * s.noise:g} %, {s.family}"
        inside = self.lookup(radius, width)
        if inside is None:
            return (f"result (radius {radius:.1f} A, width {width:.3f}) lies outside the identifiability map "
                    f"({self.radius[0]:g}-{self.radius[-1]:g} A, width {self.width[0]:g}-{self.width[-1]:g}; {where})")
        if not inside:
            return (f"result (radius {radius:.1f} A, width {width:.3f}) lies outside the region where the size "
                    f"distribution is identifiable ({where}): neighbouring sizes/widths give curves that differ "
                    "by less than the noise")
        return None


def q_points(q_min: float, q_max: float, points_per_decade: int) -> np.ndarray:
    """The fixed log lattice 10^(k / points_per_decade) inside [q_min, q_max] (1/A)."""
    k = np.arange(np.ceil(np.log10(q_min) * points_per_decade - 1e-9),
                  np.floor(np.log10(q_max) * points_per_decade + 1e-9) + 1)
    q = 10.0 ** (k / points_per_decade)
    if len(q) < 3:
        raise InputError(f"q range {q_min:g}-{q_max:g} 1/A holds fewer than 3 points at {points_per_decade} "
                         "per decade; widen it", parameter=None)
    return q


def log_curves(settings: MapSettings, q: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(radius grid, width grid, ln I (n_r, n_w, n_q)) with sasmodels-exact curves."""
    from .parametric import binned

    s = settings
    radius = np.geomspace(s.r_min, s.r_max, s.n_radius)
    width = np.linspace(s.pd_min, s.pd_max, s.n_pd)
    tail = np.exp(5 * s.pd_max) if s.family == "lognormal" else 1 + 6 * s.pd_max
    step = min(0.25, s.r_min * s.pd_min / 2)  # bins narrower than the narrowest distribution
    fine = RadiusGrid(step, s.r_max * tail, int(round(s.r_max * tail / step)))
    basis = physics.sphere_basis(q, fine.radius)
    rr, ww = np.meshgrid(radius, width, indexing="ij")
    w = binned(s.family, fine, rr.ravel(), ww.ravel())
    inten = physics.intensity(basis, w, s.volume_fraction)
    return radius, width, np.log(inten).reshape(len(radius), len(width), len(q))


def compute_map(settings: MapSettings | None = None) -> IdentifiabilityMap:
    """The identifiability map for ``settings`` (see the module docstring)."""
    s = settings or MapSettings()
    q = q_points(s.q_min, s.q_max, s.points_per_decade)
    radius, width, lnI = log_curves(s, q)
    sq = neighbour_min(lnI, offset_free_sq)  # smallest sum of squared offset-free log differences
    return IdentifiabilityMap(s, radius, width, q, np.sqrt(sq / len(q)), sq / s.noise**2)


def offset_free_sq(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """sum_i (d_i - mean d)^2 with d = a - b over the last axis (log curves: the scale removed)."""
    d = a - b
    d -= d.mean(axis=-1, keepdims=True)
    return (d**2).sum(axis=-1)


def neighbour_min(values: np.ndarray, metric) -> np.ndarray:
    """Smallest ``metric(point, neighbour)`` over each grid point's 4 neighbours; values (n1, n2, k)."""
    out = np.full(values.shape[:2], np.inf)
    for axis in (0, 1):
        a = np.take(values, np.arange(values.shape[axis] - 1), axis=axis)
        b = np.take(values, np.arange(1, values.shape[axis]), axis=axis)
        lo = [slice(None)] * 2
        hi = [slice(None)] * 2
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        out[tuple(lo)] = np.minimum(out[tuple(lo)], metric(a, b))
        out[tuple(hi)] = np.minimum(out[tuple(hi)], metric(b, a))
    return out


@lru_cache(maxsize=16)
def cached_map(settings: MapSettings) -> IdentifiabilityMap:
    return compute_map(settings)


def map_figure(m: IdentifiabilityMap, path: str | os.PathLike) -> Path:
    """Heat map of log10 delta_chi2 with both regions' boundaries (written atomically)."""
    from ..data.plots import new_figure, save_figure

    s = m.settings
    fig, ax = new_figure(figsize=(7.5, 5.2))
    z = np.log10(np.maximum(m.delta_chi2, 1e-3)).T
    im = ax.pcolormesh(m.radius, m.width, z, shading="nearest", cmap="viridis")
    fig.colorbar(im, ax=ax, label="log10 delta chi2 to the nearest neighbour")
    ax.contourf(m.radius, m.width, m.identifiable.T.astype(float), levels=[-0.5, 0.5], colors="none",
                hatches=["xx"])  # hatched: not identifiable (noise-aware)
    ax.contour(m.radius, m.width, m.identifiable.T.astype(float), levels=[0.5], colors="w", linewidths=2)
    ax.contour(m.radius, m.width, m.identifiable_1990.T.astype(float), levels=[0.5], colors="r",
               linewidths=1.5, linestyles="--")
    ax.plot([], [], "w-", lw=2, label=f"noise-aware: delta chi2 >= {s.chi2_threshold:g} ({100 * s.noise:g} % noise)")
    ax.plot([], [], "r--", label=f"1990 criterion: rms distance >= {s.floor:g}")
    ax.set_xscale("log")
    ax.set_xlabel("radius (A)" + (" (median)" if s.family == "lognormal" else " (mean)"))
    ax.set_ylabel("radius_pd" + (" (sigma of ln R)" if s.family == "lognormal" else " (sigma/mean)"))
    ax.set_title(f"{s.family}: hatched = not identifiable; q {s.q_min:g}-{s.q_max:g} 1/A "
                 f"({len(m.q)} points), phi {s.volume_fraction:g}", fontsize=9)
    leg = ax.legend(fontsize=8, loc="upper center", facecolor="0.3", labelcolor="w")
    leg.get_frame().set_alpha(0.8)
    fig.tight_layout()
    return save_figure(fig, path)


def write_map(m: IdentifiabilityMap, output: str | os.PathLike) -> dict[str, Path]:
    """identifiability.png, identifiability.csv (one row per grid point) and a JSON summary in ``output``."""
    import json
    from dataclasses import asdict

    from ..data.files import ensure_output_dir, write_atomic

    out = ensure_output_dir(output)
    rows = ["radius_A,radius_pd,rms_distance,delta_chi2,identifiable_1990,identifiable"]
    for i, r in enumerate(m.radius):
        for j, w in enumerate(m.width):
            rows.append(f"{r:.6g},{w:.6g},{m.distance[i, j]:.6g},{m.delta_chi2[i, j]:.6g},"
                        f"{int(m.identifiable_1990[i, j])},{int(m.identifiable[i, j])}")
    paths = {"csv": out / "identifiability.csv", "json": out / "identifiability.json"}
    summary = {"settings": asdict(m.settings), "n_q_points": int(len(m.q)), **region_summary(m)}
    write_atomic(paths["csv"], "\n".join(rows) + "\n")
    write_atomic(paths["json"], json.dumps(summary, indent=1))
    paths["png"] = map_figure(m, out / "identifiability.png")
    return paths


def region_summary(m: IdentifiabilityMap) -> dict:
    """Share of the grid identifiable and, per width, the radius range that is."""
    per_width = {}
    for j, w in enumerate(m.width):
        ok = m.radius[m.identifiable[:, j]]
        per_width[f"{w:.3f}"] = [float(ok.min()), float(ok.max())] if len(ok) else None
    return {"fraction_identifiable": float(m.identifiable.mean()),
            "fraction_identifiable_1990": float(m.identifiable_1990.mean()),
            "radius_range_per_width": per_width}


def check_result(inv, family: str | None = None) -> str | None:
    """Warning when an inversion result lies outside the noise-aware identifiable region, else None.

    The map is computed (and cached) for the data's q range inside the range the result describes (a refinement's
    points fitted, else the network's window), the median
    relative dI (1 % without dI, rounded to one significant digit) and the volume fraction (to 0.05).
    A parametric result is looked up by its (radius, radius_pd); a histogram by its Schulz
    equivalent (number-mean radius, number std / mean).
    """
    q = np.asarray(inv.q_data, float)
    fitted = inv.fit.q if inv.fit is not None and len(inv.fit.q) else None
    sel = in_q_range(q, inv.q_range if fitted is None else (float(fitted[0]), float(fitted[-1])))
    if sel.sum() < 3:
        return None
    i = np.asarray(inv.intensity_data, float)[sel]
    noise = 0.01 if inv.di_data is None else float(np.median(np.asarray(inv.di_data, float)[sel] / np.abs(i)))
    noise = float(f"{min(max(noise, 1e-3), 0.5):.0e}")
    fit = inv.fit
    if fit is not None and fit.parametrization in FAMILIES and "radius" in fit.parameters:
        family, radius, width = fit.parametrization, fit.parameters["radius"][0], fit.parameters["radius_pd"][0]
    else:
        family = family or "schulz"
        r, w = inv.radius, inv.number_distribution
        radius = float(inv.mean_radius_number)
        width = float(np.sqrt(max(w @ (r - radius) ** 2, 0.0)) / radius)
    phi = min(max(round(inv.volume_fraction * 20) / 20, 0.0), 0.7)
    settings = MapSettings(q_min=float(f"{q[sel][0]:.3g}"), q_max=float(f"{q[sel][-1]:.3g}"), noise=noise,
                           family=family, volume_fraction=phi, n_radius=30, n_pd=15, pd_min=0.04)
    return cached_map(settings).warning(radius, width)
