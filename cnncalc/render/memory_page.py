"""`memory --format html` and `--format svg`: the memory figures as a page of their own (the
answer, its breakdown, the training step's timeline, every layer as a real table) and as a
chart. Built from the dict `memory --format json` prints."""

from __future__ import annotations

from . import svg
from .html_report import BREAKDOWN, CSS, SCRIPT, _int, _timeline_chart
from .svg import esc, exact

LAYER_COLUMNS = (("#", True), ("Layer", False), ("Type", False), ("Values", True),
                 ("Allocates", False), ("Bytes", True))


def _cards(memory: dict) -> str:
    training = memory.get("mode") == "training"
    peak = memory.get("training_bytes" if training else "peak_inference_bytes")
    items = [("Peak", peak),
             ("At rest between steps", memory.get("at_rest_bytes") if training else None),
             ("Activations, every output kept", memory.get("forward_bytes"))]
    items = [(label, value) for label, value in items if isinstance(value, int)]
    cards = "".join(f'<div class="card"><dt>{esc(label)}</dt><dd class="big">'
                    f'{esc(svg.short(value, "bytes"))}</dd><dd class="num">{_int(value)} B</dd></div>'
                    for label, value in items)
    where = memory.get("peak_phase"), memory.get("peak_at")
    note = (f'<p class="sub">The peak happens in {esc(where[0])}, at {esc(where[1])}.</p>'
            if all(where) else "")
    return f'<dl class="cards">{cards}</dl>{note}'


def _breakdown(memory: dict) -> str:
    parts = memory.get("breakdown") or {}
    total = sum(int(parts.get(key) or 0) for key in BREAKDOWN)
    if not total:
        return ""
    rows = "".join(f'<tr class="layer"><td>{esc(key.replace("_", " "))}</td>'
                   f'<td class="n">{esc(exact(int(parts.get(key) or 0), "bytes"))}</td>'
                   f'<td class="n">{100 * int(parts.get(key) or 0) / total:.1f}%</td></tr>'
                   for key in BREAKDOWN)
    return ('<section id="breakdown"><h2>At the peak</h2><div class="scroll"><table>'
            '<thead><tr><th scope="col">Held as</th><th scope="col" class="n">Bytes</th>'
            f'<th scope="col" class="n">Share</th></tr></thead><tbody>{rows}</tbody>'
            f'<tfoot><tr><td>Total</td><td class="n">{esc(exact(total, "bytes"))}</td>'
            '<td class="n">100.0%</td></tr></tfoot></table></div></section>')


def _peer(memory: dict) -> str:
    """`--convention`: the four lines the peer prints and the bytes behind each."""
    peer = memory.get("convention")
    if not isinstance(peer, dict):
        return ""
    from .peer_memory import KEYS, WHY
    name = str(peer.get("name", ""))
    rows = "".join(f'<tr class="layer"><td>{esc(line)}</td>'
                   f'<td class="n">{_int(peer.get(key) or 0)}</td></tr>'
                   for line, key in zip(peer.get("printed") or [], KEYS))
    why = WHY.format(source=peer.get("source", ""), name=name, mode=memory.get("mode", ""),
                     where="above")
    return (f'<section id="convention"><h2>{esc(name)}\u2019s figures</h2><div class="scroll">'
            f'<table><caption>{esc(why)}</caption><thead><tr><th scope="col">{esc(name)} prints</th>'
            f'<th scope="col" class="n">Bytes</th></tr></thead><tbody>{rows}</tbody></table>'
            "</div></section>")


def _layers(memory: dict) -> str:
    rows = [r for r in memory.get("layers") or [] if isinstance(r, dict)]
    head = "".join(('<th scope="col" class="n">' if numeric else '<th scope="col">')
                   + f"{esc(name)}</th>" for name, numeric in LAYER_COLUMNS)
    body = "".join(f'<tr class="layer"><td class="n">{i}</td><td>{esc(r.get("name", ""))}</td>'
                   f'<td>{esc(r.get("type", ""))}</td><td class="n">{_int(r.get("values", 0))}</td>'
                   f'<td>{esc(r.get("allocates", ""))}</td><td class="n">{_int(r.get("bytes", 0))}</td>'
                   "</tr>" for i, r in enumerate(rows, 1))
    caption = (f"Each layer's output at batch {_int(memory.get('batch', 1))} in "
               f"{esc(memory.get('dtype', ''))}; click a header to sort")
    return ('<section id="layers"><h2>Per layer</h2><div class="scroll table">'
            f'<table class="layers"><caption>{caption}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div></section>")


def memory_page(memory: dict) -> str:
    """The page (deterministic: same figures, same bytes)."""
    name = str(memory.get("name", "network"))
    setting = (f"batch {_int(memory.get('batch', 1))} · {memory.get('dtype', '')} · "
               f"{memory.get('mode', '')}"
               + (f" · {memory.get('optimizer', '')}" if memory.get("mode") == "training" else "")
               + (f" · backend {memory['backend']}" if memory.get("backend") else
                  " · framework level"))
    timeline = memory.get("timeline")
    chart = (f'<section id="timeline"><h2>Through the step</h2><figure class="chart-wrap">'
             f"{_timeline_chart(timeline)}</figure></section>" if timeline else "")
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{esc(name)} \u2014 cnncalc '
            f"memory</title><style>{CSS}{svg.SVG_CSS}</style></head><body><main>"
            f'<h1>{esc(name)}: memory</h1><p class="sub">{esc(setting)}</p>{_cards(memory)}'
            f"{_breakdown(memory)}{_peer(memory)}{chart}{_layers(memory)}"
            '<footer><p class="note">Generated by cnncalc. Self-contained: no network access '
            f"needed.</p></footer></main><script>{SCRIPT}</script></body></html>\n")


def memory_chart(memory: dict) -> str:
    """One SVG: the live bytes through the training step when there is a timeline, else the
    bytes each layer's output allocates."""
    if memory.get("timeline"):
        return svg.standalone(_timeline_chart(memory["timeline"]))
    rows = [r for r in memory.get("layers") or [] if isinstance(r, dict)]
    title = (f"Bytes allocated per layer output (batch {memory.get('batch', 1)}, "
             f"{memory.get('dtype', '')}; in-place layers allocate nothing)")
    return svg.standalone(svg.bar_chart([str(r.get("name", "")) for r in rows],
                                        [int(r.get("bytes") or 0) for r in rows], title, "bytes",
                                        kind="bytes"))
