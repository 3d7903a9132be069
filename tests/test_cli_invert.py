"""`sasview-nn invert` end to end: every supported format, and bad files refused cleanly."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from sasview_nn_plugin.data.writers import read_result_csv, save_curve
from sasview_nn_plugin.inference.modelfile import resolve_model_path


def run(*args):
    return subprocess.run([sys.executable, "-m", "sasview_nn_plugin.cli", *args], capture_output=True, text=True)


@pytest.mark.parametrize("fmt", ["txt", "xml", "h5"])
def test_every_format(tiny_model, example_curve, tmp_path, fmt):
    q, i = example_curve
    data = save_curve(tmp_path / f"curve.{fmt}", q, i, 0.02 * i, 0.05 * q, fmt=fmt, title="t")
    out = tmp_path / "out"
    r = run("invert", str(data), "--volume-fraction", "0.3", "--model", str(tiny_model), "--output", str(out))
    assert r.returncode == 0, r.stderr
    rec = json.loads((out / "curve.json").read_text())
    for key in ("radius", "number_distribution", "volume_distribution", "mean_radius_number",
                "mean_radius_volume", "volume_fraction", "model", "input"):
        assert key in rec
    assert rec["input"]["has_dI"] and rec["input"]["n_points"] == len(q)
    assert sum(rec["number_distribution"]) == pytest.approx(1)
    meta, cols = read_result_csv(out / "curve.csv")
    assert list(cols) == ["radius_A", "number_distribution", "volume_distribution"] and len(cols["radius_A"]) == 100
    np.testing.assert_allclose(cols["number_distribution"], rec["number_distribution"], rtol=1e-6)
    assert float(meta["volume_fraction"]) == rec["volume_fraction"] and meta["volume_fraction_source"] == "given"


def test_q_in_nm(tiny_model, example_curve, tmp_path):
    q, i = example_curve
    a = save_curve(tmp_path / "a.txt", q, i)
    b = save_curve(tmp_path / "b_nm.txt", q * 10, i, q_unit="nm")   # its header says q(1/nm)
    bare = tmp_path / "bare_nm.txt"                                    # no header: the unit is not stated
    np.savetxt(bare, np.column_stack([q * 10, i]))
    r1 = run("invert", str(a), "--volume-fraction", "0.3", "--model", str(tiny_model), "--output", str(tmp_path / "o"))
    r2 = run("invert", str(b), "--volume-fraction", "0.3", "--model", str(tiny_model), "--output", str(tmp_path / "o"),
             "--q-unit", "nm")
    assert r1.returncode == 0 and r2.returncode == 0, r2.stderr
    ja = json.loads((tmp_path / "o" / "a.json").read_text())
    jb = json.loads((tmp_path / "o" / "b_nm.json").read_text())
    np.testing.assert_allclose(ja["number_distribution"], jb["number_distribution"], atol=1e-6)
    r3 = run("invert", str(bare), "--volume-fraction", "0.3", "--model", str(tiny_model),
             "--output", str(tmp_path / "p"))
    assert r3.returncode == 2 and "--q-unit nm" in r3.stderr
    r4 = run("invert", str(b), "--volume-fraction", "0.3", "--model", str(tiny_model), "--output", str(tmp_path / "q"))
    assert r4.returncode == 0, r4.stderr   # the file states 1/nm: used without --q-unit, converted once
    jq = json.loads((tmp_path / "q" / "b_nm.json").read_text())
    np.testing.assert_allclose(ja["number_distribution"], jq["number_distribution"], atol=1e-6)
    assert jq["input"]["q_unit"] == "nm" and jq["input"]["q_unit_from"] == "file"
    r5 = run("invert", str(b), "--volume-fraction", "0.3", "--model", str(tiny_model), "--output", str(tmp_path / "r"),
             "--q-unit", "A")
    assert r5.returncode == 2 and "--q-unit A" in r5.stderr and "1/nm" in r5.stderr


def _bad_files(tmp_path, q, i):
    yield "empty", "", "file is empty"
    yield "garbage", "hello world\nthis is not data\n", "no 1-D data points"
    yield "binary", bytes(range(256)) * 20, "no 1-D data points"
    i_nan = i.copy()
    i_nan[10] = np.nan
    yield "nan", (q, i_nan), "NaN/inf"
    i_inf = i.copy()
    i_inf[5] = np.inf
    yield "inf", (q, i_inf), "NaN/inf"
    yield "negative", (q, i - i[200]), "non-positive"
    bad_di = np.where(np.arange(len(q)) == 3, 0.0, 0.02 * i)
    yield "bad_di", (q, i, bad_di), "without dI all points are weighted equally"
    yield "unsorted", (q[::-1], i[::-1]), "not sorted"
    qd = q.copy()
    qd[7] = qd[6]
    yield "duplicate", (qd, i), "duplicate"
    yield "short_range", (np.linspace(0.09, 0.3, 100), np.ones(100)), "needs 0.04-0.105"   # s < 0.5 only


REPAIRED = {"nan": "dropped 1 row with NaN/inf values (line 11)", "inf": "dropped 1 row with NaN/inf values (line 6)",
            "bad_di": "dropped 1 row with dI = 0 (line 4)", "unsorted": "sorted 400 points by q",
            "duplicate": "merged 2 duplicate q points"}  # by default; refused with --strict-input


def _write_case(tmp_path, q, i, case):
    content, message = next((c, m) for name, c, m in _bad_files(tmp_path, q, i) if name == case)
    path = tmp_path / f"{case}.txt"
    if isinstance(content, str):
        path.write_text(content)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.savetxt(path, np.column_stack(content))
    return path, message


@pytest.mark.parametrize("case", ["empty", "garbage", "binary", "nan", "inf", "negative", "bad_di", "unsorted",
                                  "duplicate", "short_range"])
def test_bad_files(tiny_model, example_curve, tmp_path, case):
    q, i = example_curve
    path, message = _write_case(tmp_path, q, i, case)
    good = save_curve(tmp_path / "good.txt", q, i)
    out = tmp_path / "out"
    strict = ["--strict-input"] if case in REPAIRED else []
    r = run("invert", str(good), str(path), "--volume-fraction", "0.3", "--model", str(tiny_model),
            "--output", str(out), *strict)
    assert r.returncode == 2, r.stdout + r.stderr
    assert message in r.stderr, r.stderr
    assert not strict or "without --strict-input" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert not out.exists()  # nothing written, not even for the good file


@pytest.mark.parametrize("case", sorted(REPAIRED))
def test_repaired_files(tiny_model, example_curve, tmp_path, case):
    """What SasView's loader accepts loads by default: each change one note on stderr and in the JSON's input."""
    q, i = example_curve
    path, _ = _write_case(tmp_path, q, i, case)
    out = tmp_path / "out"
    r = run("invert", str(path), "--volume-fraction", "0.3", "--model", str(tiny_model), "--output", str(out))
    assert r.returncode == 0, r.stderr
    notes = [n for n in r.stderr.splitlines() if n.startswith(f"sasview-nn invert: note: {path}: repaired: ")]
    assert len(notes) == 1 and REPAIRED[case] in notes[0], r.stderr
    rec = json.loads((out / f"{case}.json").read_text())
    assert rec["input"]["repairs"] == [notes[0].split(": repaired: ", 1)[1]]
    clean = save_curve(tmp_path / "clean.txt", q, i)
    run("invert", str(clean), "--volume-fraction", "0.3", "--model", str(tiny_model), "--output", str(out))
    assert json.loads((out / "clean.json").read_text())["input"]["repairs"] == []


@pytest.mark.parametrize("args,message", [
    (["--volume-fraction", "0.8"], "volume fraction"),
    (["--volume-fraction", "-0.1"], "volume fraction"),
    (["--volume-fraction", "0.3", "--model", "nonexistent"], "no model named"),
    (["--volume-fraction", "0.3", "--volume-fraction-sigma", "-0.01"], "--volume-fraction-sigma must be >= 0"),
])
def test_bad_arguments(tiny_model, example_curve, tmp_path, args, message):
    q, i = example_curve
    good = save_curve(tmp_path / "good.txt", q, i)
    if "--model" not in args:
        args = [*args, "--model", str(tiny_model)]
    r = run("invert", str(good), *args, "--output", str(tmp_path / "out"))
    assert r.returncode == 2 and message in r.stderr
    assert not (tmp_path / "out").exists()


def test_plot(tiny_model, example_curve, tmp_path):
    q, i = example_curve
    good = save_curve(tmp_path / "good.txt", q, i, 0.01 * i)
    r = run("invert", str(good), "--volume-fraction", "0.3", "--model", str(tiny_model), "--output",
            str(tmp_path / "o"), "--plot")
    assert r.returncode == 0, r.stderr
    png = (tmp_path / "o" / "good.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000


def test_volume_fraction_sigma_is_the_refinements_prior(example_curve, tmp_path):
    """`--volume-fraction-sigma` reaches refine(): the JSON's prior says so; 0 holds phi fixed; default 10 %."""
    from sasview_nn_plugin.cli import main

    q, i = example_curve
    good = save_curve(tmp_path / "good.txt", q, i, 0.01 * i)
    prior = {}
    for label, extra in (("default", []), ("given", ["--volume-fraction-sigma", "0.05"]),
                         ("fixed", ["--volume-fraction-sigma", "0"])):
        out = tmp_path / label
        assert main(["invert", str(good), "--volume-fraction", "0.3", "--refine", "lm", *extra,
                     "--output", str(out)]) in (0, 3)
        ref = json.loads((out / "good.json").read_text())["refinement"]
        prior[label] = ref.get("volume_fraction_prior")
    assert prior["default"]["sigma"] == pytest.approx(0.03) and prior["given"]["sigma"] == pytest.approx(0.05)
    assert prior["fixed"] is None   # held at the given value: no fitted phi, no prior


