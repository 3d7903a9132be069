"""Parametric inversion: the everyday SasView fit, started right.

A parametric head (a network trained like the distribution network, ``--preset parametric``)
reads sasmodels' polydispersity parameters of a single log-normal or Schulz distribution from a
SAXS curve and the volume fraction; a bumps fit of sasmodels ``sphere@hardsphere`` with that
``radius_pd_type`` then starts there.  Parameters keep sasmodels' meanings: Schulz ``radius`` is
the number-mean radius and ``radius_pd`` = sigma/mean; log-normal ``radius`` is the median and
``radius_pd`` the sigma of ln R.  R_eff of S(q) is the number-mean radius (radius_effective_mode=1).
Units: q in 1/A, radii in A.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np
from scipy.special import gammaln

from ..data.curve import Curve
from ..data.validation import (
    check_curve,
    check_volume_fraction,
    drop_unused_bad_points,
    take_points,
    uncertainty_or_default,
    unused_bad_points,
)
from ..errors import InputError
from ..inference.invert import to_model_grid
from ..inference.modelfile import NNModel, load_model
from ..inference.quality import POOR_FIT_CHI2, Training, assess, nnls_scale_background, training_of
from ..inference.quality_flags import of_fit
from ..inference.result import Distribution, Fit, Inversion, Uncertainty
from ..physics import distributions
from ..physics import kernels as physics
from ..physics.grids import RadiusGrid

FAMILIES = tuple(distributions.PARAMETRIC)
SASMODELS_DEFAULT_START = {"radius": 50.0, "radius_pd": 0.1, "scale": 1.0, "background": 0.001}


def shipped_model_name(family: str) -> str:
    """Name of the shipped parametric head for ``family`` (``trained_models/parametric_<family>.h5``)."""
    _check_family(family)
    return f"parametric_{family}"


def _check_family(family: str) -> None:
    if family not in FAMILIES:
        raise InputError(f"unknown parametric family {family!r}; choose {' or '.join(FAMILIES)}", parameter="family")


def radius_moment(family: str, radius: np.ndarray | float, pd: np.ndarray | float, k: int) -> np.ndarray:
    """<R^k> (A^k) of the number distribution with sasmodels parameters (radius, radius_pd)."""
    radius, pd = np.asarray(radius, float), np.asarray(pd, float)
    if family == "lognormal":
        return radius**k * np.exp(0.5 * (k * pd) ** 2)
    z = 1.0 / pd**2 - 1.0  # Schulz: <R^k> = mean^k Gamma(z+1+k) / (Gamma(z+1) (z+1)^k)
    return radius**k * np.exp(gammaln(z + 1 + k) - gammaln(z + 1) - k * np.log(z + 1))


def mean_radii(family: str, radius, pd) -> tuple[np.ndarray, np.ndarray]:
    """(number-mean, volume-mean) radius in A of the continuous distribution."""
    return radius_moment(family, radius, pd, 1), radius_moment(family, radius, pd, 4) / radius_moment(
        family, radius, pd, 3)


def binned(family: str, grid: RadiusGrid, radius, pd) -> np.ndarray:
    """Number probabilities per bin of ``grid`` (rows for array arguments)."""
    cdf = distributions.PARAMETRIC[family][0]
    return distributions.bin_mass(cdf, grid, np.atleast_1d(radius), np.atleast_1d(pd))


def predict_start(q, intensity, dI=None, *, volume_fraction: float, family: str,
                  model: str | NNModel | None = None) -> dict[str, float]:
    """The parametric head's (radius, radius_pd) for one curve (q in 1/A, phi in (0, 0.74))."""
    _check_family(family)
    nn = load_model(model if model is not None else shipped_model_name(family))
    if not nn.parametric:
        raise InputError(f"model {nn.name} predicts distributions, not parameters; give a parametric head "
                         f"(e.g. {shipped_model_name(family)})", parameter="model")
    trained_family = nn.info.get("training_data", {}).get("family")
    if trained_family not in (None, family):
        raise InputError(f"model {nn.name} was trained on {trained_family} distributions, not {family}; "
                         f"use {shipped_model_name(family)}", parameter="family")
    phi = check_volume_fraction(volume_fraction)
    q = np.asarray(q, float)
    intensity = np.asarray(intensity, float)
    q, intensity, di, _ = drop_unused_bad_points(q, intensity, None if dI is None else np.asarray(dI, float),
                                                 nn.q_range)
    check_curve(q, intensity, di)
    values = nn.predict_parameters(to_model_grid(q, intensity, nn), phi)
    return {name: float(v) for name, v in zip(nn.output_names, values, strict=True)}


