"""Beamline runs: many frames in one command, resumable, optionally on a Dask cluster.

A run lists its frames (files, globs, directories, multi-entry NXcanSAS files and 2-D HDF5 frame
tables), cuts them into *units* (up to ``UNIT_FRAMES`` table rows, or ``UNIT_FILES`` files) in a
fixed order, and processes each unit with :func:`process_unit` — a pure function of the frames'
arrays and the settings, so the serial run and a Dask cluster give identical results.  The client
alone reads inputs and writes outputs (no shared file system needed).  Each finished unit is
recorded atomically in ``DIR/.parts/``; re-running the same command skips recorded units, and
``summary.csv``, ``results.h5`` and ``timeseries.png`` are rebuilt from all parts at the end.
A frame that fails is recorded with its reason and skipped; it never stops the run.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from . import physics
from .errors import InputError
from .io import Curve, FrameTable, load_curves, open_frame_table, write_atomic, write_inversion
from .modelfile import load_model, resolve_model_path

UNIT_FRAMES = 512   # table rows per unit without refinement (one batched forward pass)
UNIT_FRAMES_REFINE = 8  # with refinement (~0.1-10 s a frame): small units spread over the workers
UNIT_FILES = 16     # single files per unit (UNIT_FRAMES_REFINE with refinement)
PARTS = ".parts"


@dataclass(frozen=True)
class Settings:
    """What determines a frame's result (a run's identity for resuming)."""

    model: str                              # model file path
    volume_fraction: float | None           # one value for all frames ...
    volume_fractions: dict = field(default_factory=dict)  # ... or per frame id / file name / stem
    q_unit: str = "A"
    refine: str | None = None               # None | "lm" | "dream"
    parametrization: str = "histogram"
    frame_files: bool = True                # per-frame JSON/CSV

    def signature(self) -> str:
        model = Path(self.model)
        d = asdict(self) | {"model": hashlib.sha256(model.read_bytes()).hexdigest()}  # the weights, not the path
        d.pop("frame_files")
        return hashlib.sha256(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class Unit:
    """A piece of work: rows of one frame table, or a list of single files."""

    uid: str
    table: FrameTable | None = None
    rows: np.ndarray | None = None
    files: list[str] = field(default_factory=list)


@dataclass
class FrameResult:
    frame: str                   # frame id: "file", "file#row" or "file#k"
    source: str
    index: int
    status: str                  # "ok" | "failed"
    reason: str = ""
    inversion: object = None     # Inversion or Refinement when ok
    curve: Curve | None = None


@dataclass
class RunSummary:
    done: int
    failed: int
    skipped: int                 # frames in units recorded by an earlier run
    seconds: float
    output: Path
    failures: list[tuple[str, str]]


# -- listing ----------------------------------------------------------------------------------------

def expand_inputs(inputs: list[str]) -> list[Path]:
    """Files from paths, globs and directories (directories: their files, not recursive), no repeats."""
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            out += sorted(x for x in p.iterdir() if x.is_file() and not x.name.startswith("."))
        elif p.is_file():
            out.append(p)
        else:
            matches = sorted(Path(m) for m in glob.glob(item) if Path(m).is_file())
            if not matches:
                raise InputError(f"{item}: no such file, directory or matching glob")
            out += matches
    seen, unique = set(), []
    for p in out:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def plan_units(files: list[Path], order: str = "name", q_unit: str = "A", unit_frames: int = UNIT_FRAMES,
               ) -> list[Unit]:
    """The run's units in processing order.  ``order``: name | mtime | a per-frame field of the tables."""
    if order == "name":
        files = sorted(files, key=lambda p: str(p))
    elif order == "mtime":
        files = sorted(files, key=lambda p: (p.stat().st_mtime, str(p)))
    tables, singles = [], []
    for p in files:
        t = open_frame_table(p, q_unit)
        (tables if t is not None else singles).append((p, t))
    if order not in ("name", "mtime"):
        if singles or not tables:
            raise InputError(f"--order {order}: ordering by a field needs HDF5 frame tables holding a 1-D "
                             f"'{order}' dataset; {singles[0][0] if singles else 'no input'} is not one")
        missing = [str(p) for p, t in tables if order not in t.fields]
        if missing:
            raise InputError(f"--order {order}: no per-frame dataset {order!r} in {missing[0]}; "
                             f"available: {', '.join(tables[0][1].fields) or 'none'}")
    units: list[Unit] = []
    for k, (_, t) in enumerate(tables):
        rows = np.arange(t.n_frames)
        if order not in ("name", "mtime"):
            rows = np.argsort(t.field(order), kind="stable")
        for j, start in enumerate(range(0, t.n_frames, unit_frames)):
            units.append(Unit(f"t{k:04d}-{j:06d}", table=t, rows=rows[start:start + unit_frames]))
    names = [str(p) for p, _ in singles]
    unit_files = UNIT_FILES if unit_frames >= UNIT_FILES else unit_frames
    for j, start in enumerate(range(0, len(names), unit_files)):
        units.append(Unit(f"f{j:06d}", files=names[start:start + unit_files]))
    return units


