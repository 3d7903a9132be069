"""Packaging: the models travel with the package (pyproject.toml maps trained_models/ to the data-only
package sasview_nn_plugin.trained_models), and modelfile.models_dir() finds them in a wheel install,
an editable install and a source checkout."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO

from sasview_nn_plugin import load_model
from sasview_nn_plugin.errors import ModelFileError
from sasview_nn_plugin.inference.modelfile import models_dir, resolve_model_path

SHIPPED = sorted(p.name for p in (REPO / "trained_models").glob("*.h5"))

# where the package is found from its installed files; run in a child so sys.path is the child's alone
PROBE = """
import importlib.resources, json, sasview_nn_plugin
from sasview_nn_plugin.inference.modelfile import models_dir, resolve_model_path
res = importlib.resources.files("sasview_nn_plugin.trained_models")
print(json.dumps(dict(package=sasview_nn_plugin.__file__, models_dir=str(models_dir()),
                      default=str(resolve_model_path(None)),
                      resources=sorted(p.name for p in res.iterdir()))))
"""


def _probe(site: Path) -> dict:
    import json

    env = {k: v for k, v in os.environ.items() if k != "SASVIEW_NN_MODELS"}
    env["PYTHONPATH"] = str(site)
    r = subprocess.run([sys.executable, "-c", PROBE], cwd=site, env=env, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_models_dir_has_the_shipped_models(monkeypatch):
    monkeypatch.delenv("SASVIEW_NN_MODELS", raising=False)
    assert sorted(p.name for p in models_dir().glob("*.h5")) == SHIPPED
    assert resolve_model_path(None) == models_dir() / "default.h5"
    assert load_model().name == "default"


def test_env_override(monkeypatch, tmp_path):
    monkeypatch.setenv("SASVIEW_NN_MODELS", str(tmp_path))
    assert models_dir() == tmp_path
    with pytest.raises(ModelFileError, match="known: none.*SASVIEW_NN_MODELS"):
        resolve_model_path(None)
    shutil.copy(REPO / "trained_models" / "default.h5", tmp_path / "mine.h5")
    assert resolve_model_path("mine") == tmp_path / "mine.h5"


def test_pyproject_ships_models_and_every_subpackage():
    tomllib = pytest.importorskip("tomllib")
    st = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert st["package-dir"]["sasview_nn_plugin.trained_models"] == "trained_models"
    assert st["package-data"]["sasview_nn_plugin.trained_models"] == ["*.h5"]
    # packages are listed by hand (a mapped folder defeats packages.find): none may be forgotten
    found = {".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "sasview_nn_plugin").rglob("__init__.py")}
    assert found | {"sasview_nn_plugin.trained_models"} == set(st["packages"])


def test_installed_layout_finds_its_models(tmp_path):
    """The layout a wheel installs (site/sasview_nn_plugin/trained_models/*.h5, no __init__.py there):
    importlib.resources sees the models and models_dir() resolves to them, not to the source tree."""
    site = tmp_path / "site"
    shutil.copytree(REPO / "sasview_nn_plugin", site / "sasview_nn_plugin",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (site / "sasview_nn_plugin" / "trained_models").mkdir()
    shutil.copy(REPO / "trained_models" / "default.h5", site / "sasview_nn_plugin" / "trained_models")
    got = _probe(site)
    assert Path(got["package"]).parent == site / "sasview_nn_plugin"
    assert Path(got["models_dir"]) == site / "sasview_nn_plugin" / "trained_models"
    assert Path(got["default"]) == site / "sasview_nn_plugin" / "trained_models" / "default.h5"
    assert got["resources"] == ["default.h5"]


def _source_copy(dest: Path) -> Path:
    """The tracked and untracked-but-not-ignored files (what a clone has), without build/ or data/."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("needs a git checkout")
    names = subprocess.run(["git", "ls-files", "-z", "-co", "--exclude-standard"], cwd=REPO, check=True,
                           capture_output=True).stdout.decode().split("\0")
    for name in filter(None, names):
        src = REPO / name
        if src.is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name)
    return dest


@pytest.mark.slow
def test_wheel_carries_the_models(tmp_path):
    """Build the wheel (as `pip install .` does; build isolation fetches setuptools) and install it
    without dependencies: trained_models/*.h5 are inside the package, the training figures are not."""
    src = _source_copy(tmp_path / "src")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, timeout=600)
    (wheel,) = (tmp_path / "dist").glob("sasview_nn_plugin-*.whl")
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
                   check=True, timeout=600)
    shipped = site / "sasview_nn_plugin" / "trained_models"
    assert (shipped / "default.h5").is_file()
    assert sorted(p.name for p in shipped.iterdir()) == SHIPPED
    assert not (site / "trained_models").exists()
    got = _probe(site)
    assert Path(got["default"]) == shipped / "default.h5"
