"""What happens to each frame of a run, the same for `invert` and `batch`, serial or on a Dask worker.

:func:`process_frames` is a pure function of the frames' arrays and the :class:`Settings`: it inverts
with the network (frames sharing one q array in one batched pass), optionally refines with bumps or
runs a parametric head and its fit, and checks identifiability.  It never raises for a frame: a frame
that cannot be done is a :class:`FrameResult` with ``status="failed"`` and its reason.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..data.curve import Curve
from ..data.validation import check_prior_sigma, check_q_range, check_volume_fraction
from ..errors import InputError
from ..inference.wide_model import AUTO, check_slit, is_auto, load_any


@dataclass(frozen=True)
class Settings:
    """Everything that determines a frame's result (a run's identity for resuming), plus output choices."""

    model: str                              # model file path (the distribution network or a parametric head), or
    #                                         "auto": chosen per curve (inference.wide_model.choose_network)
    volume_fraction: float | str | None     # one value for all frames ("auto": estimated per curve) ...
    volume_fractions: dict = field(default_factory=dict)  # ... or per frame id / file name / stem
    q_unit: str | None = None               # None: the unit each file states, else 1/A
    refine: str | None = None               # None | "lm" | "dream" (with parametric: the fitter, default lm)
    parametrization: str = "histogram"
    fit_volume_fraction: bool = False
    volume_fraction_sigma: float | None = None  # the given phi's 1-sigma for refinement (None: 10 % of it)
    dq_scale_sigma: float | None = None     # 1-sigma of ln(dq_scale), refinement's resolution prior (None: 0.25)
    parametric: str | None = None           # None | "schulz" | "lognormal": a parametric head + its fit
    check_identifiability: bool = False
    allow_external_hdf5: bool = False       # follow HDF5 external links / external storage / VDS
    strict_input: bool = False              # refuse what the loader would repair (data.load.load_curves)
    slit_length: float | None = None        # 1/A, for curves whose files state none
    q_range: tuple[float, float] | None = None   # 1/A: the points used
    review: bool = True                     # the check reviews other explanations (inference.alternatives)
    frame_files: bool = True                # outputs only (not part of the signature) ...
    plot: bool = False
    auto_model: bool = False                # ... model auto chose ``model`` for the run (batch.run_network)

    def signature(self) -> str:
        d = asdict(self) | {"model": _model_digest(self.model)}  # weights, not path
        for output_only in ("frame_files", "plot", "auto_model"):
            d.pop(output_only)
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def read_options(self) -> dict:
        return {k: True for k in ("allow_external_hdf5", "strict_input") if getattr(self, k)}


@dataclass
class FrameResult:
    """One curve's outcome: the result record of both `invert` and `batch`."""

    frame: str                   # frame id: "file", "file#row" or "file#k" (parent folders added if names repeat)
    source: str
    index: int
    status: str                  # "ok" | "failed"
    reason: str = ""
    inversion: object = None     # the Inversion when ok (with its fit and uncertainty parts if refined)
    curve: Curve | None = None
    source_id: str = ""          # the input's identity (file: path+size+mtime; table unit: its uid)
    warnings: list[str] = field(default_factory=list)
    stem: str = ""               # file stem of its outputs (`invert`)
    files: list[Path] = field(default_factory=list)  # the files written for it