def read_unit(unit: Unit, q_unit: str) -> list[FrameResult | tuple[str, str, int, Curve]]:
    """The unit's frames as (frame id, source, index, curve), or FrameResults for files that failed to load."""
    if unit.table is not None:
        name = Path(unit.table.path).name
        order = np.argsort(unit.rows)  # h5py wants increasing rows; give them back in run order
        curves = unit.table.read(unit.rows[order])
        back = np.empty(len(order), dtype=int)
        back[order] = np.arange(len(order))
        return [(f"{name}#{int(unit.rows[i])}", unit.table.path, int(unit.rows[i]), curves[back[i]])
                for i in range(len(unit.rows))]
    out: list = []
    for f in unit.files:
        try:
            curves = load_curves(f, q_unit)
        except InputError as exc:
            out.append(FrameResult(Path(f).name, f, -1, "failed", str(exc)))
            continue
        except Exception as exc:  # a reader we do not know failing in a way we did not foresee
            out.append(FrameResult(Path(f).name, f, -1, "failed", f"cannot read: {type(exc).__name__}: {exc}"))
            continue
        for k, c in enumerate(curves):
            fid = Path(f).name if len(curves) == 1 else f"{Path(f).name}#{k}"
            out.append((fid, f, k if len(curves) > 1 else 0, c))
    return out


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


def process_frames(frames: list, settings: Settings) -> list[FrameResult]:
    """Invert (and refine) frames given as (frame id, source, index, curve); failures are recorded.

    Without refinement, frames sharing one q array (a frame table) go through the network together
    (:func:`~sasview_nn_plugin.invert.invert_many`)."""
    from .invert import invert, invert_many

    nn = load_model(settings.model)
    out: list[FrameResult | None] = [item if isinstance(item, FrameResult) else None for item in frames]
    phis: dict[int, float] = {}
    for k, item in enumerate(frames):
        if out[k] is None:
            fid, source, index, _ = item
            try:
                phis[k] = _volume_fraction(settings, fid, source)
            except InputError as exc:
                out[k] = FrameResult(fid, source, index, "failed", str(exc))
    if not settings.refine:
        groups: dict[tuple, list[int]] = {}
        for k in phis:
            if out[k] is None:
                c = frames[k][3]
                groups.setdefault((id(c.q), c.di is None), []).append(k)
        for ks in (g for g in groups.values() if len(g) > 1):
            curves = [frames[k][3] for k in ks]
            dis = None if curves[0].di is None else np.stack([c.di for c in curves])
            results = invert_many(curves[0].q, np.stack([c.intensity for c in curves]), dis,
                                  volume_fractions=np.array([phis[k] for k in ks]), model=nn)
            for k, c, res in zip(ks, curves, results, strict=True):
                fid, source, index, _ = frames[k]
                out[k] = (FrameResult(fid, source, index, "failed", str(res)) if isinstance(res, Exception)
                          else FrameResult(fid, source, index, "ok", inversion=res, curve=c))
    for k, item in enumerate(frames):
        if out[k] is not None:
            continue
        fid, source, index, c = item
        try:
            inv = invert(c.q, c.intensity, c.di, volume_fraction=phis[k], model=nn)
            if settings.refine:
                from .refine import refine

                inv = refine(c.q, c.intensity, c.di, inv, method=settings.refine, dq=c.dq,
                             parametrization=settings.parametrization)
            out[k] = FrameResult(fid, source, index, "ok", inversion=inv, curve=c)
        except InputError as exc:
            out[k] = FrameResult(fid, source, index, "failed", str(exc))
        except Exception as exc:  # never let one frame stop the run
            out[k] = FrameResult(fid, source, index, "failed", f"{type(exc).__name__}: {exc}")
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


