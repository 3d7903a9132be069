"""install-sasview never overwrites, deletes or follows what is not ours (issue 17, item 8).

Only a file carrying our marker line (or byte-identical to the shipped plugin: an install from before the
marker) is replaced or removed.  Anything else at the destination (the user's own ``nn_spheres_hs.py``, a
symbolic link, a directory) is refused with one message naming it; ``force=True`` (``--force``) first keeps
a backup, then replaces; a link is replaced itself, never its target.  An empty plugin_dir is refused.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sasview_nn_plugin.cli import main
from sasview_nn_plugin.errors import InputError
from sasview_nn_plugin.sasview import install as install_module
from sasview_nn_plugin.sasview import plugin_model_path
from sasview_nn_plugin.sasview.install import install_plugin

MARKER = getattr(install_module, "MARKER", "# installed by sasview_nn_plugin")

USERS = "# my own nn_spheres_hs: hand-tuned, not from sasview_nn_plugin\nname = 'nn_spheres_hs'\n"


def ours() -> str:
    return MARKER + "\n" + plugin_model_path().read_text()


def backups(d: Path) -> list[Path]:
    return sorted(d.glob("nn_spheres_hs.py.bak-*"))


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(["install-sasview", *args])
    out, err = capsys.readouterr()
    return rc, out, err


@pytest.fixture
def plugins(tmp_path) -> Path:
    d = tmp_path / "plugin_models"
    d.mkdir()
    return d


def test_marker_identifies_our_file():
    assert MARKER.startswith("# ") and "sasview_nn_plugin" in MARKER and "\n" not in MARKER
    assert MARKER not in plugin_model_path().read_text()   # the marker is added on install, not shipped


def test_users_own_file_is_kept_on_install(plugins, capsys):
    target = plugins / "nn_spheres_hs.py"
    target.write_text(USERS)
    with pytest.raises(InputError) as info:
        install_plugin(plugins)
    msg = str(info.value)
    assert str(target) in msg and "force=True" in msg and "\n" not in msg
    assert target.read_text() == USERS and backups(plugins) == []
    rc, out, err = cli(capsys, "--plugin-dir", str(plugins))
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "--force" in err and "force=True" not in err
    assert target.read_text() == USERS and sorted(p.name for p in plugins.iterdir()) == ["nn_spheres_hs.py"]


def test_users_own_file_is_kept_on_uninstall(plugins, capsys):
    target = plugins / "nn_spheres_hs.py"
    target.write_text(USERS)
    (plugins / "__pycache__").mkdir()
    pyc = plugins / "__pycache__" / "nn_spheres_hs.cpython-311.pyc"
    pyc.write_bytes(b"x")
    with pytest.raises(InputError, match="force=True") as info:
        install_plugin(plugins, uninstall=True)
    assert str(target) in str(info.value)
    rc, out, err = cli(capsys, "--plugin-dir", str(plugins), "--uninstall")
    assert rc == 2 and len(err.strip().splitlines()) == 1 and "--force" in err
    assert target.read_text() == USERS and pyc.exists() and backups(plugins) == []


def test_symlink_at_the_destination_is_not_followed(plugins, tmp_path, capsys):
    elsewhere = tmp_path / "mine" / "model.py"
    elsewhere.parent.mkdir()
    elsewhere.write_text(USERS)
    link = plugins / "nn_spheres_hs.py"
    link.symlink_to(elsewhere)
    for uninstall in (False, True):
        with pytest.raises(InputError, match="link") as info:
            install_plugin(plugins, uninstall=uninstall)
        assert str(link) in str(info.value) and "force=True" in str(info.value)
        assert link.is_symlink() and elsewhere.read_text() == USERS
    rc, out, err = cli(capsys, "--plugin-dir", str(plugins))
    assert rc == 2 and link.is_symlink() and elsewhere.read_text() == USERS


def test_a_link_to_our_own_file_or_a_dangling_link_is_refused_too(plugins, tmp_path):
    ours_elsewhere = tmp_path / "ours.py"
    ours_elsewhere.write_text(ours())
    link = plugins / "nn_spheres_hs.py"
    link.symlink_to(ours_elsewhere)
    with pytest.raises(InputError, match="link"):
        install_plugin(plugins, uninstall=True)
    assert link.is_symlink() and ours_elsewhere.exists()
    link.unlink()
    link.symlink_to(tmp_path / "nowhere.py")   # dangling: Path.exists() is False
    with pytest.raises(InputError, match="link"):
        install_plugin(plugins)
    assert link.is_symlink() and not (tmp_path / "nowhere.py").exists()


def test_force_keeps_a_backup_then_replaces(plugins, capsys):
    target = plugins / "nn_spheres_hs.py"
    target.write_text(USERS)
    res = install_plugin(plugins, force=True)
    assert target.read_text() == ours() and not target.is_symlink()
    [bak] = backups(plugins)
    assert bak.read_text() == USERS and res.backup == bak and bak.suffix != ".py"   # SasView loads every *.py
    target.write_text(USERS)
    rc, out, err = cli(capsys, "--plugin-dir", str(plugins), "--force")
    assert rc == 0 and target.read_text() == ours()
    assert len(backups(plugins)) == 2 and all(b.read_text() == USERS for b in backups(plugins))
    assert "backup" in out and any(str(b) in out for b in backups(plugins))


def test_force_replaces_the_link_itself_not_its_target(plugins, tmp_path):
    elsewhere = tmp_path / "mine.py"
    elsewhere.write_text(USERS)
    link = plugins / "nn_spheres_hs.py"
    link.symlink_to(elsewhere)
    install_plugin(plugins, force=True)
    assert not link.is_symlink() and link.read_text() == ours()
    assert elsewhere.read_text() == USERS
    [bak] = backups(plugins)
    assert bak.is_symlink() and bak.resolve() == elsewhere.resolve()


def test_force_uninstall_moves_the_users_file_aside(plugins, capsys):
    target = plugins / "nn_spheres_hs.py"
    target.write_text(USERS)
    rc, out, err = cli(capsys, "--plugin-dir", str(plugins), "--uninstall", "--force")
    assert rc == 0 and not target.exists()
    [bak] = backups(plugins)
    assert bak.read_text() == USERS


def test_a_directory_at_the_destination_is_refused_even_with_force(plugins):
    (plugins / "nn_spheres_hs.py").mkdir()
    for kw in ({}, {"force": True}, {"uninstall": True}):
        with pytest.raises(InputError, match="not a regular file"):
            install_plugin(plugins, **kw)
    assert (plugins / "nn_spheres_hs.py").is_dir()


@pytest.mark.parametrize("value", ["", "   "])
def test_empty_plugin_dir_is_refused(tmp_path, monkeypatch, capsys, value):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="plugin_dir"):
        install_plugin(value)
    rc, out, err = cli(capsys, "--plugin-dir", value)
    assert rc == 2 and "--plugin-dir" in err and len(err.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_install_reinstall_update_uninstall_stay_idempotent(plugins):
    target = plugins / "nn_spheres_hs.py"
    assert install_plugin(plugins).action == "installed"
    assert target.read_text() == ours() and target.read_text().splitlines()[0] == MARKER
    assert install_plugin(plugins).action == "unchanged"
    target.write_text(MARKER + "\n# an older version of our plugin\n")
    assert install_plugin(plugins).action == "updated" and target.read_text() == ours()
    assert install_plugin(plugins, force=True).action == "unchanged" and backups(plugins) == []
    assert install_plugin(plugins, uninstall=True).action == "removed" and list(plugins.iterdir()) == []
    assert install_plugin(plugins, uninstall=True).action == "absent"


def test_an_install_from_before_the_marker_is_recognised(plugins):
    """Earlier versions installed the shipped file unchanged; a byte-identical copy is ours."""
    target = plugins / "nn_spheres_hs.py"
    target.write_text(plugin_model_path().read_text())
    assert install_plugin(plugins).action == "updated" and target.read_text() == ours()
    target.write_text(plugin_model_path().read_text())
    assert install_plugin(plugins, uninstall=True).action == "removed" and not target.exists()


def test_installed_file_is_still_a_sasmodels_plugin(plugins):
    pytest.importorskip("sasmodels")
    from sasmodels.core import load_model_info

    install_plugin(plugins)
    info = load_model_info(str(plugins / "nn_spheres_hs.py"))
    assert info.name == "nn_spheres_hs" and "Percus-Yevick" in info.docs
    assert MARKER not in info.docs


def test_uninstall_and_update_keep_the_users_files_inside_the_bundle(plugins, capsys):
    """Issue 28, item 5: files the user put inside sasview_nn_bundle/ were deleted with it."""
    install_plugin(plugins)
    bundle = plugins / "sasview_nn_bundle"
    (bundle / "notes.txt").write_text("my notes")
    (bundle / "mine").mkdir()
    (bundle / "mine" / "fit.py").write_text("# my script")
    init = next(bundle.rglob("__init__.py"))
    init.write_text(init.read_text() + "\n# edited\n")     # an outdated bundle: the next install updates it
    assert install_plugin(plugins).action == "updated"
    assert (bundle / "notes.txt").read_text() == "my notes" and (bundle / "mine" / "fit.py").is_file()
    assert "# edited" not in init.read_text()
    rc, out, err = cli(capsys, "--plugin-dir", str(plugins), "--uninstall")
    assert rc == 0 and "kept 2 files" in out and "notes.txt" in out, out
    assert not (plugins / "nn_spheres_hs.py").exists()
    left = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    assert left == ["mine/fit.py", "notes.txt"]
