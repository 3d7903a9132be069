r"""The physics check of a result: its sasmodels curve against the data, and what the window can tell.

numpy only (plus :mod:`..physics.kernels`' numpy S(q)); nothing here calls sasmodels.  Units: q in 1/A,
radius in A, SLD in 1e-6/A^2, intensity in 1/cm (any constant factor of the data is absorbed by the
fitted scale).

:func:`assess` fits a scale and a flat background (both >= 0) of the result's model curve to the data over
the q range used and returns a :class:`Quality`: reduced chi^2 (when dI is given), a runs statistic of the
residuals, the observable radius range of the window, and ``flags``, short stable strings, empty when the
result can be trusted.  Each flag's threshold is a module constant (docs/domain.md):

The misfit is the block-smoothed relative residual: (data - fit) summed over each of :data:`SHAPE_BLOCKS`
blocks of the points used, over the data summed there (noise averages out; a wrong size does not).

- ``poor-fit``: dI given, chi2_red > :data:`POOR_FIT_CHI2` and misfit rms > :data:`MISFIT_MIN_REL` (both
  significant for the noise and larger than the network's own error on its kind of curve).
- ``structured-residuals``: dI absent, the residual signs run in long stretches (runs-test z below
  -:data:`RUNS_Z`) and misfit rms > :data:`MISFIT_MIN_REL`.
- ``mass-at-small-radius-edge`` / ``mass-at-large-radius-edge``: more than :data:`EDGE_MASS` of the
  number (small end) or volume (large end) distribution in the :data:`EDGE_BINS` outermost bins.
- ``phi-outside-training``: the volume fraction outside the training range (0.1-0.5 for the shipped model).
- ``q-window-too-narrow``: the points used span a smaller q_max/q_min than the model's window, or fewer
  than :data:`MIN_POINTS` data points lie in it (the network would see interpolation, not data).
- ``shape-outside-training``: the misfit exceeds :data:`SHAPE_MAX_REL` in some block (the network's curve
  misses the data by more than it ever does on the sphere@hardsphere curves it was trained on: measured
  <= 0.13 unsmeared, <= 0.19 smeared dQ/Q 3 %).  The network's standardised inputs (the model file's
  input_shift / input_scale) do not tell: core-shell, cylinder and 10x-sphere curves lie well inside the
  training features' spread (max |z| 2.5, 0.45, 0.65; in-domain curves up to 4.5).
"""

from __future__ import annotations

import functools
import math
import threading
from dataclasses import dataclass

import numpy as np

from ..physics.kernels import DEFAULT_SLD, DEFAULT_SLD_SOLVENT, hardsphere_sq
from .resolution import smearing

POOR_FIT_CHI2 = 3.0          # chi2_red above this (dI given) -> "poor-fit"
RUNS_Z = 4.0                 # runs-test z below -RUNS_Z: residual signs cluster (not noise)
MISFIT_MIN_REL = 0.04        # ... and block-smoothed relative residual rms above 4 % (beyond the network's own error)
SHAPE_MAX_REL = 0.25         # smoothed relative residual above 25 % in a block -> "shape-outside-training"
SHAPE_BLOCKS = 25            # blocks the q range used is cut into for the smoothed residual
EDGE_BINS = 2                # outermost radius bins counted as "the edge"
EDGE_MASS = 0.02             # probability above this there -> "mass-at-...-radius-edge"
MIN_POINTS = 20              # fewer data points in the q range used -> "q-window-too-narrow"
OBS_X = math.pi              # observable radii: pi/q_max .. pi/q_min (McSAS' default size range)
OBS_FRACTION = 0.05          # noise rule: 5 % of the volume at R must change the best fit ...
OBS_CHI2 = 9.0               # ... by chi^2 >= 9 (3 sigma) for R to be observable
OBS_RADII = 32               # log-spaced trial radii for the noise rule
OBS_POINTS = 200             # at most ~this many data points for the noise rule

FLAGS = ("poor-fit", "structured-residuals", "mass-at-small-radius-edge", "mass-at-large-radius-edge",
         "phi-outside-training", "q-window-too-narrow", "shape-outside-training")


