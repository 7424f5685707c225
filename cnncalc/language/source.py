"""One capped reader for every file or stream cnncalc reads (specs, stdin, weights lists).

A size in `stat` means nothing for /dev/zero, a FIFO or standard input: the reader counts the
bytes it reads and stops one byte past the limit, so an endless stream is refused quickly.
"""

from __future__ import annotations

import os
from typing import BinaryIO

from ..errors import CnnCalcError, Diagnostic, Span

MiB = 1024 * 1024
_CHUNK = 64 * 1024


def _fail(path: object, message: str) -> CnnCalcError:
    return CnnCalcError(Diagnostic(Span(str(path)), message))


def _size(limit: int) -> str:
    return f"{limit // MiB} MiB" if limit % MiB == 0 else f"{limit} bytes"


def _read_stream(stream: BinaryIO, limit: int, name: str) -> bytes:
    stream = getattr(stream, "buffer", stream)  # a text stream such as sys.stdin
    chunks, total = [], 0
    while total <= limit:
        chunk = stream.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
    raise _fail(name, f"is larger than {_size(limit)}; refused")


def unreadable(name: str, error: OSError):
    """The one-line error for a file that cannot be opened or read."""
    if isinstance(error, FileNotFoundError):
        return _fail(name, "does not exist")
    if isinstance(error, IsADirectoryError):
        return _fail(name, "is a folder, not a file")
    return _fail(name, f"cannot read: {error.strerror or error}")


def read_capped(source: os.PathLike | str | BinaryIO, limit: int, name: str) -> bytes:
    """At most `limit` bytes from a path or binary stream; more (or unreadable) -> CnnCalcError."""
    try:
        if hasattr(source, "read"):
            return _read_stream(source, limit, name)
        with open(source, "rb") as handle:
            return _read_stream(handle, limit, name)
    except OSError as error:
        raise unreadable(name, error) from None
