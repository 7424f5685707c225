"""`cnncalc memory --convention torchinfo|torchsummary`: the peer's four lines as it prints
them, the exact bytes behind them, then cnncalc's own figures."""

from __future__ import annotations

from ..analysis.memory_report import MemoryReport
from ..conventions import binary
from ..analysis.peer_memory import SOURCES, PeerFigures
from . import escape
from .escape import terminal

KEYS = ("input_bytes", "forward_backward_bytes", "params_bytes", "total_bytes")
WHY = ("By the rules of {source}. Not a peak: {name} adds outputs and parameters with no "
       "lifetimes, in-place operations, optimizer state or framework scratch; cnncalc's {mode} "
       "figure is {where}.")


def peer_rows(peer: PeerFigures) -> list[tuple[str, int]]:
    """(the line the peer prints, the bytes behind it)."""
    return list(zip(peer.printed, (getattr(peer, k) for k in KEYS), strict=True))


def peer_table(peer: PeerFigures, report: MemoryReport):
    """The terminal's table (rich, imported here: the HTML page needs none of it)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text
    title = f"{report.name}: {peer.convention}'s figures, batch {report.batch}"
    table = Table(title=Text(terminal(title)), title_justify="left", box=box.SIMPLE_HEAD,
                  pad_edge=False, caption=WHY.format(source=SOURCES[peer.convention],
                                               name=peer.convention, mode=report.mode,
                                               where="below"),
                  caption_justify="left")
    table.add_column(f"{peer.convention} prints", no_wrap=True)
    table.add_column("bytes", justify="right", no_wrap=True)
    table.add_column("binary", justify="right", no_wrap=True)
    for line, nbytes in peer_rows(peer):
        table.add_row(Text(line), f"{nbytes:,}", binary(nbytes))
    return table


def peer_text(peer: PeerFigures, format: str) -> str:
    """The peer's lines as CSV or a Markdown table."""
    rows = peer_rows(peer)
    if format == "csv":
        return escape.csv_text([["convention", "printed", "bytes"],
                                *([peer.convention, line, nbytes] for line, nbytes in rows)])
    lines = [f"| {peer.convention} prints | bytes |", "|---|---:|"]
    lines += [f"| {line} | {nbytes:,} |" for line, nbytes in rows]
    return "\n".join(lines) + "\n"