@dataclass(frozen=True)
class RunOptions:
    """What a user chooses for a run, the same for `invert` and `batch` (the CLI maps its flags here once).

    ``volume_fraction`` (one for all frames) or ``volume_fraction_table`` (CSV: frame, volume_fraction);
    ``q_unit`` for files that state none; ``model`` a shipped name or file (default: for `invert` "auto", chosen
    per curve, :func:`~..inference.wide_model.choose_network`; for `batch` once for the run,
    :func:`.batch.run_network`; with ``parametric`` the shipped head); ``refine`` a bumps fitter id ("lm", "dream")
    for the network's result (with ``parametric``: the fitter of the head's start); ``check_identifiability`` None
    means "with refine or parametric"; ``plot`` a figure per frame;
    ``sasview_project`` a SasView project of all results; ``strict_input`` refuse files the loader would repair
    (NaN or q = 0 rows, dI <= 0, unsorted or repeated q); ``order`` name | mtime | a per-frame field of frame
    tables."""

    volume_fraction: float | str | None = None   # "auto": estimated from each curve
    volume_fraction_table: str | None = None
    q_unit: str | None = None
    model: str | None = None
    refine: str | None = None
    parametrization: str = "histogram"
    fit_volume_fraction: bool = False
    volume_fraction_sigma: float | None = None   # 1-sigma of a given phi (refinement's prior; None: 10 % of it)
    dq_scale_sigma: float | None = None          # 1-sigma of ln(dq_scale) where dq is given (None: the default)
    parametric: str | None = None
    check_identifiability: bool | None = None
    plot: bool = False
    sasview_project: str | None = None
    allow_external_hdf5: bool = False
    strict_input: bool = False
    order: str = "name"
    slit_length: float | None = None             # 1/A: slit smearing for files that state none (whole-curve model)
    q_range: tuple[float, float] | None = None   # 1/A: only the points inside are used
    review: bool = True                          # False: the check does not fit the other explanations (speed)


def _model_digest(model: str) -> str:
    """sha256 of the model file's bytes; for ``"auto"``, of both files it chooses between."""
    from ..inference.modelfile import resolve_model_path

    paths = [resolve_model_path(m) for m in ("wide", None)] if model == AUTO else [Path(model)]
    return "+".join(hashlib.sha256(p.read_bytes()).hexdigest() for p in paths)


def settings_for(options: RunOptions, frame_files: bool = True) -> Settings:
    """The run's Settings: volume fractions checked (or the table read), the model file resolved."""
    from ..inference.modelfile import resolve_model_path
    from .tables import read_volume_fraction_table

    o = options
    if (o.volume_fraction is None) == (o.volume_fraction_table is None):
        raise InputError("give exactly one of `volume_fraction` (one value) or `volume_fraction_table` (a CSV file)",
                         parameter="volume_fraction")
    table = {}
    auto = isinstance(o.volume_fraction, str) and o.volume_fraction.strip().lower() == "auto"
    if auto and o.parametric:
        raise InputError("`volume_fraction` auto is not available with `parametric`; give a value or a table",
                         parameter="volume_fraction")
    if auto:
        o = replace(o, volume_fraction="auto")
    elif o.volume_fraction is not None:
        o = replace(o, volume_fraction=check_volume_fraction(o.volume_fraction))  # a float (the CLI gives text)
    else:
        table = read_volume_fraction_table(o.volume_fraction_table)
    # checked before any file is read (refine checks them too, for the library's callers)
    sigma, dq_sigma = (None if v is None else check_prior_sigma(v, name, held) for v, name, held in (
        (o.volume_fraction_sigma, "volume_fraction_sigma", "phi held fixed"),
        (o.dq_scale_sigma, "dq_scale_sigma", "dq held as given")))
    model = o.model
    if o.parametric and model is None:
        from ..fitting.parametric import shipped_model_name

        model = shipped_model_name(o.parametric)
    model = AUTO if is_auto(model) else model
    if model == AUTO and o.parametric:
        raise InputError("`model` auto chooses between the distribution networks; with `parametric` leave `model` "
                         "unset (the family's head) or name a parametric model file", parameter="model")
    for one in ("wide", None) if model == AUTO else (model,):
        load_any(one)  # a missing or corrupt model file stops the run before any work
    check = bool(o.refine or o.parametric) if o.check_identifiability is None else o.check_identifiability
    return Settings(model=AUTO if model == AUTO else str(resolve_model_path(model).resolve()),
                    volume_fraction=o.volume_fraction,
                    volume_fractions=table, q_unit=o.q_unit, refine=o.refine, parametrization=o.parametrization,
                    fit_volume_fraction=o.fit_volume_fraction, volume_fraction_sigma=sigma, parametric=o.parametric,
                    dq_scale_sigma=dq_sigma, check_identifiability=check, slit_length=check_slit(o.slit_length),
                    q_range=None if o.q_range is None else check_q_range(o.q_range),
                    allow_external_hdf5=o.allow_external_hdf5, strict_input=o.strict_input, frame_files=frame_files,
                    plot=o.plot, review=o.review)


