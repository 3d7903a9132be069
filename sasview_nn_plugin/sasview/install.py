"""``sasview-nn install-sasview``: put the ``nn_spheres_hs`` plugin model where SasView looks for it.

SasView 6.1+ loads every ``*.py`` model in ``platformdirs.user_data_dir("SasView", "sasview")/plugin_models``
at start-up (on Linux ``$XDG_DATA_HOME/SasView/plugin_models``, default ``~/.local/share/...``);
SasView 6.0 and older used ``~/.sasview/plugin_models``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from . import PLUGIN_NAME, plugin_model_path


@dataclass
class InstallResult:
    path: Path        # the plugin file (installed or removed)
    action: str       # "installed", "updated", "unchanged", "removed", "absent"
    how: str          # how the directory was chosen


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


def install_plugin(plugin_dir: str | os.PathLike | None = None, uninstall: bool = False) -> InstallResult:
    """Install (idempotently, atomically) or remove the plugin model file."""
    if plugin_dir is None:
        d, how = default_plugin_dir()
    else:
        d, how = Path(plugin_dir).expanduser(), "--plugin-dir"
    target = d / f"{PLUGIN_NAME}.py"
    if uninstall:
        if not target.exists():
            return InstallResult(target, "absent", how)
        target.unlink()
        for cached in (d / "__pycache__").glob(f"{PLUGIN_NAME}.*.pyc"):
            cached.unlink()
        return InstallResult(target, "removed", how)
    source = plugin_model_path().read_text()
    if target.exists() and target.read_text() == source:
        return InstallResult(target, "unchanged", how)
    action = "updated" if target.exists() else "installed"
    try:
        d.mkdir(parents=True, exist_ok=True)
        from ..io import write_atomic

        write_atomic(target, source)
    except OSError as exc:
        raise InputError(f"cannot write the plugin model to {d}: {exc.strerror}; "
                         "choose a writable directory with --plugin-dir") from None
    return InstallResult(target, action, how)
