"""The real-data regression set (issue 26 item 5): its manifest, one run of the tool, and the verdict.

Shared by ``tests/test_real_data.py`` and ``benchmarks/bench_real.py`` (the same verdicts in both).  The data and
their provenance are in ``tests/data/real/`` (README.md, manifest.json).  A *run* is one entry, one model
(``"default"``: the windowed network; ``"wide"``: the whole-curve one) and one volume-fraction setting: ``None``
(estimated: always run), the documented value where the manifest has one, and 0 where the sample is documented
dilute.  Verdicts:

- ``refused``: ``invert`` raised InputError (loading did not fail: a load failure raises);
- entries in the model whose size the window sees (``expect == "right"``): ``right`` (unflagged, the radius within
  the reference's tolerance), ``right-flagged``, ``wrong-flagged``, ``silent`` (unflagged and wrong: the worst);
- entries outside the model, or whose size is outside the window (``expect == "caught"``): ``caught`` (flagged)
  or ``silent`` (unflagged: a radius returned as trusted for a sample the model cannot describe);
- ``expect is None`` (no documented size, or the sample is neither clearly in nor clearly out of the model):
  ``flagged`` or ``unflagged``, reported, never scored.

"Flagged" means ``result.quality.flags`` is not empty; the ``approximate`` mark is not a flag (docs/domain.md)
and is reported beside the verdict.  The radius compared is the one the reference is: the number-mean radius
(``mean_radius_number``) or the volume-weighted mean (``mean_radius_volume``) of the result.
"""

from __future__ import annotations

import json
import math
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

FOLDER = Path(__file__).resolve().parent / "data" / "real"
MODELS = ("default", "wide")


def manifest() -> list[dict]:
    return json.loads((FOLDER / "manifest.json").read_text(encoding="utf-8"))["entries"]


def settings(entry: dict) -> list[float | None]:
    """The volume fractions an entry is run with: None (estimated) always, the documented value, 0 if dilute."""
    out: list[float | None] = [None]
    if entry.get("phi") is not None:
        out.append(float(entry["phi"]))
    if entry.get("dilute") and 0.0 not in out:
        out.append(0.0)
    return out


def phi_label(phi: float | None) -> str:
    return "auto" if phi is None else f"{phi:g}"


@dataclass(frozen=True)
class Run:
    entry: str
    model: str
    phi: str                  # "auto" or the value given
    verdict: str
    radius: float | None      # the radius compared (number or volume mean, as the reference), A
    reference: float | None
    flags: tuple[str, ...]
    approximate: bool
    phi_estimated: float | None
    seconds: float
    detail: str = ""          # the refusal's message, if any


def load(entry: dict):
    """The entry's curve as the loader reads the file; ``slit_length`` (1/A), where the manifest has one, is the
    slit length documented beside a file that does not state it (e.g. jldesmear's ``ps120.inp``)."""
    import dataclasses

    from sasview_nn_plugin import load_curves

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        curve = load_curves(FOLDER / entry["file"])[int(entry.get("entry", 0))]
    if entry.get("slit_length") is not None:
        curve = dataclasses.replace(curve, slit_length=float(entry["slit_length"]))
    return curve


def run(entry: dict, model: str, phi: float | None, curve=None) -> Run:
    from sasview_nn_plugin import invert
    from sasview_nn_plugin.errors import InputError

    curve = load(entry) if curve is None else curve
    ref = entry.get("reference") or {}
    r_ref = ref.get("radius")
    t0 = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = invert(curve, volume_fraction=phi, model=model)
            flags = tuple(res.quality.flags)
            approx = bool(getattr(res.quality, "approximate", False))
    except InputError as exc:
        return Run(entry["id"], model, phi_label(phi), "refused", None, r_ref, (), False, None,
                   time.perf_counter() - t0, str(exc).splitlines()[0][:200])
    seconds = time.perf_counter() - t0
    weighting = ref.get("weighting", "number")
    radius = float(res.mean_radius_volume if weighting == "volume" else res.mean_radius_number)
    phi_est = float(res.volume_fraction) if phi is None else None
    expect = entry.get("expect")
    if expect == "right":
        ok = math.isfinite(radius) and abs(radius - r_ref) <= ref["tolerance"] * r_ref
        verdict = ("right-flagged" if flags else "right") if ok else ("wrong-flagged" if flags else "silent")
    elif expect == "caught":
        verdict = "caught" if flags else "silent"
    else:
        verdict = "flagged" if flags else "unflagged"
    return Run(entry["id"], model, phi_label(phi), verdict, radius, r_ref, flags, approx, phi_est, seconds)


def run_all(entries: list[dict] | None = None, models=MODELS) -> list[Run]:
    out = []
    for entry in manifest() if entries is None else entries:
        curve = load(entry)
        for model in models:
            for phi in settings(entry):
                out.append(run(entry, model, phi, curve))
    return out


def demanded(entry: dict) -> set[str] | None:
    """The verdicts the reference accepts: in the model, right and unflagged; outside, caught (flag or refusal)."""
    return {"right"} if entry.get("expect") == "right" else {"caught", "refused"} \
        if entry.get("expect") == "caught" else None
