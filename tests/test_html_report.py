"""The HTML report page: structure, escaping, determinism, layout, and a headless-browser check.

The page is built from plain data: the JSON of `summarize` (whose layers carry `inputs`),
`validate` and `memory`.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import shutil
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

from cnncalc.render import svg
from cnncalc.render.html_report import BREAKDOWN, build_page
from cnncalc.render.svg import exact

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["lenet5", "resnet18", "googlenet", "vgg16", "unet"]
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


def cli_json(*args):
    out = subprocess.run([sys.executable, "-m", "cnncalc", *args, "--format", "json"], cwd=ROOT,
                         capture_output=True, text=True, check=False)
    return json.loads(out.stdout)


@functools.cache
def _summary(spec):
    return cli_json("summarize", spec)


def sequential(summary):
    """Add `inputs` for a sequential network: each layer reads the previous one."""
    s = copy.deepcopy(summary)
    for i, layer in enumerate(s["layers"]):
        layer["inputs"] = [s["layers"][i - 1]["name"] if i else "input"]
    return s


@functools.cache
def _mermaid_inputs(spec):
    text = subprocess.run([sys.executable, "-m", "cnncalc", "graph", spec], cwd=ROOT, capture_output=True,
                          text=True, check=False).stdout
    return re.findall(r"^\s*(input|n\d+) --> n(\d+)\s*$", text, re.M)


def with_inputs(spec):
    """The summary with true `inputs`, read from the edges of `cnncalc graph` (Mermaid)."""
    s = copy.deepcopy(_summary(spec))
    names = [layer["name"] for layer in s["layers"]]
    for layer in s["layers"]:
        layer["inputs"] = []
    for source, target in _mermaid_inputs(spec):
        s["layers"][int(target)]["inputs"].append("input" if source == "input" else names[int(source[1:])])
    return s


def lints_of(spec):
    return [p for result in cli_json("validate", spec) for p in result["problems"]]


def timeline_of(summary, optimizer_copies=1):
    """A plausible training-step timeline (the real one comes from the integrator)."""
    weights = summary["totals"]["params"] * 4
    trainable = summary["totals"]["trainable_params"] * 4
    acts = [layer["activations"] * 4 for layer in summary["layers"]]
    steps, saved, grads = [], 0, 0

    def add(phase, name, **b):
        full = {"weights": weights, "gradients": 0, "optimizer_state": trainable * optimizer_copies,
                "saved_activations": 0, "activation_gradients": 0, "transients": 0} | b
        steps.append({"phase": phase, "layer": name, "live_bytes": sum(full.values()), "breakdown": full})

    for layer, a in zip(summary["layers"], acts):
        saved += a
        add("forward", layer["name"], saved_activations=saved, transients=a // 2)
    for layer, a in zip(reversed(summary["layers"]), reversed(acts)):
        grads += layer["trainable_params"] * 4
        add("backward", layer["name"], gradients=grads, saved_activations=saved, activation_gradients=a)
        saved -= a
    add("optimizer", "update", gradients=grads, transients=trainable)
    return steps


def branching(names=("stem", "left", "right", "merge", "head")):
    """A hand-built branching network: two convs read `stem`, an add merges them."""
    stem, left, right, merge, head = names
    shape = [8, 8, 4]
    layers = [
        (stem, "conv", ["input"], 112), (left, "conv", [stem], 148), (right, "conv", [stem], 148),
        (merge, "add", [left, right], 0), (head, "fc", [merge], 2570),
    ]
    rows = [{"index": i + 1, "name": n, "type": t, "groups": [], "settings": "3x3/1" if t == "conv" else "",
             "input_shapes": [shape], "output_shape": [1, 1, 10] if t == "fc" else shape, "params": p,
             "trainable_params": p, "non_trainable_params": 0, "connections": p * 64, "macs": p * 60,
             "flops": p * 120, "activations": 256, "receptive_field": [1 + 2 * min(i, 3)] * 2,
             "jump": [1, 1], "start": [0.5, 0.5], "notes": [], "line": 3 + i, "inputs": ins}
            for i, (n, t, ins, p) in enumerate(layers)]
    totals = {k: sum(r[k] for r in rows) for k in ("params", "trainable_params", "non_trainable_params",
                                                   "connections", "macs", "flops", "activations")}
    return {"name": "Branchy", "file": "branchy.yaml", "input": shape, "output_shape": [1, 1, 10],
            "layers": rows, "groups": [], "totals": totals, "warnings": []}


class Page(HTMLParser):
    """Parses a page, failing on any mismatched or unclosed tag; collects what the tests count."""

    def __init__(self, text):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.attrs, self.rows, self.texts = [], [], [], [], [], []
        self.in_tbody = False
        self.feed(text)
        self.close()
        if self.stack:
            self.errors.append(f"unclosed: {self.stack}")

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        if tag == "tbody":
            self.in_tbody = True
        if tag == "tr" and self.in_tbody:
            self.rows.append(dict(attrs).get("class"))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs

    def handle_endtag(self, tag):
        if tag == "tbody":
            self.in_tbody = False
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.texts.append(data)


def group_openings(summary):
    """Group header rows the table must show: each group a layer enters that its predecessor was not in."""
    count, before = 0, []
    for layer in summary["layers"]:
        now, keep = layer["groups"], 0
        while keep < min(len(now), len(before)) and now[keep] == before[keep]:
            keep += 1
        count, before = count + len(now) - keep, now
    return count


@pytest.mark.parametrize("spec", SPECS)
def test_page_structure(spec):
    summary = with_inputs(spec)
    page = build_page(summary, lints_of(spec), cli_json("memory", spec), timeline_of(summary))
    doc = Page(page)
    assert doc.errors == []
    assert doc.tags.count("table") == 1
    assert doc.rows.count("layer") == len(summary["layers"])
    assert doc.rows.count("group") == group_openings(summary)
    assert len(doc.rows) == len(summary["layers"]) + group_openings(summary)  # no other body rows
    if spec in ("resnet18", "unet"):
        assert group_openings(summary) == len(summary["groups"])  # contiguous groups: one header each
    for value in summary["totals"].values():
        assert f"{value:,}" in page
    # 5 charts (MACs, params, activation memory, timeline, receptive field), memory per layer, graph
    assert doc.tags.count("svg") == 7
    assert page.count('role="img"') == 7 and page.count("aria-label=") == 7
    assert not re.search(r"""(src|href|xlink:href)\s*=\s*["']?\s*(https?:)?//""", page, re.I)
    assert "http://" not in page and "https://" not in page and "@import" not in page