def volume_fraction_for(settings: Settings, frame: str, source: str) -> float | None:
    """The frame's volume fraction: the run's one value, or its entry in the per-frame table; None for "auto"
    (``invert`` estimates it from the curve)."""
    if settings.volume_fraction == "auto":
        return None
    if settings.volume_fraction is not None:
        return settings.volume_fraction
    table = settings.volume_fractions
    for key in (frame, Path(source).name, Path(source).stem, frame.split("#")[-1]):
        if key in table:
            return table[key]
    raise InputError("no volume fraction for this frame in `volume_fraction_table` "
                     f"(looked for {frame!r}, {Path(source).name!r}, {Path(source).stem!r})",
                     parameter="volume_fraction_table")


def failure_reason(exc: Exception) -> str:
    return str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"


def _one(c: Curve, phi: float | None, settings: Settings, nn):
    """The result of one curve (raises on failure)."""
    from ..inference.invert import invert

    if settings.parametric:
        from ..fitting.parametric import invert_parametric

        c.refuse_slit("the parametric heads")
        return invert_parametric(c.q, c.intensity, c.di, volume_fraction=phi, family=settings.parametric,
                                 model=nn, method=settings.refine or "lm", dq=c.dq)
    inv = invert(c, volume_fraction=phi, model=nn, q_range=settings.q_range,
                 slit_length=settings.slit_length if c.slit_length is None else None)
    if not settings.review:   # before refine reads the start's check
        inv = replace(inv, review=False)
    if settings.refine:
        from ..fitting.refine import refine

        # phi is fitted within its prior: the given sigma (default 10 %), or the estimate's; fit_volume_fraction:
        # no prior
        sigma = settings.volume_fraction_sigma if phi is not None else None
        if sigma is None and settings.fit_volume_fraction and phi is not None:
            sigma = math.inf
        inv = refine(inv, method=settings.refine, parametrization=settings.parametrization, volume_fraction_sigma=sigma,
                     dq_scale_sigma=settings.dq_scale_sigma)
    return inv


def quality_warning(inv) -> str | None:
    """One line when the forward-model check flags a result (``inv.quality.flags``), else None."""
    quality = getattr(inv, "quality", None)
    if quality is None or not quality.flags:
        return None
    chi2 = "" if quality.chi2_reduced is None else f"; model curve chi2_reduced {quality.chi2_reduced:.3g}"
    alt = getattr(quality, "alternative", None)
    how = "explained as well by" if getattr(alt, "relation", "better") == "as well" else "better explained by"
    other = "" if alt is None else f"; the data are {how} {alt.describe()}, chi2_reduced {alt.chi2_reduced:.3g}"
    return f"not trusted: {', '.join(quality.flags)}{chi2}{other} (see docs/domain.md)"