def _sphere_files(tmp_path, windows: dict) -> list:
    """Schulz spheres (40 A, pd 0.1, sasmodels; volume mean 42.3 A) with 1 % dI saved on each named q grid (1/A)."""
    from sasmodels.core import load_model
    from sasmodels.direct_model import call_kernel

    files = []
    for name, q in windows.items():
        kernel = load_model("sphere").make_kernel([q])
        i = call_kernel(kernel, dict(radius=40.0, radius_pd=0.1, radius_pd_n=35, radius_pd_type="schulz",
                                     background=0.0))
        kernel.release()
        files.append(save_curve(tmp_path / f"{name}.txt", q, i, 0.01 * i))
    return files


LAB, NARROW = np.geomspace(0.005, 0.5, 200), np.geomspace(0.04, 0.105, 100)


def test_model_auto_chooses_per_curve(tmp_path):
    """`--model auto`: a curve spanning 2 decades goes to the whole-curve network, one spanning 0.4 to the windowed
    one, each result saying so."""
    files = _sphere_files(tmp_path, {"wide": LAB, "narrow": NARROW})
    out = tmp_path / "out"
    r = run("invert", *map(str, files), "--volume-fraction", "0", "--model", "auto", "--output", str(out))
    assert r.returncode == 0, r.stderr
    for name, model in (("wide", "wide"), ("narrow", "default")):
        rec = json.loads((out / f"{name}.json").read_text())
        assert rec["model"] == model and any(n.startswith("model auto:") for n in rec["notes"])


