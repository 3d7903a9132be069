"""Beamline runs: many frames in one command, resumable, optionally on a Dask cluster.

A run lists its frames (files, globs, directories, multi-entry NXcanSAS files and 2-D HDF5 frame
tables) and cuts them into *units* keyed by input identity (:mod:`sasview_nn_plugin.runs.plan`).
Each unit is processed by :func:`process_unit` — a pure function of the frames' arrays and the
settings, so the serial run and a Dask cluster give identical results.  The client alone reads
inputs and writes outputs (no shared file system needed).  Each finished unit is recorded atomically
in ``DIR/.parts/``; re-running the same command skips recorded units whose inputs are unchanged,
and ``summary.csv``, ``results.h5`` and ``timeseries.png`` are rebuilt at the end from the parts
of the frames the inputs hold now.  A frame that fails is recorded with its reason; it never stops
the run.  One run at a time holds an output directory (a lock), and no output lands on an input.
"""

from __future__ import annotations

import json
import os
import time
from collections import Counter
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np

from ..data.files import atomic_path, ensure_output_dir, printable, remove_partials, safe_stem, write_atomic
from ..data.files import check_output_path as files_check_output
from ..data.writers import write_inversion
from ..errors import InputError
from ..inference.wide_model import AUTO, choose_for_curve, load_any
from ..physics import kernels as physics
from .guard import LOCK_NAME, OutputLock, refuse_outputs_onto_inputs
from .parts import blocks, frame_groups, gather, part_index
from .plan import (
    FRAMES,
    PARTS,
    RUN_FILES,
    Unit,
    content_hash,
    expand_inputs,
    plan_units,
    read_unit,
    refuse_foreign_run_files,
)
from .process import FrameResult, RunOptions, Settings, process_frames, process_unit, settings_for
from .run_project import project_path, write_run_project
from .summary import RunFiles, refined_columns

__all__ = ["run_batch", "record_unit", "finish_run", "RunSummary", "UNIT_FRAMES"]

UNIT_FRAMES = 512   # table rows per unit without refinement (one batched forward pass)
UNIT_FRAMES_REFINE = 8  # with refinement (~0.1-10 s a frame): small units spread over the workers
MAX_LISTED = 1000   # failures and warnings a RunSummary lists (their counts are complete; summary.csv has all)


@dataclass
class RunSummary:
    done: int
    failed: int
    skipped: int                 # frames in units recorded by an earlier run
    seconds: float
    output: Path
    failures: list[tuple[str, str]]
    stale: list[str] = field(default_factory=list)      # recorded sources no longer among the inputs as they were
    own_outputs: int = 0         # run files of sasview-nn found among the inputs and left out
    warnings: list[tuple[str, str]] = field(default_factory=list)  # (frame, warnings) of ok frames
    model_choice: str = ""       # model auto: the network chosen for the run and why (run_network)


# -- recording -----------------------------------------------------------------------------------------

def _widths(weights: np.ndarray, radius: np.ndarray) -> np.ndarray:
    """Standard deviation (A) of the radius under (rows of) normalised weights."""
    mean = weights @ radius
    return np.sqrt(np.maximum(weights @ radius**2 - mean**2, 0.0))


def record_unit(out: Path, unit: Unit, results: list[FrameResult], settings: Settings, n_r: int,
                content: str = "") -> None:
    """Write the unit's per-frame files (optional) and its part file (atomically, last)."""
    frames_dir = out / FRAMES
    number = np.full((len(results), n_r), np.nan)
    chi2 = np.full(len(results), np.nan)
    phi = np.full(len(results), np.nan)
    phi_sigma = np.full(len(results), np.nan)  # estimated volume fractions only (`volume_fraction="auto"`)
    weighting = np.array([""] * len(results), dtype=object)
    for k, r in enumerate(results):
        if r.status != "ok":
            continue
        inv = r.inversion
        weighting[k] = "dI" if inv.di_data is not None else "equal (no dI in the file)"
        number[k] = inv.number_distribution
        phi[k] = inv.volume_fraction
        phi_sigma[k] = np.nan if inv.volume_fraction_sigma is None else inv.volume_fraction_sigma
        chi2[k] = np.nan if inv.fit is None else inv.fit.chi2_reduced
        if settings.frame_files:
            write_frame_files(r, frames_dir / safe_stem(r.frame), settings.plot)
    text = {key: np.array([printable(getattr(r, key)) for r in results], dtype=str)
            for key in ("frame", "source", "source_id", "status", "reason")}
    text["warnings"] = np.array([printable("; ".join(r.warnings)) for r in results], dtype=str)
    refined = refined_columns([r.inversion if r.status == "ok" else None for r in results],
                              load_any(settings.model).radius)
    with atomic_path(out / PARTS / f"{unit.uid}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **text, index=np.array([r.index for r in results]), number=number, chi2=chi2, phi=phi,
                 phi_sigma=phi_sigma, weighting=weighting.astype(str), **refined, content=np.array(content))


