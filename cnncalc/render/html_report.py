"""`cnncalc report`: one self-contained HTML page (inline CSS and SVG, no external requests).

Built from plain data only: the dicts printed by `summarize`, `validate` and `memory` with
`--format json`, plus a layer's `inputs` and an optional training-step memory timeline.
"""

from __future__ import annotations

from ..conventions import DTYPES
from . import svg
from .svg import esc, exact, short

INPUT = "input"
BREAKDOWN = ("weights", "gradients", "optimizer_state", "saved_activations", "activation_gradients",
             "transients")
TOTALS = (("params", "Parameters"), ("trainable_params", "Trainable"),
          ("non_trainable_params", "Non-trainable"), ("connections", "Connections"), ("macs", "MACs"),
          ("flops", "FLOPs"), ("activations", "Activations"),
          ("backward_macs", "Backward MACs"), ("train_step_macs", "Train-step MACs"))
COLUMNS = ("#", "Layer", "Type", "Settings", "Output", "Params", "Connections", "MACs", "FLOPs",
           "Activations", "RF", "Line")
FIGURES = ("params", "connections", "macs", "flops", "activations")  # COLUMNS' numbers
# with the training compute (summarize --mode training, report): after Activations
TRAINING = (("input_grad_macs", "dX MACs"), ("weight_grad_macs", "dW MACs"),
            ("backward_macs", "Backward MACs"))
NUMERIC = {"#", "Params", "Connections", "MACs", "FLOPs", "Activations", "Line",
           *(label for _, label in TRAINING)}

CSS = """
:root { color-scheme: light dark; --bg: #fff; --fg: #1d2330; --muted: #5d6677; --grid: #e6e9ef;
  --line: #d5dae3; --band: #f1f3f8; --hover: rgba(60,100,200,.12); --head: #f5f7fb; --node: #f4f5f7;
  --c0: #3b6fd8; --c1: #e0752d; --c2: #2f9e6b; --c3: #a54fc9; --c4: #c9a227; --c5: #d24a5e;
  --k-conv: #dde8fb; --k-pool: #fde9d9; --k-norm: #e3f3ea; --k-merge: #f1e3f8; --k-fc: #fbf1cf;
  --k-input: #e8eaee; --warn: #a86200; --err: #c0293b; }
@media (prefers-color-scheme: dark) { :root { --bg: #15181e; --fg: #e3e7ee; --muted: #9aa3b2;
  --grid: #2a2f39; --line: #363c48; --band: #1d222b; --hover: rgba(120,160,255,.16); --head: #1c2028;
  --node: #232833; --c0: #6d9cff; --c1: #f0924f; --c2: #4fc28c; --c3: #c07ae0; --c4: #e0c04a;
  --c5: #f0697c; --k-conv: #22324f; --k-pool: #4a3222; --k-norm: #1f3a2c; --k-merge: #3a2748;
  --k-fc: #433a1c; --k-input: #2a2f39; --warn: #f0a53a; --err: #ff6b7d; } }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1360px; margin: 0 auto; padding: 24px; }
h1 { margin: 0 0 4px; font-size: 26px; } h2 { margin: 32px 0 10px; font-size: 19px; }
.sub, .note, caption { color: var(--muted); }
nav a { color: var(--c0); margin-right: 14px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 10px;
  margin: 16px 0 0; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; }
.card dt { color: var(--muted); font-size: 12px; } .card dd { margin: 0; }
.card .big { font-size: 22px; font-weight: 600; } .num, td.n { font-variant-numeric: tabular-nums; }
.scroll { overflow: auto; border: 1px solid var(--line); border-radius: 8px; }
.table { max-height: min(75vh, 960px); } .graphbox { max-height: 85vh; padding: 8px; }
.graphbox svg { display: block; margin: 0 auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
caption { text-align: left; padding: 6px 8px; }
th, td { padding: 3px 7px; border-bottom: 1px solid var(--grid); white-space: nowrap; text-align: left; }
thead th { position: sticky; top: 0; background: var(--head); cursor: pointer; user-select: none; }
tfoot td { font-weight: 600; border-top: 2px solid var(--line); }
td.n, th.n { text-align: right; }
td.name { padding-left: calc(8px + var(--d, 0) * 16px); }
tr.group th { font-weight: 600; background: var(--band); padding-left: calc(8px + var(--d, 0) * 16px); }
tr.group .kind { font-weight: 400; color: var(--muted); margin-left: 6px; }
tbody.sorted tr.group { display: none; } tbody.sorted td.name { padding-left: 8px; }
td.name .prefix { display: none; } tbody.sorted td.name .prefix { display: inline; color: var(--muted); }
tbody tr.layer:hover { background: var(--hover); }
.chart-wrap { margin: 14px 0; } figure { margin: 0; }
dl.figs { display: grid; grid-template-columns: max-content 1fr; gap: 2px 18px; }
dl.figs dt { color: var(--muted); } dl.figs dd { margin: 0; }
.sev-error { color: var(--err); font-weight: 600; } .sev-warning { color: var(--warn); font-weight: 600; }
ul.lints { padding-left: 18px; } ul.lints li { margin: 3px 0; }
code { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 12px; }
"""

