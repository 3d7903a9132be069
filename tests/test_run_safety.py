"""Never lose a file, round 2 (issue 28, items 1-6 and 8): symlink loops, FIFOs and devices among the inputs,
the user's own files where a run writes, the project file, in-place edits on resume, SIGTERM.

Each test reproduces a defect found on the code before the fix (it failed there) and checks the fix.
"""

from __future__ import annotations

import csv
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sasview_nn_plugin.cli import main

R20 = REPO / "examples" / "sasfit_schulz_R20_phi0.3.txt"
R45 = REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5"


def rows(out: Path) -> list[dict]:
    with open(out / "summary.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(autouse=True)
def alarm():
    """A test that would block on a FIFO fails after 120 s instead of hanging the suite."""
    def stop(*_):
        raise TimeoutError("blocked (a FIFO or device opened?)")
    old = signal.signal(signal.SIGALRM, stop)
    signal.alarm(120)
    yield
    signal.alarm(0)
    signal.signal(signal.SIGALRM, old)


def test_symlink_loops_among_inputs_are_failed_frames(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(R20, d / "good.txt")
    os.symlink("b", d / "a")
    os.symlink("a", d / "b")
    os.symlink("loop", d / "loop")
    assert main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(tmp_path / "out"), "--quiet"]) == 0
    by = {r["frame"]: r for r in rows(tmp_path / "out")}
    assert by["good.txt"]["status"] == "ok"
    for name in ("a", "b", "loop"):
        assert by[name]["status"] == "failed" and "symbolic link loop" in by[name]["reason"], by[name]


def test_output_directory_that_is_a_symlink_loop_is_refused(tmp_path, capsys):
    os.symlink("oo", tmp_path / "oo")
    for cmd in ("batch", "invert"):
        rc = main([cmd, str(R20), "--volume-fraction", "0.3", "--output", str(tmp_path / "oo")])
        err = capsys.readouterr().err
        assert rc == 2 and "symbolic link" in err and err.count("\n") == 1, err


def test_fifo_and_device_link_are_failed_frames_never_opened(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(R20, d / "good.txt")
    os.mkfifo(d / "pipe.dat")
    os.symlink("/dev/zero", d / "zero.dat")
    assert main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(tmp_path / "out"), "--quiet"]) == 0
    by = {r["frame"]: r for r in rows(tmp_path / "out")}
    assert set(by) == {"good.txt", "pipe.dat", "zero.dat"}
    assert "not a regular file (a FIFO)" in by["pipe.dat"]["reason"]
    assert "not a regular file (a character device)" in by["zero.dat"]["reason"]
    # named on the command line: the same failed frame for batch, one line and exit 2 for invert
    assert main(["batch", str(d / "pipe.dat"), "--volume-fraction", "0.3", "--output", str(tmp_path / "o2"),
                 "--quiet"]) == 0
    assert rows(tmp_path / "o2")[0]["status"] == "failed"
    capsys.readouterr()
    assert main(["invert", str(d / "pipe.dat"), "--volume-fraction", "0.3", "--output", str(tmp_path / "o3")]) == 2
    err = capsys.readouterr().err
    assert "FIFO" in err and err.count("\n") == 1 and not (tmp_path / "o3").exists()


