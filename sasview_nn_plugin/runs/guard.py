"""Guards of a run: one run per output directory, outputs never onto inputs, inputs known by identity."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from pathlib import Path

from ..data.files import printable
from ..errors import InputError

LOCK_NAME = ".sasview-nn.lock"


class OutputLock:
    """An exclusive lock on an output directory: ``flock`` on ``DIR/.sasview-nn.lock`` on POSIX (the file is removed
    again on release, and a run that opened a file just removed retries on the new one), ``filelock`` elsewhere.

    A second run on the same directory fails at once with an InputError instead of mixing results."""

    def __init__(self, directory: Path):
        self.directory, self.path, self._fd, self._lock = directory, directory / LOCK_NAME, None, None

    def _busy(self) -> InputError:
        return InputError(f"another sasview-nn run is writing to {self.directory}; wait for it to finish "
                          "or choose another output directory", parameter="output")

    def __enter__(self) -> OutputLock:
        if os.name != "posix":
            from filelock import FileLock, Timeout

            self._lock = FileLock(str(self.path), timeout=0)
            try:
                self._lock.acquire()
            except Timeout:
                raise self._busy() from None
            return self
        import fcntl

        for _ in range(100):
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._busy() from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self._fd = fd
                return self
            os.close(fd)   # the run that held it removed that file meanwhile: lock the one at the path now
        raise self._busy()

    def __exit__(self, *exc) -> None:
        if self._lock is not None:
            self._lock.release()
            return
        import fcntl

        self.path.unlink(missing_ok=True)   # while still held: no empty lock file is left behind
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)


def resolved_path(path: Path) -> Path:
    """The path an input or output really is (symlinks resolved; a missing file: its resolved parent)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop (Python < 3.13's Path.resolve)
        return Path(os.path.abspath(path))


def not_a_file(path: str | os.PathLike) -> str:
    """Why ``path`` cannot be read as a data file ("" when it is a regular file), without opening it: a FIFO
    or a device would block or never end, a symbolic link loop or a dangling link has nothing to read."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "a symbolic link loop (the link leads back to itself); remove or fix the link"
        if os.path.islink(path):
            return f"no such file (a dangling link to {printable(os.readlink(path))}?)"
        return "the file vanished during the run"
    if stat.S_ISREG(mode):
        return ""
    kind = next((k for test, k in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                                    (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                                    (stat.S_ISDIR, "a directory")) if test(mode)), "not a file")
    return f"not a regular file ({kind}); only data files are read"


def refuse_outputs_onto_inputs(outputs: list[Path], inputs: list[Path]) -> None:
    """InputError if an output path is (after symlinks) one of the input files."""
    by_key = {resolved_path(p): p for p in inputs}
    for out in outputs:
        hit = by_key.get(resolved_path(out))
        if hit is not None:
            raise InputError(f"the output {printable(out)} would overwrite the input file {printable(hit)}; "
                             "choose another output directory (inputs are never overwritten)", parameter="output")


def file_identity(path: Path) -> str:
    """What a single input file is, for resuming: resolved path, size, modification time (ns) and a SHA-256
    of its bytes (an in-place edit keeping size and mtime, as `cp -p` or `rsync -a` make, is a new input).
    Only regular files are read (a FIFO or a device is known by its name)."""
    try:
        st = path.stat()
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
        if stat.S_ISREG(st.st_mode):
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            stamp += ":" + h.hexdigest()
    except OSError:  # a dangling link, a loop or a file that vanished: known by its name only
        stamp = "missing"
    return hashlib.sha256(f"{os.fsencode(resolved_path(path))!r}|{stamp}".encode()).hexdigest()[:20]


def unique_labels(paths: list[Path]) -> dict[Path, str]:
    """A short, unique label for each path: its name, or as many parent folders as tell it apart."""
    labels: dict[Path, str] = {}
    groups: dict[str, list[Path]] = {}
    for p in paths:
        groups.setdefault(p.name, []).append(p)
    for name, group in groups.items():
        if len(group) == 1:
            labels[group[0]] = printable(name)
            continue
        parts = [resolved_path(p).parts for p in group]
        depth = 2
        while depth <= max(len(x) for x in parts):
            tails = ["/".join(x[-depth:]) for x in parts]
            if len(set(tails)) == len(tails):
                break
            depth += 1
        for p, x in zip(group, parts, strict=True):
            labels[p] = printable("/".join(x[-depth:]))
    return labels
