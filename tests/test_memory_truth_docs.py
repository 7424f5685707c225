"""benchmarks/memory_truth_docs.py: the writer of docs/memory.md's measured table."""

import importlib.util
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
spec = importlib.util.spec_from_file_location("memory_truth_docs",
                                              ROOT / "benchmarks" / "memory_truth_docs.py")
docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(docs)

MEASURED = 60_000_000  # a made-up peak: the writer only divides by it


def results(**row):
    base = {"model": "resnet18", "zoo": "resnet18", "batch": 8, "mode": "inference",
            "optimizer": None, "amp": False}
    return {"meta": {"machine": {"cpu": "test cpu", "cpus": 2, "torch": "x"},
                     "dates": ["2026-11-23"]},
            "results": [{**base, "peak_bytes": MEASURED, **row},
                        {**base, "batch": 1, "skipped": "too big"}]}


def test_writer_replaces_only_the_block(tmp_path):
    md = tmp_path / "memory.md"
    md.write_text(f"# before\n\n{docs.BEGIN}\nold\n{docs.END}\n\nafter\n")
    out = tmp_path / "r.json"
    out.write_text(json.dumps(results()))
    assert docs.write_docs(str(out), str(md)) == 0
    text = md.read_text()
    assert text.startswith("# before\n\n" + docs.BEGIN) and text.endswith(docs.END + "\n\nafter\n")
    assert "old" not in text and "test cpu" in text and "2026-11-23" in text
    cli = json.loads(CliRunner().invoke(app, ["memory", "resnet18", "--batch", "8",
                                              "--format", "json"]).stdout)
    predicted = cli["peak_inference_bytes"]
    row = f"| resnet18 | 8 | - | inference | {predicted / 2**20:,.1f} | " \
          f"{MEASURED / 2**20:,.1f} | {predicted / MEASURED:.2f} |"
    assert row in text
    assert "Not measured: resnet18 batch 1 inference" in text and "too big" in text
    # the grid: batch 1 not measured, batch 8 the ratio; the other cases not measured at all
    assert f"| resnet18 | - | - | - | -, {predicted / MEASURED:.3f} | - | - | - |" in text


def test_writer_training_and_amp_rows_use_the_options_there_are():
    block = docs.build_table(results(mode="training", optimizer="adam", amp=True),
                             docs.available_options())
    assert "| resnet18 | 8 | adam | training, bf16 AMP |" in block
    if "--amp" not in docs.available_options():
        assert "this cnncalc has no `--amp`" in block


def test_writer_refuses_a_file_without_markers(tmp_path):
    md = tmp_path / "memory.md"
    md.write_text("# no markers\n")
    out = tmp_path / "r.json"
    out.write_text(json.dumps(results()))
    with pytest.raises(SystemExit):
        docs.write_docs(str(out), str(md))
    assert md.read_text() == "# no markers\n"


def test_docs_memory_md_has_the_markers():
    text = (ROOT / "docs" / "memory.md").read_text()
    assert text.index(docs.BEGIN) < text.index(docs.END)