def _checked(r: FrameResult, settings: Settings) -> FrameResult:
    if r.status == "ok" and not settings.review:   # frames of a table (invert_many) did not pass through _one
        r.inversion = replace(r.inversion, review=False)
    if r.status == "ok":
        try:
            r.warnings += [w for w in [quality_warning(r.inversion)] if w]
            failed = getattr(r.inversion.quality, "review_failed", None)
            if failed:   # the answer misses its data and the other explanations could not be fitted: said
                r.warnings.append(f"the review of other explanations could not run ({failed}); sticky spheres or "
                                  "fractal aggregates are not ruled out")
        except Exception as exc:  # a check that cannot be made is said, not fatal
            r.warnings.append(f"forward-model check failed: {failure_reason(exc)}")
    if r.status == "ok" and settings.auto_model and r.inversion.di_data is None and r.inversion.model == "wide":
        r.warnings.append("no dI: read by the run's whole-curve network, which invert's auto uses only with dI (its "
                          "review of other explanations needs dI); run such frames with model='default'")
    if r.status == "ok" and settings.check_identifiability:
        from ..fitting.identifiability import check_result

        try:
            r.warnings += [w for w in [check_result(r.inversion)] if w]
        except Exception as exc:  # a check that cannot be made is said, not fatal
            r.warnings.append(f"identifiability not checked: {failure_reason(exc)}")
    return r


def process_frames(frames: list, settings: Settings) -> list[FrameResult]:
    """Invert (refine, check) frames given as (frame id, source, source id, index, curve or failure reason).

    Without refinement, frames sharing one q array (a frame table) go through the network together
    (:func:`~sasview_nn_plugin.inference.invert.invert_many`).  Every failure is recorded, none raised."""
    from ..inference.invert import invert_many

    nn = AUTO if settings.model == AUTO else load_any(settings.model)
    out: list[FrameResult | None] = []
    phis: dict[int, float] = {}
    for k, (fid, source, sid, index, c) in enumerate(frames):
        out.append(FrameResult(fid, source, index, "failed", c, source_id=sid) if isinstance(c, str) else None)
        if out[k] is None:
            try:
                phis[k] = volume_fraction_for(settings, fid, source)
            except InputError as exc:
                out[k] = FrameResult(fid, source, index, "failed", str(exc), source_id=sid)
    if not (settings.refine or settings.parametric or settings.slit_length or settings.q_range):
        groups: dict[tuple, list[int]] = {}
        for k in phis:
            if out[k] is None:
                c = frames[k][4]
                if c.slit_length is None:   # invert_many reads no slit: slit-smeared frames go one by one
                    groups.setdefault((id(c.q), c.di is None), []).append(k)
        for ks in (g for g in groups.values() if len(g) > 1):
            curves = [frames[k][4] for k in ks]
            try:
                dis = None if curves[0].di is None else np.stack([c.di for c in curves])
                results = invert_many(curves[0].q, np.stack([c.intensity for c in curves]), dis,
                                      volume_fractions=np.array([np.nan if phis[k] is None else phis[k]
                                                                 for k in ks]), model=nn,
                                      dqs=None if all(c.dq is None for c in curves)
                                      else np.stack([c.dq for c in curves]))
            except ValueError:  # rows of another shape (np.stack), an InputError: each frame on its own below
                continue
            for k, c, res in zip(ks, curves, results, strict=True):
                fid, source, sid, index, _ = frames[k]
                out[k] = (FrameResult(fid, source, index, "failed", str(res), source_id=sid)
                          if isinstance(res, Exception)
                          else FrameResult(fid, source, index, "ok", inversion=res, curve=c, source_id=sid))
    for k, (fid, source, sid, index, c) in enumerate(frames):
        if out[k] is not None:
            continue
        try:
            out[k] = FrameResult(fid, source, index, "ok", inversion=_one(c, phis[k], settings, nn), curve=c,
                                 source_id=sid)
        except Exception as exc:  # never let one frame stop the run
            out[k] = FrameResult(fid, source, index, "failed", failure_reason(exc), source_id=sid)
    return [_checked(r, settings) for r in out]


def process_unit(frames: list, settings: Settings) -> list[FrameResult]:
    """Dask task: like process_frames, but without the curves in the result (less to send back)."""
    results = process_frames(frames, settings)
    for r in results:
        r.curve = None
    return results
