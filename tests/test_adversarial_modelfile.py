"""Corrupt or hostile model files (issue 17, item 7): each is refused from its metadata, before any array is read.

Every file here is the shipped ``default.h5`` copied and tampered with.  A refusal is one ModelFileError naming
the file, what is wrong and the fix; the CLI prints it as one line, exits 2 and writes nothing.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.errors import ModelFileError
from sasview_nn_plugin.inference.modelfile import load_model

REPO = Path(__file__).resolve().parents[1]
SHIPPED = REPO / "trained_models" / "default.h5"
EXAMPLE = REPO / "examples" / "sasfit_schulz_R20_phi0.3.txt"



def tampered(tmp_path: Path, name: str, change) -> Path:
    """A copy of the shipped default model with ``change(h5py.File)`` applied."""
    path = tmp_path / name
    path.write_bytes(SHIPPED.read_bytes())
    with h5py.File(path, "r+") as f:
        change(f)
    return path


def set_attr(f: h5py.File, name: str, value) -> None:
    """Replace an attribute (deleting first: a large new value may not fit where the old one was)."""
    if name in f.attrs:
        del f.attrs[name]
    f.attrs[name] = value


def replace(f: h5py.File, name: str, data=None, **kwargs) -> None:
    del f[name]
    if data is None:
        f.create_dataset(name, **kwargs)
    else:
        f.create_dataset(name, data=data, **kwargs)


def huge_hidden_layer(f: h5py.File) -> None:
    """Layer 1 widened to 2**28 units: the shapes still chain, but the declared weights are hundreds of GiB.

    The datasets are chunked and (nearly) unwritten, so the file stays well under a megabyte.
    """
    wide = 2**28
    replace(f, "layers/1/kernel", shape=(256, wide), dtype="f4", chunks=(256, 128))
    replace(f, "layers/1/bias", shape=(wide,), dtype="f4", chunks=(1024,))
    replace(f, "layers/2/kernel", shape=(wide, 128), dtype="f4", chunks=(128, 128))
    f["layers/1/kernel"][:, :128] = 0.01


def refused(path: Path, *words: str) -> str:
    with pytest.raises(ModelFileError) as info:
        load_model(path)
    msg = str(info.value)
    assert "\n" not in msg and str(path) in msg, msg
    assert "corrupt" in msg and ("re-train" in msg or "re-download" in msg), msg
    for w in words:
        assert w in msg, msg
    return msg


def test_absurd_declared_layer_shapes_are_refused_without_reading(tmp_path):
    bad = tampered(tmp_path, "huge.h5", huge_hidden_layer)
    assert bad.stat().st_size < 2_000_000
    with h5py.File(bad) as f:   # the file really declares more than 200 GiB of weights
        assert sum(ds.size * 4 for ds in (f["layers/1/kernel"], f["layers/2/kernel"])) > 200 * 2**30
    refused(bad, "weights")


def test_absurd_shapes_exit_2_on_the_cli_within_a_memory_limit(tmp_path):
    """The CLI in a child limited to 3 GiB of address space: it must refuse the file, not try to allocate."""
    bad = tampered(tmp_path, "huge.h5", huge_hidden_layer)
    out = tmp_path / "OUT"

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))

    r = subprocess.run([sys.executable, "-m", "sasview_nn_plugin.cli", "invert", str(EXAMPLE), "--volume-fraction",
                        "0.3", "--model", str(bad), "--output", str(out)],
                       capture_output=True, text=True, preexec_fn=limit, timeout=300,
                       env=os.environ | {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    assert r.returncode == 2, r.stderr[-2000:]
    assert len(r.stderr.strip().splitlines()) == 1 and str(bad) in r.stderr, r.stderr
    assert not out.exists()


def test_declared_but_unwritten_kernel_is_refused(tmp_path):
    """A contiguous kernel of the right shape with no data stored would read as zeros (a silent wrong model)."""
    bad = tampered(tmp_path, "empty.h5", lambda f: replace(f, "layers/0/kernel", shape=(251, 256), dtype="f4"))
    refused(bad, "layers/0/kernel")


def test_layer_shapes_must_chain(tmp_path):
    def widen(f):
        replace(f, "layers/1/kernel", np.zeros((256, 64), "f4"))   # layer 1 gives 64, layer 2 takes 128
        replace(f, "layers/1/bias", np.zeros(64, "f4"))
    refused(tampered(tmp_path, "chain.h5", widen), "layer 2")
    refused(tampered(tmp_path, "int.h5", lambda f: replace(f, "layers/3/bias", np.zeros(100, "i4"))), "layers/3/bias")
    refused(tampered(tmp_path, "nd.h5", lambda f: replace(f, "layers/3/bias", np.zeros((100, 1), "f4"))),
            "layers/3/bias")
    refused(tampered(tmp_path, "nobias.h5", lambda f: f.__delitem__("layers/2/bias")), "layers/2/bias")


@pytest.mark.parametrize("attr", ["activations", "info"])
def test_deeply_nested_json_attribute_is_refused(tmp_path, attr):
    bad = tampered(tmp_path, f"nested_{attr}.h5", lambda f: set_attr(f, attr, "[" * 100000))
    refused(bad, attr)


def test_moderately_nested_json_is_refused_too(tmp_path):
    """Nesting that json parses (depth 500) is still no model's metadata."""
    with h5py.File(SHIPPED) as f:
        deep = json.loads(f.attrs["info"]) | {"x": json.loads("[" * 500 + "]" * 500)}
    refused(tampered(tmp_path, "deep.h5", lambda f: set_attr(f, "info", json.dumps(deep))), "info", "nest")


