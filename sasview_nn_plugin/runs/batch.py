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
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..data.curve import Curve
from ..data.files import atomic_path, ensure_output_dir, printable, remove_partials, safe_stem, write_atomic
from ..data.writers import write_inversion
from ..errors import InputError
from ..inference.modelfile import load_model, resolve_model_path
from ..physics import kernels as physics
from .guard import OutputLock, refuse_outputs_onto_inputs
from .plan import FRAMES, PARTS, RUN_FILES, Unit, content_hash, expand_inputs, plan_units, read_unit
from .summary import write_results_h5, write_summary_csv
from .tables import read_volume_fraction_table

__all__ = ["run_batch", "process_frames", "process_unit", "record_unit", "finish_run", "expand_inputs",
           "read_volume_fraction_table", "Settings", "FrameResult", "RunSummary", "UNIT_FRAMES"]

UNIT_FRAMES = 512   # table rows per unit without refinement (one batched forward pass)
UNIT_FRAMES_REFINE = 8  # with refinement (~0.1-10 s a frame): small units spread over the workers
PART_KEYS = ("frame", "source", "source_id", "index", "status", "reason", "number", "chi2", "phi", "weighting")


@dataclass(frozen=True)
class Settings:
    """What determines a frame's result (a run's identity for resuming)."""

    model: str                              # model file path
    volume_fraction: float | None           # one value for all frames ...
    volume_fractions: dict = field(default_factory=dict)  # ... or per frame id / file name / stem
    q_unit: str | None = None               # None: the unit each file states, else 1/A
    refine: str | None = None               # None | "lm" | "dream"
    parametrization: str = "histogram"
    frame_files: bool = True                # per-frame JSON/CSV
    allow_external_hdf5: bool = False       # follow HDF5 external links / external storage / VDS

    def signature(self) -> str:
        import hashlib

        model = Path(self.model)
        d = asdict(self) | {"model": hashlib.sha256(model.read_bytes()).hexdigest()}  # the weights, not the path
        d.pop("frame_files")
        if not d["allow_external_hdf5"]:
            d.pop("allow_external_hdf5")  # runs recorded before the option existed keep their signature
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]

    @property
    def read_options(self) -> dict:
        return {"allow_external_hdf5": True} if self.allow_external_hdf5 else {}


@dataclass
class FrameResult:
    frame: str                   # frame id: "file", "file#row" or "file#k" (parent folders added if names repeat)
    source: str
    index: int
    status: str                  # "ok" | "failed"
    reason: str = ""
    inversion: object = None     # Inversion or Refinement when ok
    curve: Curve | None = None
    source_id: str = ""          # the input's identity (file: path+size+mtime; table unit: its uid)


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


# -- processing (pure: the same on a Dask worker) ---------------------------------------------------

def _volume_fraction(settings: Settings, frame: str, source: str) -> float:
    if settings.volume_fraction is not None:
        return settings.volume_fraction
    table = settings.volume_fractions
    for key in (frame, Path(source).name, Path(source).stem, frame.split("#")[-1]):
        if key in table:
            return table[key]
    raise InputError("no volume fraction for this frame in --volume-fraction-table "
                     f"(looked for {frame!r}, {Path(source).name!r}, {Path(source).stem!r})")


def _failure(exc: Exception) -> str:
    return str(exc) if isinstance(exc, InputError) else f"{type(exc).__name__}: {exc}"


def process_frames(frames: list, settings: Settings) -> list[FrameResult]:
    """Invert (and refine) frames given as (frame id, source, source id, index, curve or failure reason).

    Without refinement, frames sharing one q array (a frame table) go through the network together
    (:func:`~sasview_nn_plugin.inference.invert.invert_many`).  Every failure is recorded, none is raised."""
    from ..inference.invert import invert, invert_many

    nn = load_model(settings.model)
    out: list[FrameResult | None] = []
    phis: dict[int, float] = {}
    for k, (fid, source, sid, index, c) in enumerate(frames):
        out.append(FrameResult(fid, source, index, "failed", c, source_id=sid) if isinstance(c, str) else None)
        if out[k] is None:
            try:
                phis[k] = _volume_fraction(settings, fid, source)
            except InputError as exc:
                out[k] = FrameResult(fid, source, index, "failed", str(exc), source_id=sid)
    if not settings.refine:
        groups: dict[tuple, list[int]] = {}
        for k in phis:
            if out[k] is None:
                c = frames[k][4]
                groups.setdefault((id(c.q), c.di is None), []).append(k)
        for ks in (g for g in groups.values() if len(g) > 1):
            curves = [frames[k][4] for k in ks]
            try:
                dis = None if curves[0].di is None else np.stack([c.di for c in curves])
                results = invert_many(curves[0].q, np.stack([c.intensity for c in curves]), dis,
                                      volume_fractions=np.array([phis[k] for k in ks]), model=nn)
            except Exception:  # e.g. rows of another shape: each frame on its own below
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
            inv = invert(c.q, c.intensity, c.di, volume_fraction=phis[k], model=nn)
            if settings.refine:
                from ..fitting.refine import refine

                inv = refine(c.q, c.intensity, c.di, inv, method=settings.refine, dq=c.dq,
                             parametrization=settings.parametrization)
            out[k] = FrameResult(fid, source, index, "ok", inversion=inv, curve=c, source_id=sid)
        except Exception as exc:  # never let one frame stop the run
            out[k] = FrameResult(fid, source, index, "failed", _failure(exc), source_id=sid)
    return out


