"""Files written safely: atomic replacement (fsync, then rename), output directories, printable names.

Every output of the package goes through :func:`write_atomic` or :func:`atomic_path`, so a crash,
a kill -9 or a full disk leaves either the old file or the new one, never a half-written file.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
from collections.abc import Iterator
from pathlib import Path

from ..errors import InputError

PARTIAL = ".partial-"       # marker in the names of temporary files (cleaned up by the next run)
MAX_STEM_BYTES = 150        # room for ".json" / ".partial-PID" within a 255-byte file name


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):  # not every file system lets a directory be opened (Windows)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def temporary_name(path: Path) -> Path:
    """The temporary sibling a write to ``path`` goes through (short even for a long ``path``)."""
    name = path.name
    if len(os.fsencode(name)) > MAX_STEM_BYTES:
        name = hashlib.sha256(os.fsencode(name)).hexdigest()[:16]
    return path.with_name(f".{name}{PARTIAL}{os.getpid()}")


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path to write (h5py, matplotlib, numpy); on success it replaces ``path``.

    The data are fsync'ed before the rename, and the temporary file is removed on any error."""
    path = Path(path)
    tmp = temporary_name(path)
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        _fsync_dir(path.parent)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write text (UTF-8) or bytes to ``path`` atomically (temporary file, fsync, rename)."""
    path = Path(path)
    payload = data.encode("utf-8", "surrogateescape") if isinstance(data, str) else data
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(payload)
    return path


def remove_partials(directory: Path) -> int:
    """Delete temporary files left in ``directory`` by a run that was killed; return how many."""
    n = 0
    for stale in directory.glob(f".*{PARTIAL}*"):
        with contextlib.suppress(OSError):
            stale.unlink()
            n += 1
    return n


def check_output_path(path: str | os.PathLike, what: str = "output", parameter: str | None = "output") -> Path:
    """InputError (naming ``parameter``, the argument ``path`` came in) unless ``path`` is a directory or can be
    created as one (nothing is created)."""
    if str(path).strip() == "":
        raise InputError(f"{what}: an empty path is not a directory; give a directory name", parameter=parameter)
    out = Path(path)
    if out.is_symlink() and not out.exists():
        raise InputError(f"{what} {printable(out)} is a symbolic link leading nowhere (a loop or a dangling link); "
                         "give a directory", parameter=parameter)
    if out.exists() and not out.is_dir():
        raise InputError(f"{what} {out} exists and is not a directory; give a directory", parameter=parameter)
    return out


def ensure_output_dir(path: str | os.PathLike, what: str = "output", parameter: str | None = "output") -> Path:
    """Create the output directory ``path`` if needed and check it is a writable directory."""
    out = check_output_path(path, what, parameter)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot create {what} directory {out}: {exc.strerror}", parameter=parameter) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise InputError(f"{what} directory {out} is not writable; choose another or fix its permissions",
                         parameter=parameter)
    return out


def printable(name: str | os.PathLike) -> str:
    """A file name as valid text: undecodable bytes (a Latin-1 name on a UTF-8 system) as \\xNN."""
    raw = os.fsencode(name) if not isinstance(name, str) else name.encode("utf-8", "surrogateescape")
    return raw.decode("utf-8", "backslashreplace")


_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')  # separators, control and Windows-reserved characters


def safe_stem(frame: str) -> str:
    """A file-name stem for a frame id: portable characters, at most MAX_STEM_BYTES; unique per frame id
    (a short hash is added whenever characters were replaced or the name was shortened)."""
    text = printable(frame)
    stem = _UNSAFE.sub("_", text.replace("#", "_")).lstrip(".") or "frame"
    if stem != text.replace("#", "_") or len(stem.encode()) > MAX_STEM_BYTES:
        digest = hashlib.sha256(text.encode()).hexdigest()[:8]
        stem = stem.encode()[:MAX_STEM_BYTES - 9].decode("utf-8", "ignore") + "-" + digest
    return stem


def os_error_message(exc: OSError) -> str:
    """One line for an operating-system error while writing (disk full, permissions, ...)."""
    where = f" {exc.filename}" if exc.filename else ""
    hint = {errno.ENOSPC: "free some space and re-run (finished work is kept)",
            errno.EDQUOT: "free some space and re-run (finished work is kept)",
            errno.EACCES: "check the permissions", errno.EROFS: "the file system is read-only"}.get(exc.errno, "")
    return f"cannot write{where}: {exc.strerror or exc}" + (f"; {hint}" if hint else "")
