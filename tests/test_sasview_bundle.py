"""The self-contained bundle for SasView's own Python (issue 16, item 2), without SasView itself.

What is bundled, that install-sasview installs/updates/removes it with the plugin file (never touching a folder
that is not ours), that the zip for a manual copy holds the same, and that the bundled code runs in a fresh
interpreter that cannot import this package's non-SasView dependencies (tqdm, filelock, threadpoolctl,
TensorFlow, platformdirs, matplotlib) nor the installed package.  The GUI tests (marker ``sasview``) run the
bundle inside SasView 6.1.3, also in a Python that has SasView only.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from helpers import NOT_IN_SASVIEW

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.sasview import bundle, plugin_model_path
from sasview_nn_plugin.sasview.install import MARKER, install_plugin, plugin_text

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def files() -> dict[str, bytes]:
    return bundle.bundle_files()


def test_the_bundle_holds_the_inference_code_and_the_network(files):
    names = set(files)
    for must in ("MANIFEST.json", "sasview_nn_plugin/__init__.py", "sasview_nn_plugin/trained_models/default.h5",
                 "sasview_nn_plugin/inference/invert.py", "sasview_nn_plugin/inference/modelfile.py",
                 "sasview_nn_plugin/fitting/refine.py", "sasview_nn_plugin/sasview/actions.py",
                 "sasview_nn_plugin/sasview/menu.py", "sasview_nn_plugin/sasview/nn_spheres_hs.py"):
        assert must in names, must
    for never in ("training/", "optics/", "runs/", "cli.py", "bumps_cli.py", "sasview/install.py", "data/plots.py"):
        assert not any(n.startswith(f"sasview_nn_plugin/{never}") for n in names), never
    init = files["sasview_nn_plugin/__init__.py"].decode()
    assert "register" not in init.replace("registered", "") and "__version__" in init
    manifest = json.loads(files["MANIFEST.json"])
    assert manifest["installed_by"] == "sasview_nn_plugin" and manifest["plugin"] == "nn_spheres_hs.py"
    assert manifest["files"] == {k: hashlib.sha256(v).hexdigest() for k, v in files.items() if k != "MANIFEST.json"}
    assert files["sasview_nn_plugin/sasview/nn_spheres_hs.py"] == plugin_model_path().read_bytes()


def test_the_plugin_file_and_the_installer_agree_on_the_folder_name():
    from sasview_nn_plugin.sasview import install
    from sasview_nn_plugin.sasview.project import load_plugin_module

    assert load_plugin_module().BUNDLE_DIR == bundle.BUNDLE_DIR == install.BUNDLE_DIR
    assert install.BUNDLE_MANIFEST == bundle.MANIFEST


def test_install_update_and_uninstall_the_bundle(tmp_path, files):
    d = tmp_path / "plugin_models"
    res = install_plugin(d)
    folder = d / bundle.BUNDLE_DIR
    assert res.action == "installed" and res.bundle == folder and bundle.matches(folder, files)
    assert sorted(p.name for p in d.iterdir()) == ["nn_spheres_hs.py", "sasview_nn_bundle"]
    assert install_plugin(d).action == "unchanged"
    (folder / "sasview_nn_plugin" / "inference" / "invert.py").write_text("broken")   # an old or damaged bundle
    (folder / "sasview_nn_plugin" / "stale.py").write_text("")
    assert install_plugin(d).action == "updated" and bundle.matches(folder, files)
    assert sorted(p.name for p in d.iterdir()) == ["nn_spheres_hs.py", "sasview_nn_bundle"]  # no temp folders
    (d / "nn_spheres_hs.py").unlink()                     # the bundle alone is ours too
    assert install_plugin(d, uninstall=True).action == "removed" and list(d.iterdir()) == []


def test_a_folder_of_the_users_at_the_bundles_place_is_kept(tmp_path, capsys):
    d = tmp_path / "plugin_models"
    mine = d / bundle.BUNDLE_DIR
    mine.mkdir(parents=True)
    (mine / "notes.txt").write_text("mine")
    for kw in ({}, {"uninstall": True}):
        with pytest.raises(InputError, match="force=True") as info:
            install_plugin(d, **kw)
        assert str(mine) in str(info.value)
    assert sorted(p.name for p in d.iterdir()) == ["sasview_nn_bundle"] and (mine / "notes.txt").exists()
    assert main(["install-sasview", "--plugin-dir", str(d)]) == 2 and "--force" in capsys.readouterr().err
    res = install_plugin(d, force=True)
    assert res.bundle_backup is not None and (res.bundle_backup / "notes.txt").read_text() == "mine"
    assert (mine / "MANIFEST.json").exists()


def test_the_zip_holds_what_an_install_writes(tmp_path, capsys):
    out = tmp_path / "bundle.zip"
    assert main(["install-sasview", "--zip", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    with zipfile.ZipFile(out) as zf:
        zf.extractall(tmp_path / "unzipped")
    install_plugin(tmp_path / "installed")
    unzipped, installed = tmp_path / "unzipped", tmp_path / "installed"
    assert (unzipped / "nn_spheres_hs.py").read_text().splitlines()[0] == MARKER
    assert (unzipped / "nn_spheres_hs.py").read_text() == plugin_text()
    got = {p.relative_to(unzipped).as_posix(): p.read_bytes() for p in unzipped.rglob("*") if p.is_file()}
    want = {p.relative_to(installed).as_posix(): p.read_bytes() for p in installed.rglob("*") if p.is_file()}
    assert got == want
    assert install_plugin(unzipped).action == "unchanged"   # an unzipped bundle is recognised as ours


RUN_IN_BUNDLE = r"""
import importlib, importlib.abc, json, pathlib, sys
bundle, blocked, fakes, data = sys.argv[1], set(sys.argv[2].split(",")), sys.argv[3], sys.argv[4]
tried = []

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in blocked:
            tried.append(name)
            raise ImportError(f"{name} is not in SasView's Python")
        return None