# Click a header to sort (numbers by value); '#' ascending restores the grouped order. No data inside.
SCRIPT = """document.querySelectorAll('table.layers thead th').forEach(function (th, i) {
 th.addEventListener('click', function () { var tb = th.closest('table').tBodies[0];
  tb.o = tb.o || Array.prototype.slice.call(tb.rows); var asc = th.getAttribute('aria-sort') !== 'ascending';
  th.closest('tr').querySelectorAll('th').forEach(function (h) { h.removeAttribute('aria-sort'); });
  th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
  var key = function (r) { var t = r.cells[i].textContent.replace(/,/g, '');
   return /^-?[\\d.]+$/.test(t) ? +t : t; };
  var rows = tb.o.filter(function (r) { return r.classList.contains('layer'); });
  if (i === 0 && asc) { rows = tb.o; tb.classList.remove('sorted'); } else { tb.classList.add('sorted');
   rows.sort(function (a, b) { var x = key(a), y = key(b);
    if (typeof x !== typeof y) { x = typeof x; y = typeof y; }
    return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); }); }
  rows.forEach(function (r) { tb.appendChild(r); }); }); });"""


def _shape(shape) -> str:
    if shape is None:
        return "\u2014"
    if isinstance(shape, (list, tuple)):
        return "x".join(_shape(s) if isinstance(s, (list, tuple)) else f"{s:g}" if isinstance(s, float)
                        else str(s) for s in shape)
    return str(shape)


def _int(value) -> str:
    if value is None or value == "":
        return "\u2014"
    return exact(value) if isinstance(value, (int, float)) else str(value)


def _layer_inputs(layers) -> tuple[list[list[str]], bool]:
    """Each layer's inputs, and whether any was missing (then the previous layer is assumed)."""
    out, missing = [], False
    for i, layer in enumerate(layers):
        if "inputs" in layer and layer["inputs"] is not None:
            out.append([str(s) for s in layer["inputs"]])
        else:
            missing = True
            out.append([str(layers[i - 1]["name"]) if i else INPUT])
    return out, missing