def test_oversized_json_attribute_is_refused(tmp_path):
    big = json.dumps({"preset": "default", "junk": "x" * 3_000_000})
    refused(tampered(tmp_path, "bigattr.h5", lambda f: set_attr(f, "info", big)), "info")


def test_activations_must_be_known_and_one_per_layer(tmp_path):
    refused(tampered(tmp_path, "act.h5", lambda f: set_attr(f,
        "activations", json.dumps(["relu", "tanh", "relu", "softmax"]))), "tanh")
    refused(tampered(tmp_path, "act3.h5", lambda f: set_attr(f,
        "activations", json.dumps(["relu", "relu", "softmax"]))), "activations")
    refused(tampered(tmp_path, "actobj.h5", lambda f: set_attr(f,
        "activations", json.dumps({"a": 1}))), "activations")


@pytest.mark.parametrize("value", [0.0, np.nan, np.inf])
def test_phi_scale_must_be_finite_and_nonzero(tmp_path, value):
    refused(tampered(tmp_path, "phi.h5", lambda f: set_attr(f, "phi_scale", value)), "phi_scale")


def test_phi_attributes_must_be_scalars(tmp_path):
    refused(tampered(tmp_path, "phiarr.h5", lambda f: set_attr(f, "phi_shift", np.zeros(1000))),
            "phi_shift")


def test_reversed_q_grid_is_refused(tmp_path):
    refused(tampered(tmp_path, "q.h5", lambda f: replace(f, "q", f["q"][:][::-1].copy())), "q grid", "increasing")


@pytest.mark.parametrize("change", ["negative", "nan", "zero"])
def test_q_grid_must_be_positive_and_finite(tmp_path, change):
    def edit(f):
        q = f["q"][:]
        q = {"negative": q - q[10], "nan": np.where(np.arange(len(q)) == 5, np.nan, q),
             "zero": np.concatenate([[0.0], q[1:]])}[change]
        replace(f, "q", q)
    refused(tampered(tmp_path, "q.h5", edit), "q grid")


def test_negative_radius_grid_is_refused(tmp_path):
    """The report: radii multiplied by -1 gave a mean radius of -31.6 A and exit 0."""
    refused(tampered(tmp_path, "r.h5", lambda f: replace(f, "radius", -f["radius"][:])), "radius grid")
    refused(tampered(tmp_path, "r2.h5", lambda f: replace(f, "radius", f["radius"][:] - 50)), "radius grid",
            "positive")
    refused(tampered(tmp_path, "r3.h5", lambda f: replace(f, "radius", np.full(100, 20.0))), "radius grid")


def test_input_normalisation_is_checked(tmp_path):
    def zero(f):
        s = f["input_scale"][:]
        s[3] = 0
        replace(f, "input_scale", s)
    refused(tampered(tmp_path, "scale0.h5", zero), "input_scale")
    refused(tampered(tmp_path, "scalelen.h5", lambda f: replace(f, "input_shift", np.zeros(10, "f4"))),
            "input_shift")