def write_frame_files(r: FrameResult, base: Path, plot: bool = False) -> list[Path]:
    """``base.json`` and ``base.csv`` (and ``base.png``) of one frame's result: what `invert` writes per curve."""
    inv, c = r.inversion, r.curve
    extra = {"frame": printable(r.frame), "source": printable(r.source), "index": r.index,
             "warnings": list(r.warnings)}
    if c is not None:
        extra["input"] = {"file": printable(r.source), "q_unit": c.q_unit, "q_unit_from": c.q_unit_source,
                          "q_unit_source": c.q_unit_source, "q_unit_assumed": c.q_unit_source == "default",
                          "n_points": int(len(inv.q_data)), "q_min": float(inv.q_data[0]),
                          "q_max": float(inv.q_data[-1]), "has_dI": inv.di_data is not None, "repairs": list(c.repairs),
                          "q_range_requested": None if inv.curve.q_range is None else list(inv.curve.q_range),
                          "slit_length": None if inv.curve.slit_length is None else float(inv.curve.slit_length[0])}
    paths = list(write_inversion(inv, base.parent, base.name, extra))
    if plot:
        from ..data.plots import inversion_figure

        paths.append(inversion_figure(inv, base.with_name(base.name + ".png"), title=printable(r.frame)))
    return paths


def _start_output(out: Path, settings: Settings, model_choice: str = "") -> None:
    """Create DIR/.parts and DIR/frames; refuse a directory holding a run of other settings.  ``model_choice``: why
    model auto chose the run's network (recorded beside the settings; a resumed run keeps the network)."""
    ensure_output_dir(out)
    for sub in (out / PARTS, out / FRAMES):
        ensure_output_dir(sub, "run")
        remove_partials(sub)
    remove_partials(out)
    sig_file = out / PARTS / "run.json"
    sig = settings.signature()
    if sig_file.exists():
        if _run_record(out).get("signature") != sig:
            raise InputError(f"{out} holds results of a run with other settings (model, volume fraction, "
                             "refinement, q unit or range, the review of other explanations: runs before 2026-12-07 "
                             "had none); choose another `output` directory or delete that one",
                             parameter="output")
    else:
        record = {"signature": sig, "settings": asdict(settings), "model_choice": model_choice}
        write_atomic(sig_file, json.dumps(record, default=str))


def _todo(units: list[Unit], parts: dict[str, dict], settings: Settings) -> tuple[list[Unit], int]:
    """The units still to do (new or changed inputs) and the number of frames recorded before."""
    done_files = {sid for uid, p in parts.items() if uid.startswith("f") for sid in p["source_id"]}
    todo, skipped = [], 0
    for u in units:
        if u.table is not None:
            part = parts.get(u.uid)
            if part is not None and str(part["content"]) == _table_content(u, settings):
                skipped += u.n_frames
                continue
        else:
            keep = [k for k, sid in enumerate(u.file_ids) if sid not in done_files]
            skipped += u.n_frames - len(keep)
            if not keep:
                continue
            if len(keep) < u.n_frames:
                errors = u.error.split("\0") if u.error else [""] * u.n_frames
                u = Unit(u.uid + f"-{len(keep)}", files=[u.files[k] for k in keep],
                         file_ids=[u.file_ids[k] for k in keep], labels=[u.labels[k] for k in keep],
                         error="\0".join(errors[k] for k in keep) if u.error else "")
        todo.append(u)
    return todo, skipped


def unit_content(unit: Unit, frames: list) -> str:
    """The content hash recorded for a frame-table unit (its rows' numbers; "" for single files)."""
    return content_hash([c for *_, c in frames if not isinstance(c, str)]) if unit.table is not None else ""


def _table_content(unit: Unit, settings: Settings) -> str:
    return unit_content(unit, read_unit(unit, settings.q_unit, settings.read_options))


# -- the run -------------------------------------------------------------------------------------------