def fit_sphere_hs(q, intensity, dI, *, volume_fraction: float, family: str, radius: float, radius_pd: float,
                  dq=None, method: str = "lm", scale: float | None = None, background: float | None = None,
                  grid: RadiusGrid | None = None, samples: int = 300, seed: int = 0, model_name: str = "",
                  training: Training | None = None):
    """bumps fit of sasmodels ``sphere@hardsphere`` (``radius_pd_type=family``) from the given start.

    Fitted: radius, radius_pd, scale, background; the volume fraction is fixed.  ``scale`` and
    ``background`` None: set by least squares for the starting curve (the background as the check holds it, then
    fitted within +-max |I|).  dI None: 1 % of I.
    ``dq``: 1-sigma Gaussian q resolution (sasmodels Pinhole1D).  Returns an
    :class:`~sasview_nn_plugin.inference.result.Inversion` with ``fit`` (parametrization = family) and
    ``uncertainty`` parts, whose distributions are binned on ``grid`` (default 9-99 A) and whose mean radii
    come from the continuous distribution.
    Uncertainty draws that put no particles inside ``grid`` are left out of the bands (see
    :func:`_draw_bands`); the result's ``notes`` say how many.  The result is checked as a refinement is
    (``quality``: :func:`~..inference.quality.assess` of the binned distribution over every point, with the fit's
    chi2_red, scale and background, ``poor-fit`` above :data:`~..inference.quality.POOR_FIT_CHI2`); ``training``:
    the domain its flags test against (default: this grid, the points' q range, phi 0-0.5).
    """
    from bumps.fitproblem import FitProblem
    from bumps.fitters import fit
    from sasmodels.bumps_model import Experiment, Model
    from sasmodels.data import Data1D

    from .refine import fit_parameters, fitted_result, posterior_draws

    _check_family(family)
    q = np.asarray(q, float)
    intensity = np.asarray(intensity, float)
    di = uncertainty_or_default(intensity, dI)
    check_curve(q, intensity, di)
    grid = grid or RadiusGrid()
    data = Data1D(x=q, y=intensity, dy=di, dx=None if dq is None else np.asarray(dq, float))
    kernel = physics.kernel_model("sphere@hardsphere")
    model = Model(kernel, radius=radius, radius_pd=radius_pd, radius_pd_type=family, radius_pd_n=80,
                  radius_pd_nsigma=8, volfraction=volume_fraction, radius_effective_mode=1,
                  scale=1.0, background=0.0)
    experiment = Experiment(data=data, model=model)
    s0, b0 = (nnls_scale_background(np.asarray(experiment.theory(), float), intensity, di)
              if scale is None or background is None else (scale, background))
    model.scale.value = s0 if scale is None else scale
    model.background.value = b0 if background is None else background
    top = float(np.max(np.abs(intensity)))
    model.scale.range(0.0, max(1e6, 1e3 * model.scale.value))
    model.background.range(-top, top)
    model.radius.range(1.0, 2000.0)
    model.radius_pd.range(0.005, 1.5 if family == "lognormal" else 0.99)
    problem = FitProblem(experiment)
    result = fit(problem, method=method)
    problem.setp(result.x)
    draws = posterior_draws(problem, result, method, samples, seed)
    labels = problem.labels()
    best = np.asarray(result.x)
    col = {name: labels.index(name) for name in ("radius", "radius_pd")}
    r_draw, pd_draw = draws[:, col["radius"]], draws[:, col["radius_pd"]]
    number = _best_binned(family, grid, model.radius.value, model.radius_pd.value, "fitted")
    number_band, volume_band, draw_note = _draw_bands(family, grid, r_draw, pd_draw, number)
    mn, mv = mean_radii(family, model.radius.value, model.radius_pd.value)
    mn_d, mv_d = mean_radii(family, r_draw, pd_draw)
    start = _start_inversion(family, grid, radius, radius_pd, volume_fraction, Curve.from_arrays(q, intensity, di, dq),
                             model_name or "sasmodels default start")
    part = Fit(method, family, fit_parameters(labels, best, draws), float(problem.chisq()), q,
               np.asarray(experiment.theory(), float), float(model.scale.value), float(model.background.value))
    uncertainty = Uncertainty(number_band, volume_band, float(np.std(mn_d)), float(np.std(mv_d)))
    fitted = Distribution(grid.radius, number, mean_radius_number=float(mn), mean_radius_volume=float(mv))
    training = training or Training((float(q[0]), float(q[-1])), (grid.r_min, grid.r_max), (0.0, 0.5))
    check = functools.partial(_checked, q, intensity, di, grid.radius, number, volume_fraction, training, dq, part)
    return replace(fitted_result(start, fitted, part, uncertainty, (draw_note,)), check=check)


def _checked(q, intensity, di, radius, number, phi, training, dq, part: Fit):
    """The forward-model check of a parametric fit (:func:`fit_sphere_hs`) over every point it fitted."""
    qual = assess(q, intensity, di, radius, number, phi, training=training, q_range=(float(q[0]), float(q[-1])),
                  dq=None if dq is None else np.asarray(dq, float))
    return of_fit(qual, part.chi2_reduced, part.scale, part.background, (), POOR_FIT_CHI2)


BAND_PERCENTILES = (16, 84)
MIN_GRID_MASS = 1e-12  # a distribution with less of its number inside the radius grid has "no mass" there


