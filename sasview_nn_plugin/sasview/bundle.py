"""The self-contained bundle for SasView's own Python (its installer's Python cannot ``pip install`` this package).

Layout inside SasView's plugin-model folder::

    nn_spheres_hs.py                  the plugin model (first line: the install marker); in SasView's GUI it puts
                                      sasview_nn_bundle/ on sys.path and adds the Fitting menu entries
    sasview_nn_bundle/
        MANIFEST.json                 what was installed (marks the folder as ours) and the sha256 of each file
        sasview_nn_plugin/            the inference code (numpy + h5py), the bumps start, the SasView actions,
            trained_models/default.h5 and the shipped networks: windowed (default.h5, 0.5 MB) and whole-curve
            trained_models/wide.h5    (wide.h5, 6.4 MB; inference/wide_model.py, invert_wide.py, polish.py)

Only the pipeline stages that run inside SasView are bundled: ``errors``, ``physics``, ``data``, ``inference``,
``fitting``, ``sasview`` (:data:`PARTS`, less :data:`LEFT_OUT`) and a package ``__init__`` that registers no
bumps fitter.  Their modules import at module level only what SasView itself depends on (numpy, scipy, h5py,
bumps, sasmodels; tests/test_sasview_bundle.py imports every one with the rest blocked); training
(TensorFlow), beamline runs, the Mie optics and the command line stay out.
:func:`zip_bytes` gives the same files as a zip for a manual copy (unzip into the plugin-model folder;
:func:`sasview_nn_plugin.sasview.install.write_zip`, ``sasview-nn install-sasview --zip``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import zipfile
from pathlib import Path

from . import PLUGIN_NAME

BUNDLE_DIR = "sasview_nn_bundle"       # also named in nn_spheres_hs.py (BUNDLE_DIR)
MANIFEST = "MANIFEST.json"
INSTALLED_BY = "sasview_nn_plugin"
PACKAGE = "sasview_nn_plugin"
# package parts bundled (relative to the package folder); folders are taken with all their *.py files
# whole stage folders (relative to the package folder), so a module split inside a stage is bundled too
PARTS = ("errors.py", "physics", "data", "inference", "fitting", "sasview")
LEFT_OUT = ("fitting/bumps_cli.py", "sasview/install.py", "sasview/bundle.py",   # the command line, installing
            "sasview/plugin_source.py",                                          # writing the plugin file
            "data/plots.py")                                                     # figures (matplotlib)
MODELS = ("default", "wide")   # the windowed network and the whole-curve one (>= 1 decade of q, slit-smeared data)


def package_root() -> Path:
    return Path(__file__).resolve().parents[1]


def package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:
        return "0+unknown"


def init_text(version: str) -> str:
    """The bundled package's ``__init__``: the public API, no bumps fitter registration."""
    return (f'"""{PACKAGE} {version}, bundled for SasView by `sasview-nn install-sasview`.\n\n'
            "Inference (numpy + h5py), the nn-lm start and the SasView Fitting-menu actions; no bumps fitter is\n"
            'registered (SasView lists only its own fitters).  See sasview_nn_plugin.sasview.actions."""\n\n'
            f'__version__ = "{version}"\n\n'
            "from .inference.invert import Inversion, invert  # noqa: E402\n"
            "from .inference.modelfile import load_model  # noqa: E402\n\n"
            '__all__ = ["Inversion", "invert", "load_model", "__version__"]\n')


def _package_files() -> dict[str, bytes]:
    root = package_root()
    out: dict[str, bytes] = {}
    for part in PARTS:
        path = root / part
        for f in [path] if path.is_file() else sorted(path.rglob("*.py")):
            rel = f.relative_to(root).as_posix()
            if "__pycache__" in f.parts or rel in LEFT_OUT:
                continue
            out[f"{PACKAGE}/{rel}"] = f.read_bytes()
    return out