sys.meta_path.insert(0, Block())
sys.path.insert(0, bundle)
import numpy as np
failed = {}
for f in sorted(pathlib.Path(bundle, "sasview_nn_plugin").rglob("*.py")):
    name = ".".join(f.relative_to(bundle).with_suffix("").parts).removesuffix(".__init__")
    try:
        importlib.import_module(name)
    except Exception as exc:
        failed[name] = f"{type(exc).__name__}: {exc}"
at_import = sorted(set(tried))
sys.path.insert(1, fakes)
from fakes import SasFitness
from sasview_nn_plugin.sasview import start
q, y = np.loadtxt(data, comments="#").T
fit = SasFitness(q, y, 0.01 * y, fitted=["scale", "background", *start.SIZE_PARAMETERS])
s = start.start_fitness(fit)
mean = start.component_distributions(s.values)["mean_number"]
files = sorted({m.__file__ for n, m in sys.modules.items() if n.startswith("sasview_nn_plugin") and m.__file__})
print(json.dumps({"files": files, "failed": failed, "at_import": at_import, "tried": sorted(set(tried)),
                  "mean": mean, "free": sorted(s.free)}))
"""


def test_the_bundle_runs_without_the_package_and_its_non_sasview_dependencies(tmp_path):
    """Every bundled module imports, and the page start runs, with only the bundle's copy of the package and
    none of tqdm, filelock, threadpoolctl, TensorFlow, platformdirs, matplotlib importable."""
    pytest.importorskip("bumps")
    install_plugin(tmp_path)
    folder = tmp_path / bundle.BUNDLE_DIR
    proc = subprocess.run([sys.executable, "-c", RUN_IN_BUNDLE, str(folder), ",".join(NOT_IN_SASVIEW),
                           str(REPO / "tests" / "sasview_gui"),
                           str(REPO / "examples" / "sasfit_schulz_R20_phi0.3.txt")],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["failed"] == {}, out["failed"]
    assert out["files"] and all(f.startswith(str(folder)) for f in out["files"]), out["files"]
    assert out["at_import"] == [] and out["tried"] == [], f"the bundle imports {out['tried']}"
    assert out["mean"] == pytest.approx(20.0, rel=0.08)   # the network ran (R = 20 A)
    assert {"scale", "background", "radius1", "pd1"} <= set(out["free"])