@dataclass(frozen=True, eq=False)
class Quality:
    """How far a result can be trusted: the forward-model check against the data (see the module docstring)."""

    chi2_reduced: float | None              # over the points used, scale and background fitted; None without dI
    scale: float                            # fitted scale of the model curve (model in 1/cm at scale 1)
    background: float                       # fitted flat background, data units
    observable_radius: tuple[float, float]  # A: the smallest and largest radius the window constrains
    flags: tuple[str, ...]                  # short stable strings (FLAGS); empty: trusted
    residual_runs_z: float                  # runs-test z of the residual signs (about N(0,1) for noise)
    residual_rms: float                     # rms of the block-smoothed relative residual (data - fit) / data
    shape_max_rel: float                    # its largest block (absolute value)
    n_points: int                           # data points used

    @property
    def trusted(self) -> bool:
        return not self.flags

    def to_dict(self) -> dict:
        return {"chi2_reduced": self.chi2_reduced, "scale": self.scale, "background": self.background,
                "observable_radius": list(self.observable_radius), "flags": list(self.flags),
                "residual_runs_z": self.residual_runs_z, "residual_rms": self.residual_rms,
                "shape_max_rel": self.shape_max_rel, "n_points": self.n_points}


@dataclass(frozen=True, eq=False)
class Training:
    """The domain a network was trained on: q window (1/A), radius grid (A), volume fractions, input stats."""

    q_range: tuple[float, float] = (0.04, 0.105)
    radius_range: tuple[float, float] = (9.0, 99.0)
    phi_range: tuple[float, float] = (0.1, 0.5)

    @classmethod
    def of(cls, model) -> Training:
        """The training domain recorded in a loaded model (grids, ``info['training_data']`` phi range)."""
        td = (model.info or {}).get("training_data", {})
        phi = (float(td.get("phi_min", 0.1)), float(td.get("phi_max", 0.5)))
        return cls(tuple(model.q_range), (float(model.radius[0]), float(model.radius[-1])), phi)


@functools.lru_cache(maxsize=16)
def training_of(model) -> Training:
    """:meth:`Training.of` a loaded model, once per model object (models compare and hash by identity)."""
    return Training.of(model)


# -- the forward model in numpy ---------------------------------------------------------------------

_CACHE: dict = {}
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 16


def sphere_f2(q: np.ndarray, radius: np.ndarray, sld: float = DEFAULT_SLD,
              sld_solvent: float = DEFAULT_SLD_SOLVENT) -> tuple[np.ndarray, np.ndarray]:
    """(F2 (n_r, n_q) in 1/cm * A^3 per particle, V (n_r,) in A^3): sasmodels ``sphere``'s <F^2>, analytic.

    F2 = 1e-4 (drho V 3 (sin x - x cos x)/x^3)^2 with x = q R (Taylor series below x = 0.01).  Cached
    (read-only arrays) per (q, radius, SLDs): a run's curves usually share grids.
    """
    q = np.ascontiguousarray(q, dtype=float)
    radius = np.ascontiguousarray(radius, dtype=float)
    key = (q.tobytes(), radius.tobytes(), float(sld), float(sld_solvent))
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    x = radius[:, None] * q
    with np.errstate(divide="ignore", invalid="ignore"):
        j = 3.0 * (np.sin(x) - x * np.cos(x)) / x**3
    small = x < 0.01
    if small.any():
        x2 = x[small] ** 2
        j[small] = 1.0 + x2 * (-0.1 + x2 / 280.0)
    volume = 4.0 / 3.0 * math.pi * radius**3
    f2 = 1e-4 * ((sld - sld_solvent) * volume[:, None] * j) ** 2
    f2.setflags(write=False)
    volume.setflags(write=False)
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = (f2, volume)
    return f2, volume


def model_intensity(q, radius, number, volume_fraction: float, sld: float = DEFAULT_SLD,
                    sld_solvent: float = DEFAULT_SLD_SOLVENT) -> np.ndarray:
    """I(q) in 1/cm of sasmodels ``sphere@hardsphere`` at scale 1, background 0, in numpy.

    ``number``: number weights (any positive sum) at ``radius`` (A); decoupling (structure_factor_mode 0),
    R_eff = the number-mean radius (radius_effective_mode 1): I = phi <F^2> / <V> * S_PY(q; R_eff, phi).
    """
    q = np.asarray(q, dtype=float)
    radius = np.asarray(radius, dtype=float)
    w = np.asarray(number, dtype=float)
    f2, volume = sphere_f2(q, radius, sld, sld_solvent)
    r_eff = float(w @ radius) / float(w.sum())
    return (float(volume_fraction) / float(w @ volume)) * (w @ f2) * structure_factor(q, r_eff, volume_fraction)


