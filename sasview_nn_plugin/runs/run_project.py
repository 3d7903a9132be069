"""The SasView project of a run: every ok curve in a Fitting page with the ``nn_spheres_hs`` plugin model."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data.files import ensure_output_dir, printable
from ..errors import InputError
from .guard import not_a_file, resolved_path
from .process import FrameResult


def project_path(path, outputs: list[Path] = ()) -> Path | None:
    """The project file to write (None: none).  InputError for a directory, a parent that is not a directory,
    a path among ``outputs`` (the files the same command writes) or an existing file that is not a SasView
    project written by sasview-nn; a parent folder that does not exist yet is created when the project is written."""
    if path is None:
        return None
    p = Path(path)
    if str(path).strip() == "" or p.is_dir() or any(a.exists() and not a.is_dir() for a in p.parents):
        raise InputError(f"`sasview_project` {printable(p)}: give a file name (in a directory)",
                         parameter="sasview_project")
    key = resolved_path(p)
    hit = next((o for o in outputs if resolved_path(o) == key or key.is_relative_to(resolved_path(o))), None)
    if hit is not None:
        raise InputError(f"`sasview_project` {printable(p)} would replace {printable(hit)}, written by the same "
                         "command; give the project another name", parameter="sasview_project")
    if os.path.lexists(p) and not own_project(p):
        raise InputError(f"`sasview_project` {printable(p)} exists and is not a SasView project written by "
                         "sasview-nn; give another name or move that file (it is never replaced)",
                         parameter="sasview_project")
    return p


def own_project(path: Path) -> bool:
    """Is ``path`` a SasView project written by sasview-nn (every page the ``nn_spheres_hs`` model)?"""
    from ..sasview import PLUGIN_NAME

    if not_a_file(path) or path.stat().st_size > 2**30:
        return False
    try:
        d = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return False
    if not isinstance(d, dict) or "visible_perspective" not in d:
        return False
    pages = [page for v in d.values() if isinstance(v, dict) and "fit_data" in v for page in v.get("fit_params", [0])]
    return all(isinstance(page, dict) and page.get("fitpage_model") == [PLUGIN_NAME] for page in pages)


def write_project_file(project: Path, entries: list[dict]) -> Path:
    """Write the project (creating its folder if needed)."""
    from ..sasview.project import write_project

    ensure_output_dir(project.parent, "`sasview_project` folder", "sasview_project")
    return write_project(project, entries)


@dataclass(frozen=True)
class RecordedResult:
    """What a project page needs of a result recorded by an earlier (resumed) run of `batch`."""

    radius: np.ndarray
    number_distribution: np.ndarray
    volume_fraction: float
    q_data: np.ndarray
    intensity_data: np.ndarray
    di_data: np.ndarray | None
    q_range: tuple[float, float]


def project_entries(results: list[FrameResult]) -> list[dict]:
    """Project entries of the ok results that carry their curve."""
    from ..sasview.project import fitted_q_range, plugin_parameters

    entries = []
    for r in results:
        if r.status != "ok" or r.curve is None:
            continue
        c = r.curve
        entries.append(dict(name=printable(r.frame), path=printable(Path(r.source).resolve()), q=c.q,
                            intensity=c.intensity, di=c.di, dq=c.dq, slit_length=c.slit_length,
                            q_range=fitted_q_range(r.inversion),
                            parameters=plugin_parameters(r.inversion)))
    return entries


def write_run_project(project: Path, cat: dict, units: list, settings, nn) -> Path:
    """The project of a batch run's current frames ``cat`` (as recorded in its parts): curves read again."""
    from .plan import read_unit

    recorded = {(str(f), int(i)): k for k, (f, i) in enumerate(zip(cat["frame"], cat["index"], strict=True))
                if cat["status"][k] == "ok"}
    results = []
    for u in units:
        for frame, source, sid, index, c in read_unit(u, settings.q_unit, settings.read_options):
            k = recorded.get((printable(frame), int(index)))
            if k is None or isinstance(c, str):
                continue
            s = float(cat["radius_scale"][k])   # a mapped window: the model's q range / s, its radii x s
            lo, hi = (x / s for x in getattr(nn, "q_range", (float(c.q[0]) * s, float(c.q[-1]) * s)))
            fitted = cat.get("fit_q_range", np.full((len(cat["frame"]), 2), np.nan))[k]
            if np.all(np.isfinite(fitted)):   # a refined frame: the page spans the points refined
                lo, hi = float(fitted[0]), float(fitted[1])
            radius = nn.radius * s
            inv = RecordedResult(radius, cat["number"][k], float(cat["phi"][k]), c.q, c.intensity, c.di, (lo, hi))
            results.append(FrameResult(frame, source, index, "ok", inversion=inv, curve=c, source_id=sid))
    return write_project_file(project, project_entries(results))