ENTRY = st.sampled_from(["file", "link-file", "dangling", "self-loop", "two-loop", "fifo", "dev-zero", "subdir",
                         "link-dir", "link-parent"])


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kinds=st.lists(ENTRY, min_size=1, max_size=7))
def test_batch_over_trees_with_links_fifos_and_loops(tmp_path_factory, kinds):
    """Any directory of such entries: no traceback, exit 0 (or 2 with one line when nothing is a file), one
    summary row per distinct non-directory entry, ok exactly for the real curve files, nothing opened that blocks."""
    root = tmp_path_factory.mktemp("tree")
    d = root / "d"
    d.mkdir()
    expected_ok, expected_failed = set(), set()
    for k, kind in enumerate(kinds):
        name = f"e{k}.txt"
        p = d / name
        if kind == "file":
            shutil.copy(R20, p)
            expected_ok.add(name)
        elif kind == "link-file":
            shutil.copy(R20, root / f"t{k}.txt")
            os.symlink(root / f"t{k}.txt", p)
            expected_ok.add(name)
        elif kind == "dangling":
            os.symlink(root / f"nothing{k}", p)   # (two links to one path are one input)
            expected_failed.add(name)
        elif kind == "self-loop":
            os.symlink(name, p)
            expected_failed.add(name)
        elif kind == "two-loop":
            os.symlink(name + "x", p)
            os.symlink(name, d / (name + "x"))
            expected_failed |= {name, name + "x"}
        elif kind == "fifo":
            os.mkfifo(p)
            expected_failed.add(name)
        elif kind == "dev-zero":
            os.symlink("/dev/zero", p)
            if "dev-zero" not in kinds[:k]:   # two links to one file are one input (the first name kept)
                expected_failed.add(name)
        elif kind == "subdir":
            p.mkdir()
            shutil.copy(R20, p / "inner.txt")   # not recursive: never an input
        elif kind == "link-dir":
            os.symlink(root, p)
        else:
            os.symlink("..", p)
    out = root / "out"
    rc = main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(out), "--quiet", "--no-frame-files"])
    if not expected_ok | expected_failed:
        assert rc == 2
        return
    assert rc == 0
    got = rows(out)
    assert sorted(r["frame"] for r in got) == sorted(expected_ok | expected_failed)
    assert {r["frame"] for r in got if r["status"] == "ok"} == expected_ok
    assert all(r["reason"] for r in got if r["status"] != "ok")
    rc = main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(out), "--quiet", "--no-frame-files"])
    assert rc == 0 and len(rows(out)) == len(got)   # resumes over the same tree


def test_batch_refuses_a_directory_holding_the_users_own_run_file_names(tmp_path, capsys):
    d = tmp_path / "data"
    d.mkdir()
    shutil.copy(R20, d / "a.dat")
    (d / "results.h5").write_bytes(b"the user's own results")
    (d / "summary.csv").write_text("the user's own summary\n")
    rc = main(["batch", str(d / "*.dat"), "--volume-fraction", "0.3", "--output", str(d), "--quiet"])
    err = capsys.readouterr().err
    assert rc == 2 and "was not written by a sasview-nn run" in err and err.count("\n") == 1, err
    assert (d / "results.h5").read_bytes() == b"the user's own results"
    assert (d / "summary.csv").read_text() == "the user's own summary\n"
    assert sorted(p.name for p in d.iterdir()) == ["a.dat", "results.h5", "summary.csv"]
    # a run directory's own files are replaced by the next run as before
    out = tmp_path / "run"
    for _ in range(2):
        assert main(["batch", str(d / "*.dat"), "--volume-fraction", "0.3", "--output", str(out), "--quiet"]) == 0


def test_sasview_project_never_replaces_a_result_of_the_same_command(tmp_path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    shutil.copy(R20, d / "s.txt")
    out = tmp_path / "OUT"
    rc = main(["invert", str(d / "s.txt"), "--volume-fraction", "0.3", "--output", str(out),
               "--sasview-project", str(out / "s.json")])
    err = capsys.readouterr().err
    assert rc == 2 and "would replace" in err and err.count("\n") == 1 and not out.exists(), err
    rc = main(["batch", str(d / "s.txt"), "--volume-fraction", "0.3", "--output", str(out), "--quiet",
               "--sasview-project", str(out / "summary.csv")])
    assert rc == 2 and "would replace" in capsys.readouterr().err and not out.exists()


def test_sasview_project_never_replaces_a_file_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "mine.json"
    mine.write_text('{"my": "notes"}')
    for cmd in ("invert", "batch"):
        rc = main([cmd, str(R20), "--volume-fraction", "0.3", "--output", str(tmp_path / cmd),
                   "--sasview-project", str(mine)])
        err = capsys.readouterr().err
        assert rc == 2 and "not a SasView project written by sasview-nn" in err, err
        assert mine.read_text() == '{"my": "notes"}'
    # its own project is replaced by the same command run again; a folder that does not exist yet is created
    proj = tmp_path / "new" / "deeper" / "p.json"
    for _ in range(2):
        assert main(["invert", str(R20), "--volume-fraction", "0.3", "--output", str(tmp_path / "o"),
                     "--sasview-project", str(proj)]) == 0
    assert proj.is_file()


def test_resume_redoes_a_file_edited_in_place_with_size_and_mtime_kept(tmp_path):
    """`cp -p` / `rsync -a` of another curve of the same size over an input: the stale result must go."""
    import numpy as np

    from sasview_nn_plugin.data.load import load_curves

    c = load_curves(R20)[0]
    d, out = tmp_path / "d", tmp_path / "out"
    d.mkdir()
    f = d / "x.txt"

    def write(intensity):   # fixed-width numbers: both versions have the same size
        rows = zip(c.q, intensity, 0.01 * intensity, strict=True)
        f.write_text("".join(f"{a:.6e} {b:.6e} {e:.6e}\n" for a, b, e in rows))

    write(c.intensity)
    st = f.stat()
    assert main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(out), "--quiet"]) == 0
    before = float(rows(out)[0]["mean_radius_number_A"])
    write(c.intensity * (c.q / c.q[0]) ** -0.7)   # another curve, same byte count
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert f.stat().st_size == st.st_size and f.stat().st_mtime_ns == st.st_mtime_ns
    assert main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(out), "--quiet"]) == 0
    after = float(rows(out)[0]["mean_radius_number_A"])
    assert main(["batch", str(d), "--volume-fraction", "0.3", "--output", str(tmp_path / "fresh"), "--quiet"]) == 0
    assert after == float(rows(tmp_path / "fresh")[0]["mean_radius_number_A"]) and not np.isclose(after, before)