def record_unit(out: Path, unit: Unit, results: list[FrameResult], settings: Settings, n_r: int) -> None:
    """Write the unit's per-frame files (optional) and its part file (atomically, last)."""
    frames_dir = out / "frames"
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
            stem = r.frame.replace("#", "_")
            write_inversion(inv, frames_dir, stem, {"frame": r.frame, "source": r.source, "index": r.index})
    part = out / PARTS / f"{unit.uid}.npz"
    tmp = part.with_name(f".{part.stem}.partial-{os.getpid()}.npz")
    np.savez(tmp, frame=np.array([r.frame for r in results], dtype=str),
             source=np.array([r.source for r in results], dtype=str),
             index=np.array([r.index for r in results]), status=np.array([r.status for r in results], dtype=str),
             reason=np.array([r.reason for r in results], dtype=str), number=number, chi2=chi2, phi=phi,
             weighting=weighting.astype(str))
    os.replace(tmp, part)


def _start_output(out: Path, settings: Settings) -> set[str]:
    """Create DIR and DIR/.parts; return the units already recorded by an earlier run of the same settings."""
    parts = out / PARTS
    try:
        parts.mkdir(parents=True, exist_ok=True)
        (out / "frames").mkdir(exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create output directory {out}: {exc.strerror}") from None
    if not os.access(out, os.W_OK):
        raise InputError(f"output directory {out} is not writable")
    sig_file = parts / "run.json"
    sig = settings.signature()
    if sig_file.exists():
        old = json.loads(sig_file.read_text()).get("signature")
        if old != sig:
            raise InputError(f"{out} holds results of a run with other settings (model, volume fraction, "
                             "refinement or q unit); choose another --output or delete that directory")
    else:
        write_atomic(sig_file, json.dumps({"signature": sig, "settings": asdict(settings)}, default=str))
    for stale in parts.glob(".*.partial-*"):
        stale.unlink(missing_ok=True)
    return {p.stem for p in parts.glob("*.npz")}


# -- the run -------------------------------------------------------------------------------------------

def run_batch(inputs: list[str], *, output: str | os.PathLike, volume_fraction: float | None = None,
              volume_fraction_table: str | os.PathLike | None = None, q_unit: str = "A", model: str | None = None,
              refine: str | None = None, parametrization: str = "histogram", order: str = "name",
              frame_files: bool = True, scheduler: str | None = None, workers: int | None = None,
              progress: bool = True) -> RunSummary:
    """Invert (and optionally refine) every frame of ``inputs``; see the module docstring."""
    t0 = time.perf_counter()
    if (volume_fraction is None) == (volume_fraction_table is None):
        raise InputError("give exactly one of --volume-fraction PHI or --volume-fraction-table CSV")
    table = {}
    if volume_fraction is not None:
        if not 0 < volume_fraction < physics.PHI_MAX:
            raise InputError(f"volume fraction must be in (0, {physics.PHI_MAX}) (got {volume_fraction})")
    else:
        table = read_volume_fraction_table(volume_fraction_table)
    nn = load_model(model)
    settings = Settings(model=str(resolve_model_path(model).resolve()), volume_fraction=volume_fraction,
                        volume_fractions=table, q_unit=q_unit, refine=refine, parametrization=parametrization,
                        frame_files=frame_files)
    files = expand_inputs(inputs)
    if not files:
        raise InputError("no input files")
    units = plan_units(files, order, q_unit, UNIT_FRAMES_REFINE if refine else UNIT_FRAMES)
    out = Path(output)
    if out.exists() and not out.is_dir():
        raise InputError(f"--output {out} exists and is not a directory")
    done_units = _start_output(out, settings)
    todo = [u for u in units if u.uid not in done_units]
    n_total = sum(len(u.rows) if u.table is not None else len(u.files) for u in todo)
    from tqdm import tqdm

    bar = tqdm(total=n_total, unit="frame", disable=not progress, desc="frames", smoothing=0.05)
    try:
        if scheduler or workers:
            _run_dask(todo, settings, out, len(nn.radius), bar, scheduler, workers)
        else:
            for u in todo:
                frames = read_unit(u, q_unit)
                record_unit(out, u, process_frames(frames, settings), settings, len(nn.radius))
                bar.update(len(u.rows) if u.table is not None else len(u.files))
    finally:
        bar.close()
    summary = finish_run(out, units, nn.radius)
    summary.seconds = time.perf_counter() - t0
    summary.skipped = sum(len(u.rows) if u.table is not None else len(u.files) for u in units
                          if u.uid in done_units)
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
        except OSError as exc:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from None
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
                fut = client.submit(process_unit, read_unit(u, settings.q_unit), settings, pure=False)
                pending[fut.key] = u
                ac.add(fut)
            fut = next(ac)
            u = pending.pop(fut.key)
            record_unit(out, u, fut.result(), settings, n_r)
            bar.update(len(u.rows) if u.table is not None else len(u.files))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def read_volume_fraction_table(path) -> dict[str, float]:
    """CSV with a header naming a frame column (frame|file|name) and volume_fraction (or phi)."""
    import csv

    p = Path(path)
    if not p.is_file():
        raise InputError(f"--volume-fraction-table {p}: no such file")
    try:
        rows = list(csv.DictReader(p.read_text().splitlines()))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InputError(f"--volume-fraction-table {p}: not a CSV file ({exc})") from None
    if not rows:
        raise InputError(f"--volume-fraction-table {p}: no rows")
    cols = {c.strip().lower(): c for c in rows[0]}
    key = next((cols[c] for c in ("frame", "file", "name") if c in cols), None)
    val = next((cols[c] for c in ("volume_fraction", "phi") if c in cols), None)
    if key is None or val is None:
        raise InputError(f"--volume-fraction-table {p}: needs columns 'frame' (or file/name) and "
                         f"'volume_fraction' (or phi); found {', '.join(rows[0])}")
    table = {}
    for n, r in enumerate(rows, 2):
        try:
            phi = float(r[val])
        except (TypeError, ValueError):
            raise InputError(f"--volume-fraction-table {p}: line {n}: {r[val]!r} is not a number") from None
        if not 0 < phi < physics.PHI_MAX:
            raise InputError(f"--volume-fraction-table {p}: line {n}: volume fraction {phi} "
                             f"is not in (0, {physics.PHI_MAX})")
        table[str(r[key]).strip()] = phi
    return table


# -- run outputs ---------------------------------------------------------------------------------------

def finish_run(out: Path, units: list[Unit], radius: np.ndarray) -> RunSummary:
    """Merge every unit's part into summary.csv, results.h5 and timeseries.png (each atomically)."""
    parts = [np.load(out / PARTS / f"{u.uid}.npz") for u in units if (out / PARTS / f"{u.uid}.npz").exists()]
    if not parts:
        return RunSummary(0, 0, 0, 0.0, out, [])
    cat = {k: np.concatenate([p[k] for p in parts]) for k in ("frame", "source", "index", "status", "reason",
                                                                "number", "chi2", "phi", "weighting")}
    ok = cat["status"] == "ok"
    number = cat["number"]  # failed frames are NaN rows and stay NaN
    with np.errstate(invalid="ignore", divide="ignore"):
        volume = physics.number_to_volume(number, radius)
        mean_n, mean_v = physics.mean_radius(number, radius), physics.mean_radius(volume, radius)
        width_n, width_v = _widths(number, radius), _widths(volume, radius)
    header = "frame,source,index,mean_radius_number_A,mean_radius_volume_A,width_number_A,width_volume_A," \
             "volume_fraction,chi2_reduced,weighting,status,reason"
    lines = [header]
    for k in range(len(ok)):
        reason = cat["reason"][k].replace('"', "'")
        nums = (mean_n[k], mean_v[k], width_n[k], width_v[k], cat["phi"][k], cat["chi2"][k])
        lines.append(f"{cat['frame'][k]},{cat['source'][k]},{cat['index'][k]},"
                     + ",".join("" if not np.isfinite(x) else f"{x:.6g}" for x in nums)
                     + f",{cat['weighting'][k]},{cat['status'][k]},\"{reason}\"")
    write_atomic(out / "summary.csv", "\n".join(lines) + "\n")
    write_results_h5(out / "results.h5", radius, cat, volume, mean_n, mean_v, width_n, width_v)
    if ok.any():
        from .plots import timeseries_figure

        timeseries_figure(radius, volume[ok], mean_n[ok], mean_v[ok], np.flatnonzero(ok), out / "timeseries.png")
    failures = [(f, r) for f, r, s in zip(cat["frame"], cat["reason"], cat["status"], strict=True) if s != "ok"]
    return RunSummary(int(ok.sum()), int((~ok).sum()), 0, 0.0, out, failures)


def write_results_h5(path: Path, radius, cat, volume, mean_n, mean_v, width_n, width_v) -> None:
    """All distributions in one NeXus-style HDF5 file (NXentry/NXdata; readable by nexusformat, silx)."""
    import h5py

    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as f:
            f.attrs["NX_class"] = "NXroot"
            f.attrs["default"] = "entry"
            f.attrs["creator"] = "sasview_nn_plugin"
            e = f.create_group("entry")
            e.attrs["NX_class"] = "NXentry"
            e.attrs["default"] = "distributions"
            e["definition"] = "sasview_nn_plugin.batch"
            d = e.create_group("distributions")
            d.attrs["NX_class"] = "NXdata"
            d.attrs["signal"] = "volume_distribution"
            d.attrs["axes"] = ["frame_index", "radius"]
            d.attrs["frame_index_indices"] = 0
            d.attrs["radius_indices"] = 1
            d["radius"] = radius
            d["radius"].attrs["units"] = "Angstrom"
            d["frame_index"] = np.arange(len(cat["frame"]))
            d["volume_distribution"] = volume
            d["number_distribution"] = cat["number"]
            for name, values in (("mean_radius_number", mean_n), ("mean_radius_volume", mean_v),
                                 ("width_number", width_n), ("width_volume", width_v)):
                d[name] = values
                d[name].attrs["units"] = "Angstrom"
            d["volume_fraction"] = cat["phi"]
            d["chi2_reduced"] = cat["chi2"]
            str_dt = h5py.string_dtype()
            for name in ("frame", "source", "status", "reason"):
                d.create_dataset(name, data=np.asarray(cat[name], dtype=object), dtype=str_dt)
            d["index"] = cat["index"]
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