def test_readable_totals_and_vgg16_headline():
    page = build_page(sequential(_summary("vgg16")), [])
    assert "138.4M" in page and "138,357,544" in page and "15.5G" in page


def test_without_memory_or_timeline():
    summary = sequential(_summary("lenet5"))
    page = build_page(summary, [])
    doc = Page(page)
    assert doc.errors == [] and doc.tags.count("svg") == 5  # 4 charts + graph
    assert "no timeline data was given" in page and "No problems found" in page
    assert "float32" in page


def test_summary_inputs_are_the_graph_edges():
    """The JSON's `inputs` agree with the edges `cnncalc graph` draws (googlenet branches)."""
    assert with_inputs("googlenet")["layers"] == _summary("googlenet")["layers"]


def test_missing_inputs_fall_back_to_a_chain():
    summary = copy.deepcopy(_summary("lenet5"))
    for layer in summary["layers"]:
        del layer["inputs"]
    page = build_page(summary, [])
    assert "drawn as a chain" in page and Page(page).errors == []


def test_escaping():
    evil = '<script>alert("x")</script>'
    names = (evil, "a\"b'c&d", "<img src=x onerror=alert(1)>", "m&amp;", "head</td>")
    summary = branching(names)
    summary["name"] = evil
    summary["layers"][0]["groups"] = [evil]
    summary["groups"] = [{"name": evil, "kind": "<b>k</b>"}]
    summary["warnings"] = [evil]
    lints = [{"file": "x.yaml", "line": 3, "column": 5, "severity": "warning\"><script>", "rule": evil,
              "layer": evil, "message": evil + " & more", "text": evil}]
    memory = {"name": evil, "dtype": "float32", "bytes_per_value": 4, "batch": 1, "peak_layer": evil,
              "layers": [{"name": evil, "type": "conv", "values": 1, "allocates": "yes", "bytes": 4}]}
    timeline = [{"phase": evil, "layer": evil, "live_bytes": 10, "breakdown": dict.fromkeys(BREAKDOWN, 1)}]
    page = build_page(summary, lints, memory, timeline)
    assert "<script>alert" not in page and "<img" not in page and "</td>\"" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in page
    assert "a&quot;b&#x27;c&amp;d" in page and "m&amp;amp;" in page
    assert page.count("<script") == 1  # our own sorting script, which holds no data
    script = page[page.index("<script>"):]
    assert "alert" not in script and "Branchy" not in script
    doc = Page(page)
    assert doc.errors == []
    assert not [n for n, _ in doc.attrs if n.startswith("on")]  # no event handlers at all
    # data reaches attributes (aria-labels) only escaped: raw values hold no < > ' or bare &,
    # and every double-quoted value ends where it should (the parsed value round-trips)
    for raw in re.findall(r'\s[\w:-]+="([^"]*)"', page):
        assert not re.search(r"[<>']|&(?!(amp|lt|gt|quot|#x27);)", raw), raw
    labels = [v for n, v in doc.attrs if n == "aria-label"]
    assert 'Diagram, Layer graph of <script>alert("x")</script>: 6 nodes in 5 ranks, 6 edges' in labels


