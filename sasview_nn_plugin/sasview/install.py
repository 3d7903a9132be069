"""``sasview-nn install-sasview``: put the ``nn_spheres_hs`` plugin model, and the bundle that runs the network
inside SasView (:mod:`sasview_nn_plugin.sasview.bundle`), where SasView looks for plugin models.

SasView 6.1+ loads every ``*.py`` model in ``platformdirs.user_data_dir("SasView", "sasview")/plugin_models``
at start-up (on Linux ``$XDG_DATA_HOME/SasView/plugin_models``, default ``~/.local/share/...``);
SasView 6.0 and older used ``~/.sasview/plugin_models``.  Sub-folders there are not loaded as models, so the
bundle folder ``sasview_nn_bundle/`` sits next to the plugin file.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from . import PLUGIN_NAME, plugin_model_path

BUNDLE_DIR = "sasview_nn_bundle"     # = bundle.BUNDLE_DIR (not imported here: keep this module light)
BUNDLE_MANIFEST = "MANIFEST.json"

# The first line of the installed file: what marks it as ours (only such a file is replaced or removed).
MARKER_TAG = "# installed by sasview_nn_plugin"
MARKER = (f"{MARKER_TAG}: install-sasview replaces or removes this file; "
          "to change the model, save a copy under another name")


# sha256 of shipped plugin files from before the marker line (such an installed copy counts as ours)
EARLIER_SHIPPED_SHA256 = ("d96245c34e73b71243a65d656c4028022ece34e848886518d1624491e297556d",)


@dataclass
class InstallResult:
    path: Path                  # the plugin file (installed or removed)
    action: str                 # "installed", "updated", "replaced", "unchanged", "removed", "absent"
    how: str                    # how the directory was chosen
    backup: Path | None = None  # where a file that was not ours was moved (force=True)
    bundle: Path | None = None  # the bundle folder (installed or removed); None if none was touched
    bundle_backup: Path | None = None  # where a folder there that was not ours was moved (force=True)
    kept: tuple[str, ...] = ()  # the user's own files inside the bundle folder, left there


def _sasview_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("sasview")
    except PackageNotFoundError:
        return None


def default_plugin_dir() -> tuple[Path, str]:
    """SasView's plugin-model directory and a sentence saying how it was found."""
    ver = _sasview_version()
    if ver is not None:
        major_minor = tuple(int(x) for x in ver.split(".")[:2] if x.isdigit())
        if major_minor < (6, 1):
            return Path.home() / ".sasview" / "plugin_models", f"SasView {ver} in this Python (< 6.1)"
    from platformdirs import user_data_dir

    d = Path(user_data_dir("SasView", "sasview")) / "plugin_models"
    if ver is not None:
        return d, f"SasView {ver} in this Python"
    return d, ("SasView is not installed in this Python; the SasView >= 6.1 location was used "
               "(for SasView 6.0 pass --plugin-dir ~/.sasview/plugin_models)")


def plugin_text() -> str:
    """What is installed: the shipped plugin model with the marker line first."""
    return f"{MARKER}\n{plugin_model_path().read_text(encoding='utf-8')}"


def _inspect(target: Path) -> str:
    """What is at the destination: "absent", "ours", "foreign" (a file without our marker), "link" or "other"."""
    if target.is_symlink():
        return "link"
    if not target.exists():
        return "absent"
    if not target.is_file():
        return "other"
    with target.open("rb") as fh:
        first = fh.readline(len(MARKER) + 2)
    if first.rstrip(b"\r\n") == MARKER.encode():
        return "ours"
    shipped = plugin_model_path().read_bytes()   # installed by a version from before the marker
    if target.stat().st_size == len(shipped) and target.read_bytes() == shipped:
        return "ours"
    if target.stat().st_size < 1_000_000:
        import hashlib

        if hashlib.sha256(target.read_bytes()).hexdigest() in EARLIER_SHIPPED_SHA256:
            return "ours"
    return "foreign"


def _inspect_bundle(folder: Path) -> str:
    """What is at the bundle's place: "absent", "ours" (a folder with our MANIFEST.json), "foreign" or "link"."""
    from .bundle import read_manifest

    if folder.is_symlink():
        return "link"
    if not folder.exists():
        return "absent"
    if folder.is_dir() and read_manifest(folder) is not None:
        return "ours"
    return "foreign"