def test_external_links_external_storage_and_virtual_datasets_are_refused(tmp_path):
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as g, h5py.File(SHIPPED) as s:
        g["q"] = s["q"][:]
        g["layers/0/kernel"] = s["layers/0/kernel"][:]

    def link(f):
        del f["q"]
        f["q"] = h5py.ExternalLink(str(other), "q")
    refused(tampered(tmp_path, "extlink.h5", link), "external link", "q")

    def link_group(f):
        del f["layers"]
        f["layers"] = h5py.ExternalLink(str(other), "layers")
    refused(tampered(tmp_path, "extgroup.h5", link_group), "external link", "layers")

    raw = tmp_path / "q.raw"
    with h5py.File(SHIPPED) as s:
        q = s["q"][:]
    raw.write_bytes(q.astype("<f8").tobytes())

    def external(f):
        replace(f, "q", shape=q.shape, dtype="<f8", external=[(str(raw), 0, q.nbytes)])
    refused(tampered(tmp_path, "extstore.h5", external), "external", "q")

    def virtual(f):
        layout = h5py.VirtualLayout(shape=q.shape, dtype="f8")
        layout[:] = h5py.VirtualSource(str(other), "q", shape=q.shape)
        del f["q"]
        f.create_virtual_dataset("q", layout)
    refused(tampered(tmp_path, "virtual.h5", virtual), "virtual", "q")


@pytest.mark.parametrize("maker", ["phi0", "nested", "reversed_q", "negative_radius", "huge"])
def test_cli_refuses_each_bad_model_with_one_line_and_writes_nothing(tmp_path, capsys, maker):
    change = {"phi0": lambda f: set_attr(f, "phi_scale", 0.0),
              "nested": lambda f: set_attr(f, "activations", "[" * 100000),
              "reversed_q": lambda f: replace(f, "q", f["q"][:][::-1].copy()),
              "negative_radius": lambda f: replace(f, "radius", -f["radius"][:]),
              "huge": huge_hidden_layer}[maker]
    bad = tampered(tmp_path, "BAD.h5", change)
    out = tmp_path / "OUT"
    rc = main(["invert", str(EXAMPLE), "--volume-fraction", "0.3", "--model", str(bad), "--output", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert len(err.strip().splitlines()) == 1 and str(bad) in err and "corrupt" in err, err
    assert not out.exists()


@pytest.mark.parametrize("path", sorted((REPO / "trained_models").glob("*.h5")), ids=lambda p: p.stem)
def test_shipped_models_pass_the_checks(path):
    from sasview_nn_plugin.inference.wide_model import is_wide_file, load_wide, place

    if is_wide_file(path):   # the whole-curve model: its own format (inference/wide_model.py)
        wide = load_wide(path)
        q = np.geomspace(1e-3, 0.3, 200)
        vol, phi, sigma = wide.predict_placed([place(wide.grids, q, np.exp(-((q * 30) ** 2) / 5) + 1e-3)], [0.3])
        assert np.isclose(vol.sum(), 1) and np.all(vol >= 0) and 0 <= phi[0] <= 0.5 and sigma[0] > 0
        return
    nn = load_model(path)
    assert len(nn.weights) == len(nn.activations) >= 2
    assert np.all(np.diff(nn.q) > 0) and np.all(np.diff(nn.radius) > 0) and nn.radius[0] > 0
    x = np.exp(-((nn.q * 30) ** 2) / 5) + 1e-3
    if nn.parametric:
        assert np.all(np.isfinite(nn.predict_parameters(x, 0.3)))
    else:
        p = nn.predict(x, 0.3)
        assert np.isclose(p.sum(), 1) and np.all(p >= 0)


def test_a_model_saved_by_save_model_still_loads(tmp_path):
    """The checks accept what save_model writes (the round trip of the shipped model)."""
    from sasview_nn_plugin.inference.modelfile import save_model

    nn = load_model(SHIPPED)
    nn2 = load_model(save_model(nn, tmp_path / "copy.h5"))
    np.testing.assert_array_equal(nn.weights[0], nn2.weights[0])
    assert nn2.info == nn.info
