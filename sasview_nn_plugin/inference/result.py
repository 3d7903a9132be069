"""Result types: plain frozen dataclasses, no behaviour beyond derived values and the JSON record.

An :class:`Inversion` holds a :class:`Distribution`, the volume fraction it was computed with (an input),
the data used (its :class:`~..data.curve.Curve`) and the model's q range, and optional parts: ``fit``
(:class:`Fit`, a bumps fit started from the network), ``uncertainty`` (:class:`Uncertainty`) and ``quality``
(the forward-model check, computed on first use).  A part that was not computed is None, never a
NaN-filled default; code that needs it branches on ``part is not None``.
The model curve of a result is :func:`sasview_nn_plugin.fitting.curves.model_curve` (numpy: the check's model,
smeared as the data are).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..data.curve import Curve
from ..errors import InputError
from ..physics.kernels import number_to_volume


@dataclass(frozen=True, eq=False)
class Distribution:
    """A size distribution over radius bins: number probabilities per bin (summing to 1).

    ``volume`` and the mean radii are derived from ``number`` unless given: a caller that has them
    already passes them (the network's moments; a parametric fit's means of the continuous distribution).
    """

    radius: np.ndarray                        # bin centres, A
    number: np.ndarray                        # number probability per bin
    volume: np.ndarray | None = None          # volume probability per bin (default: from number)
    mean_radius_number: float | None = None   # A (default: number @ radius)
    mean_radius_volume: float | None = None   # A (default: volume @ radius)

    def __post_init__(self):
        if self.volume is None:
            object.__setattr__(self, "volume", number_to_volume(self.number, self.radius))
        if self.mean_radius_number is None:
            object.__setattr__(self, "mean_radius_number", float(self.number @ self.radius))
        if self.mean_radius_volume is None:
            object.__setattr__(self, "mean_radius_volume", float(self.volume @ self.radius))

    def to_dict(self) -> dict:
        return {"number_distribution": self.number.tolist(), "mean_radius_number": self.mean_radius_number,
                "mean_radius_volume": self.mean_radius_volume}


@dataclass(frozen=True, eq=False)
class Fit:
    """A bumps fit of sasmodels ``sphere@hardsphere`` to the data, started from ``start``."""

    method: str                     # bumps fitter id: "lm", "dream", ...
    parametrization: str            # "histogram", "schulz3", or a parametric family ("lognormal", "schulz")
    parameters: dict                # name -> (best value, 1-sigma spread of the uncertainty draws)
    chi2_reduced: float
    q: np.ndarray                   # the points fitted (1/A)
    intensity: np.ndarray           # the fitted model curve there (smeared when the data have dq)
    scale: float
    background: float
    start: Distribution | None = None      # where the fit started (the network's distribution)
    volume_fraction: float | None = None   # fitted; None: held at the Inversion's volume_fraction_used
    volume_fraction_prior_sigma: float | None = None  # 1-sigma of the fitted phi's Gaussian prior (inf: none)
    retried: tuple[str, ...] = ()          # other starts tried because the first fit ended poor (chi2_red > 3)
    dq_scale: float | None = None          # resolution factor (dQ = dq_scale * dq given): fitted, or 1 where the BIC
    #                                        rule held it (not in ``parameters``); None: no dq, or held by the caller
    dq_scale_prior_sigma: float | None = None  # 1-sigma of ln(dq_scale) in its log-normal prior around 1 (inf: none)
    dq_scale_drop: float | None = None     # chi2 + priors: drop with dq_scale free (fitted when > ln(n points))


@dataclass(frozen=True, eq=False)
class Uncertainty:
    """Spread of the distribution over the fit's uncertainty draws (posterior draws, or the Jacobian's Gaussian)."""

    number_band: np.ndarray         # (2, n_r): 16th / 84th percentile per bin
    volume_band: np.ndarray
    mean_radius_number_sigma: float  # A
    mean_radius_volume_sigma: float  # A
    # intervals (refinement; calibrated where the model has a calibration): name -> (2.5, 16, 84, 97.5 percentiles),
    # names "mean_radius_number",
    # "mean_radius_volume" (A) and "volume_fraction"; None where not computed
    intervals: dict[str, tuple[float, float, float, float]] | None = None
    cumulative_band: np.ndarray | None = None   # (4, n_r): the cumulative number distribution's same percentiles
    source: str | None = None                   # "laplace" (LM covariance) or "dream" (posterior draws)
    inflation: float | None = None              # factor applied to the Laplace covariance (>= 1)
    diagnostics: dict | None = None             # timings; DREAM: gelman_rubin_max, bumps_converged, ...
    calibration: dict | None = None             # the model's interval calibration applied; None: uncalibrated

    def interval(self, name: str, level: int = 68) -> tuple[float, float] | None:
        """The central ``level`` % (68 or 95) interval of ``name`` (see ``intervals``), or None; InputError for
        another level (only those two are calibrated)."""
        if isinstance(level, bool) or level not in (68, 95):
            raise InputError(f"`level` must be 68 or 95 (the calibrated intervals), got {level!r}", parameter="level")
        if self.intervals is None or name not in self.intervals:
            return None
        lo95, lo68, hi68, hi95 = self.intervals[name]
        return (lo68, hi68) if level == 68 else (lo95, hi95)

    def to_dict(self) -> dict:
        """The calibrated part of the record (empty when not computed)."""
        out = {}
        if self.intervals is not None:
            out["intervals"] = {k: {"68": [v[1], v[2]], "95": [v[0], v[3]]} for k, v in self.intervals.items()}
            out["intervals_calibrated"] = self.calibration is not None
        if self.cumulative_band is not None:
            out["cumulative_band"] = {f"p{p:g}": row.tolist()
                                      for p, row in zip((2.5, 16, 84, 97.5), self.cumulative_band, strict=True)}
        if self.source is not None:
            out["uncertainty_method"] = self.source
        if self.inflation is not None:
            out["covariance_inflation"] = self.inflation
        if self.diagnostics is not None:
            out["diagnostics"] = self.diagnostics
        return out


@dataclass(frozen=True, eq=False)
class Inversion:
    """Result of an inversion, optionally refined by a fit.  Distributions are probabilities per radius bin."""

    distribution: Distribution
    volume_fraction_used: float        # the input the network (and a fit's start) used
    model: str                         # name of the network (or of the start) that gave it
    curve: Curve                       # the data used: as given, checked, less points dropped (see notes)
    q_range: tuple[float, float] = (0.0, np.inf)   # the model's q range (1/A), what the network saw
    notes: tuple[str, ...] = ()        # what was done to the data or result (dropped points, ...)
    fit: Fit | None = None
    uncertainty: Uncertainty | None = None
    check: Callable[[], object] | None = field(default=None, repr=False)  # computes `quality` when first used
    volume_fraction_sigma: float | None = None  # 1-sigma of an estimated volume_fraction_used; None: it was given
    training: object | None = field(default=None, repr=False)  # the model's training domain (quality.Training)
    calibration: dict | None = field(default=None, repr=False)  # the model's interval calibration (None: none)
    review: bool = field(default=True, repr=False)  # quality reviews other explanations (.alternatives); False: not
    polished: bool = field(default=False, repr=False)  # the answer was polished against the data (a fit)

    def __post_init__(self):
        if type(self.notes) is not tuple:
            object.__setattr__(self, "notes", tuple(self.notes))

    @functools.cached_property
    def quality(self):
        """The forward-model check of the result (:class:`~.quality.Quality`), or None; computed on first use
        (writers and the CLI always use it), so that inverting a batch costs the network alone.  It includes the
        review of other explanations (:func:`~.alternatives.review_alternatives`)."""
        if self.check is None:
            return None
        if not self.review:
            return self.check()
        from .alternatives import review_alternatives

        return review_alternatives(self.check(), self.curve, polished=self.polished)

    # read-only conveniences
    @property
    def q_data(self) -> np.ndarray:
        """q of the data used (1/A)."""
        return self.curve.q

    @property
    def intensity_data(self) -> np.ndarray:
        return self.curve.intensity

    @property
    def di_data(self) -> np.ndarray | None:
        return self.curve.di

    @property
    def dq_data(self) -> np.ndarray | None:
        return self.curve.dq

    @property
    def radius(self) -> np.ndarray:
        return self.distribution.radius

    @property
    def number_distribution(self) -> np.ndarray:
        return self.distribution.number

    @property
    def volume_distribution(self) -> np.ndarray:
        return self.distribution.volume

    @property
    def mean_radius_number(self) -> float:
        return self.distribution.mean_radius_number

    @property
    def mean_radius_volume(self) -> float:
        return self.distribution.mean_radius_volume

    @property
    def volume_fraction(self) -> float:
        """The fitted volume fraction if the fit has one, else the one used."""
        fit = self.fit
        return self.volume_fraction_used if fit is None or fit.volume_fraction is None else fit.volume_fraction

    def to_dict(self) -> dict:
        """JSON-ready record (lists of floats); a fit adds ``refinement`` (with its uncertainty)."""
        d = self.distribution
        out = {
            "radius": d.radius.tolist(),
            "number_distribution": d.number.tolist(),
            "volume_distribution": d.volume.tolist(),
            "mean_radius_number": d.mean_radius_number,
            "mean_radius_volume": d.mean_radius_volume,
            "volume_fraction": self.volume_fraction,
            "model": self.model,
            "notes": list(self.notes),
        }
        if self.volume_fraction_sigma is not None:
            out["volume_fraction_estimated"] = True
            out["volume_fraction_sigma"] = self.volume_fraction_sigma
        if self.quality is not None:
            out["quality"] = self.quality.to_dict()
        if self.fit is not None:
            f, u = self.fit, self.uncertainty
            out["refinement"] = {
                "method": f.method, "parametrization": f.parametrization,
                "chi2_reduced": f.chi2_reduced, "scale": f.scale, "background": f.background,
                "q_range": [float(f.q[0]), float(f.q[-1])], "points": len(f.q),
                "mean_radius_number_sigma": np.nan if u is None else u.mean_radius_number_sigma,
                "mean_radius_volume_sigma": np.nan if u is None else u.mean_radius_volume_sigma,
                "parameters": {k: {"value": v, "sigma": s} for k, (v, s) in f.parameters.items()},
                "number_band": None if u is None else u.number_band.tolist(),
                "volume_band": None if u is None else u.volume_band.tolist(),
                "network": None if f.start is None else f.start.to_dict(),
                **({} if u is None else u.to_dict()),
            }
            if f.volume_fraction is not None:
                out["refinement"]["volume_fraction_prior"] = {"value": self.volume_fraction_used,
                                                              "sigma": _finite(f.volume_fraction_prior_sigma)}
            if f.dq_scale is not None:
                out["refinement"]["dq_scale"] = {"value": f.dq_scale, "fitted": "dq_scale" in f.parameters,
                                                 "prior": {"value": 1.0, "sigma_log": _finite(f.dq_scale_prior_sigma)},
                                                 "cost_drop": f.dq_scale_drop}
            if f.retried:
                out["refinement"]["retried"] = list(f.retried)
        return out


def _finite(x: float | None) -> float | None:
    """x, or None when it is None or not finite (JSON has no infinity)."""
    return None if x is None or not np.isfinite(x) else float(x)
