"""Inline-SVG charts and a layered graph diagram, standard library only.

Each chart function returns one `<svg>` element as a string, to be inlined in an HTML page whose
CSS (SVG_CSS) colours the classes. Every text from the caller is escaped; output is deterministic.
"""

from __future__ import annotations

import itertools
import math
from .escape import html

SVG_CSS = """
svg.chart { width: 100%; height: auto; font: 11px system-ui, sans-serif; }
svg text { fill: var(--fg); }
svg .title { font-size: 14px; font-weight: 600; }
svg .axis { stroke: var(--muted); stroke-width: 1; }
svg .grid { stroke: var(--grid); stroke-width: 1; }
svg .tick, svg .legend { fill: var(--muted); }
svg .bar { fill: var(--c0); }
svg .hit { fill: transparent; }
svg .hit:hover, svg g:hover > .hit { fill: var(--hover); }
svg .band { fill: var(--band); } svg .band.odd { fill: transparent; }
svg .line { fill: none; stroke-width: 2; }
svg .s0 { stroke: var(--c0); fill: var(--c0); } svg .s1 { stroke: var(--c1); fill: var(--c1); }
svg .s2 { stroke: var(--c2); fill: var(--c2); } svg .s3 { stroke: var(--c3); fill: var(--c3); }
svg .s4 { stroke: var(--c4); fill: var(--c4); } svg .s5 { stroke: var(--c5); fill: var(--c5); }
svg .line.s1 { stroke-dasharray: 6 4; } svg path.line { fill: none; }
svg .area { stroke: none; opacity: .85; }
svg .node rect { fill: var(--node); stroke: var(--muted); stroke-width: 1; }
svg .node.k-conv rect { fill: var(--k-conv); } svg .node.k-pool rect { fill: var(--k-pool); }
svg .node.k-norm rect { fill: var(--k-norm); } svg .node.k-merge rect { fill: var(--k-merge); }
svg .node.k-fc rect { fill: var(--k-fc); } svg .node.k-input rect { fill: var(--k-input); }
svg .node .name { font-weight: 600; } svg .node .sub { fill: var(--muted); }
svg .edge { fill: none; stroke: var(--muted); stroke-width: 1.2; }
svg .arrow { fill: var(--muted); }
"""


def esc(text) -> str:
    """HTML/XML-escape any value, quotes included (safe in text and in attributes)."""
    return html(text)


def num(value: float) -> str:
    """A coordinate with at most one decimal; stable text for the same value."""
    text = f"{value:.1f}"
    text = text[:-2] if text.endswith(".0") else text
    return "0" if text == "-0" else text


def short(value: float, kind: str = "count") -> str:
    """Readable form: 138.4M for counts (powers of 1000), 50.8 MiB for bytes (powers of 1024)."""
    base, units = (1024, ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]) if kind == "bytes" else \
        (1000, ["", "k", "M", "G", "T", "P"])
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    v, i = float(value), 0
    while i < len(units) - 1 and abs(v) >= base - 0.05:
        v, i = v / base, i + 1
    if i == 0:
        text = f"{value:,}" if float(value).is_integer() else f"{v:.3g}"
        return f"{text} B" if kind == "bytes" else text
    text = f"{v:.1f}".removesuffix(".0")
    return f"{text} {units[i]}" if kind == "bytes" else f"{text}{units[i]}"


def exact(value, kind: str = "count") -> str:
    """Exact figure with thousands separators (and the readable form for bytes)."""
    if kind == "bytes":
        return f"{value:,} bytes ({short(value, 'bytes')})"
    return f"{value:,}" if float(value).is_integer() else f"{value:,.4g}"


def nice_ticks(lo: float, hi: float, count: int = 5, kind: str = "count") -> list[float]:
    """Round tick values covering [lo, hi]: steps of 1, 2, 2.5 or 5 times a power of ten
    (of the binary unit for bytes, so ticks read 16 MiB, 32 MiB...)."""
    if hi <= lo:
        hi = lo + 1
    scale = 1.0
    if kind == "bytes":
        while max(abs(lo), abs(hi)) / scale >= 1024:
            scale *= 1024
    raw = (hi - lo) / scale / count
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * 0.999)
    first = math.floor(lo / scale / step + 1e-9)
    last = math.ceil(hi / scale / step - 1e-9)
    return [round(k * step, 10) * scale for k in range(first, last + 1)]