def _backup(target: Path) -> Path:
    """Move ``target`` (a file, or a link itself) aside to ``NAME.bak-<date-time>[-k]`` (not *.py: not loaded)."""
    stamp = time.strftime("%Y%m%d-%H%M%S")
    for k in range(1000):
        bak = target.with_name(f"{target.name}.bak-{stamp}" + (f"-{k}" if k else ""))
        if not (bak.exists() or bak.is_symlink()):
            os.rename(target, bak)
            return bak
    raise InputError(f"cannot find a free backup name for {target}; remove old {target.name}.bak-* files",
                     parameter="force")


def _refusal(target: Path, state: str, uninstall: bool) -> InputError:
    aside = f"{target.name}.bak-<date-time>"
    then = "" if uninstall else " and install the plugin in its place"
    if state == "link":
        return InputError(f"{target} is a symbolic link (to {os.readlink(target)}), not a plugin installed by "
                          f"sasview_nn_plugin: the link and what it points to are left alone; pass force=True to "
                          f"move the link itself aside to {aside}{then}", parameter="force")
    return InputError(f"{target} was not installed by sasview_nn_plugin (its first line is not {MARKER_TAG!r}): "
                      f"it is left alone; pass force=True to move it aside to {aside}{then}, "
                      f"or choose another plugin_dir", parameter="force")


def _bundle_refusal(folder: Path, state: str, uninstall: bool) -> InputError:
    what = f"a symbolic link (to {os.readlink(folder)})" if state == "link" else "not a bundle installed by it"
    then = "" if uninstall else " and install the bundle in its place"
    return InputError(f"{folder} is {what} (sasview_nn_plugin's bundle has a {BUNDLE_MANIFEST} naming it): it is "
                      f"left alone; pass force=True to move it aside to {folder.name}.bak-<date-time>{then}, "
                      "or choose another plugin_dir", parameter="force")


def install_plugin(plugin_dir: str | os.PathLike | None = None, uninstall: bool = False,
                   force: bool = False) -> InstallResult:
    """Install (idempotently, atomically) or remove the plugin model file and its bundle folder.

    Only our own file (its first line is :data:`MARKER`) and our own bundle folder (with our MANIFEST.json)
    are replaced or removed.  Anything else at either place (a file or folder of the user's, a symbolic link)
    is refused, before anything is written, unless ``force``, which first moves it aside to
    ``NAME.bak-<date-time>`` (a link is moved itself; its target is never touched).  The bundle is written
    first (beside the old one, then swapped in), so the plugin file never names a half-written bundle.
    """
    d, how = _plugin_dir(plugin_dir)
    target, folder = d / f"{PLUGIN_NAME}.py", d / BUNDLE_DIR
    try:
        state = _inspect(target)
        if state == "other":
            raise InputError(f"{target} exists and is not a regular file (a directory?); it is left alone: "
                             "move it away, or choose another plugin_dir", parameter="plugin_dir")
        bstate = _inspect_bundle(folder)
        return (_remove if uninstall else _install)(d, how, (target, state), (folder, bstate), force)
    except OSError as exc:
        raise InputError(f"cannot {'remove' if uninstall else 'write'} the plugin model in {d}: "
                         f"{exc.strerror or exc}; choose a writable plugin_dir", parameter="plugin_dir") from None


def _plugin_dir(plugin_dir: str | os.PathLike | None) -> tuple[Path, str]:
    """(the plugin-model directory, how it was found): the one given, else SasView's own."""
    if plugin_dir is None:
        return default_plugin_dir()
    if not os.fsdecode(plugin_dir).strip():
        raise InputError("plugin_dir is empty; give SasView's plugin_models directory "
                         "(or none at all for the one SasView uses)", parameter="plugin_dir")
    return Path(plugin_dir).expanduser(), "--plugin-dir"


def _remove(d: Path, how: str, plugin: tuple[Path, str], bundle: tuple[Path, str], force: bool) -> InstallResult:
    """Remove our plugin file and bundle folder from ``d`` (each a (path, state) as :func:`_inspect` says); another
    file or folder in their place is refused unless ``force`` (then moved aside)."""
    (target, state), (folder, bstate) = plugin, bundle
    if state == "absent" and bstate == "absent":
        return InstallResult(target, "absent", how)
    if state not in ("ours", "absent") and not force:
        raise _refusal(target, state, True)
    if bstate not in ("ours", "absent") and not force:
        raise _bundle_refusal(folder, bstate, True)
    backup = _backup(target) if state not in ("ours", "absent") else None
    if state == "ours":
        target.unlink()
    for cached in (d / "__pycache__").glob(f"{PLUGIN_NAME}.*.pyc"):
        cached.unlink()
    bundle_backup = _backup(folder) if bstate not in ("ours", "absent") else None
    kept = ()
    if bstate == "ours":
        from .bundle import read_manifest, remove_folder

        kept = tuple(remove_folder(folder, read_manifest(folder)))
    return InstallResult(target, "removed", how, backup, folder if bstate != "absent" else None,
                         bundle_backup, kept)