def structure_factor(q: np.ndarray, radius_effective: float, volume_fraction: float) -> np.ndarray:
    """Percus-Yevick S(q) for one R_eff (A) and phi: :func:`..physics.kernels.hardsphere_sq`'s formula for
    X = 2 q R_eff >= 0.05 in a few scalar-coefficient array passes (~10x faster for one curve; tested equal
    to 1e-12); smaller X goes to hardsphere_sq (its Taylor branch)."""
    r, phi = float(radius_effective), float(volume_fraction)
    x = (2.0 * abs(r)) * q
    if not (x[0] >= 0.05 and phi >= 0):
        return hardsphere_sq(q, r, phi)
    d = 1.0 / (1.0 - phi) ** 2
    a = ((1.0 + 2.0 * phi) * d) ** 2
    b = -6.0 * phi * ((1.0 + 0.5 * phi) * d) ** 2
    g = 0.5 * phi * a
    u = 1.0 / x
    u2 = u * u
    t = (24.0 * g) * u2
    ff = np.sin(x) * u * ((a + 2.0 * b + 4.0 * g) - t)
    ff += np.cos(x) * (u2 * ((2.0 * b + 12.0 * g) - t) - (a + b + g))
    ff += u2 * (t - 2.0 * b)
    return 1.0 / (1.0 + (24.0 * phi) * u2 * ff)


def nnls_scale_background(shape: np.ndarray, data: np.ndarray, sigma: np.ndarray) -> tuple[float, float]:
    """Non-negative (scale, background) minimising sum(((scale * shape + background - data) / sigma)^2).

    Closed form for two unknowns (the unconstrained optimum, else the best of the two edges), no scipy.
    """
    w = 1.0 / sigma**2
    sw, sm, sd = w.sum(), w @ shape, w @ data
    smm, smd = (w * shape) @ shape, (w * shape) @ data
    det = smm * sw - sm * sm
    if det > 0:
        a = (smd * sw - sm * sd) / det
        b = (smm * sd - sm * smd) / det
        if a >= 0 and b >= 0:
            return float(a), float(b)
    cands = [(max(smd / smm, 0.0) if smm > 0 else 0.0, 0.0), (0.0, max(sd / sw, 0.0))]

    def cost(p):
        r = (p[0] * shape + p[1] - data) / sigma
        return r @ r
    a, b = min(cands, key=cost)
    return float(a), float(b)


def smeared_intensity(q, dq, radius, number, volume_fraction: float) -> np.ndarray:
    """:func:`model_intensity` smeared with pinhole resolution dq (1/A per point; None: unsmeared)."""
    if dq is None:
        return model_intensity(q, radius, number, volume_fraction)
    x, w = smearing(q, dq)
    return w @ model_intensity(x, radius, number, volume_fraction)


# -- statistics ---------------------------------------------------------------------------------------

def runs_z(residual: np.ndarray) -> float:
    """Wald-Wolfowitz runs-test z of the residuals' signs: ~N(0, 1) for independent noise, very negative
    when the residuals come in long same-sign stretches (a systematic misfit)."""
    pos = residual > 0
    n = len(pos)
    n1 = int(pos.sum())
    n2 = n - n1
    if n1 == 0 or n2 == 0:
        return -math.sqrt(n)  # one run: as structured as it gets
    runs = 1 + int(np.count_nonzero(pos[1:] != pos[:-1]))
    mu = 2.0 * n1 * n2 / n + 1.0
    var = (mu - 1.0) * (mu - 2.0) / (n - 1.0)
    return float((runs - mu) / math.sqrt(var)) if var > 0 else 0.0


def block_means(x: np.ndarray, blocks: int) -> np.ndarray:
    """Means of ``x`` over ``blocks`` contiguous, nearly equal blocks (fewer when x is short)."""
    k = max(1, min(blocks, len(x)))
    edges = np.linspace(0, len(x), k + 1).astype(int)
    return np.add.reduceat(x, edges[:-1]) / np.diff(edges)


