"""The bumps Fitness of a refinement: sasmodels ``sphere@hardsphere`` of a parametrised number distribution,
scale, flat background, the volume fraction within its prior and, where dq is given, the resolution's width
factor ``dq_scale`` within its prior, with a batched form for fast fits.

The model curve is :func:`physics.intensity` on the sasmodels ``sphere`` form factors (computed in numpy by
:func:`~..physics.scattering.sphere_f2`, equal to sasmodels' kernel to 2e-9; the curve equals
``sphere@hardsphere`` with an array distribution to 1e-10), smeared with :mod:`..physics.smearing`'s pinhole
weights (sasmodels' ``Pinhole1D`` in numpy) for 1-sigma widths ``dq_scale * dq`` when the data carry dq
(:class:`.resolution.ScaledPinhole`).  The residuals
are the data's, then the distribution's prior residuals, then the volume fraction's, (phi - phi0) / sigma (a
Gaussian prior), then the resolution factor's, ln(dq_scale) / :data:`DQ_SCALE_SIGMA` (a log-normal prior
around 1); LM, the Laplace covariance and DREAM all see them.

:meth:`SphereHSFitness.batch_residuals` evaluates many parameter vectors in one pass (one matrix product
for the distributions, one S(q) array): the Jacobian, the uncertainty draws and DREAM's population use it.
"""

from __future__ import annotations

import math

import numpy as np
from bumps.fitproblem import Fitness
from bumps.parameter import Parameter

from ..data.validation import relative_sigma
from ..inference.quality_model import background_may_be_negative
from ..physics import kernels as physics
from ..physics.scattering import power_law, sphere_f2
from ..physics.smearing import slit_resolution
from .resolution import ScaledPinhole

PHI_FIT_RANGE = (0.005, physics.PHI_MAX - 0.01)  # bounds of a fitted volume fraction
# The given dq is a model of the instrument (collimation, wavelength spread, detector pixels) whose width is
# commonly off by 10-30 %: the true 1-sigma width is dq_scale * dq, ln(dq_scale) ~ N(0, DQ_SCALE_SIGMA^2).
DQ_SCALE_SIGMA = 0.25
DQ_SCALE_RANGE = (0.4, 2.5)  # bounds of a fitted dq_scale: +-3.7 sigma of its prior
# A fitted dq_scale within this factor of 1, either way (1/1.1-1.1: |ln dq_scale| < ln 1.1), is held at 1: within a
# given dq's own accuracy, what a free width takes up is the distribution's (a narrow peak the smooth histogram
# correction cannot narrow further: docs/refine.md), not dq's.
DQ_SCALE_TOLERANCE = math.log(1.1)
# A low-q power law beside the spheres (aggregates, an upturn): level * (q / q_min)^-exponent, the level (>= 0) its
# intensity at the lowest q fitted (a well-conditioned amplitude: sasmodels' scale, level q_min^p, spans decades as
# p moves), the exponent within Irena's and SasView's usual range.
POWER_LAW_EXPONENTS = (1.0, 6.0)


def gaussian_prior(x, centre: float, sigma: float) -> np.ndarray:
    """(m, 1) prior residuals (x - centre) / sigma of m values; (m, 0) when sigma is 0 (held) or inf (flat)."""
    x = np.atleast_1d(np.asarray(x, float))
    if not 0 < sigma < math.inf:
        return np.empty((len(x), 0))
    return ((x - centre) / sigma)[:, None]