def _open(width: float, height: float, title: str, label: str, cls: str = "chart") -> str:
    return (f'<svg class="{cls}" viewBox="0 0 {num(width)} {num(height)}" width="{num(width)}" '
            f'height="{num(height)}" role="img" aria-label="{esc(label)}">'
            f"<title>{esc(title)}</title>")


def _clip(text: str, chars: int) -> str:
    """Keep the tail of a long name (its most specific part)."""
    text = str(text)
    return text if len(text) <= chars else "\u2026" + text[-(chars - 1):]


def _y_axis(ticks, left, top, pw, ph, kind, unit) -> list[str]:
    out, span = [], ticks[-1] - ticks[0]
    for t in ticks:
        y = top + ph - (t - ticks[0]) / span * ph
        out.append(f'<line class="grid" x1="{num(left)}" x2="{num(left + pw)}" y1="{num(y)}" y2="{num(y)}"/>'
                   f'<text class="tick" x="{num(left - 6)}" y="{num(y + 4)}" text-anchor="end">'
                   f"{esc(short(t, kind))}</text>")
    out.append(f'<line class="axis" x1="{num(left)}" x2="{num(left)}" y1="{num(top)}" y2="{num(top + ph)}"/>')
    out.append(f'<text class="tick" transform="translate(14 {num(top + ph / 2)}) rotate(-90)" '
               f'text-anchor="middle">{esc(unit)}</text>')
    return out