def test_branching_layout():
    summary = branching()
    names = [layer["name"] for layer in summary["layers"]]
    pairs = [(names.index(s) if s in names else -1, i) for i, layer in enumerate(summary["layers"])
             for s in layer["inputs"] if s in names]
    ranks, x, chains = svg.layout(len(names), pairs, widths=[100] * len(names))
    _, left, right, merge, head = range(5)
    assert ranks[:5] == [0, 1, 1, 2, 3]
    assert abs(x[left] - x[right]) >= 100  # side by side, not overlapping
    assert x[merge] == pytest.approx((x[left] + x[right]) / 2) and x[head] == pytest.approx(x[merge])
    assert len(chains) == 5
    page = build_page(summary, [])
    assert Page(page).errors == [] and page.count('class="edge"') == 6  # input->stem + 5


def test_long_skip_edges_get_their_own_column():
    # a -> b -> c -> d and a -> d: the skip edge passes b and c through dummies beside them
    ranks, x, chains = svg.layout(4, [(0, 1), (1, 2), (2, 3), (0, 3)], widths=[100] * 4)
    assert ranks[:4] == [0, 1, 2, 3] and len(ranks) == 6
    skip = next(c for c in chains if c[0] == 0 and c[-1] == 3)
    assert len(skip) == 4 and all(abs(x[d] - x[v]) >= 50 for d, v in zip(skip[1:3], (1, 2)))


def test_deterministic():
    summary = with_inputs("googlenet")
    a = build_page(summary, lints_of("googlenet"), None, timeline_of(summary))
    b = build_page(copy.deepcopy(summary), lints_of("googlenet"), None, timeline_of(summary))
    assert a == b


def test_resnet152_stays_readable():
    summary = with_inputs("resnet152")
    start = time.perf_counter()
    page = build_page(summary, [])
    assert time.perf_counter() - start < 20
    graph = page[page.index('<svg class="graph"'):]
    width, height = map(float, re.search(r'viewBox="0 0 ([\d.]+) ([\d.]+)"', graph).groups())
    assert graph.count('<g class="node') == len(summary["layers"]) + 1
    assert width < 1200 and height > 20000  # tall and scrolling, never shrunk to fit
    assert Page(page).errors == []


def test_formatting_helpers():
    assert svg.short(138_357_544) == "138.4M" and svg.short(15_470_264_320) == "15.5G"
    assert svg.short(999) == "999" and svg.short(53_218_976, "bytes") == "50.8 MiB"
    assert svg.nice_ticks(0, 138_357_544) == [0, 50e6, 100e6, 150e6]
    assert svg.nice_ticks(0, 53_218_976, kind="bytes") == [k * 20 * 2 ** 20 for k in range(4)]
    assert svg.nice_ticks(1, 68, count=8) == [0, 10, 20, 30, 40, 50, 60, 70]
    assert svg.esc("<a href='x'>&") == "&lt;a href=&#x27;x&#x27;&gt;&amp;"


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def run_chromium(binary, page: Path, tmp: Path, *extra):
    args = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0", *extra,
            page.resolve().as_uri()]
    out = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    console = [line for line in out.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]
    return out, console