def process_unit(frames: list, settings: Settings) -> list[FrameResult]:
    """Dask task: like process_frames, but without the curves in the result (less to send back)."""
    results = process_frames(frames, settings)
    for r in results:
        r.curve = None
    return results


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
    weighting = np.array([""] * len(results), dtype=object)
    for k, r in enumerate(results):
        if r.status != "ok":
            continue
        inv = r.inversion
        weighting[k] = "dI" if inv.di_data is not None else "equal (no dI in the file)"
        number[k] = inv.number_distribution
        phi[k] = inv.volume_fraction
        chi2[k] = getattr(inv, "chi2_reduced", np.nan)
        if settings.frame_files:
            write_inversion(inv, frames_dir, safe_stem(r.frame),
                            {"frame": printable(r.frame), "source": printable(r.source), "index": r.index})
    text = {key: np.array([printable(getattr(r, key)) for r in results], dtype=str)
            for key in ("frame", "source", "source_id", "status", "reason")}
    with atomic_path(out / PARTS / f"{unit.uid}.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **text, index=np.array([r.index for r in results]), number=number, chi2=chi2, phi=phi,
                 weighting=weighting.astype(str), content=np.array(content))


def _load_parts(out: Path) -> dict[str, dict]:
    """Every readable part of ``out`` by unit id; an unreadable one (a crash mid-write on a file system
    without atomic rename, a truncated copy) is removed, so its unit is simply done again."""
    parts = {}
    for p in sorted((out / PARTS).glob("*.npz")):
        try:
            with np.load(p) as z:
                parts[p.stem] = {k: z[k] for k in (*PART_KEYS, "content")}
        except Exception:
            p.unlink(missing_ok=True)
    return parts


def _start_output(out: Path, settings: Settings) -> None:
    """Create DIR/.parts and DIR/frames; refuse a directory holding a run of other settings."""
    ensure_output_dir(out)
    for sub in (out / PARTS, out / FRAMES):
        ensure_output_dir(sub, "run")
        remove_partials(sub)
    remove_partials(out)
    sig_file = out / PARTS / "run.json"
    sig = settings.signature()
    if sig_file.exists():
        try:
            old = json.loads(sig_file.read_text()).get("signature")
        except (ValueError, OSError, AttributeError):
            old = None
        if old != sig:
            raise InputError(f"{out} holds results of a run with other settings (model, volume fraction, "
                             "refinement or q unit); choose another --output or delete that directory")
    else:
        write_atomic(sig_file, json.dumps({"signature": sig, "settings": asdict(settings)}, default=str))


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


def _table_content(unit: Unit, settings: Settings) -> str:
    frames = read_unit(unit, settings.q_unit, settings.read_options)
    return content_hash([c for *_, c in frames if not isinstance(c, str)])


# -- the run -------------------------------------------------------------------------------------------

