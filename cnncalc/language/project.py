"""A project's specs and defaults, said once in `[tool.cnncalc]` of its pyproject.toml (as ruff,
pytest and mypy are configured), so that a bare `cnncalc validate`, `cnncalc summarize` or
`cnncalc memory --batch 64` works on them:

    [tool.cnncalc]
    specs = ["models/*.yaml"]          # globs, relative to the pyproject.toml
    batch = 64                         # memory's default --batch
    dtype = "float16"                  # memory's default --dtype
    budget = {params = "30M", macs = "5G", memory = "20GiB"}   # validate's default limits

The keys are declared once (the fields below): validation with did-you-mean, docs and the JSON
Schema read them. A command given a spec never reads the file.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import ClassVar

from ..conventions import DTYPES
from ..declare import Choice, Int, Kind, Section, check_settings, frozen, setting
from ..errors import CnnCalcError, Diagnostic, SettingError, Span, fail, show
from .budget import Budget

TABLE = "tool.cnncalc"
MAX_BYTES = 1 << 20  # a pyproject.toml larger than this is not read


@frozen
class Globs(Kind):
    """A list of glob patterns (a single string is one pattern)."""

    text = "a list of glob patterns such as [\"models/*.yaml\"]"

    def check(self, value, key):
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or \
                not all(isinstance(v, str) and v.strip() for v in items):
            self.fail(key, value)
        return tuple(items)

    def schema(self):
        return {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}


@frozen
class Project:
    """`[tool.cnncalc]`: the specs a bare command works on, and its defaults."""

    label: ClassVar[str] = "[tool.cnncalc]"

    specs: tuple = setting(Globs(), "the project's specs, as globs relative to pyproject.toml",
                           ())
    batch: int | None = setting(Int(), "memory's default --batch", None)
    dtype: str | None = setting(Choice(tuple(DTYPES)), "memory's default --dtype", None)
    budget: Budget | None = setting(Section(Budget), "validate's default limits (a spec's own "
                                    "budget: and the --max-* options take precedence)", None)
    root: Path = Path(".")  # the folder of the pyproject.toml


def find_pyproject(start: Path) -> Path | None:
    """The nearest pyproject.toml at or above `start`."""
    for folder in (start, *start.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file():
            return candidate
    return None


def key_span(path: Path, text: str, key: str | None) -> Span:
    """Where `key` is written inside [tool.cnncalc] (TOML parsers give no positions)."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == f"[{TABLE}]"), None)
    if start is None:
        return Span(str(path), 1, 1)
    top = (key or "").split(".")[0]
    for i in range(start + 1, len(lines)):
        if lines[i].lstrip().startswith("["):
            break
        if top and re.match(rf"\s*{re.escape(top)}\s*=", lines[i]):
            return Span(str(path), i + 1, len(lines[i]) - len(lines[i].lstrip()) + 1)
    return Span(str(path), start + 1, 1)


def load_project(start: Path | None = None) -> Project | None:
    """The nearest pyproject.toml's [tool.cnncalc], or None when there is none."""
    path = find_pyproject((start or Path.cwd()).resolve())
    if path is None:
        return None
    try:
        raw = path.read_bytes()[:MAX_BYTES + 1]
        if len(raw) > MAX_BYTES:
            raise fail(Span(str(path)), "pyproject.toml is too large to read",
                       f"more than {MAX_BYTES:,} bytes")
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(Span(str(path)), "cannot read pyproject.toml", type(exc).__name__) from None
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib
    try:
        table = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise fail(Span(str(path)), "pyproject.toml is not valid TOML", str(exc)) from None
    values = table.get("tool", {}).get("cnncalc") if isinstance(table.get("tool"), dict) else None
    if values is None:
        return None
    if not isinstance(values, dict):
        raise fail(key_span(path, text, None), f"[{TABLE}] must be a table", show(values))
    try:
        return Project(**check_settings(Project, values), root=path.parent)
    except SettingError as exc:
        span = key_span(path, text, exc.key if isinstance(exc.key, str) else None)
        raise CnnCalcError(Diagnostic(span, exc.message, received=exc.received)) from None


def project_specs(project: Project | None, command: str) -> list[str]:
    """The spec files `[tool.cnncalc] specs` names, sorted, for a command given none."""
    if project is None or not project.specs:
        raise fail(Span(command), "needs a spec (a file, a built-in name or -), or `specs = "
                   "[...]` under [tool.cnncalc] in a pyproject.toml here or above",
                   "no spec and no [tool.cnncalc] specs")
    found = sorted({str(p) for pattern in project.specs for p in project.root.glob(pattern)
                    if p.is_file()})
    if not found:
        raise fail(Span(str(project.root / "pyproject.toml")), "[tool.cnncalc] specs match no "
                   "file", ", ".join(project.specs))
    cwd = Path.cwd()
    return [str(Path(p).relative_to(cwd)) if Path(p).is_relative_to(cwd) else p for p in found]