def _install(d: Path, how: str, plugin: tuple[Path, str], bundle: tuple[Path, str], force: bool) -> InstallResult:
    """Write our plugin file and bundle folder into ``d`` (each a (path, state) as :func:`_inspect` says), the
    bundle first; another file or folder in their place is refused unless ``force`` (then moved aside)."""
    (target, state), (folder, bstate) = plugin, bundle
    if state in ("foreign", "link") and not force:
        raise _refusal(target, state, False)
    if bstate in ("foreign", "link") and not force:
        raise _bundle_refusal(folder, bstate, False)
    from .bundle import bundle_files, matches, read_manifest, replace_folder, users_files

    text = plugin_text()
    files = bundle_files()
    plugin_same = state == "ours" and target.read_bytes() == text.encode("utf-8")
    bundle_same = bstate == "ours" and matches(folder, files)
    if plugin_same and bundle_same:
        return InstallResult(target, "unchanged", how, bundle=folder)
    d.mkdir(parents=True, exist_ok=True)
    bundle_backup = _backup(folder) if bstate in ("foreign", "link") else None
    kept = tuple(users_files(folder, read_manifest(folder))) if bstate == "ours" else ()
    clash = next((rel for rel in kept if rel in files), None)
    if clash is not None and not bundle_same:
        raise InputError(f"{folder / clash} is not the bundle's file but the new bundle has one of that name; "
                         "move it out of the bundle folder and run again", parameter=None)
    if not bundle_same:
        replace_folder(folder, files, kept)
    backup = _backup(target) if state in ("foreign", "link") else None
    if not plugin_same:
        from ..data.files import write_atomic

        write_atomic(target, text)
    action = "updated" if state == "ours" else "replaced" if backup else "installed"
    return InstallResult(target, action, how, backup, folder, bundle_backup, kept)


def write_zip(path: str | os.PathLike) -> Path:
    """Write the plugin file and its bundle folder as a zip for a manual copy into the plugin-model folder."""
    from .bundle import zip_bytes

    path = Path(path).expanduser()
    tmp = path.with_name(f".{path.name}.partial-{os.getpid()}")
    try:
        tmp.write_bytes(zip_bytes(plugin_text()))
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {path}: {exc.strerror or exc}; choose another path", parameter="path") from None
    return path


def describe(res: InstallResult | Path) -> str:
    """What ``sasview-nn install-sasview`` prints: what was done where (an InstallResult, or a written zip)."""
    if isinstance(res, Path):
        return (f"SasView bundle written: {res}\n  unzip its content into SasView's plugin-model folder "
                "(docs/sasview.md says where it is), then restart SasView")
    verb = {"installed": "installed", "updated": "updated", "unchanged": "already installed (unchanged)",
            "replaced": "installed", "removed": "removed", "absent": "not installed, nothing to remove"}[res.action]
    lines = [f"nn_spheres_hs plugin model {verb}: {res.path}", f"  ({res.how})"]
    if res.backup is not None:
        lines.append(f"  the file that was there (not installed by sasview_nn_plugin) is kept as backup {res.backup}")
    if res.bundle_backup is not None:
        lines.append(f"  the folder that was there (not installed by sasview_nn_plugin) is kept as backup "
                     f"{res.bundle_backup}")
    if res.kept:
        lines.append(f"  kept {len(res.kept)} files of yours in {res.bundle} (not installed by sasview_nn_plugin): "
                     + ", ".join(res.kept[:5]) + (", ..." if len(res.kept) > 5 else ""))
    if res.action in ("installed", "updated", "replaced"):
        lines += [f"  with the network bundle {res.bundle} (SasView's own Python runs it: nothing to pip install)",
                  "  restart SasView; the model is under Fitting > Category 'Plugin Models', and the Fitting menu "
                  "has 'Neural-network start' and 'Plot size distribution'"]
    return "\n".join(lines)