def resnet18_page(tmp_path):
    """The page `cnncalc report` writes, with the simulated training step's timeline."""
    page = tmp_path / "resnet18.html"
    done = subprocess.run([sys.executable, "-m", "cnncalc", "report", "resnet18", "-o", str(page)],
                          cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return page.read_text(encoding="utf-8")


def test_report_draws_the_training_step_timeline(tmp_path):
    """The report's timeline is the step `memory --mode training --backend cpu` simulates:
    its highest point, shown exactly in a tooltip, is that command's training_bytes."""
    page = tmp_path / "lenet5.html"
    done = subprocess.run([sys.executable, "-m", "cnncalc", "report", "lenet5", "-o", str(page),
                           "--optimizer", "adam"], cwd=ROOT, capture_output=True, text=True,
                          check=False)
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert "Live memory during one training step" in html and "no timeline data" not in html
    peak = cli_json("memory", "lenet5", "--mode", "training", "--optimizer", "adam",
                    "--backend", "cpu")["training_bytes"]
    assert f"{exact(peak, 'bytes')} live" in html
    for phase in ("forward", "backward"):
        assert f">{phase}<" in html  # the phase bands are labelled


def test_report_refuses_an_unknown_optimizer(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cnncalc", "report", "lenet5", "-o",
                           str(tmp_path / "r.html"), "--optimizer", "adagrad"], cwd=ROOT,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "--optimizer" in done.stderr and "adagrad" in done.stderr
    assert not (tmp_path / "r.html").exists()


def screenshot(binary, html: str, png: Path, tmp: Path):
    page = tmp / "report.html"
    page.write_text(html, encoding="utf-8")
    out, console = run_chromium(binary, page, tmp, f"--screenshot={png}", "--window-size=1400,3000",
                                "--hide-scrollbars")
    return out, console


def test_in_headless_chromium(tmp_path):
    binary = chromium()
    if not binary:
        pytest.skip("no chromium binary found")
    html = resnet18_page(tmp_path)
    page = tmp_path / "report.html"
    page.write_text(html, encoding="utf-8")
    out, console = run_chromium(binary, page, tmp_path, "--dump-dom")
    assert out.returncode == 0 and console == []
    assert '<table class="layers">' in out.stdout and "ResNet-18" in out.stdout
    # the sorting script works: click the Params header twice (descending): a 3x3 512->512 conv first
    clicked = tmp_path / "clicked.html"
    clicked.write_text(html.replace("</body>", "<script>var h = document.querySelectorAll('table.layers "
                                    "thead th')[5]; h.click(); h.click();</script></body>"), encoding="utf-8")
    out, console = run_chromium(binary, clicked, tmp_path, "--dump-dom")
    assert console == []
    body = out.stdout[out.stdout.index("<tbody"):]
    first = re.search(r'<tr class="layer"><td class="n">\d+</td><td class="name"[^>]*>(.*?)</td>', body)
    assert re.sub("<[^>]+>", "", first.group(1)) == "layer4.basic1.res.conv2"
    assert 'tbody class="sorted"' in body
    png = tmp_path / "shot.png"
    out, console = screenshot(binary, html, png, tmp_path)
    assert console == [] and png.stat().st_size > 10_000


if __name__ == "__main__":  # PYTHONPATH=. python tests/test_html_report.py: refresh the docs screenshot
    import tempfile
    target = ROOT / "docs" / "images" / "report-resnet18.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        result, messages = screenshot(chromium(), resnet18_page(Path(tmp)), target, Path(tmp))
    print(target, result.returncode, messages)


def test_every_layer_family_has_a_colour_in_the_report():
    """The report colours a graph node by its layer class's `family`: each family a registered
    type declares has its node style (or is 'other', drawn plain)."""
    from cnncalc.layers.base import REGISTRY
    from cnncalc.render.svg import SVG_CSS
    for type_name, cls in REGISTRY.items():
        assert cls.family == "other" or f".node.k-{cls.family} rect" in SVG_CSS, type_name


def test_graph_nodes_take_the_family_of_their_layer():
    """multiply, groupnorm and instancenorm fell through to 'other' when the report kept its own
    table of type names; their classes say merge and norm."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.language import loads
    from cnncalc.render.html_report import build_page
    network = loads("input: [8, 8, 4]\nlayers:\n  - {type: groupnorm, groups: 2}\n"
                    "  - {type: instancenorm, name: n}\n  - {type: multiply, inputs: [input, n]}\n")
    page = build_page(analyze(network).as_dict(), [])
    assert page.count('class="node k-norm"') == 2 and page.count('class="node k-merge"') == 1
