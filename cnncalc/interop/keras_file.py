"""Reading a Keras model's architecture safely: a `.keras` file is a zip whose `config.json`
holds it (the weights beside it are never read), and a JSON file is what `model.to_json()`
writes. Only the standard library is used; every problem is one line (exit 2)."""

from __future__ import annotations

import json
import os
import stat
import zipfile

from ..errors import CnnCalcError, Diagnostic, Span, show

MiB = 1 << 20
MAX_CONFIG_BYTES = 64 * MiB  # EfficientNetV2L's config.json is about 4 MiB
MAX_JSON_FILE_BYTES = MAX_CONFIG_BYTES


def fail(file: str, message: str, received: str | None = None) -> CnnCalcError:
    return CnnCalcError(Diagnostic(Span(file), message, received=received))


def regular_size(path: str, display: str) -> int:
    try:
        info = os.stat(path)
    except OSError as error:
        raise fail(display, f"cannot read: {error.strerror or error}") from None
    if not stat.S_ISREG(info.st_mode):  # a FIFO or /dev/zero would be read without end
        raise fail(display, "not a regular file")
    return info.st_size


def read_keras_file(path: str, display: str, limit: int = MAX_CONFIG_BYTES) -> dict:
    """The parsed config.json of a `.keras` zip (its size capped, read as a stream so that a
    header that lies about the size cannot make it larger)."""
    regular_size(path, display)
    try:
        with zipfile.ZipFile(path) as archive:
            try:
                info = archive.getinfo("config.json")
            except KeyError:
                raise fail(display, "not a Keras model: the zip has no config.json",
                           ", ".join(show(n) for n in archive.namelist()[:5]) or "an empty zip") \
                    from None
            if info.file_size > limit:
                raise fail(display, f"config.json is larger than the {limit // MiB} MiB cnncalc "
                                    "reads", f"{info.file_size:,} bytes")
            with archive.open(info) as handle:
                data = handle.read(limit + 1)
    except zipfile.BadZipFile as error:
        raise fail(display, "not a Keras model (.keras): not a zip file", str(error)) from None
    except (OSError, RuntimeError, NotImplementedError, EOFError, ValueError) as error:
        raise fail(display, "cannot read config.json from the zip",
                   f"{type(error).__name__}: {error}") from None
    if len(data) > limit:
        raise fail(display, f"config.json is larger than the {limit // MiB} MiB cnncalc reads")
    return parsed(data, display, "config.json")


def read_keras_json(path: str, display: str, limit: int = MAX_JSON_FILE_BYTES) -> dict | None:
    """A JSON file holding a Keras model's config (`model.to_json()`), or None when the file is
    something else (a spec written in JSON is then read as a spec)."""
    if regular_size(path, display) > limit:
        return None
    try:
        with open(path, "rb") as handle:
            data = handle.read(limit + 1)
    except OSError as error:
        raise fail(display, f"cannot read: {error.strerror or error}") from None
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return None
    return value if is_keras_model(value) else None


def is_keras_model(value) -> bool:
    return isinstance(value, dict) and isinstance(value.get("class_name"), str) and \
        isinstance(value.get("config"), dict) and "input" not in value


def parsed(data: bytes, display: str, what: str) -> dict:
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as error:
        raise fail(display, f"{what} is not valid JSON", " ".join(str(error).split())[:200]) \
            from None
    if not is_keras_model(value):
        raise fail(display, f"{what} is not a Keras model config (no 'class_name' and 'config')",
                   type(value).__name__)
    return value