@pytest.mark.parametrize("model_flag", [(), ("--model", "auto")])
def test_batch_chooses_one_network_for_the_run(tmp_path, model_flag):
    """`batch` without --model (or with auto) chooses one network for the whole run (its table holds every frame on
    one model's bins) by the rule `invert` uses per curve, on most of the run's first readable frames, and says which:
    lab curves of 2 decades go to the whole-curve network (its 900 bins), a frame the chosen network cannot read
    (0.4 decade: the whole-curve network reads 1 or more) fails with its reason, the run goes on; curves of 0.4
    decade alone go to the windowed one."""
    files = _sphere_files(tmp_path, {"a_lab": LAB, "b_lab": LAB * 1.1, "c_narrow": NARROW})
    out = tmp_path / "b"
    r = run("batch", *map(str, files), "--volume-fraction", "0", *model_flag, "--output", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "model auto: the whole-curve network" in r.stdout and "2 of 3 readable frames" in r.stdout
    settings = json.loads((out / ".parts" / "run.json").read_text())["settings"]
    assert Path(settings["model"]).name == Path(resolve_model_path("wide")).name
    rows = {row["frame"]: row for row in csv.DictReader((out / "summary.csv").open())}
    assert rows["a_lab.txt"]["status"] == rows["b_lab.txt"]["status"] == "ok"
    assert abs(float(rows["a_lab.txt"]["mean_radius_number_A"]) / 40 - 1) < 0.05
    assert rows["c_narrow.txt"]["status"] == "failed" and "decades" in rows["c_narrow.txt"]["reason"]
    with h5py.File(out / "results.h5") as f:
        assert f["entry/distributions/radius"].shape == (900,)
    # resumed: the same inputs choose the same network, nothing redone
    r = run("batch", *map(str, files), "--volume-fraction", "0", *model_flag, "--output", str(out), "--quiet")
    assert r.returncode == 0 and "3 frames recorded by an earlier run" in r.stdout, r.stderr
    narrow = tmp_path / "n"
    r = run("batch", str(files[2]), "--volume-fraction", "0", *model_flag, "--output", str(narrow), "--quiet")
    assert r.returncode == 0 and "the windowed network" in r.stdout, r.stderr
    settings = json.loads((narrow / ".parts" / "run.json").read_text())["settings"]
    assert Path(settings["model"]).name == Path(resolve_model_path(None)).name


def test_batch_keeps_the_network_auto_chose_when_the_inputs_grow(tmp_path):
    """A run whose inputs grow (frames arriving during a beamtime) resumes with the network auto chose for it, even
    where the new frames alone would choose the other one (a review found it refused with "other settings")."""
    files = _sphere_files(tmp_path, {"b_lab": LAB, "c_narrow": NARROW})
    out = tmp_path / "b"
    r = run("batch", *map(str, files), "--volume-fraction", "0", "--output", str(out), "--quiet")
    assert r.returncode == 0 and "the whole-curve network" in r.stdout, r.stderr   # a tie: whole-curve
    more = _sphere_files(tmp_path, {"a_narrow": NARROW * 1.05, "d_narrow": NARROW * 0.95})
    r = run("batch", *map(str, files + more), "--volume-fraction", "0", "--output", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    assert "kept from the run recorded" in r.stdout and "ok 1, failed 3" in r.stdout


def test_batch_auto_choice_does_not_depend_on_the_unit_size(tmp_path):
    """The vote reads the run's first readable frames, not its first unit: 3 narrow curves first by name and 4 lab
    curves choose the whole-curve network with units of 2 frames as with units of 16 (a review found a refined run,
    8 files a unit, choosing otherwise than an unrefined one).  Frames with no point in ``q_range`` do not vote."""
    from sasview_nn_plugin.runs.batch import run_network
    from sasview_nn_plugin.runs.plan import expand_inputs, plan_units
    from sasview_nn_plugin.runs.process import RunOptions, settings_for

    files = _sphere_files(tmp_path, {**{f"a{k}_narrow": NARROW * (1 + 0.01 * k) for k in range(3)},
                                     **{f"b{k}_lab": LAB * (1 + 0.01 * k) for k in range(4)}})
    settings = settings_for(RunOptions(volume_fraction=0.0, model="auto"))
    paths, _ = expand_inputs([str(f) for f in files])
    chosen = {size: run_network(settings, plan_units(paths, "name", None, size))[0].model for size in (2, 16)}
    assert chosen[2] == chosen[16] == str(resolve_model_path("wide").resolve())
    # q_range 0.2-0.5 1/A: the narrow curves (to 0.105) have no point there, the lab ones 0.4 decade: windowed
    ranged = settings_for(RunOptions(volume_fraction=0.0, model="auto", q_range=(0.2, 0.5)))
    s, why = run_network(ranged, plan_units(paths, "name", None, 2))
    assert s.model == str(resolve_model_path(None).resolve()) and "4 of 4 readable frames" in why


def test_batch_warns_of_a_frame_without_di_read_by_the_whole_curve_network(tmp_path):
    """invert's auto reads a curve without dI with the windowed network (the whole-curve one's review needs dI); a
    batch whose network auto chose as the whole-curve one reads such a frame with it, and says so."""
    files = _sphere_files(tmp_path, {"a_lab": LAB, "b_lab": LAB * 1.1})
    q = LAB * 1.2
    nodi = save_curve(tmp_path / "c_nodi.txt", q, np.interp(q, LAB, np.loadtxt(files[0])[:, 1]))
    out = tmp_path / "b"
    r = run("batch", *map(str, [*files, nodi]), "--volume-fraction", "0", "--output", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    rows = {row["frame"]: row for row in csv.DictReader((out / "summary.csv").open())}
    assert "no dI" in rows["c_nodi.txt"]["warnings"] and "no dI" not in rows["a_lab.txt"]["warnings"]
    assert "--model default" in r.stderr
