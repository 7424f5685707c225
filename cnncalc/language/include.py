"""`include:` — blocks from other files, each path relative to the file that names it.

An included file holds `blocks:` (and may include further files); it may be a whole spec, or a
built-in network named as in `cnncalc zoo`, whose blocks are taken (its layers are not).
Every file is read once (a file reached twice is not read again), a file that includes itself
through others is refused, and the reads are capped as the spec's own: 16 MiB over all included files, counted
as bytes are read (so a FIFO or /dev/zero is refused quickly). Errors about a file that
cannot be read are placed at the `include:` entry that names it; errors inside a file at
their own line and column."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import CnnCalcError, Span, fail, name
from . import yamlsource
from .arguments import parse_blocks
from .source import read_capped
from .structure import Document, Library, checked
from .yamlsource import YList, YMap

MAX_INCLUDED_BYTES = yamlsource.MAX_FILE_BYTES  # summed over every included file
MAX_INCLUDED_FILES = 256


class Includer:
    """Reads the files a spec includes, depth first, and collects their blocks."""

    def __init__(self, main: Path | None):
        self.stack = [main.resolve()] if main is not None else []  # files being read
        self.seen: set[Path] = set()
        self.blocks: dict = {}  # block name -> Block (its span says which file)
        self.budget = MAX_INCLUDED_BYTES

    def include(self, doc: YMap, display: str, base: Path) -> None:
        """Read every file `doc`'s `include:` names (relative to `base`)."""
        if "include" not in doc:
            return
        entries = doc["include"]
        if not isinstance(entries, YList):
            entries = YList([entries])
            entries.span, entries.item_spans = doc.value_span("include"), [doc.value_span("include")]
        for i, text in enumerate(entries):
            self.read(text, entries.item_span(i), display, base)

    def read(self, text: str, span: Span, display: str, base: Path) -> None:
        from .. import zoo
        shown = os.path.normpath(str(Path(display).parent / text))
        try:
            path = (base / text).resolve()
        except (OSError, RuntimeError):  # a symlink loop
            raise fail(span, f"included file '{name(shown, 200)}' cannot be resolved (a "
                       "symbolic link loop)", repr(text)) from None
        if not path.exists() and isinstance(text, str) and zoo.path_of(text) is not None:
            path = zoo.path_of(text).resolve()  # a built-in network: its blocks
            shown = path.name
        if path in self.stack:
            chain = " -> ".join(p.name for p in self.stack[self.stack.index(path):])
            raise fail(span, f"include cycle: {chain} -> {path.name}", repr(text))
        if path in self.seen:
            return  # reached twice (a diamond): its blocks are already here
        if len(self.seen) >= MAX_INCLUDED_FILES:
            raise fail(span, f"more than {MAX_INCLUDED_FILES} included files; refused")
        try:
            info = os.stat(path)  # never opened unless regular: a FIFO would block the open
        except FileNotFoundError:
            raise fail(span, f"included file does not exist (looked for {name(str(path), 200)})",
                       repr(text)) from None
        except OSError as exc:
            raise fail(span, f"included file '{name(shown, 200)}' cannot be read "
                       f"({exc.strerror or type(exc).__name__})", repr(text)) from None
        if not stat.S_ISREG(info.st_mode):  # a FIFO, a device, a folder
            what = "is a folder" if stat.S_ISDIR(info.st_mode) else "is not a regular file"
            raise fail(span, f"included file '{name(shown, 200)}' {what}", repr(text))
        try:
            data = read_capped(path, self.budget, shown)
        except CnnCalcError as exc:  # unreadable, a folder, too large: at the include entry
            raise fail(span, f"included file '{name(shown, 200)}' {exc.diagnostic.message}"
                       + (" (all included files together)" if "larger" in
                          exc.diagnostic.message else ""), repr(text)) from None
        self.budget -= len(data)
        self.seen.add(path)
        try:
            doc = yamlsource.load_bytes(data, shown)  # errors inside it: at their own line
        except CnnCalcError as exc:  # never echo a file that may not be a spec (an .env)
            raise fail(exc.diagnostic.span, "included file is not a spec of blocks: "
                       + exc.diagnostic.message.replace("`input` and `layers`", "`blocks`")
                       .replace("'input' and 'layers'", "'blocks'")) from None
        if not isinstance(doc, YMap) or "blocks" not in doc:
            raise fail(getattr(doc, "span", Span(shown, 1, 1)), "an included file must be a "
                       "mapping with 'blocks'")
        checked(Document if "layers" in doc else Library, doc)  # a whole spec: its blocks
        self.stack.append(path)
        self.include(doc, shown, path.parent)
        self.stack.pop()
        for key, block in parse_blocks(doc, shown).items():
            self.add(key, block, doc["blocks"].key_span(key))

    def add(self, key: str, block, span: Span) -> None:
        if key in self.blocks:
            first = self.blocks[key].span
            raise fail(span, f"block '{name(key)}' is defined twice (first in {first.file} at "
                             f"line {first.line})")
        self.blocks[key] = block


def blocks_with_includes(doc: YMap, file: str, path: Path | None) -> dict:
    """The spec's own blocks and those of every file it includes; `path` is the spec's file
    (None for standard input or a string: includes are then relative to the current folder)."""
    own = parse_blocks(doc, file)
    if "include" not in doc:
        return own
    includer = Includer(path)
    includer.include(doc, file, path.parent if path is not None else Path.cwd())
    for key, block in own.items():
        includer.add(key, block, doc["blocks"].key_span(key))
    return includer.blocks


def files_included(spec: str) -> list[Path]:
    """Every file the spec file `spec` includes, directly or through others, as far as they
    can be read (no output may be written over one of them: cli/output.py's protect list).
    Reading stops quietly at the first problem; loading the spec reports it."""
    path = Path(spec)
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return []
        doc = yamlsource.load_bytes(read_capped(path, MAX_INCLUDED_BYTES, spec), spec)
    except (CnnCalcError, OSError):
        return []
    includer = Includer(path)
    if isinstance(doc, YMap):
        try:
            includer.include(doc, spec, path.resolve().parent)
        except (CnnCalcError, OSError, RuntimeError, RecursionError):
            pass
    return sorted(includer.seen)