def observable_radius(q: np.ndarray, di: np.ndarray | None = None, model_curve: np.ndarray | None = None,
                      scale: float = 1.0, volume_fraction: float = 0.0) -> tuple[float, float]:
    """(r_lo, r_hi) in A: the radii the window constrains.

    Window rule (always; McSAS' default size range): R in [pi / q_max, pi / q_min]: below, the whole window
    is Guinier (q R < pi), whose curvature trades against scale and background; above, it is all Porod
    (I ~ q^-4, the same for every large R).
    Noise rule (with dI, the fitted model curve and scale; the McSAS observability limit made a test):
    R is observable if :data:`OBS_FRACTION` of the sample's volume as spheres of radius R (the fitted
    scale, S = 1) would raise chi^2 by >= :data:`OBS_CHI2` after refitting scale and background.  The
    range is the window rule's, narrowed to the observable radii.
    """
    lo, hi = OBS_X / q[-1], OBS_X / q[0]
    if di is None or model_curve is None or not volume_fraction > 0:
        return float(lo), float(hi)
    trial = np.geomspace(lo, hi, OBS_RADII)
    k = max(1, len(q) // OBS_POINTS)  # every k-th point (chi^2 times k): the rule needs no finer grid
    q, di, model_curve = q[::k], di[::k], model_curve[::k]
    f2, volume = sphere_f2(q, trial)
    extra = (OBS_FRACTION * volume_fraction * scale) * f2 / volume[:, None]   # (n_R, n_q), 1/cm
    w = k / di**2
    basis = np.stack([model_curve, np.ones_like(model_curve)])            # project out scale and background
    g = (basis * w) @ basis.T
    proj = np.linalg.solve(g, (basis * w) @ extra.T)                       # (2, n_R)
    rest = extra - proj.T @ basis
    ok = (rest**2 * w).sum(axis=1) >= OBS_CHI2
    if not ok.any():
        return float("nan"), float("nan")
    return float(trial[ok][0]), float(trial[ok][-1])


# -- the check ----------------------------------------------------------------------------------------

def _training(training) -> Training:
    if isinstance(training, Training):
        return training
    from .modelfile import load_model  # cached by load_model; only when no domain is given

    return Training.of(load_model(training))


def assess(q, intensity, di, radius, number, volume_fraction: float, *, training=None,
           q_range: tuple[float, float] | None = None, dq=None) -> Quality:
    """Check a result (number weights over ``radius``, A) against the data it came from.

    q in 1/A (ascending), intensity in any units, di None or per point (same units).  ``training``: a
    :class:`Training`, a loaded NNModel or a model name/path (None: the shipped default), whose domain the
    flags test against.  ``q_range`` (1/A): the data range used (default: the training window).  The model
    curve is :func:`model_intensity` with scale and flat background fitted (non-negative least squares,
    weights 1/dI^2, or 1/I^2 without dI) over the data points inside ``q_range``, smeared with ``dq`` (1/A).
    """
    dom = _training(training)
    q = np.asarray(q, dtype=float)
    intensity = np.asarray(intensity, dtype=float)
    lo, hi = dom.q_range if q_range is None else q_range
    if q[0] >= lo * (1 - 1e-9) and q[-1] <= hi * (1 + 1e-9):
        sel = slice(None)
    else:
        sel = (q >= lo * (1 - 1e-9)) & (q <= hi * (1 + 1e-9))
    qu, iu = q[sel], intensity[sel]
    du = None if di is None else np.asarray(di, dtype=float)[sel]
    dqu = None if dq is None else np.asarray(dq, dtype=float)[sel]
    n = len(qu)
    flags = []
    radius = np.asarray(radius, dtype=float)
    number = np.asarray(number, dtype=float)
    phi = float(volume_fraction)
    if n < 3:
        return Quality(None, math.nan, math.nan, (math.nan, math.nan), ("q-window-too-narrow",),
                       math.nan, math.nan, math.nan, n)
    m = smeared_intensity(qu, dqu, radius, number, phi)
    sigma = iu if du is None else du
    scale, bkg = nnls_scale_background(m, iu, sigma)
    fit = scale * m + bkg
    z = (iu - fit) / sigma
    chi2 = None if du is None else float(z @ z) / max(n - 2, 1)
    rz = runs_z(z)
    smooth = block_means(iu - fit, SHAPE_BLOCKS) / block_means(iu, SHAPE_BLOCKS)  # local relative misfit
    shape_max = float(np.abs(smooth).max())
    misfit = math.sqrt(smooth @ smooth / len(smooth))
    if chi2 is not None and chi2 > POOR_FIT_CHI2 and misfit > MISFIT_MIN_REL:
        flags.append("poor-fit")
    if du is None and rz < -RUNS_Z and misfit > MISFIT_MIN_REL:
        flags.append("structured-residuals")
    w = number / number.sum()
    vol = w * radius**3
    vol /= vol.sum()
    if w[:EDGE_BINS].sum() > EDGE_MASS:
        flags.append("mass-at-small-radius-edge")
    if vol[-EDGE_BINS:].sum() > EDGE_MASS:
        flags.append("mass-at-large-radius-edge")
    p_lo, p_hi = dom.phi_range
    if not p_lo - 1e-9 <= phi <= p_hi + 1e-9:
        flags.append("phi-outside-training")
    covered = min(q[-1], hi) / max(q[0], lo)  # the window the data span (the network interpolates inside it)
    if n < MIN_POINTS or covered < (dom.q_range[1] / dom.q_range[0]) * (1 - 1e-6):
        flags.append("q-window-too-narrow")
    if shape_max > SHAPE_MAX_REL:
        flags.append("shape-outside-training")
    level = scale if scale > 0 else float(np.median(iu / m))  # a flat fit: the data's level sets the noise rule
    obs = observable_radius(qu, du, m if du is not None else None, level, phi)
    return Quality(chi2, scale, bkg, obs, tuple(flags), rz, misfit, shape_max, n)