def run_batch(inputs: list[str], *, output: str | os.PathLike, options: RunOptions | None = None,
              frame_files: bool = True, scheduler: str | None = None, workers: int | None = None,
              progress: bool = True, **choices) -> RunSummary:
    """Invert (refine, check) every frame of ``inputs`` into ``output``, resumably; see the module docstring.

    ``options`` (or the same names as keywords: ``volume_fraction=0.3, refine="lm"``, ...) as for
    :class:`~sasview_nn_plugin.runs.process.RunOptions`; ``frame_files`` per-frame JSON/CSV in ``frames/``;
    ``workers`` a local Dask cluster of that many processes, ``scheduler`` the address of a running one."""
    t0 = time.perf_counter()
    options = options or RunOptions(**choices)
    if workers is not None and workers < 1:
        raise InputError(f"`workers` must be at least 1 (got {workers})", parameter="workers")
    if options.model is None and not options.parametric:   # as invert's: chosen by the data (one for the run)
        options = replace(options, model=AUTO)
    settings = settings_for(options, frame_files)
    out = files_check_output(output, "`output`")
    files, own = expand_inputs(inputs)
    if not files:
        raise InputError("no input files" + (f" (only the run files of an earlier run: {own[0]})" if own else ""),
                         parameter="inputs")
    named = [Path(options.sasview_project)] if options.sasview_project else []
    refuse_outputs_onto_inputs([out / n for n in RUN_FILES] + named, files)
    project = project_path(options.sasview_project, [out / n for n in (*RUN_FILES, FRAMES, PARTS, LOCK_NAME)])
    refuse_foreign_run_files(out)
    refining = settings.refine or settings.parametric
    units = plan_units(files, options.order, settings.q_unit, UNIT_FRAMES_REFINE if refining else UNIT_FRAMES,
                       settings.read_options)
    settings, choice = run_network(settings, units, out)
    nn = load_any(settings.model)
    ensure_output_dir(out)
    with OutputLock(out):
        _start_output(out, settings, choice)
        parts = part_index(out)
        todo, skipped = _todo(units, parts, settings)
        from tqdm import tqdm

        bar = tqdm(total=sum(u.n_frames for u in todo), unit="frame", disable=not progress, desc="frames",
                   smoothing=0.05)
        try:
            if scheduler or workers:
                _run_dask(todo, settings, out, len(nn.radius), bar, scheduler, workers)
            else:
                for u in todo:
                    frames = read_unit(u, settings.q_unit, settings.read_options)
                    content = unit_content(u, frames)
                    record_unit(out, u, process_frames(frames, settings), settings, len(nn.radius), content)
                    bar.update(u.n_frames)
        finally:
            bar.close()
        summary = finish_run(out, units, nn.radius)
        if project is not None:
            write_run_project(project, current_frames(out, units)[0], units, settings, nn)
    summary.seconds = time.perf_counter() - t0
    summary.skipped = skipped
    summary.model_choice = choice
    summary.own_outputs = len(own)
    return summary


VOTE_FRAMES = 64   # model auto: the run's network is the one most of its first this many readable frames ask for


def run_network(settings: Settings, units: list[Unit], out: Path | None = None) -> tuple[Settings, str]:
    """(settings with one named network, why) where ``settings.model`` is auto, else (settings, "").  A run's table
    holds every frame on one model's bins, so auto chooses once for the run.  An output directory that holds a run
    chosen so keeps its network (a resumed run whose inputs grew reads the new frames as the old ones).  Else the
    network :func:`~..inference.wide_model.choose_for_curve` (``invert``'s rule per curve) picks for most of the
    run's first :data:`VOTE_FRAMES` readable frames, in the order the run processes them (frame tables first; the
    same whatever the units' size), frames with fewer than 2 points in ``q_range`` left out; a tie goes to the
    whole-curve network, no readable frame to the windowed one.  A frame the chosen network cannot read fails with
    its reason, as with a named model; a frame without dI read by the whole-curve network is warned about
    (:func:`.process.process_frames`)."""
    if settings.model != AUTO:
        return settings, ""
    from ..inference.modelfile import resolve_model_path

    paths = {name: str(resolve_model_path(name).resolve()) for name in ("wide", None)}
    labels = {"wide": "the whole-curve network", None: "the windowed network"}
    kept = _recorded_model(out) if out is not None else None
    for name, path in paths.items():
        if kept == path:
            return (replace(settings, model=path, auto_model=True),
                    f"model auto: {labels[name]} for the run, kept from the run recorded in {out}")
    votes: Counter = Counter()
    curves = (c for u in units for *_, c in read_unit(u, settings.q_unit, settings.read_options)
              if not isinstance(c, str))
    for c in curves:
        if settings.q_range is not None:
            c = c.within(settings.q_range)
            if len(c.q) < 2:
                continue
        votes[choose_for_curve(replace(c, slit_length=c.slit_length if c.slit_length is not None
                                       else settings.slit_length))[0]] += 1
        if sum(votes.values()) >= VOTE_FRAMES:
            break
    name = max(votes, key=lambda k: (votes[k], k == "wide")) if votes else None
    why = (f"model auto: {labels[name]} for the run ({votes[name]} of {sum(votes.values())} readable frames, the "
           "run's first ones, ask for it; one network per run, invert's rule: slit-smeared data or a decade of q or "
           "more with dI -> the whole-curve one)") if votes else \
        f"model auto: {labels[None]} for the run (no readable frame to choose by)"
    return replace(settings, model=paths[name], auto_model=True), why