def test_duplicate_rows_in_the_volume_fraction_table_are_refused(tmp_path, capsys):
    table = tmp_path / "phi.csv"
    table.write_text("frame,volume_fraction\nx.txt,0.3\ny.txt,0.2\nx.txt,0.1\n")
    rc = main(["batch", str(R20), "--volume-fraction-table", str(table), "--output", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "line 4: 'x.txt' is listed twice (also line 2)" in err and "--volume-fraction-table" in err
    assert not (tmp_path / "o").exists()


def nxcansas(path: Path, intensity, q_units=True) -> Path:
    import h5py
    import numpy as np

    q = np.linspace(0.005, 0.3, intensity.shape[-1])
    with h5py.File(path, "w") as f:
        e = f.create_group("sasentry01")
        e.attrs.update(NX_class="NXentry", canSAS_class="SASentry")
        e["definition"] = "NXcanSAS"
        d = e.create_group("sasdata01")
        d.attrs.update(NX_class="NXdata", canSAS_class="SASdata", signal="I",
                       I_axes="Q" if intensity.ndim == 1 else "Time,Q")
        d["Q"] = q
        if q_units:
            d["Q"].attrs["units"] = "1/A"
        d["I"] = intensity
        d["I"].attrs["units"] = "1/cm"
    return path


def test_nxcansas_series_and_q_without_units_say_so_once(tmp_path, capsys):
    import numpy as np

    curve = 1 / (1 + (np.linspace(0.005, 0.3, 200) * 40) ** 4)
    series = nxcansas(tmp_path / "series.h5", np.tile(curve, (3, 1)))
    bare = nxcansas(tmp_path / "bare.h5", curve, q_units=False)
    for path, says in ((series, "shape (3, 200) against a 1-D Q: a series of curves"),
                       (bare, "Q has no units attribute")):
        rc = main(["invert", str(path), "--volume-fraction", "0.3", "--output", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert rc == 2 and says in err and err.count(path.name) == 1 and err.count("\n") == 1, err
    assert main(["batch", str(series), str(bare), "--volume-fraction", "0.3", "--output", str(tmp_path / "b"),
                 "--quiet"]) == 0
    reasons = {r["frame"]: r["reason"] for r in rows(tmp_path / "b")}
    assert "a series of curves" in reasons["series.h5"] and "no units" in reasons["bare.h5"]
    assert not any(str(tmp_path) in r for r in reasons.values())   # the path is in its own column


def test_sigterm_ends_a_run_with_one_line_and_it_resumes(tmp_path):
    import time

    from sasview_nn_plugin.training.simulate import growth_series

    table = growth_series(tmp_path / "g.h5", 3000, seed=6)
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "sasview_nn_plugin.cli", "batch", str(table), "--volume-fraction", "0.3",
           "--output", str(out), "--quiet", "--no-review"]   # the review of other explanations is not tested here
    env = dict(os.environ, PYTHONPATH=str(REPO))                # (it fits half these frames: minutes for 3000)
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 60
    while time.time() < deadline and not list((out / ".parts").glob("t*.npz")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal arrived")
    assert proc.returncode == 143 and "terminated (SIGTERM); re-run the same command to resume" in err, err
    assert err.count("\n") == 1 and not list(out.rglob("*.partial-*")) and not (out / "summary.csv").exists()
    assert subprocess.run([*cmd, "--no-frame-files"], capture_output=True, text=True, env=env).returncode == 0
    assert len(rows(out)) == 3000
