"""Inverting files: load, validate, invert, write JSON/CSV (and a figure) per curve.

Every input is loaded and inverted before anything is written, so a bad file in the list
stops the command with nothing half-written; no output may land on an input, and one run at a
time writes to an output directory.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..data.curve import Curve
from ..data.files import ensure_output_dir, printable, remove_partials, safe_stem
from ..data.load import load_curves
from ..data.writers import write_inversion
from ..errors import InputError
from ..inference.invert import Inversion, invert
from ..inference.modelfile import load_model
from .guard import OutputLock, refuse_outputs_onto_inputs


@dataclass
class FileResult:
    source: str
    stem: str
    inversion: Inversion
    curve: Curve | None = None
    json_path: Path | None = None
    csv_path: Path | None = None
    plot_path: Path | None = None
    warnings: list[str] | None = None


def invert_files(files: list[str | os.PathLike], *, volume_fraction: float, q_unit: str | None = None,
                 model: str | None = None, output: str | os.PathLike, plot: bool = False,
                 refine_method: str | None = None, parametrization: str = "histogram",
                 fit_volume_fraction: bool = False, sasview_project: str | os.PathLike | None = None,
                 parametric: str | None = None, check_identifiability: bool | None = None,
                 allow_external_hdf5: bool = False) -> list[FileResult]:
    """Invert every 1-D curve in ``files``; write ``<stem>.json``, ``<stem>.csv`` (and ``.png``) to output.

    With ``refine_method`` ("lm" or "dream") each network result is refined with bumps
    (:func:`sasview_nn_plugin.fitting.refine.refine`), using the file's dI and dq (resolution) when present.
    With ``sasview_project`` a SasView project file is written too: every curve in a Fitting page
    with the ``nn_spheres_hs`` plugin model, its parameters set from the result.
    """
    nn = load_model(model)
    out = Path(output)
    if str(output).strip() == "" or (out.exists() and not out.is_dir()):
        raise InputError(f"--output {printable(out)} is not a directory; give a directory name")
    read_options = {"allow_external_hdf5": True} if allow_external_hdf5 else {}
    results: list[FileResult] = []
    stems: set[str] = set()
    for f in files:
        curves = load_curves(f, q_unit=q_unit, **read_options)
        for k, c in enumerate(curves):
            try:
                if parametric:
                    from ..fitting.parametric import invert_parametric

                    inv = invert_parametric(c.q, c.intensity, c.di, volume_fraction=volume_fraction, family=parametric,
                                            model=model, method=refine_method or "lm", dq=c.dq)
                else:
                    inv = invert(c.q, c.intensity, c.di, volume_fraction=volume_fraction, model=nn)
                if refine_method and not parametric:
                    from ..fitting.refine import refine

                    inv = refine(c.q, c.intensity, c.di, inv, method=refine_method, dq=c.dq,
                                 parametrization=parametrization, fit_volume_fraction=fit_volume_fraction)
            except InputError as exc:
                raise InputError(f"{printable(f)}: {exc}") from None
            stem = safe_stem(Path(f).stem + (f"_{k}" if len(curves) > 1 else ""))
            while stem in stems:
                stem += "_"
            stems.add(stem)
            warns = []
            if check_identifiability:
                from ..fitting.identifiability import check_result

                warns = [w for w in [check_result(inv)] if w]
            results.append(FileResult(str(f), stem, inv, c, warnings=warns))
    outputs = [out / f"{r.stem}.{ext}" for r in results for ext in ("json", "csv", "png")[:3 if plot else 2]]
    project = None
    if sasview_project is not None:
        project = Path(sasview_project)
        if project.is_dir() or not project.parent.is_dir():
            raise InputError(f"--sasview-project {project}: give a file name in an existing directory")
        outputs.append(project)
        from ..sasview.project import plugin_parameters

        entries = [dict(name=Path(r.source).name, path=str(Path(r.source).resolve()), q=r.curve.q,
                        intensity=r.curve.intensity, di=r.curve.di, dq=r.curve.dq, q_range=r.inversion.q_range,
                        parameters=plugin_parameters(r.inversion)) for r in results]
    refuse_outputs_onto_inputs(outputs, [Path(f) for f in files])
    ensure_output_dir(out)
    with OutputLock(out):
        remove_partials(out)
        _write_results(results, out, plot, project, entries if project is not None else [])
    return results


def _write_results(results: list[FileResult], out: Path, plot: bool, project: Path | None,
                   entries: list[dict]) -> None:
    for r in results:
        extra = {"input": {"file": printable(r.source), "q_unit": r.curve.q_unit, "q_unit_from": r.curve.q_unit_source,
                           "n_points": int(len(r.inversion.q_data)),
                           "q_min": float(r.inversion.q_data[0]), "q_max": float(r.inversion.q_data[-1]),
                           "has_dI": r.inversion.di_data is not None}, "warnings": r.warnings or []}
        r.json_path, r.csv_path = write_inversion(r.inversion, out, r.stem, extra)
        if plot:
            from ..data.plots import inversion_figure

            r.plot_path = inversion_figure(r.inversion, out / f"{r.stem}.png", title=printable(Path(r.source).name))
    if project is not None:
        from ..sasview.project import write_project

        write_project(project, entries)