def run_batch(inputs: list[str], *, output: str | os.PathLike, volume_fraction: float | None = None,
              volume_fraction_table: str | os.PathLike | None = None, q_unit: str | None = None,
              model: str | None = None, refine: str | None = None, parametrization: str = "histogram",
              order: str = "name", frame_files: bool = True, scheduler: str | None = None, workers: int | None = None,
              progress: bool = True, allow_external_hdf5: bool = False) -> RunSummary:
    """Invert (and optionally refine) every frame of ``inputs``; see the module docstring."""
    t0 = time.perf_counter()
    if (volume_fraction is None) == (volume_fraction_table is None):
        raise InputError("give exactly one of --volume-fraction PHI or --volume-fraction-table CSV")
    if workers is not None and workers < 1:
        raise InputError(f"--workers must be at least 1 (got {workers})")
    table = {}
    if volume_fraction is not None:
        if not 0 < volume_fraction < physics.PHI_MAX:
            raise InputError(f"volume fraction must be in (0, {physics.PHI_MAX}) (got {volume_fraction})")
    else:
        table = read_volume_fraction_table(volume_fraction_table)
    nn = load_model(model)
    settings = Settings(model=str(resolve_model_path(model).resolve()), volume_fraction=volume_fraction,
                        volume_fractions=table, q_unit=q_unit, refine=refine, parametrization=parametrization,
                        frame_files=frame_files, allow_external_hdf5=allow_external_hdf5)
    out = Path(output)
    files, own = expand_inputs(inputs)
    if not files:
        raise InputError("no input files" + (f" (only the run files of an earlier run: {own[0]})" if own else ""))
    refuse_outputs_onto_inputs([out / n for n in RUN_FILES], files)
    units = plan_units(files, order, q_unit, UNIT_FRAMES_REFINE if refine else UNIT_FRAMES, settings.read_options)
    ensure_output_dir(out)
    with OutputLock(out):
        _start_output(out, settings)
        parts = _load_parts(out)
        todo, skipped = _todo(units, parts, settings)
        from tqdm import tqdm

        bar = tqdm(total=sum(u.n_frames for u in todo), unit="frame", disable=not progress, desc="frames",
                   smoothing=0.05)
        try:
            if scheduler or workers:
                _run_dask(todo, settings, out, len(nn.radius), bar, scheduler, workers)
            else:
                for u in todo:
                    frames = read_unit(u, q_unit, settings.read_options)
                    content = content_hash([c for *_, c in frames if not isinstance(c, str)]) if u.table else ""
                    record_unit(out, u, process_frames(frames, settings), settings, len(nn.radius), content)
                    bar.update(u.n_frames)
        finally:
            bar.close()
        summary = finish_run(out, units, nn.radius)
    summary.seconds = time.perf_counter() - t0
    summary.skipped = skipped
    summary.own_outputs = len(own)
    return summary


def _run_dask(todo, settings, out, n_r, bar, scheduler, workers) -> None:
    """Send units to a Dask cluster; the client reads the inputs and writes every result."""
    try:
        from dask.distributed import Client, LocalCluster, as_completed
    except ImportError:
        raise InputError("--scheduler/--workers need dask.distributed: pip install -e '.[cluster]'") from None
    cluster = None
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except Exception as exc:  # unreachable (OSError, TimeoutError) or not an address (ValueError)
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}; give its address "
                             "as tcp://HOST:PORT") from None
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
                content = content_hash([c for *_, c in frames if not isinstance(c, str)]) if u.table else ""
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

def _current_frames(out: Path, units: list[Unit]) -> tuple[dict, list[str]]:
    """The recorded frames of the inputs as they are now, in run order; and the stale sources."""
    parts = _load_parts(out)
    groups: list[tuple[dict, np.ndarray]] = []
    by_file: dict[str, list[tuple[dict, int]]] = {}
    for uid, p in parts.items():
        if uid.startswith("f"):
            for k, sid in enumerate(p["source_id"]):
                by_file.setdefault(str(sid), []).append((p, k))
    used_tables, used_files = set(), set()
    for u in units:
        if u.table is not None:
            if u.uid in parts:
                used_tables.add(u.uid)
                groups.append((parts[u.uid], np.arange(len(parts[u.uid]["frame"]))))
        else:
            for sid in u.file_ids:
                used_files.add(sid)
                groups += [(p, np.array([k])) for p, k in by_file.get(sid, [])]
    stale = sorted({str(parts[uid]["source"][0]) for uid in parts
                    if uid.startswith("t") and uid not in used_tables and len(parts[uid]["source"])}
                   | {str(p["source"][k]) for sid, hits in by_file.items() if sid not in used_files
                      for p, k in hits})
    if not groups:
        return {key: np.array([]) for key in PART_KEYS}, stale
    cat = {key: np.concatenate([p[key][idx] for p, idx in groups]) for key in PART_KEYS}
    return cat, stale


def finish_run(out: Path, units: list[Unit], radius: np.ndarray) -> RunSummary:
    """Merge the recorded frames of the current inputs into summary.csv, results.h5 and timeseries.png."""
    cat, stale = _current_frames(out, units)
    if not len(cat["frame"]):
        return RunSummary(0, 0, 0, 0.0, out, [], stale)
    ok = cat["status"] == "ok"
    number = cat["number"]  # failed frames are NaN rows and stay NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        volume = physics.number_to_volume(number, radius)
        mean_n, mean_v = physics.mean_radius(number, radius), physics.mean_radius(volume, radius)
        width_n, width_v = _widths(number, radius), _widths(volume, radius)
    write_summary_csv(out / "summary.csv", cat, mean_n, mean_v, width_n, width_v)
    write_results_h5(out / "results.h5", radius, cat, volume, mean_n, mean_v, width_n, width_v)
    if ok.any():
        from ..data.plots import timeseries_figure

        timeseries_figure(radius, volume[ok], mean_n[ok], mean_v[ok], np.flatnonzero(ok), out / "timeseries.png")
    failures = [(f, r) for f, r, s in zip(cat["frame"], cat["reason"], cat["status"], strict=True) if s != "ok"]
    return RunSummary(int(ok.sum()), int((~ok).sum()), 0, 0.0, out, failures, stale)