def _header(summary, lints) -> str:
    t = summary.get("totals", {})
    cards = "".join(
        f'<div class="card"><dt>{esc(label)}</dt><dd class="big num">{esc(short(t[key]))}</dd>'
        f'<dd class="num">{esc(exact(t[key]))}</dd></div>' for key, label in TOTALS if key in t)
    counts = {s: sum(1 for p in lints if p.get("severity") == s) for s in ("error", "warning")}
    problems = f"{counts['error']} errors, {counts['warning']} warnings, {len(lints)} problems in all"
    return (f"<header><h1>{esc(summary.get('name', 'network'))}</h1>"
            f'<p class="sub">{esc(summary.get("file", ""))} &middot; '
            f'input <b>{esc(_shape(summary.get("input")))}</b>'
            f' &rarr; output <b>{esc(_shape(summary.get("output_shape")))}</b> &middot; '
            f'{len(summary.get("layers", [])):,} layers &middot; {esc(problems)}</p>'
            f'<dl class="cards">{cards}</dl>'
            '<nav><p><a href="#layers">Layers</a><a href="#charts">Charts</a><a href="#memory">Memory</a>'
            '<a href="#graph">Graph</a><a href="#lints">Lints</a></p></nav></header>')


def _name_cell(name: str, groups: list[str]) -> str:
    """The full name; the innermost group's prefix is hidden (by CSS) while the group rows show it."""
    prefix = groups[-1] + "." if groups else ""
    if not (prefix and name.startswith(prefix) and len(name) > len(prefix)):
        prefix = ""
    hidden = f'<span class="prefix">{esc(prefix)}</span>' if prefix else ""
    return f'<td class="name" style="--d:{len(groups)}">{hidden}{esc(name[len(prefix):])}</td>'


def _table(summary) -> str:
    layers = summary.get("layers", [])
    kinds = {g["name"]: g.get("kind", "") for g in summary.get("groups", [])}
    training = TRAINING if layers and "backward_macs" in layers[0] else ()
    figures = FIGURES + tuple(key for key, _ in training)
    columns = COLUMNS[:10] + tuple(label for _, label in training) + COLUMNS[10:]
    head = "".join(('<th scope="col" class="n">' if c in NUMERIC else '<th scope="col">') + f"{esc(c)}</th>"
                   for c in columns)
    rows, open_groups = [], []
    for layer in layers:
        groups = [str(g) for g in layer.get("groups") or []]
        keep = 0
        while keep < min(len(groups), len(open_groups)) and groups[keep] == open_groups[keep]:
            keep += 1
        for depth in range(keep, len(groups)):
            name = groups[depth]
            parent = groups[depth - 1] + "." if depth else ""
            shown = name[len(parent):] if parent and name.startswith(parent) else name
            rows.append(f'<tr class="group" style="--d:{depth}">'
                        f'<th colspan="{len(columns)}" scope="rowgroup">'
                        f'{esc(shown)}<span class="kind">{esc(kinds.get(name, "group"))}</span></th></tr>')
        open_groups = groups
        cells = [
            (True, _int(layer.get("index"))), (False, layer.get("name", "")), (False, layer.get("type", "")),
            (False, layer.get("settings", "")), (False, _shape(layer.get("output_shape"))),
            *((True, _int(layer.get(k))) for k in figures),
            (False, _shape(layer.get("receptive_field"))), (True, _int(layer.get("line"))),
        ]
        tds = "".join(f'<td class="n">{esc(v)}</td>' if n else _name_cell(v, groups) if j == 1 else
                      f"<td>{esc(v)}</td>" for j, (n, v) in enumerate(cells))
        rows.append(f'<tr class="layer">{tds}</tr>')
    t = summary.get("totals", {})
    foot = "".join(f'<td class="n">{esc(_int(t.get(k)))}</td>' for k in figures)
    return (f'<section id="layers"><h2>Layers</h2><div class="scroll table"><table class="layers">'
            f"<caption>{len(layers):,} layers; exact figures; click a header to sort</caption>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody>"
            f'<tfoot><tr><td colspan="5">Total</td>{foot}<td></td><td></td></tr></tfoot>'
            "</table></div></section>")