def _run_record(out: Path) -> dict:
    """The run recorded in ``out`` (its ``.parts/run.json``: signature, settings, model_choice), or {}."""
    try:
        rec = json.loads((out / PARTS / "run.json").read_text())
    except (OSError, ValueError):
        return {}
    return rec if isinstance(rec, dict) else {}


def _recorded_model(out: Path) -> str | None:
    """The model path recorded by a run chosen by auto in ``out``, else None."""
    rec = _run_record(out)
    model = (rec.get("settings") or {}).get("model") if rec.get("model_choice") else None
    return model if isinstance(model, str) else None


def _run_dask(todo, settings, out, n_r, bar, scheduler, workers) -> None:
    """Send units to a Dask cluster; the client reads the inputs and writes every result."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError("`scheduler`/`workers` need dask.distributed: pip install -e '.[cluster]'",
                         parameter="scheduler") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError, ValueError) as exc:  # unreachable, timed out, or not an address
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}; give its address "
                             "as tcp://HOST:PORT", parameter="scheduler") from None
    else:
        one_thread = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               env=one_thread)  # one core per worker: no BLAS oversubscription
        client = Client(cluster)
    try:
        pending, queue = {}, list(todo)
        in_flight = 2 * max(1, len(client.scheduler_info().get("workers", {})) or (workers or 1))
        ac = as_completed()
        while queue or pending:
            while queue and len(pending) < in_flight:
                u = queue.pop(0)
                frames = read_unit(u, settings.q_unit, settings.read_options)
                content = unit_content(u, frames)
                fut = client.submit(process_unit, frames, settings, pure=False)
                pending[fut.key] = (u, content)
                ac.add(fut)
            fut = next(ac)
            u, content = pending.pop(fut.key)
            record_unit(out, u, fut.result(), settings, n_r, content)
            bar.update(u.n_frames)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


# -- run outputs ---------------------------------------------------------------------------------------

def current_frames(out: Path, units: list[Unit]) -> tuple[dict, list[str]]:
    """The recorded frames of the inputs as they are now, in run order, all at once; and the stale sources."""
    index = part_index(out)
    groups, stale = frame_groups(index, units)
    return gather(index, groups), stale


def _scale_range(index: dict, groups: list) -> tuple[float, float] | None:
    """The smallest and largest radius scale of the ok frames of ``groups`` (None: no ok frame)."""
    lo, hi = np.inf, -np.inf
    for uid, idx in groups:
        with np.load(index[uid]["path"]) as z:
            ok = z["status"][idx] == "ok"
            s = z["radius_scale"][idx][ok] if "radius_scale" in z.files else np.ones(int(ok.sum()))
        if len(s):
            lo, hi = min(lo, float(s.min())), max(hi, float(s.max()))
    return None if lo > hi else (lo, hi)


def finish_run(out: Path, units: list[Unit], radius: np.ndarray) -> RunSummary:
    """Merge the recorded frames of the current inputs into summary.csv, results.h5 and timeseries.png, a part at a
    time (memory flat with the frame count); failures and warnings listed up to MAX_LISTED."""
    from ..data.plots import TimeSeries, timeseries_figure

    index = part_index(out)
    groups, stale = frame_groups(index, units)
    n = sum(len(idx) for _, idx in groups)
    if not n:
        return RunSummary(0, 0, 0, 0.0, out, [], stale)
    scales = _scale_range(index, groups)
    series = TimeSeries(n, radius, *scales) if scales else None
    done, failures, warnings = 0, [], []
    with RunFiles(out, radius, n, {k for uid, _ in groups for k in index[uid]["optional"]}) as files:
        for cat in blocks(index, groups):
            ok = cat["status"] == "ok"
            number, scale = cat["number"], cat["radius_scale"]   # frame k's radii: radius * scale[k]
            with np.errstate(invalid="ignore", divide="ignore"):
                volume = physics.number_to_volume(number, radius)
                mean_n = scale * physics.mean_radius(number, radius)
                mean_v = scale * physics.mean_radius(volume, radius)
                width_n, width_v = scale * _widths(number, radius), scale * _widths(volume, radius)
            files.add(cat, volume, mean_n, mean_v, width_n, width_v)
            if series is not None:
                series.add(files.done - len(ok) + np.flatnonzero(ok), volume[ok], scale[ok], mean_n[ok], mean_v[ok])
            failures += [(f, r) for f, r, s in zip(cat["frame"], cat["reason"], ok, strict=True) if not s]
            warnings += [(f, w) for f, w in zip(cat["frame"], cat["warnings"], strict=True) if w]
            done += int(ok.sum())
            del failures[MAX_LISTED:], warnings[MAX_LISTED:]
    if series is not None:
        timeseries_figure(series, out / "timeseries.png")
    return RunSummary(done, n - done, 0, 0.0, out, failures, stale, warnings=warnings)
