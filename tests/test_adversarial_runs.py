"""Adversarial runs (issue 17): outputs onto inputs, resume of grown inputs, poison inputs, summary.csv
as real CSV, concurrent runs, and the small ways a run used to end in a traceback.

Each test reproduces a defect found on the code before the fix (it failed there) and checks the fix.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.data.load import load_curves
from sasview_nn_plugin.data.writers import save_curve
from sasview_nn_plugin.runs import batch as beamline
from sasview_nn_plugin.runs.summary import COLUMNS
from sasview_nn_plugin.training.simulate import growth_series

EXAMPLE = REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5"
FORMULA = ("=", "+", "-", "@", "\t", "\r")


@pytest.fixture(scope="module")
def curve():
    return load_curves(EXAMPLE)[0]


@pytest.fixture(scope="module")
def series_curves(tmp_path_factory):
    """60 frames of growing particles (25 -> 60 A) as curves, to write as single files."""
    table = growth_series(tmp_path_factory.mktemp("g") / "g.h5", 60, seed=11, radius_start=25.0)
    with h5py.File(table) as f:
        q, inten, di = f["q"][:], f["intensity"][:], f["dI"][:]
    return q, inten, di


def write_files(d: Path, series_curves, names) -> None:
    q, inten, di = series_curves
    d.mkdir(parents=True, exist_ok=True)
    for k, name in enumerate(names):
        save_curve(d / name, q, inten[k % len(inten)], di[k % len(di)])


def rows(out: Path) -> list[dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def batch(*args) -> int:
    return main(["batch", *map(str, args), "--volume-fraction", "0.3", "--quiet"])


# -- 1. outputs never onto inputs ----------------------------------------------------------------------

def test_invert_refuses_to_overwrite_an_input_named_like_an_output(curve, tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    save_curve(d / "sample.csv", curve.q, curve.intensity, curve.di)
    before = (d / "sample.csv").read_bytes()
    rc = main(["invert", str(d / "sample.csv"), "--volume-fraction", "0.3", "--output", str(d)])
    assert rc == 2 and "would overwrite the input" in capsys.readouterr().err
    assert (d / "sample.csv").read_bytes() == before and not (d / "sample.json").exists()


def test_invert_refuses_a_sasview_project_onto_an_input(curve, tmp_path, capsys):
    data = tmp_path / "data.txt"
    save_curve(data, curve.q, curve.intensity, curve.di)
    before = data.read_bytes()
    rc = main(["invert", str(data), "--volume-fraction", "0.3", "--output", str(tmp_path / "o"),
               "--sasview-project", str(data)])
    assert rc == 2 and "would overwrite the input" in capsys.readouterr().err
    assert data.read_bytes() == before and not (tmp_path / "o").exists()


def test_invert_refuses_an_output_that_is_a_link_to_an_input(curve, tmp_path, capsys):
    data = tmp_path / "x.txt"
    save_curve(data, curve.q, curve.intensity, curve.di)
    out = tmp_path / "o"
    out.mkdir()
    (out / "x.csv").symlink_to(data)
    before = data.read_bytes()
    assert main(["invert", str(data), "--volume-fraction", "0.3", "--output", str(out)]) == 2
    assert "would overwrite the input" in capsys.readouterr().err and data.read_bytes() == before


def test_batch_refuses_to_overwrite_an_input_named_results_h5(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    growth_series(d / "results.h5", 3, seed=1)
    before = (d / "results.h5").read_bytes()
    assert batch(d, "--output", d) == 2
    assert "would overwrite the input" in capsys.readouterr().err
    assert (d / "results.h5").read_bytes() == before and not (d / "summary.csv").exists()


def test_batch_into_its_input_directory_never_reads_its_own_outputs(series_curves, tmp_path, capsys):
    d = tmp_path / "d"
    write_files(d, series_curves, [f"f{k:02d}.txt" for k in range(4)])
    assert batch(d, "--output", d) == 0
    first = rows(d)
    assert batch(d, "--output", d) == 0  # the second run lists summary.csv, results.h5, timeseries.png too
    second = rows(d)
    assert [r["frame"] for r in second] == [r["frame"] for r in first] == [f"f{k:02d}.txt" for k in range(4)]
    assert "left out 3 files written by an earlier sasview-nn run" in capsys.readouterr().err


# -- 2. resume keyed by identity -----------------------------------------------------------------------

def test_resume_of_a_grown_directory_processes_the_new_files(series_curves, tmp_path):
    d, out = tmp_path / "d", tmp_path / "run"
    write_files(d, series_curves, [f"f{k:02d}.txt" for k in range(40)])
    assert batch(d, "--output", out, "--no-frame-files") == 0
    write_files(d, series_curves, [f"f{k:02d}.txt" for k in range(40, 50)])
    for k in range(40, 50):  # files with the contents of frames 40-49 (their names sort last)
        save_curve(d / f"f{k:02d}.txt", series_curves[0], series_curves[1][k], series_curves[2][k])
    s = beamline.run_batch([str(d)], output=out, volume_fraction=0.3, frame_files=False, progress=False)
    assert s.skipped == 40 and s.done == 50
    got = rows(out)
    assert [r["frame"] for r in got] == [f"f{k:02d}.txt" for k in range(50)]
    fresh = tmp_path / "fresh"
    beamline.run_batch([str(d)], output=fresh, volume_fraction=0.3, frame_files=False, progress=False)
    assert [r["mean_radius_number_A"] for r in got] == [r["mean_radius_number_A"] for r in rows(fresh)]


def test_resume_redoes_a_changed_file_and_reports_a_removed_one(series_curves, tmp_path):
    d, out = tmp_path / "d", tmp_path / "run"
    q, inten, di = series_curves
    write_files(d, series_curves, ["a.txt", "b.txt", "c.txt"])
    beamline.run_batch([str(d)], output=out, volume_fraction=0.3, progress=False)
    old = {r["frame"]: float(r["mean_radius_number_A"]) for r in rows(out)}
    save_curve(d / "a.txt", q, inten[59], di[59])   # other particles, same name
    os.utime(d / "a.txt", ns=(10**18, 10**18))     # and a different modification time for sure
    (d / "c.txt").unlink()
    s = beamline.run_batch([str(d)], output=out, volume_fraction=0.3, progress=False)
    new = {r["frame"]: float(r["mean_radius_number_A"]) for r in rows(out)}
    assert sorted(new) == ["a.txt", "b.txt"] and s.skipped == 1
    assert new["b.txt"] == old["b.txt"] and new["a.txt"] > 1.5 * old["a.txt"]
    assert sorted(Path(x).name for x in s.stale) == ["a.txt", "c.txt"]


def test_resume_of_a_grown_frame_table_gives_every_row(tmp_path):
    table, out = tmp_path / "g.h5", tmp_path / "run"
    growth_series(table, 100, seed=2)
    beamline.run_batch([str(table)], output=out, volume_fraction=0.3, frame_files=False, progress=False)
    growth_series(table, 200, seed=2)
    s = beamline.run_batch([str(table)], output=out, volume_fraction=0.3, frame_files=False, progress=False)
    assert s.done == 200 and len(rows(out)) == 200
    assert [r["frame"] for r in rows(out)] == [f"g.h5#{k}" for k in range(200)]


def test_resume_redoes_table_rows_whose_numbers_changed(tmp_path):
    table, out = tmp_path / "g.h5", tmp_path / "run"
    growth_series(table, 10, seed=3, radius_start=25.0)
    beamline.run_batch([str(table)], output=out, volume_fraction=0.3, frame_files=False, progress=False)
    before = [float(r["mean_radius_number_A"]) for r in rows(out)]
    with h5py.File(table, "a") as f:  # the same shape, other frames: the rows in reverse order
        f["intensity"][...] = f["intensity"][:][::-1]
        f["dI"][...] = f["dI"][:][::-1]
    s = beamline.run_batch([str(table)], output=out, volume_fraction=0.3, frame_files=False, progress=False)
    after = [float(r["mean_radius_number_A"]) for r in rows(out)]
    assert s.skipped == 0 and after == pytest.approx(before[::-1], rel=1e-5)


def test_interrupted_run_then_grown_inputs_resume_to_a_fresh_runs_result(series_curves, tmp_path, monkeypatch):
    d, out, fresh = tmp_path / "d", tmp_path / "run", tmp_path / "fresh"
    write_files(d, series_curves, [f"f{k:02d}.txt" for k in range(40)])
    real, calls = beamline.record_unit, []

    def record_then_stop(*args, **kwargs):
        if calls:
            raise KeyboardInterrupt  # Ctrl-C after the first unit (16 files) was recorded
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(beamline, "record_unit", record_then_stop)
    with pytest.raises(KeyboardInterrupt):
        beamline.run_batch([str(d)], output=out, volume_fraction=0.3, progress=False)
    monkeypatch.setattr(beamline, "record_unit", real)
    write_files(d, series_curves, ["a_new.txt", "z_new.txt"])
    s = beamline.run_batch([str(d)], output=out, volume_fraction=0.3, progress=False)
    assert s.skipped == 16 and s.done == 42
    beamline.run_batch([str(d)], output=fresh, volume_fraction=0.3, progress=False)
    assert rows(out) == rows(fresh)
    assert sorted(p.name for p in (out / "frames").iterdir()) == sorted(p.name for p in (fresh / "frames").iterdir())


# -- 5. poison inputs are frame failures ----------------------------------------------------------------

def test_poison_inputs_are_recorded_failures_and_the_summary_is_written(series_curves, tmp_path):
    d, out = tmp_path / "d", tmp_path / "run"
    write_files(d, series_curves, ["good.txt", "n" * 240 + ".txt"])
    q, inten, di = series_curves
    with h5py.File(d / "bad_dq.h5", "w") as f:       # dq of the wrong shape
        f["q"], f["intensity"], f["dq"] = q, inten[:3], np.ones(len(q) + 3)
    with h5py.File(d / "strings.h5", "w") as f:      # a string-typed intensity
        f["q"] = q
        f.create_dataset("intensity", data=np.full((2, len(q)), "abc", dtype=object), dtype=h5py.string_dtype())
    (d / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    latin1 = os.fsdecode(b"caf\xe9.txt")              # a Latin-1 name on a UTF-8 system
    shutil.copy(d / "good.txt", d / latin1)
    assert batch(d, "--output", out) == 0
    got = {r["frame"]: r for r in rows(out)}
    assert got["good.txt"]["status"] == "ok" and got["n" * 240 + ".txt"]["status"] == "ok"
    assert got["caf\\xe9.txt"]["status"] == "ok"
    assert got["dangling.txt"]["status"] == "failed" and "dangling" in got["dangling.txt"]["reason"]
    failed = {f for f, r in got.items() if r["status"] == "failed"}
    assert {"bad_dq.h5#0", "bad_dq.h5#1", "bad_dq.h5#2"} <= failed or "bad_dq.h5" in failed
    assert any(f.startswith("strings.h5") for f in failed)
    assert len(list((out / "frames").glob("*.json"))) == 3


# -- 6. summary.csv is real CSV -------------------------------------------------------------------------

def test_summary_csv_quotes_names_and_neutralises_formulas(series_curves, tmp_path):
    d, out = tmp_path / "d", tmp_path / "run"
    names = ["a,b.txt", "quote\"d.txt", "new\nline.txt", "=1+1.txt", "+x.txt", "-x.txt", "@x.txt", "plain.txt"]
    write_files(d, series_curves, names)
    assert batch(d, "--output", out) == 0
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert len(table) == 1 + len(names) and {len(r) for r in table} == {len(table[0])}
    for row in table[1:]:
        w = COLUMNS.index("weighting")
        for cell in (row[0], row[1], *row[w + 1:w + 4]):  # the text cells (status, reason, warnings)
            assert not cell.startswith(FORMULA), row
    frames = sorted(r[0] for r in table[1:])
    assert frames == sorted("'" + n if n.startswith(FORMULA) else n for n in names)


def test_files_with_one_name_in_two_folders_are_two_frames(series_curves, tmp_path):
    out = tmp_path / "run"
    write_files(tmp_path / "dupA", series_curves, ["sample.txt"])
    q, inten, di = series_curves
    (tmp_path / "dupB").mkdir()
    save_curve(tmp_path / "dupB" / "sample.txt", q, inten[50], di[50])
    assert batch(tmp_path / "dupA", tmp_path / "dupB", "--output", out) == 0
    got = rows(out)
    assert sorted(r["frame"] for r in got) == ["dupA/sample.txt", "dupB/sample.txt"]
    assert len({r["mean_radius_number_A"] for r in got}) == 2
    js = [json.loads(p.read_text()) for p in (out / "frames").glob("*.json")]
    assert sorted(j["frame"] for j in js) == ["dupA/sample.txt", "dupB/sample.txt"]


# -- 9. one run per output directory ----------------------------------------------------------------------

def test_a_second_run_on_a_locked_output_directory_is_refused(series_curves, tmp_path, capsys):
    d, out = tmp_path / "d", tmp_path / "run"
    write_files(d, series_curves, ["a.txt"])
    out.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; "
                               "from sasview_nn_plugin.runs.guard import OutputLock; "
                               "lock = OutputLock(Path(sys.argv[1])).__enter__(); print('held', flush=True); "
                               "time.sleep(60)", str(out)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        assert batch(d, "--output", out) == 2
        assert "another sasview-nn run is writing" in capsys.readouterr().err
        assert main(["invert", str(d / "a.txt"), "--volume-fraction", "0.3", "--output", str(out)]) == 2
        assert not (out / "summary.csv").exists() and not (out / "a.json").exists()
    finally:
        holder.kill()
        holder.wait()
    assert batch(d, "--output", out) == 0  # the lock died with its process


# -- 11. one line instead of a traceback, and leftovers cleaned ---------------------------------------------

def test_disk_full_is_one_line(series_curves, tmp_path, capsys, monkeypatch):
    d = tmp_path / "d"
    write_files(d, series_curves, ["a.txt"])

    def full(path, *args):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr("sasview_nn_plugin.runs.summary.atomic_path", full)   # the run files (streamed)
    assert batch(d, "--output", tmp_path / "run") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "No space left on device" in err and "free some space" in err


def test_corrupt_resume_part_is_redone(tmp_path):
    table, ref, out = tmp_path / "g.h5", tmp_path / "ref", tmp_path / "run"
    growth_series(table, 20, seed=5)
    beamline.run_batch([str(table)], output=ref, volume_fraction=0.3, frame_files=False, progress=False)
    beamline.run_batch([str(table)], output=out, volume_fraction=0.3, frame_files=False, progress=False)
    part = next((out / ".parts").glob("t*.npz"))
    part.write_bytes(part.read_bytes()[:100])  # a truncated part (a copy cut short)
    s = beamline.run_batch([str(table)], output=out, volume_fraction=0.3, frame_files=False, progress=False)
    assert s.done == 20 and s.skipped == 0 and rows(out) == rows(ref)


def test_partial_files_of_a_killed_run_are_removed(series_curves, tmp_path):
    d, out = tmp_path / "d", tmp_path / "run"
    write_files(d, series_curves, ["a.txt"])
    assert batch(d, "--output", out) == 0
    for where in (out, out / "frames", out / ".parts"):
        (where / ".x.json.partial-999999").write_text("{")
    assert batch(d, "--output", out) == 0
    assert not list(out.rglob("*.partial-*"))


@pytest.mark.parametrize("args, message", [
    (["--workers", "-1"], "--workers must be at least 1"),
    (["--workers", "0"], "--workers must be at least 1"),
    (["--scheduler", "nonsense://nowhere"], "cannot reach the Dask scheduler"),
])
def test_bad_cluster_options_are_one_line(series_curves, tmp_path, capsys, args, message):
    pytest.importorskip("dask.distributed")
    d = tmp_path / "d"
    write_files(d, series_curves, ["a.txt"])
    assert batch(d, "--output", tmp_path / "run", *args) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_frames_folder_that_is_a_file_is_one_line(series_curves, tmp_path, capsys):
    d, out = tmp_path / "d", tmp_path / "run"
    write_files(d, series_curves, ["a.txt"])
    out.mkdir()
    (out / "frames").write_text("not a folder")
    assert batch(d, "--output", out) == 2
    assert "frames exists and is not a directory" in capsys.readouterr().err


def test_volume_fraction_table_saved_by_excel(series_curves, tmp_path):
    d, out = tmp_path / "d", tmp_path / "run"
    write_files(d, series_curves, ["a.txt", "b.txt"])
    table = tmp_path / "phi.csv"
    table.write_bytes("\ufeffframe;volume_fraction\r\na.txt;0,25\r\nb.txt;0,3\r\n".encode())  # BOM, ';', ','
    s = beamline.run_batch([str(d)], output=out, volume_fraction_table=table, progress=False)
    assert s.done == 2
    assert [r["volume_fraction"] for r in rows(out)] == ["0.25", "0.3"]


def test_output_piped_to_a_closed_reader_is_no_traceback(curve, tmp_path):
    data = tmp_path / "x.txt"
    save_curve(data, curve.q, curve.intensity, curve.di)
    files = [str(data)] + [str(shutil.copy(data, tmp_path / f"x{k}.txt")) for k in range(30)]
    proc = subprocess.Popen([sys.executable, "-m", "sasview_nn_plugin.cli", "invert", *files, "--volume-fraction",
                             "0.3", "--output", str(tmp_path / "o")], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # like `| head -0`
    err = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipeError" not in err


# -- fuzz: any file name through batch gives a summary.csv that parses, one row per frame ---------------

_NAME_CHARS = st.characters(blacklist_categories=("Cs",), blacklist_characters="/\0")
_NAMES = st.one_of(
    st.text(_NAME_CHARS, min_size=1, max_size=40),
    st.tuples(st.sampled_from(FORMULA[:4]), st.text(_NAME_CHARS, max_size=10)).map("".join),
    st.text(st.sampled_from("ab,;\"'\n\r\t |"), min_size=1, max_size=12),
    st.integers(200, 251).map(lambda n: "é" * (n // 2) + "x" * (n % 2)),          # ~255 bytes in UTF-8
).filter(lambda s: not s.startswith(".") and len(s.encode()) <= 251)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(_NAMES, min_size=1, max_size=3, unique=True))
def test_fuzz_file_names_through_batch(series_curves, tmp_path_factory, names):
    d = tmp_path_factory.mktemp("fuzz")
    src, out = d / "in", d / "run"
    src.mkdir()
    for k, name in enumerate(names):
        save_curve(src / (name + ".txt"), series_curves[0], series_curves[1][k], series_curves[2][k])
    assert beamline.run_batch([str(src)], output=out, volume_fraction=0.3, progress=False).done == len(names)
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        table = list(csv.reader(fh))
    assert len(table) == 1 + len(names) and {len(r) for r in table} == {len(table[0])}
    for row in table[1:]:
        w = COLUMNS.index("weighting")
        assert row[w:w + 4] == ["dI", "ok", "", ""] and not any(c.startswith(FORMULA) for c in (row[0], row[1]))
    assert len(list((out / "frames").glob("*.json"))) == len(names)
