"""Errors are data: every problem carries its place in the YAML and a one-line message."""

from __future__ import annotations

from typing import NamedTuple

# Exit codes shared by every command.
EXIT_OK = 0
EXIT_INCONSISTENT = 1  # the network is readable but impossible (shapes, channels, groups)
EXIT_UNREADABLE = 2  # the file cannot be read or parsed, or a setting is malformed
EXIT_INTERNAL = 70  # a bug of ours (sysexits' EX_SOFTWARE)


class Span(NamedTuple):
    """A position in a spec file; line and column count from 1 (0: the file as a whole)."""

    file: str
    line: int = 0
    column: int = 0

    def __str__(self) -> str:
        if self.line:
            return f"{self.file}:{self.line}:{self.column}"
        return self.file


class Diagnostic(NamedTuple):
    """One problem found in a spec: an error or a warning, with where and why."""

    span: Span
    message: str
    severity: str = "error"  # "error" or "warning"
    received: str | None = None
    layer: str | None = None  # the layer's name, when the problem belongs to one
    path: str | None = None  # where the layer sits in the spec (layers[3]) when unnamed yet
    rule: str | None = None  # lint rule id for warnings
    exit_code: int = EXIT_UNREADABLE

    def as_dict(self) -> dict:
        return {"file": self.span.file, "line": self.span.line, "column": self.span.column,
                "severity": self.severity, "rule": self.rule, "layer": self.layer,
                "message": self.message, "received": self.received, "text": self.format()}

    def format(self) -> str:
        """`file:line:col: error: what is wrong (received: ...)`, on one line."""
        text = self.message
        if self.layer:
            text = f"layer '{name(self.layer, 120)}': {text}"
        elif self.path:
            text = f"{name(self.path, 120)}: {text}"
        if self.received is not None:
            text = f"{text} (received: {self.received})"
        if self.rule:
            text = f"{text} [{self.rule}]"
        return f"{self.span}: {self.severity}: {' '.join(text.split())}"


class CnnCalcError(Exception):
    """The one domain exception: the CLI catches it, prints `diagnostic.format()` and exits."""

    def __init__(self, diagnostic: Diagnostic):
        super().__init__(diagnostic.format())
        self.diagnostic = diagnostic

    @property
    def exit_code(self) -> int:
        return self.diagnostic.exit_code


class SettingError(Exception):
    """Raised by a setting check or a layer's shape rule; the caller adds the YAML position.

    `key` names the setting at fault (None: the layer as a whole); `inconsistent` marks a
    network-level impossibility (exit 1) rather than a malformed value (exit 2).
    """

    def __init__(self, message: str, key: str | None = None, received: object = None,
                 inconsistent: bool = False, has_received: bool | None = None,
                 on_key: bool = False):
        super().__init__(message)
        self.on_key = on_key  # point at the key itself (an unknown key), not its value
        self.message = message
        self.key = key
        self.received = received
        self.has_received = received is not None if has_received is None else has_received
        self.inconsistent = inconsistent


MAX_SHOWN = 80  # characters of a received value or a key echoed in a message


def _int_text(value: int) -> str:
    """An integer in full, or "an integer of N digits" when that would not fit a line (Python
    refuses str() of ints over 4,300 digits; the digit count is found without str())."""
    size = abs(value)
    if size < 10 ** 30:
        return str(value)
    digits = int(size.bit_length() * 0.30102999566398120) + 1  # log10(2): exact or one over
    if 10 ** (digits - 1) > size:
        digits -= 1
    return f"{'a negative' if value < 0 else 'an'} integer of {digits:,} digits"


def name(key: object, limit: int = 60) -> str:
    """A key or name as echoed inside quotes in a message: one line, at most `limit` characters."""
    text = _int_text(key) if isinstance(key, int) and not isinstance(key, bool) else str(key)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit - 3] + "..."


def keys_text(mapping) -> str:
    """The keys a mapping has, for the received part of a "missing key" error."""
    keys = [name(k, 40) for k in list(mapping)[:12]]
    return f"keys {', '.join(keys)}{', ...' if len(mapping) > 12 else ''}" if keys else "no keys"


def show(value: object) -> str:
    """A received value as the user wrote it, shortened to one line."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif value is None:
        text = "null"
    elif isinstance(value, str):
        text = repr(value[:2 * MAX_SHOWN] if len(value) > 4 * MAX_SHOWN else value)
    elif isinstance(value, dict):
        text = "a mapping {" + ", ".join(name(k) for k in list(value)[:5]) + "}"
    elif isinstance(value, int):
        text = _int_text(value)
    elif isinstance(value, list):
        text = "[" + ", ".join(show(v) for v in value[:6]) + (", ..." if len(value) > 6 else "") + "]"
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 3] + "..."


def fail(span: Span, message: str, received=None, layer=None, inconsistent=False, path=None):
    return CnnCalcError(Diagnostic(span, message, received=received, layer=layer, path=path,
                                   exit_code=EXIT_INCONSISTENT if inconsistent else EXIT_UNREADABLE))


def from_setting_error(exc: SettingError, span: Span, layer: str | None,
                       path: str | None = None) -> CnnCalcError:
    return fail(span, exc.message, exc.received if exc.has_received else None, layer,
                exc.inconsistent, path)
