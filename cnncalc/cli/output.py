"""One writer for every file the CLI writes, and one capped reader for every file it reads.

A written file appears whole or not at all: the data goes to a temporary file in the target's
folder (`.<name>.<random>.tmp<suffix>`), is flushed and fsynced, and is renamed onto the
target; any exception, KeyboardInterrupt or SystemExit included, removes the temporary file.
Only SIGKILL or a power cut can leave a `.*.tmp*` file behind, never a half-written target.
A target that is a symlink is replaced by a regular file; the link's target is left alone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import CnnCalcError, Diagnostic, Span
from ..language.source import MiB, read_capped  # noqa: F401  (re-exported: the CLI's readers)

_SIGNALS = {getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name)}


def _fail(path: object, message: str) -> CnnCalcError:
    return CnnCalcError(Diagnostic(Span(str(path)), message))


def _same(path: str, other: os.PathLike | str) -> bool:
    """True when `path` and `other` name the same file (samefile), or resolve to the same place."""
    with contextlib.suppress(OSError, ValueError):
        if os.path.samefile(path, other):
            return True
    with contextlib.suppress(OSError, ValueError):
        return os.path.normcase(os.path.realpath(path)) == os.path.normcase(os.path.realpath(other))
    return False


def check_writable(path: os.PathLike | str, force: bool, protect: Iterable[os.PathLike | str] = ()) -> None:
    """Raise CnnCalcError unless `path` may be written; call it before doing expensive work."""
    name = os.fspath(path)
    if any(_same(name, other) for other in protect):
        raise _fail(name, "is the input spec or a file it includes; refusing to overwrite it")
    parent = os.path.dirname(name) or "."
    if not os.path.isdir(parent):
        raise _fail(name, f"folder {parent} does not exist")
    if os.path.isdir(name):
        raise _fail(name, "is a folder; refusing to write over it")
    if os.path.lexists(name) and not force:
        raise _fail(name, "exists; pass --force to overwrite it")


def _mode_for(path: str) -> int:
    """The old file's permission bits, or 0o666 minus the umask for a new file."""
    with contextlib.suppress(OSError):
        return stat.S_IMODE(os.stat(path).st_mode)
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _hold_signals(hold: bool) -> None:
    """Block (True) or unblock SIGINT/SIGTERM, so a temp file is never created unrecorded."""
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_BLOCK if hold else signal.SIG_UNBLOCK, _SIGNALS)


def _mkstemp(path: str) -> str:
    """A new empty temporary file next to `path`, ending in `path`'s suffix."""
    parent, base = os.path.split(path)
    import tempfile  # only when a file is written (summarize to stdout never needs it)
    fd, temp = tempfile.mkstemp(dir=parent or ".", prefix="." + base[:100] + ".",
                                suffix=".tmp" + Path(base).suffix[:20])
    os.close(fd)
    return temp


def _publish(temp: str, path: str, force: bool) -> None:
    """Move `temp` onto `path`; without force, never clobber a file that appeared meanwhile."""
    if force:
        os.replace(temp, path)
    else:
        try:
            os.link(temp, path)  # atomic create-if-absent
        except FileExistsError:
            raise _fail(path, "exists; pass --force to overwrite it") from None
        except OSError:  # no hard links on this file system (FAT, some network mounts)
            if os.path.lexists(path):
                raise _fail(path, "exists; pass --force to overwrite it") from None
            os.replace(temp, path)
        else:
            os.unlink(temp)
    with contextlib.suppress(OSError, AttributeError):  # make the rename itself durable (POSIX only)
        fd = os.open(os.path.dirname(path) or ".", os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_path(path: os.PathLike | str, force: bool,
                protect: Iterable[os.PathLike | str] = ()) -> Iterator[str]:
    """Yield a temporary file name ending in `path`'s suffix; on success it becomes `path`.

    For writers that need a name (numpy.save keeps a name that already ends in `.npy`).
    """
    name = os.fspath(path)
    protect = list(protect)
    check_writable(name, force, protect)
    temp = None
    try:
        mode = _mode_for(name)
        _hold_signals(True)  # a signal handled right after mkstemp would leak the file
        temp = _mkstemp(name)
        _hold_signals(False)
        yield temp
        with open(temp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.chmod(temp, mode)
        check_writable(name, force, protect)
        _publish(temp, name, force)
        temp = None
    except OSError as error:
        raise _fail(name, f"cannot write: {error.strerror or error}") from None
    finally:
        _hold_signals(False)
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)


def write_output(path: os.PathLike | str, data: str | bytes, *, force: bool,
                 protect: Iterable[os.PathLike | str] = ()) -> None:
    """Write `data` (str: UTF-8) to `path` whole or not at all; see the module docstring."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with atomic_path(path, force, protect) as temp, open(temp, "wb") as handle:
        handle.write(payload)
        handle.flush()


def install_sigterm_cleanup() -> None:
    """Make SIGTERM raise SystemExit(143) in the main thread, so `finally` cleanups run.

    Call once at start-up, from the main thread. Without it SIGTERM kills the process at once
    and a write in progress leaves its `.tmp` file behind (the target itself stays intact).
    """
    def _exit(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, _exit)
