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
        path = (base / text).resolve()
        shown = os.path.normpath(str(Path(display).parent / text))
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
        if not path.exists():
            raise fail(span, f"included file does not exist (looked for {name(str(path), 200)})",
                       repr(text))
        try:
            data = read_capped(path, self.budget, shown)
        except CnnCalcError as exc:  # unreadable, a folder, too large: at the include entry
            raise fail(span, f"included file '{name(shown, 200)}' {exc.diagnostic.message}"
                       + (" (all included files together)" if "larger" in
                          exc.diagnostic.message else ""), repr(text)) from None
        self.budget -= len(data)
        self.seen.add(path)
        doc = yamlsource.load_bytes(data, shown)  # errors inside it: at their own line
        if not isinstance(doc, YMap):
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