def _timeline_chart(timeline) -> str:
    if not timeline:
        return ('<p class="note">Memory timeline of a training step: not computed for this report '
                "(no timeline data was given).</p>")
    series = [(key.replace("_", " "), [int((s.get("breakdown") or {}).get(key, 0)) for s in timeline])
              for key in BREAKDOWN]
    if not any(any(v) for _, v in series):
        series = [("live", [int(s.get("live_bytes", 0)) for s in timeline])]
    tips = [f"{s.get('phase', '')} \u00b7 {s.get('layer', '')}: "
            f"{exact(int(s.get('live_bytes', 0)), 'bytes')} live" for s in timeline]
    bands, start = [], 0
    for i in range(1, len(timeline) + 1):
        if i == len(timeline) or timeline[i].get("phase") != timeline[start].get("phase"):
            bands.append((start, i, str(timeline[start].get("phase", ""))))
            start = i
    return svg.stacked_area(series, "Live memory during one training step", "bytes", tips=tips, bands=bands)


def _time_chart(timing) -> str:
    """Predicted time per layer (cnncalc time), in microseconds."""
    if not timing:
        return ""
    layers = timing.get("layers", [])
    title = (f"Predicted time per layer on {timing.get('device', '')} (batch "
             f"{timing.get('batch', 1)}, {timing.get('mode', 'inference')}; "
             f"{timing.get('status', '')})")
    return svg.bar_chart([str(layer.get("name", "")) for layer in layers],
                         [round(float(layer.get("seconds") or 0) * 1e6) for layer in layers],
                         title, "microseconds")


def _charts(summary, memory, timeline, timing=None) -> str:
    layers = summary.get("layers", [])
    names = [str(layer.get("name", "")) for layer in layers]
    dtype = str((memory or {}).get("dtype", "float32"))
    width = int((memory or {}).get("bytes_per_value") or DTYPES.get(dtype, 4))
    act = [int(layer.get("activations") or 0) * width for layer in layers]
    rf_series = []
    axes = max((len(r) for r in (layer.get("receptive_field") for layer in layers) if isinstance(r, list)),
               default=0)
    for a in range(axes):
        pts = []
        for layer in layers:
            rf = layer.get("receptive_field")
            if isinstance(rf, list) and len(rf) > a and isinstance(rf[a], (int, float)):
                pts.append((layer.get("index", 0), rf[a], f"{layer.get('name', '')}: {_shape(rf)}"))
        name = ("height", "width")[a] if axes == 2 else f"axis {a + 1}"
        rf_series.append((name, pts))
    parts = [
        svg.bar_chart(names, [int(layer.get("macs") or 0) for layer in layers], "MACs per layer", "MACs"),
        *([svg.bar_chart(names, [int(layer.get("backward_macs") or 0) for layer in layers],
                         "Backward MACs per layer (input and weight gradients, as autograd runs "
                         "them)", "MACs")] if layers and "backward_macs" in layers[0] else []),
        svg.bar_chart(names, [int(layer.get("params") or 0) for layer in layers], "Parameters per layer",
                      "parameters"),
        svg.bar_chart(names, act, f"Activation memory per layer ({dtype}, {width} bytes per value, batch 1)",
                      "bytes", kind="bytes"),
        _timeline_chart(timeline),
        *([_time_chart(timing)] if timing else []),
        svg.line_chart(rf_series, "Receptive field growth", "layer index", "receptive field (pixels)")
        if rf_series else '<p class="note">No receptive fields in the data.</p>',
    ]
    return ('<section id="charts"><h2>Charts</h2>'
            + "".join(f'<figure class="chart-wrap">{p}</figure>' for p in parts) + "</section>")


