"""The `invert` command: a run without resume.  The same inputs, options and per-frame processing as
`batch` (:mod:`.process`); every frame is done before anything is written, so a bad input stops the
command with nothing half-written.  Outputs per curve: ``<stem>.json``, ``<stem>.csv`` (and ``.png``) in
the output directory, and optionally a SasView project; no output may land on an input, and one run at
a time writes to an output directory.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from ..data.files import check_output_path, ensure_output_dir, printable, remove_partials, safe_stem
from ..errors import InputError
from ..inference.wide_model import AUTO
from .batch import UNIT_FRAMES, write_frame_files
from .guard import OutputLock, refuse_outputs_onto_inputs
from .plan import expand_inputs, plan_units, read_unit
from .process import FrameResult, RunOptions, process_frames, settings_for
from .run_project import project_entries, project_path, write_project_file


def output_stem(frame: str) -> str:
    """The file stem of a frame's outputs: ``x.txt`` -> ``x``, ``x.h5#1`` -> ``x_1`` (portable, <= 150 bytes)."""
    name, _, k = frame.partition("#")
    base = name.rsplit(".", 1)[0] if "." in name.rsplit("/", 1)[-1] else name
    return safe_stem(base + (f"_{k}" if k else ""))


def describe(inv) -> str:
    """One line for a result: the mean radii (with their sigmas and chi2 when fitted; the parameters of a
    parametric fit)."""
    if inv.fit is None:
        return f"mean radius {inv.mean_radius_number:.1f} A (number), {inv.mean_radius_volume:.1f} A (volume)"
    f, u = inv.fit, inv.uncertainty
    if f.parametrization in ("schulz", "lognormal"):
        par = ", ".join(f"{k} {v:.5g} +- {e:.2g}" for k, (v, e) in f.parameters.items() if k in ("radius", "radius_pd"))
        return (f"{f.parametrization} {par}; start {f.start.mean_radius_number:.1f} A (number mean); mean radius "
                f"{inv.mean_radius_number:.2f} A (number), {inv.mean_radius_volume:.2f} A (volume), "
                f"chi2_reduced {f.chi2_reduced:.3g}")
    return (f"mean radius {inv.mean_radius_number:.2f} +- {u.mean_radius_number_sigma:.2f} A (number), "
            f"{inv.mean_radius_volume:.2f} +- {u.mean_radius_volume_sigma:.2f} A (volume), "
            f"chi2_reduced {f.chi2_reduced:.3g} ({f.method}, {f.parametrization})")


def input_notes(results: list[FrameResult]) -> list[list[str]]:
    """Per result, what the loader did to its input: each repair, and (once per file) that the file states no q unit
    and 1/A was assumed."""
    seen: set[str] = set()
    out = []
    for r in results:
        notes = [f"repaired: {n}" for n in getattr(r.curve, "repairs", ())]
        if getattr(r.curve, "q_unit_source", None) == "default" and r.source not in seen:
            seen.add(r.source)
            notes.append("the file states no q unit: q read in 1/A (pass --q-unit nm if it is in 1/nm, or state the "
                         "unit in the file: docs/domain.md, q units in file headers)")
        out.append(notes)
    return out


def invert_files(inputs: list[str | os.PathLike], *, output: str | os.PathLike, options: RunOptions | None = None,
                 **choices) -> list[FrameResult]:
    """Invert every curve of ``inputs`` (files, globs, directories, frame tables); write the results to ``output``.

    ``options`` (or the same names as keywords: ``volume_fraction=0.3, refine="lm", plot=True``, ...) as for
    :class:`~sasview_nn_plugin.runs.process.RunOptions`.  Each returned result lists the files written."""
    options = options or RunOptions(**choices)
    if options.model is None and not options.parametric:   # as invert's: chosen per curve by its data
        options = replace(options, model=AUTO)
    out = Path(output)
    check_output_path(output, "`output`")
    settings = settings_for(options, frame_files=True)
    files, _ = expand_inputs([str(f) for f in inputs])
    units = plan_units(files, options.order, settings.q_unit, UNIT_FRAMES, settings.read_options)
    results: list[FrameResult] = []
    for u in units:
        results += process_frames(read_unit(u, settings.q_unit, settings.read_options), settings)
    failed = next((r for r in results if r.status != "ok"), None)
    if failed is not None:
        raise InputError(f"{printable(failed.source)}: {failed.reason}", parameter=None)
    stems: set[str] = set()
    for r in results:
        stem = output_stem(r.frame)
        while stem in stems:
            stem += "_"
        stems.add(stem)
        r.stem = stem
    outputs = [out / f"{r.stem}.{ext}" for r in results for ext in ("json", "csv", "png")[:3 if options.plot else 2]]
    named = [Path(options.sasview_project)] if options.sasview_project else []
    refuse_outputs_onto_inputs(outputs + named, files)
    project = project_path(options.sasview_project, outputs)
    entries = project_entries(results) if project is not None else []
    ensure_output_dir(out)
    with OutputLock(out):
        remove_partials(out)
        for r in results:
            r.files = write_frame_files(r, out / r.stem, options.plot)
        if project is not None:
            write_project_file(project, entries)
    return results
