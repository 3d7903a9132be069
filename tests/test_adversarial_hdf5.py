"""Untrusted HDF5 (issue 17, item 4): frame tables and NXcanSAS files must not read other files or fill values.

Each trick is crafted with h5py in tmp_path: an external link to another HDF5 file, a virtual dataset whose
source is another file (present, or missing: fill values), external raw storage pointing at a text file
(standing in for /etc/hostname), and datasets whose storage was never written (a huge chunked one and a small
one).  By default each is one InputError naming the dataset; ``allow_external_hdf5=True`` opts in to links,
virtual datasets and external storage whose targets exist, never to fill values.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from sasview_nn_plugin.data import frames, hdf5
from sasview_nn_plugin.data.frames import open_frame_table
from sasview_nn_plugin.data.load import load_curves
from sasview_nn_plugin.errors import InputError

REPO = Path(__file__).resolve().parents[1]
NXCANSAS = REPO / "examples" / "schulz_R45_phi0.3_nxcansas.h5"
N_FRAMES, Q = 4, np.geomspace(0.03, 0.15, 50)
FRAMES = np.array([1e3 / (1 + (r * Q) ** 4) + 0.01 for r in (30.0, 35.0, 40.0, 45.0)])


def hostname_stand_in(tmp_path: Path, n_bytes: int) -> Path:
    """A local text file, as /etc/hostname would be: its bytes must never travel into results."""
    p = tmp_path / "hostname"
    p.write_bytes((b"secret-host.example.org\n" * (n_bytes // 24 + 1))[:n_bytes])
    return p


# -- frame tables --------------------------------------------------------------------------------------------

def table(path: Path, intensity=None) -> Path:
    """A frame table; ``intensity(f)`` may create the 2-D dataset itself (the trick), else it is plain."""
    with h5py.File(path, "w") as f:
        f["q"] = Q
        f["q"].attrs["units"] = "1/A"
        f["time"] = np.arange(N_FRAMES, dtype=float)
        if intensity is None:
            f["intensity"] = FRAMES
        else:
            intensity(f)
    return path


def source_file(path: Path, name: str, data: np.ndarray) -> Path:
    with h5py.File(path, "w") as f:
        f[name] = data
    return path


def vds(f: h5py.Group, name: str, src: Path, src_name: str, shape: tuple) -> None:
    layout = h5py.VirtualLayout(shape=shape, dtype="f8")
    layout[...] = h5py.VirtualSource(str(src), src_name, shape=shape)
    f.create_virtual_dataset(name, layout, fillvalue=7.0)


def external_storage(f: h5py.Group, name: str, raw: Path, shape: tuple) -> None:
    f.create_dataset(name, shape=shape, dtype="<f8", external=[(str(raw), 0, h5py.h5f.UNLIMITED)])


def assert_refused(call, *words):
    with pytest.raises(InputError) as exc:
        call()
    msg = str(exc.value)
    assert "\n" not in msg and "--" not in msg
    for w in words:
        assert w in msg, (w, msg)
    return msg


def test_plain_frame_table_opens(tmp_path):
    t = open_frame_table(table(tmp_path / "plain.h5"))
    np.testing.assert_array_equal(t.read(np.arange(N_FRAMES))[2].intensity, FRAMES[2])


def test_frame_table_external_link_refused_by_default_and_loads_when_allowed(tmp_path):
    src = source_file(tmp_path / "other.h5", "frames", FRAMES)
    p = table(tmp_path / "link.h5", lambda f: f.__setitem__("intensity", h5py.ExternalLink(str(src), "/frames")))
    assert_refused(lambda: open_frame_table(p), "/intensity", "external link", "allow_external_hdf5=True")
    t = open_frame_table(p, allow_external_hdf5=True)
    np.testing.assert_array_equal(t.read(np.arange(N_FRAMES))[3].intensity, FRAMES[3])


def test_external_link_anywhere_in_the_file_is_refused(tmp_path):
    src = source_file(tmp_path / "other.h5", "x", np.zeros(3))

    def intensity(f):
        f["intensity"] = FRAMES
        f.create_group("meta")["calib"] = h5py.ExternalLink(str(src), "/x")

    assert_refused(lambda: open_frame_table(table(tmp_path / "t.h5", intensity)), "/meta/calib", "external link")


def test_frame_table_broken_external_link_is_refused_even_when_allowed(tmp_path):
    p = table(tmp_path / "t.h5", lambda f: f.__setitem__("intensity", h5py.ExternalLink(str(tmp_path / "gone.h5"),
                                                                                         "/frames")))
    assert_refused(lambda: open_frame_table(p, allow_external_hdf5=True), "/intensity")


def test_frame_table_virtual_dataset_refused_by_default_and_loads_when_allowed(tmp_path):
    src = source_file(tmp_path / "src.h5", "frames", FRAMES)
    p = table(tmp_path / "vds.h5", lambda f: vds(f, "intensity", src, "frames", FRAMES.shape))
    assert_refused(lambda: open_frame_table(p), "/intensity", "virtual dataset", "allow_external_hdf5=True")
    t = open_frame_table(p, allow_external_hdf5=True)
    np.testing.assert_array_equal(t.read(np.arange(N_FRAMES))[1].intensity, FRAMES[1])


def test_frame_table_virtual_dataset_with_missing_source_is_refused_even_when_allowed(tmp_path):
    src = source_file(tmp_path / "src.h5", "frames", FRAMES)
    p = table(tmp_path / "vds.h5", lambda f: vds(f, "intensity", src, "frames", FRAMES.shape))
    src.unlink()
    assert_refused(lambda: open_frame_table(p), "/intensity")
    assert_refused(lambda: open_frame_table(p, allow_external_hdf5=True), "/intensity", "fill value")


def test_frame_table_external_storage_refused_by_default(tmp_path):
    raw = hostname_stand_in(tmp_path, FRAMES.nbytes)
    p = table(tmp_path / "ext.h5", lambda f: external_storage(f, "intensity", raw, FRAMES.shape))
    assert_refused(lambda: open_frame_table(p), "/intensity", "external storage", "allow_external_hdf5=True")


def test_frame_table_external_storage_loads_when_allowed(tmp_path):
    raw = tmp_path / "frames.raw"
    FRAMES.astype("<f8").tofile(raw)
    p = table(tmp_path / "ext.h5", lambda f: external_storage(f, "intensity", raw, FRAMES.shape))
    t = open_frame_table(p, allow_external_hdf5=True)
    np.testing.assert_array_equal(t.read(np.arange(N_FRAMES))[2].intensity, FRAMES[2])


def test_frame_table_external_storage_shorter_than_declared_is_refused_even_when_allowed(tmp_path):
    raw = hostname_stand_in(tmp_path, 100)
    p = table(tmp_path / "ext.h5", lambda f: external_storage(f, "intensity", raw, FRAMES.shape))
    assert_refused(lambda: open_frame_table(p, allow_external_hdf5=True), "/intensity", "bytes")


def test_frame_table_declared_1e8_frames_never_written_is_refused_before_reading(tmp_path):
    p = table(tmp_path / "huge.h5", lambda f: f.create_dataset("intensity", shape=(10**8, 1000), dtype="f8",
                                                                chunks=(64, 1000)))
    assert p.stat().st_size < 100_000
    for allow in (False, True):
        assert_refused(lambda a=allow: open_frame_table(p, allow_external_hdf5=a), "/intensity")


def test_frame_table_more_frames_than_the_cap_is_refused(tmp_path, monkeypatch):
    p = table(tmp_path / "t.h5")
    monkeypatch.setattr(frames, "MAX_FRAMES", N_FRAMES - 1)
    assert_refused(lambda: open_frame_table(p), "frames", str(N_FRAMES - 1))


def test_frame_table_more_points_than_the_cap_is_refused(tmp_path, monkeypatch):
    p = table(tmp_path / "t.h5")
    monkeypatch.setattr(frames, "MAX_POINTS", Q.size - 1)
    assert_refused(lambda: open_frame_table(p), "points", str(Q.size - 1))


def test_frame_table_unwritten_intensity_is_refused_fill_values(tmp_path):
    p = table(tmp_path / "empty.h5", lambda f: f.create_dataset("intensity", shape=FRAMES.shape, dtype="f8"))
    assert_refused(lambda: open_frame_table(p, allow_external_hdf5=True), "/intensity", "fill value")


def test_frame_table_partly_written_chunks_are_refused_fill_values(tmp_path):
    def intensity(f):
        d = f.create_dataset("intensity", shape=FRAMES.shape, dtype="f8", chunks=(1, Q.size))
        d[:2] = FRAMES[:2]

    assert_refused(lambda: open_frame_table(table(tmp_path / "part.h5", intensity)), "/intensity", "fill value")


def test_contiguous_dataset_declaring_more_bytes_than_the_file_is_refused(tmp_path, monkeypatch):
    """HDF5 itself refuses a file truncated below its end of allocation, so shrink the reported size instead."""
    p = table(tmp_path / "t.h5")
    real = hdf5.file_size
    monkeypatch.setattr(hdf5, "file_size", lambda path: min(real(path), 1000))
    assert_refused(lambda: open_frame_table(p), "/intensity", "bytes")


def test_hard_link_cycle_does_not_hang(tmp_path):
    def intensity(f):
        f["intensity"] = FRAMES
        g = f.create_group("g")
        g["up"] = f["g"]  # a group that contains itself

    assert open_frame_table(table(tmp_path / "loop.h5", intensity)).n_frames == N_FRAMES


# -- NXcanSAS single curves (read through sasdata) -----------------------------------------------------------

I_PATH = "sasentry01/sasdata01/I"


def nxcansas(tmp_path: Path, name: str, replace_i) -> tuple[Path, np.ndarray]:
    """The example NXcanSAS file with its I dataset replaced by ``replace_i(group, values)``."""
    p = tmp_path / name
    shutil.copy(NXCANSAS, p)
    with h5py.File(p, "r+") as f:
        g = f["sasentry01/sasdata01"]
        values = g["I"][...]
        attrs = dict(g["I"].attrs)
        del g["I"]
        replace_i(g, values)
        if isinstance(g.get("I", getlink=True), h5py.HardLink):
            g["I"].attrs.update(attrs)
    return p, values


def test_plain_nxcansas_loads():
    assert load_curves(NXCANSAS)[0].intensity.size == 400


def test_nxcansas_external_link_refused_by_default_and_loads_when_allowed(tmp_path):
    src = source_file(tmp_path / "other.h5", "I", h5py.File(NXCANSAS)[I_PATH][...])
    p, values = nxcansas(tmp_path, "link.h5", lambda g, v: g.__setitem__("I", h5py.ExternalLink(str(src), "/I")))
    assert_refused(lambda: load_curves(p), "/sasentry01/sasdata01/I", "external link", "allow_external_hdf5=True")
    np.testing.assert_array_equal(load_curves(p, allow_external_hdf5=True)[0].intensity, values)


def test_nxcansas_virtual_dataset_refused_by_default_and_loads_when_allowed(tmp_path):
    src = source_file(tmp_path / "src.h5", "I", h5py.File(NXCANSAS)[I_PATH][...])
    p, values = nxcansas(tmp_path, "vds.h5", lambda g, v: vds(g, "I", src, "I", v.shape))
    assert_refused(lambda: load_curves(p), "/sasentry01/sasdata01/I", "virtual dataset", "allow_external_hdf5=True")
    np.testing.assert_array_equal(load_curves(p, allow_external_hdf5=True)[0].intensity, values)


def test_nxcansas_virtual_dataset_with_missing_source_is_refused_even_when_allowed(tmp_path):
    src = source_file(tmp_path / "src.h5", "I", h5py.File(NXCANSAS)[I_PATH][...])
    p, _ = nxcansas(tmp_path, "vds.h5", lambda g, v: vds(g, "I", src, "I", v.shape))
    src.unlink()
    assert_refused(lambda: load_curves(p), "/sasentry01/sasdata01/I")
    assert_refused(lambda: load_curves(p, allow_external_hdf5=True), "/sasentry01/sasdata01/I", "fill value")


def test_nxcansas_intensity_in_external_storage_of_a_local_file_is_refused(tmp_path):
    raw = hostname_stand_in(tmp_path, 400 * 8)
    p, _ = nxcansas(tmp_path, "ext.h5", lambda g, v: external_storage(g, "I", raw, v.shape))
    assert_refused(lambda: load_curves(p), "/sasentry01/sasdata01/I", "external storage", "allow_external_hdf5=True")


def test_nxcansas_external_storage_loads_when_allowed(tmp_path):
    raw = tmp_path / "I.raw"
    h5py.File(NXCANSAS)[I_PATH][...].astype("<f8").tofile(raw)
    p, values = nxcansas(tmp_path, "ext.h5", lambda g, v: external_storage(g, "I", raw, v.shape))
    np.testing.assert_array_equal(load_curves(p, allow_external_hdf5=True)[0].intensity, values)


def test_nxcansas_huge_unwritten_dataset_is_refused_before_reading(tmp_path):
    p = tmp_path / "huge.h5"
    shutil.copy(NXCANSAS, p)
    with h5py.File(p, "r+") as f:
        f["sasentry01"].create_dataset("junk", shape=(10**8, 1000), dtype="f8", chunks=(64, 1000))
    for allow in (False, True):
        assert_refused(lambda a=allow: load_curves(p, allow_external_hdf5=a), "/sasentry01/junk")


def test_nxcansas_unwritten_intensity_is_refused_fill_values(tmp_path):
    p, _ = nxcansas(tmp_path, "empty.h5", lambda g, v: g.create_dataset("I", shape=v.shape, dtype="f8"))
    assert_refused(lambda: load_curves(p), "/sasentry01/sasdata01/I", "fill value")


def test_nxcansas_with_an_hdf5_user_block_is_still_scanned(tmp_path):
    """HDF5 may start 512 bytes in (a user block): the scan must not key on the first 8 bytes."""
    src = source_file(tmp_path / "other.h5", "I", h5py.File(NXCANSAS)[I_PATH][...])
    p = tmp_path / "ub.h5"
    with h5py.File(NXCANSAS) as a, h5py.File(p, "w", userblock_size=512) as b:
        for k in a:
            a.copy(a[k], b, name=k)
        b.attrs.update(dict(a.attrs))
        g = b["sasentry01/sasdata01"]
        del g["I"]
        g["I"] = h5py.ExternalLink(str(src), "/I")
    assert p.read_bytes()[:8] != b"\x89HDF\r\n\x1a\n"
    assert_refused(lambda: load_curves(p), "/sasentry01/sasdata01/I", "external link")


def test_nxcansas_with_a_hard_link_cycle_is_refused_quickly(tmp_path):
    """sasdata's reader recurses into every name: around a cycle it would run until the recursion limit."""
    p = tmp_path / "loop.h5"
    shutil.copy(NXCANSAS, p)
    with h5py.File(p, "r+") as f:
        f["sasentry01/sasnote0"]["loop"] = f["sasentry01"]
    assert_refused(lambda: load_curves(p, allow_external_hdf5=True), "/sasentry01/sasnote0/loop", "loop")


def test_nxcansas_allowed_external_storage_and_a_hard_linked_dataset_alias_loads(tmp_path):
    raw = tmp_path / "I.raw"
    h5py.File(NXCANSAS)[I_PATH][...].astype("<f8").tofile(raw)

    def replace(g, v):
        external_storage(g, "I", raw, v.shape)
        g.file["sasentry01/sasnote0"]["I_again"] = g["I"]

    p, values = nxcansas(tmp_path, "ext_alias.h5", replace)
    np.testing.assert_array_equal(load_curves(p, allow_external_hdf5=True)[0].intensity, values)


def test_damaged_hdf5_is_one_input_error(tmp_path):
    p = tmp_path / "damaged.h5"
    shutil.copy(NXCANSAS, p)
    data = bytearray(p.read_bytes())
    data[2048:6000] = bytes(len(data[2048:6000]))  # object headers gone, superblock intact
    p.write_bytes(bytes(data))
    for call in (lambda: load_curves(p), lambda: open_frame_table(p)):
        try:
            call()
        except InputError as exc:
            assert str(exc)