def _memory(memory) -> str:
    if not memory:
        return ('<section id="memory"><h2>Memory</h2><p class="note">No memory figures were given.</p>'
                "</section>")
    figs = []
    for key, value in memory.items():
        if key in ("name", "layers") or isinstance(value, (list, dict)):
            continue
        if key.endswith("_bytes") and isinstance(value, int):
            text = exact(value, "bytes")
        else:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = _int(value) if number else str(value)
        figs.append(f'<dt>{esc(key.replace("_", " "))}</dt><dd class="num">{esc(text)}</dd>')
    chart = ""
    rows = [r for r in memory.get("layers") or [] if isinstance(r, dict)]
    if rows:
        title = (f"Bytes allocated per layer output (batch {memory.get('batch', 1)}, "
                 f"{memory.get('dtype', '')}; in-place layers allocate nothing)")
        chart = svg.bar_chart([str(r.get("name", "")) for r in rows],
                              [int(r.get("bytes") or 0) for r in rows], title, "bytes", kind="bytes")
        chart = f'<figure class="chart-wrap">{chart}</figure>'
    return f'<section id="memory"><h2>Memory</h2><dl class="figs">{"".join(figs)}</dl>{chart}</section>'


def _graph(summary) -> str:
    layers = summary.get("layers", [])
    inputs, missing = _layer_inputs(layers)
    nodes = [{"id": INPUT, "lines": [INPUT, "network input", _shape(summary.get("input"))], "kind": "input",
              "tip": f"input {_shape(summary.get('input'))}"}]
    ids = {INPUT: INPUT}
    for i, layer in enumerate(layers):
        ids[str(layer.get("name", ""))] = i  # a later duplicate name wins, as a reader would resolve it
    edges = []
    for i, layer in enumerate(layers):
        kind = str(layer.get("type", ""))
        detail = f"{kind} {layer.get('settings') or ''}".strip()
        tip = (f"{layer.get('name', '')}: {detail}; output {_shape(layer.get('output_shape'))}; "
               f"{_int(layer.get('params'))} params; {_int(layer.get('macs'))} MACs")
        lines = [str(layer.get("name", "")), detail, _shape(layer.get("output_shape"))]
        nodes.append({"id": i, "lines": lines, "kind": str(layer.get("family") or "other"), "tip": tip})
        edges += [(ids[s], i) for s in inputs[i] if s in ids]
    note = ('<p class="note">The data gave no layer inputs: drawn as a chain.</p>' if missing else "")
    return (f'<section id="graph"><h2>Graph</h2>{note}<div class="scroll graphbox">'
            f'{svg.graph_diagram(nodes, edges, title="Layer graph of " + str(summary.get("name", "")))}'
            "</div></section>")


def _lints(summary, lints) -> str:
    items = []
    for p in lints:
        sev = str(p.get("severity", ""))
        where = f"line {p['line']}" + (f":{p['column']}" if p.get("column") else "") if p.get("line") else ""
        layer = f" layer <code>{esc(p['layer'])}</code>:" if p.get("layer") else ""
        items.append(f'<li><span class="sev-{esc(sev)}">{esc(sev)}</span> '
                     f'<code>{esc(p.get("rule", ""))}</code> '
                     f"{esc(where)}{layer} {esc(p.get('message', ''))}</li>")
    items += [f'<li><span class="sev-warning">warning</span> {esc(w)}</li>'
              for w in summary.get("warnings") or []]
    body = f'<ul class="lints">{"".join(items)}</ul>' if items else '<p class="note">No problems found.</p>'
    return f'<section id="lints"><h2>Lints</h2>{body}</section>'


def build_page(summary: dict, lints: list[dict], memory: dict | None = None,
               timeline: list[dict] | None = None, timing: dict | None = None) -> str:
    """The whole report page as one HTML string (deterministic: same input, same bytes)."""
    lints = list(lints or [])
    title = f"{summary.get('name', 'network')} \u2014 cnncalc report"
    return ("<!DOCTYPE html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" '
            f'content="width=device-width, initial-scale=1"><title>{esc(title)}</title>'
            f"<style>{CSS}{svg.SVG_CSS}</style></head><body><main>"
            f"{_header(summary, lints)}{_table(summary)}{_charts(summary, memory, timeline, timing)}"
            f"{_memory(memory)}{_graph(summary)}{_lints(summary, lints)}"
            '<footer><p class="note">Generated by cnncalc. Self-contained: no network access needed.</p>'
            f"</footer></main><script>{SCRIPT}</script></body></html>\n")