def bar_chart(labels, values, title: str, unit: str, *, kind: str = "count", width: int = 1000,
              height: int = 380, label_chars: int = 24) -> str:
    """Vertical bars, one per label; thinned, rotated labels; exact value in each bar's tooltip."""
    n = len(values)
    slot = (width - 92) / max(n, 1)
    every = max(1, math.ceil(n / max(1, (width - 92) // 14)))
    left, right, top, bottom = 76, 16, 34 if every == 1 else 48, 130
    pw, ph = width - left - right, height - top - bottom
    ticks = nice_ticks(0, max(values, default=0) or 1, kind=kind)
    total = sum(values)
    big = max(range(n), key=lambda i: values[i]) if n else None
    label = f"Bar chart, {title}: {n} bars, total {exact(total, kind)} {unit}"
    if big is not None:
        label += f"; largest {labels[big]} with {exact(values[big], kind)}"
    out = [_open(width, height, title, label), f'<text class="title" x="{left}" y="20">{esc(title)}</text>']
    out += _y_axis(ticks, left, top, pw, ph, kind, unit)
    base_y = top + ph
    for i, (name, v) in enumerate(zip(labels, values)):
        x = left + i * slot
        h = v / ticks[-1] * ph
        bw = max(slot * 0.8, 0.6)
        out.append(f'<g><title>{esc(name)}: {esc(exact(v, kind))} {esc(unit)}</title>'
                   f'<rect class="hit" x="{num(x)}" y="{num(top)}" width="{num(slot)}" height="{num(ph)}"/>'
                   f'<rect class="bar" x="{num(x + (slot - bw) / 2)}" y="{num(base_y - h)}" '
                   f'width="{num(bw)}" height="{num(h)}"/></g>')
        if i % every == 0:
            cx, ly = x + slot / 2, base_y + 10
            out.append(f'<text class="tick" x="{num(cx)}" y="{num(ly)}" text-anchor="end" '
                       f'transform="rotate(-55 {num(cx)} {num(ly)})">{esc(_clip(name, label_chars))}</text>')
    out.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{num(base_y)}" y2="{num(base_y)}"/>')
    if every > 1:
        out.append(f'<text class="tick" x="{left}" y="36">'
                   f"1 label in {every} shown; hover a bar for its name and value</text>")
    return "".join(out) + "</svg>"


def _legend(names, x_right: float, y: float, swatch: str = "line") -> list[str]:
    out, x = [], x_right
    for k in reversed(range(len(names))):
        w = 7 * len(str(names[k])) + 26
        x -= w
        mark = (f'<line class="line s{k % 6}" x1="{num(x)}" x2="{num(x + 16)}" '
                f'y1="{num(y - 4)}" y2="{num(y - 4)}"/>'
                if swatch == "line" else
                f'<rect class="area s{k % 6}" x="{num(x)}" y="{num(y - 10)}" width="12" height="10"/>')
        out.append(f'{mark}<text class="legend" x="{num(x + 20)}" y="{num(y)}">{esc(names[k])}</text>')
    return out


def line_chart(series, title: str, x_label: str, unit: str, *, kind: str = "count", width: int = 1000,
               height: int = 340) -> str:
    """Lines over a numeric x axis. series: [(name, [(x, y, tooltip), ...]), ...]."""
    left, right, top, bottom = 76, 16, 40, 46
    pw, ph = width - left - right, height - top - bottom
    xs = [p[0] for _, pts in series for p in pts] or [0, 1]
    ys = [p[1] for _, pts in series for p in pts] or [1]
    xt = nice_ticks(min(xs), max(xs), count=8)
    yt = nice_ticks(0, max(ys) or 1, kind=kind)
    label = (f"Line chart, {title}: " + "; ".join(
        f"{name} from {exact(pts[0][1], kind)} to {exact(pts[-1][1], kind)} over {len(pts)} points"
        for name, pts in series if pts))

    def px(x):
        return left + (x - xt[0]) / (xt[-1] - xt[0]) * pw

    def py(y):
        return top + ph - (y - yt[0]) / (yt[-1] - yt[0]) * ph

    out = [_open(width, height, title, label), f'<text class="title" x="{left}" y="20">{esc(title)}</text>']
    out += _legend([name for name, _ in series], left + pw, 20)
    out += _y_axis(yt, left, top, pw, ph, kind, unit)
    for t in xt:
        out.append(f'<text class="tick" x="{num(px(t))}" y="{num(top + ph + 16)}" text-anchor="middle">'
                   f"{esc(short(t))}</text>")
    out.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{num(top + ph)}" y2="{num(top + ph)}"/>'
               f'<text class="tick" x="{num(left + pw / 2)}" y="{height - 6}" text-anchor="middle">'
               f"{esc(x_label)}</text>")
    for k, (_, pts) in enumerate(series):
        if pts:
            d = "M" + " L".join(f"{num(px(x))} {num(py(y))}" for x, y, _ in pts)
            out.append(f'<path class="line s{k % 6}" d="{d}"/>')
            out += [f'<circle class="s{k % 6}" cx="{num(px(x))}" cy="{num(py(y))}" r="{2.5 - k * 0.8:.1f}">'
                    f"<title>{esc(tip)}</title></circle>" for x, y, tip in pts]
    return "".join(out) + "</svg>"


def stacked_area(series, title: str, unit: str, *, tips=None, bands=None, kind: str = "bytes",
                 width: int = 1000, height: int = 360) -> str:
    """Stacked areas over time steps. series: [(name, values)], all the same length;
    tips: one tooltip per step; bands: [(start, stop, label)] shaded spans such as training phases."""
    left, right, top, bottom = 76, 16, 56, 40
    pw, ph = width - left - right, height - top - bottom
    m = max((len(v) for _, v in series), default=0)
    totals = [sum(v[i] for _, v in series) for i in range(m)]
    yt = nice_ticks(0, max(totals, default=0) or 1, kind=kind)
    peak = max(range(m), key=lambda i: totals[i]) if m else 0
    label = f"Stacked area chart, {title}: {m} steps"
    if m:
        label += f", peak {exact(totals[peak], kind)} at step {peak + 1}"
        if tips:
            label += f" ({tips[peak]})"
    step = pw / max(m - 1, 1)

    def px(i):
        return left + i * step

    def py(y):
        return top + ph - y / yt[-1] * ph

    out = [_open(width, height, title, label), f'<text class="title" x="{left}" y="20">{esc(title)}</text>']
    out += _legend([name for name, _ in series], left + pw, 40, swatch="area")
    for j, (a, b, name) in enumerate(bands or []):
        x0, x1 = px(max(a - 0.5, 0)), px(min(b - 0.5, m - 1))
        room = 3.5 * len(str(name))  # half the label's width: keep it inside the plot
        mid = min(max((x0 + x1) / 2, left + room), left + pw - room)
        out.append(f'<rect class="band{" odd" if j % 2 else ""}" x="{num(x0)}" y="{top}" '
                   f'width="{num(max(x1 - x0, 0))}" height="{num(ph)}"/>'
                   f'<text class="tick" x="{num(mid)}" y="{num(top + ph + 16)}" '
                   f'text-anchor="middle">{esc(name)}</text>')
    out += _y_axis(yt, left, top, pw, ph, kind, unit)
    below = [0] * m
    for k, (_, values) in enumerate(series):
        above = [below[i] + values[i] for i in range(m)]
        if m and any(values):
            pts = [f"{num(px(i))},{num(py(above[i]))}" for i in range(m)]
            pts += [f"{num(px(i))},{num(py(below[i]))}" for i in reversed(range(m))]
            out.append(f'<polygon class="area s{k % 6}" points="{" ".join(pts)}"/>')
        below = above
    for i, tip in enumerate(tips or []):
        out.append(f'<rect class="hit" x="{num(px(i) - step / 2)}" y="{top}" width="{num(step)}" '
                   f'height="{num(ph)}"><title>{esc(tip)}</title></rect>')
    out.append(f'<line class="axis" x1="{left}" x2="{left + pw}" y1="{num(top + ph)}" y2="{num(top + ph)}"/>')
    return "".join(out) + "</svg>"


def layout(count: int, edges, gap: float = 28, widths=None):
    """Layered layout of nodes 0..count-1: rank = longest path from a source, long edges broken
    by dummy vertices, order by barycentre sweeps, x by neighbour averaging with spacing.
    Returns (rank, x, chains): rank and x per vertex (dummies after the nodes) and, per edge,
    the vertex chain from source to target."""
    widths = list(widths or [1.0] * count)
    succ = [[] for _ in range(count)]
    for s, t in dict.fromkeys(edges):
        if 0 <= s < count and 0 <= t < count and s != t:
            succ[s].append(t)
    indeg = [0] * count
    for s in range(count):
        for t in succ[s]:
            indeg[t] += 1
    rank, ready, seen = [0] * count, [v for v in range(count) if indeg[v] == 0], set()
    while ready:  # Kahn's algorithm in index order: longest-path ranks
        v = min(ready)
        ready.remove(v)
        seen.add(v)
        for t in succ[v]:
            rank[t] = max(rank[t], rank[v] + 1)
            indeg[t] -= 1
            if indeg[t] == 0:
                ready.append(t)
    ranks = list(rank)
    pred, nxt, chains = [[] for _ in range(count)], [[] for _ in range(count)], []
    for s in range(count):
        for t in succ[s]:
            if s not in seen or t not in seen or ranks[t] <= ranks[s]:
                continue  # a cycle: not drawn
            chain = [s]
            for r in range(ranks[s] + 1, ranks[t]):
                ranks.append(r)
                widths.append(0.0)
                pred.append([])
                nxt.append([])
                chain.append(len(ranks) - 1)
            chain.append(t)
            for a, b in itertools.pairwise(chain):
                nxt[a].append(b)
                pred[b].append(a)
            chains.append(chain)
    levels = [[] for _ in range(max(ranks, default=0) + 1)]
    for v in range(len(ranks)):
        levels[ranks[v]].append(v)
    pos = {}
    for level in levels:
        level.sort(key=lambda v: (min((pos[p] for p in pred[v]), default=0), v if v < count else -1))
        pos.update((v, i) for i, v in enumerate(level))
    for sweep in range(8):
        down = sweep % 2 == 0
        for level in levels if down else reversed(levels):
            near = pred if down else nxt
            level.sort(key=lambda v: (sum(pos[u] for u in near[v]) / len(near[v]) if near[v] else pos[v],
                                      pos[v]))
            pos.update((v, i) for i, v in enumerate(level))
    x = [0.0] * len(ranks)

    def sep(a, b):
        return (widths[a] + widths[b]) / 2 + (gap if widths[a] and widths[b] else gap / 2)

    def place(level, want):
        left = list(want)
        for i in range(1, len(level)):
            left[i] = max(want[i], left[i - 1] + sep(level[i - 1], level[i]))
        right = list(want)
        for i in reversed(range(len(level) - 1)):
            right[i] = min(want[i], right[i + 1] - sep(level[i], level[i + 1]))
        for i, v in enumerate(level):
            x[v] = (left[i] + right[i]) / 2

    for level in levels:
        place(level, [sum(sep(level[j], level[j + 1]) for j in range(i)) for i in range(len(level))])
    for sweep in range(13):  # down with predecessors, up with successors, ending down: chains stay straight
        near, order = (pred, levels) if sweep % 2 == 0 else (nxt, levels[::-1])
        for level in order:
            place(level, [sum(x[u] for u in near[v]) / len(near[v]) if near[v] else x[v] for v in level])
    return ranks, x, chains


def graph_diagram(nodes, edges, *, title: str = "Layer graph", node_height: int = 46,
                  rank_gap: int = 30) -> str:
    """A top-to-bottom layered diagram. nodes: [{"id", "lines": [name, detail, shape], "tip", "kind"}];
    edges: [(source id, target id)]. Branches sit side by side; the SVG grows tall, not small."""
    index = {n["id"]: i for i, n in enumerate(nodes)}
    bold = max((len(str(n["lines"][0])) for n in nodes), default=10)  # about 8 px a character
    plain = max((len(str(t)) for n in nodes for t in n["lines"][1:]), default=10)  # about 6.4 px
    nw = min(max(bold * 8 + 14, plain * 6.4 + 14, 120), 300)
    chars = (int((nw - 12) / 8), int((nw - 12) / 6.4))
    pairs = [(index[s], index[t]) for s, t in edges if s in index and t in index]
    ranks, x, chains = layout(len(nodes), pairs, widths=[nw] * len(nodes))
    pad = 12
    lo = min((x[v] - nw / 2 for v in range(len(nodes))), default=0)
    lo = min([lo] + [x[v] for v in range(len(nodes), len(x))])
    hi = max([x[v] + nw / 2 for v in range(len(nodes))] + [x[v] for v in range(len(nodes), len(x))] + [lo])
    width = hi - lo + 2 * pad
    height = (max(ranks, default=0) + 1) * (node_height + rank_gap) - rank_gap + 2 * pad

    def cx(v):
        return x[v] - lo + pad

    def top(v):
        return pad + ranks[v] * (node_height + rank_gap)

    label = (f"Diagram, {title}: {len(nodes)} nodes in {max(ranks, default=0) + 1} ranks, "
             f"{len(chains)} edges")
    out = [_open(width, height, title, label, cls="graph"),
           '<defs><marker id="arrowhead" viewBox="0 0 8 8" refX="8" refY="4" markerWidth="7" '
           'markerHeight="7" orient="auto"><path class="arrow" d="M0 0L8 4L0 8z"/></marker></defs>']
    for chain in chains:
        s, t = chain[0], chain[-1]
        d = [f"M{num(cx(s))} {num(top(s) + node_height)}"]
        y0 = top(s) + node_height
        for u, v in itertools.pairwise(chain):
            y1 = top(v)
            mid = (y0 + y1) / 2
            d.append(f"C{num(cx(u))} {num(mid)} {num(cx(v))} {num(mid)} {num(cx(v))} {num(y1)}")
            if v != t:
                d.append(f"L{num(cx(v))} {num(y1 + node_height)}")
            y0 = y1 + node_height
        out.append(f'<path class="edge" d="{" ".join(d)}" marker-end="url(#arrowhead)"/>')
    for v, n in enumerate(nodes):
        x0, y0 = cx(v) - nw / 2, top(v)
        tip = n.get("tip", n["lines"][0])
        out.append(f'<g class="node k-{esc(n.get("kind", "other"))}"><title>{esc(tip)}</title>'
                   f'<rect x="{num(x0)}" y="{num(y0)}" width="{num(nw)}" height="{node_height}" rx="5"/>')
        for j, text in enumerate(n["lines"][:3]):
            out.append(f'<text class="{"name" if j == 0 else "sub"}" x="{num(cx(v))}" '
                       f'y="{num(y0 + 14 + j * 13)}" text-anchor="middle">'
                       f"{esc(_clip(text, chars[j > 0]))}</text>")
        out.append("</g>")
    return "".join(out) + "</svg>"


def standalone(chart: str) -> str:
    """A chart as an .svg file of its own: the SVG namespace and the chart styles inline."""
    chart = chart.replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1)
    return chart.replace("</title>", f"</title><style>{SVG_CSS}</style>", 1) + "\n"