def bundle_files(models: tuple[str, ...] = MODELS) -> dict[str, bytes]:
    """The bundle folder's files (relative POSIX path -> bytes), MANIFEST.json included."""
    from ..inference.modelfile import resolve_model_path

    version = package_version()
    files = _package_files()
    files[f"{PACKAGE}/__init__.py"] = init_text(version).encode()
    for name in models:
        files[f"{PACKAGE}/trained_models/{name}.h5"] = resolve_model_path(name).read_bytes()
    manifest = {"installed_by": INSTALLED_BY, "version": version, "plugin": f"{PLUGIN_NAME}.py",
                "files": {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(files.items())}}
    files[MANIFEST] = (json.dumps(manifest, indent=1) + "\n").encode()
    return files


def read_manifest(folder: Path) -> dict | None:
    """The bundle's manifest if ``folder`` is a bundle installed by us, else None."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("installed_by") == INSTALLED_BY else None


def matches(folder: Path, files: dict[str, bytes]) -> bool:
    """Whether ``folder`` holds exactly ``files`` (each byte-identical; extra __pycache__ ignored)."""
    try:
        present = {p.relative_to(folder).as_posix() for p in folder.rglob("*")
                   if p.is_file() and "__pycache__" not in p.parts}
        return present == set(files) and all((folder / rel).read_bytes() == data for rel, data in files.items())
    except OSError:
        return False


def users_files(folder: Path, manifest: dict) -> list[str]:
    """Files in our bundle ``folder`` that its manifest does not list, outside the package folder (which is
    ours whole: a stale module of an older version there goes): the user's own, never removed."""
    listed = {*manifest.get("files", {}), MANIFEST}
    return sorted(rel for p in folder.rglob("*") if (p.is_symlink() or p.is_file()) and "__pycache__" not in p.parts
                  and (rel := p.relative_to(folder).as_posix()) not in listed and not rel.startswith(PACKAGE + "/"))


def remove_folder(folder: Path, manifest: dict) -> list[str]:
    """Remove what the bundle installed (the files its manifest lists, caches, then folders left empty) and
    return the user's files kept there (the folder stays when there are any)."""
    keep = users_files(folder, manifest)
    if not keep:
        shutil.rmtree(folder)
        return []
    shutil.rmtree(folder / PACKAGE, ignore_errors=True)
    for rel in (*manifest.get("files", {}), MANIFEST):
        if ".." not in Path(rel).parts and not Path(rel).is_absolute():
            (folder / rel).unlink(missing_ok=True)
    for cache in sorted(folder.rglob("__pycache__"), key=lambda p: len(p.parts), reverse=True):
        shutil.rmtree(cache, ignore_errors=True)
    for d in sorted((p for p in folder.rglob("*") if p.is_dir() and not p.is_symlink()),
                    key=lambda p: len(p.parts), reverse=True):
        with contextlib.suppress(OSError):
            d.rmdir()    # only an empty one
    return keep


def write_folder(folder: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``folder`` (which must not exist)."""
    for rel, data in files.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def replace_folder(target: Path, files: dict[str, bytes], keep: list[str] = ()) -> None:
    """Put a fresh bundle at ``target``: written beside it, then swapped in by renames (never half a bundle);
    ``keep`` (the user's files in the old one, relative paths) are copied into the new one first."""
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    try:
        write_folder(tmp, files)
        for rel in keep:
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(target / rel, tmp / rel, follow_symlinks=False)
        if target.exists():
            os.rename(target, old)
        os.rename(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        if old.exists() and not target.exists():
            os.rename(old, target)
        raise
    shutil.rmtree(old, ignore_errors=True)


def zip_bytes(plugin_text: str, files: dict[str, bytes] | None = None) -> bytes:
    """A zip whose content goes into the plugin-model folder: the plugin file and the bundle folder."""
    files = bundle_files() if files is None else files
    buf = io.BytesIO()
    stamp = (2025, 1, 1, 0, 0, 0)    # fixed times: the same package gives the same zip
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(zipfile.ZipInfo(f"{PLUGIN_NAME}.py", stamp), plugin_text.encode("utf-8"))
        for rel, data in sorted(files.items()):
            info = zipfile.ZipInfo(f"{BUNDLE_DIR}/{rel}", stamp)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buf.getvalue()