def _best_binned(family: str, grid: RadiusGrid, radius: float, pd: float, what: str) -> np.ndarray:
    """The ``what`` ("fitted", "starting") distribution binned on ``grid``; InputError if it has no mass there."""
    mass = _grid_mass(family, grid, np.atleast_1d(radius), np.atleast_1d(pd))[0]
    if not mass.sum() > MIN_GRID_MASS:
        mn = float(mean_radii(family, radius, pd)[0])
        raise InputError(f"the {what} {family} distribution (radius {radius:.4g} A, radius_pd {pd:.3g}, number-mean "
                         f"{mn:.4g} A) has no particles inside the radius grid {grid.r_min:g}-{grid.r_max:g} A; "
                         "the data do not determine a size in that range: check the volume fraction and q range",
                         parameter=None)
    return mass / mass.sum()


def _grid_mass(family: str, grid: RadiusGrid, radius: np.ndarray, pd: np.ndarray) -> np.ndarray:
    """Unnormalised number probability per bin of ``grid`` (rows: one per (radius, pd))."""
    cdf = distributions.PARAMETRIC[family][0]
    return np.diff(cdf(grid.edges[None, :], np.asarray(radius, float)[:, None], np.asarray(pd, float)[:, None]),
                   axis=1)


def _draw_bands(family: str, grid: RadiusGrid, radius: np.ndarray, pd: np.ndarray,
                best: np.ndarray) -> tuple[np.ndarray, np.ndarray, str | None]:
    """(number band, volume band, note) from uncertainty draws of (radius, radius_pd).

    The bands are the 16th/84th percentiles per bin of the draws' distributions binned on ``grid``.
    A draw with no mass inside the grid (e.g. a small radius with a narrow width, all below its
    first bin) has no binned distribution: it is left out and the note says how many were.  When
    more than 16 % are left out, the 16th-percentile draw holds no particles in the grid, so the
    lower band is set to 0; when all are, ``best`` (the fitted distribution) stands in as the upper band.
    """
    mass = _grid_mass(family, grid, radius, pd)
    total = mass.sum(axis=1)
    keep = total > MIN_GRID_MASS
    nums = mass[keep] / total[keep, None] if keep.any() else np.asarray(best, float)[None]
    vols = physics.number_to_volume(nums, grid.radius)
    number_band = np.percentile(nums, BAND_PERCENTILES, axis=0)
    volume_band = np.percentile(vols, BAND_PERCENTILES, axis=0)
    n_out, n = int(np.sum(~keep)), len(keep)
    if n_out == 0:
        return number_band, volume_band, None
    note = (f"{n_out} of {n} uncertainty draws of (radius, radius_pd) put no particles inside the radius grid "
            f"{grid.r_min:g}-{grid.r_max:g} A and were left out of the band")
    if n_out > BAND_PERCENTILES[0] / 100 * n:
        number_band[0] = 0.0
        volume_band[0] = 0.0
        note += (f"; as more than {BAND_PERCENTILES[0]} % were, the lower band is set to 0 (the size is poorly "
                 "determined at the grid's edge)")
    return number_band, volume_band, note


def _start_inversion(family, grid, radius, pd, phi, curve: Curve, model_name) -> Inversion:
    """The starting point as an Inversion (its distribution binned on ``grid``, its mean radii the continuous ones)."""
    number = _best_binned(family, grid, radius, pd, "starting")
    mn, mv = mean_radii(family, radius, pd)
    dist = Distribution(grid.radius, number, mean_radius_number=float(mn), mean_radius_volume=float(mv))
    return Inversion(dist, float(phi), model_name, curve, (float(curve.q[0]), float(curve.q[-1])))


def invert_parametric(q, intensity, dI=None, *, volume_fraction: float, family: str,
                      model: str | NNModel | None = None, method: str = "lm", dq=None):
    """Parametric head, then the started bumps fit (see :func:`fit_sphere_hs`); returns its Inversion.

    Points outside the head's q range with intensity <= 0 or NaN/inf are left out of both (the
    result's ``notes`` say so); such points inside it are refused.
    """
    _check_family(family)
    nn = load_model(model if model is not None else shipped_model_name(family))
    q, intensity = np.asarray(q, float), np.asarray(intensity, float)
    keep, note = unused_bad_points(q, intensity, nn.q_range)
    if keep is not None:
        q, intensity, dI, dq = q[keep], intensity[keep], take_points(dI, keep), take_points(dq, keep)
    start = predict_start(q, intensity, dI, volume_fraction=volume_fraction, family=family, model=nn)
    grid = RadiusGrid(float(nn.radius[0]), float(nn.radius[-1]), len(nn.radius))
    fit = fit_sphere_hs(q, intensity, dI, volume_fraction=volume_fraction, family=family, dq=dq, method=method,
                        grid=grid, model_name=nn.name, training=training_of(nn), **start)
    return replace(fit, notes=(note, *fit.notes)) if note else fit