class SphereHSFitness(Fitness):
    """bumps Fitness: sphere@hardsphere with a parametrised number distribution, scale, background, phi.

    The theory is computed once per parameter set: cached until bumps calls ``update()`` after
    changing parameters (``FitProblem.setp``), like sasmodels' ``bumps_model.Experiment``.  Set
    parameter values directly only with an ``update()`` after.  bumps' defaults stand for the rest
    of the protocol (``save``/``plot`` do nothing; ``resynth_data`` is not supported).

    ``phi_sigma``: the 1-sigma of the volume fraction's Gaussian prior around ``phi`` (0: held fixed;
    ``math.inf``: fitted without a prior).  ``fit_phi=True`` with ``phi_sigma=0`` is the old flat fit.
    ``dq_scale_sigma``: the 1-sigma of ln(dq_scale) (a log-normal prior around 1; 0: held at 1; inf: fitted
    within :data:`DQ_SCALE_RANGE` without a prior); only with ``dq``.  ``power_law``: None, or the start
    (scale A, exponent p) of a low-q power law A q^-p beside the spheres (smeared as they are), fitted as
    ``power_law_level`` (its intensity at the lowest q, >= 0) and ``power_law_exponent`` (:data:`POWER_LAW_EXPONENTS`).
    """

    # bumps 1.x's Fitness is a field-less dataclass: its generated __eq__ makes every instance of a
    # subclass equal to every other, and unhashable.  A fitness is an identity object.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __init__(self, q, intensity, di, dist, phi: float, fit_phi: bool = False, dq=None,
                 scale0: float = 1.0, background0: float = 0.0, phi_sigma: float = 0.0,
                 dq_scale_sigma: float = DQ_SCALE_SIGMA, power_law: tuple[float, float] | None = None):
        self.q, self.data, self.di = q, intensity, di
        self.dist = dist
        self.dq_scale_sigma = float(dq_scale_sigma) if dq is not None and np.ndim(dq) else 0.0
        self.dq_scale = Parameter(1.0, name="dq_scale")
        if self.dq_scale_sigma > 0:
            self.dq_scale.range(*DQ_SCALE_RANGE)
        self.slit = None   # slit smearing: a slit length (1/A) in place of dq, the weights of physics.smearing
        if dq is not None and np.ndim(dq) == 0:
            self.dq_scale_sigma, self.resolution = 0.0, None
            q_calc, self.slit = slit_resolution(np.asarray(q, float), float(dq))
        elif dq is not None:
            self.resolution = ScaledPinhole(q, dq, DQ_SCALE_RANGE if self.fits_dq_scale else (1.0, 1.0))
            q_calc = self.resolution.q_calc
        else:
            q_calc, self.resolution = q, None
        f2, volume = sphere_f2(q_calc, dist.radius)  # sasmodels' sphere <F^2> in numpy, cached
        self.basis = physics.SphereBasis(q=np.asarray(q_calc, float), radius=dist.radius, f2=f2, volume=volume)
        top = float(np.max(np.abs(intensity)))
        self.scale = Parameter(scale0, name="scale").range(0.0, max(scale0, 1e-30) * 1e3)
        # free in sign, as SasView's, where the data may be over-subtracted (the check's rule), else >= 0
        signed = background_may_be_negative(intensity, relative_sigma(intensity) if di is None else di)
        self.background = Parameter(background0, name="background").range(-top if signed else 0.0, top)
        self.phi = Parameter(phi, name="volume_fraction")
        self.phi0 = float(phi)
        self.phi_sigma = math.inf if fit_phi and not phi_sigma else float(phi_sigma)
        if self.phi_sigma > 0:
            self.phi.range(*PHI_FIT_RANGE)
        self._cache: dict[str, np.ndarray] = {}
        self.q_ref = float(q[0])
        self.power_law = None if power_law is None else {
            "power_law_level": Parameter(max(power_law[0] * self.q_ref ** -power_law[1], 0.0),
                                         name="power_law_level").range(0.0, 10 * top),
            "power_law_exponent": Parameter(min(max(power_law[1], POWER_LAW_EXPONENTS[0]), POWER_LAW_EXPONENTS[1]),
                                            name="power_law_exponent").range(*POWER_LAW_EXPONENTS)}

    def power_law_scale(self, level=None, exponent=None):
        """sasmodels' ``power_law`` scale A (I = A q^-p) of a level and exponent (default: the current ones)."""
        pl = self.power_law
        level = pl["power_law_level"].value if level is None else level
        exponent = pl["power_law_exponent"].value if exponent is None else exponent
        return level * self.q_ref ** np.asarray(exponent, float)

    def _upturn(self, level, exponent, dq_scale) -> np.ndarray:
        """(m, n_q) or (n_q,) smeared power laws level (q / q_ref)^-exponent."""
        level, exponent = np.asarray(level, float), np.asarray(exponent, float)
        i = level[..., None] * power_law(self.basis.q / self.q_ref, exponent[..., None])
        return self._smear(i, dq_scale)

    def _smear(self, i: np.ndarray, dq_scale) -> np.ndarray:
        """Curves on q_calc smeared to the data's q: pinhole at width dq_scale * dq, or the slit; else as they are."""
        if self.slit is not None:
            return i @ self.slit
        return i if self.resolution is None else self.resolution.apply(i, dq_scale)

    @property
    def fits_phi(self) -> bool:
        return self.phi_sigma > 0

    @property
    def fits_dq_scale(self) -> bool:
        return self.dq_scale_sigma > 0

    def hold_dq_scale(self) -> None:
        """Hold the resolution factor at 1 (dq as given): no longer fitted, no prior residual."""
        self.dq_scale.value, self.dq_scale.fixed, self.dq_scale_sigma = 1.0, True, 0.0
        self.update()

    def parameters(self) -> dict:
        extra = {} if self.resolution is None else {"dq_scale": self.dq_scale}
        return {"scale": self.scale, "background": self.background, "volume_fraction": self.phi, **extra,
                **(self.power_law or {}), **self.dist.parameters()}

    def update(self) -> None:
        """Parameters changed: the cached theory is stale."""
        self._cache.clear()

    def numpoints(self) -> int:
        return len(self.q)

    def shape(self, weights: np.ndarray | None = None) -> np.ndarray:
        """Model curve at scale 1, background 0 (smeared if the data have dq); not cached."""
        w = self.dist.weights() if weights is None else weights
        return self._smear(physics.intensity(self.basis, w, self.phi.value), self.dq_scale.value)

    def theory(self) -> np.ndarray:
        if "theory" not in self._cache:
            theory = self.scale.value * self.shape() + self.background.value
            if self.power_law is not None:
                pl = self.power_law
                theory = theory + self._upturn(pl["power_law_level"].value, pl["power_law_exponent"].value,
                                               self.dq_scale.value)
            self._cache["theory"] = theory
        return self._cache["theory"]

    def phi_prior(self, phi) -> np.ndarray:
        """The volume fraction's prior residual(s): (phi - phi0) / sigma; none when fixed or flat."""
        return gaussian_prior(phi, self.phi0, self.phi_sigma)

    def dq_scale_prior(self, f) -> np.ndarray:
        """The resolution factor's prior residual(s): ln(f) / sigma; none when held or flat."""
        return gaussian_prior(np.log(np.asarray(f, float)), 0.0, self.dq_scale_sigma)

    def residuals(self) -> np.ndarray:
        data = (self.theory() - self.data) / self.di
        return np.concatenate([data, self.dist.prior_residuals(), self.phi_prior(self.phi.value)[0],
                               self.dq_scale_prior(self.dq_scale.value)[0]])

    def nllf(self) -> float:
        return 0.5 * float(np.sum(self.residuals() ** 2))

    def chi2_reduced(self) -> float:
        r = (self.theory() - self.data) / self.di
        n_free = sum(1 for p in self.parameters().values() if not p.fixed)
        return float(np.sum(r**2) / max(1, len(r) - n_free))

    # -- batched evaluation -----------------------------------------------------------------------

    def values(self, labels, points) -> dict:
        """Parameter name -> (m,) values: the columns of ``points`` (m, len(labels)) named by ``labels``,
        the current value for every other parameter."""
        points = np.atleast_2d(np.asarray(points, float))
        out = {name: np.full(len(points), float(p.value)) for name, p in self.parameters().items()}
        for j, name in enumerate(labels):
            out[name] = points[:, j]
        return out

    def batch_theory(self, values: dict) -> tuple[np.ndarray, np.ndarray]:
        """((m, n_q) model curves, (m, n_r) number distributions) for ``values`` (see :meth:`values`)."""
        w = self.dist.batch_weights(values)
        i = self._smear(physics.intensity(self.basis, w, values["volume_fraction"]), values.get("dq_scale", 1.0))
        out = values["scale"][:, None] * i + values["background"][:, None]
        if self.power_law is not None:
            out = out + self._upturn(values["power_law_level"], values["power_law_exponent"],
                                     values.get("dq_scale", np.ones(len(out))))
        return out, w

    def batch_residuals(self, labels, points) -> np.ndarray:
        """(m, n_residuals) residuals (data, distribution prior, phi prior, dq_scale prior) of the rows of
        ``points``."""
        values = self.values(labels, points)
        theory, _ = self.batch_theory(values)
        dq_prior = self.dq_scale_prior(values.get("dq_scale", np.ones(len(theory))))
        return np.concatenate([(theory - self.data) / self.di, self.dist.batch_prior(values),
                               self.phi_prior(values["volume_fraction"]), dq_prior], axis=-1)

    def batch_nllf(self, labels, points) -> np.ndarray:
        r = self.batch_residuals(labels, points)
        return 0.5 * np.einsum("ij,ij->i", r, r)
