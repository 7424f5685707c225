"""Every command on every spec the documentation shows (each YAML example in docs/*.md that is
a whole spec, and specs/**), and on specs that reduce to nothing: each ends with exit 0, 1 or
2, an error is one line on stderr, nothing is an internal error and no traceback appears."""

import re
import textwrap
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from cnncalc.cli import app

ROOT = Path(__file__).resolve().parent.parent
runner = CliRunner()


def documented_specs() -> list[tuple[str, str]]:
    """(where, text) for every whole spec (a mapping with `layers`) the docs and specs/ show."""
    found = []
    for page in sorted((ROOT / "docs").glob("*.md")):
        for number, block in enumerate(re.findall(r"```yaml\n(.*?)```", page.read_text(),
                                                  re.DOTALL)):
            try:
                doc = yaml.safe_load(block)
            except yaml.YAMLError:
                continue
            if isinstance(doc, dict) and "layers" in doc:
                given = "input" in doc or "inputs" in doc
                found.append((f"{page.name}#{number}",
                              block if given else "input: [32, 32, 3]\n" + block))
    for path in sorted((ROOT / "specs").rglob("*.yaml")):
        found.append((str(path.relative_to(ROOT)), path.read_text()))
    return found


NOTHING = {  # specs that reduce to nothing
    "all-switched-off": "input: [8, 8, 3]\nlayers:\n  - {type: conv, filters: 4, kernel: 3, "
                        "when: false}\n  - {type: relu, when: false}\n",
    "named-inputs-all-off": "inputs: {a: [8, 8, 3], b: [8, 8, 1]}\nlayers:\n"
                            "  - {type: relu, when: false}\n",
    "empty-list": "input: [8, 8, 3]\nlayers: []\n",
    "block-all-off": textwrap.dedent("""\
        input: [8, 8, 3]
        blocks:
          b: {layers: [{type: relu, when: false}]}
        layers:
          - {block: b}
        """),
}

COMMANDS = [
    ["validate", "{spec}"], ["validate", "--forward", "{spec}"],
    ["summarize", "{spec}"], *[["summarize", "--format", f, "{spec}"]
                               for f in ("json", "csv", "markdown", "html", "svg")],
    ["memory", "{spec}"], ["memory", "--mode", "training", "{spec}"],
    ["memory", "--format", "json", "--mode", "training", "--checkpoint", "2", "{spec}"],
    ["report", "{spec}", "-o", "{out}/r.html"],
    ["export", "{spec}", "--to", "pytorch", "-o", "{out}/model.py"],
    ["convert", "{spec}", "-o", "{out}/c.yaml"],
    ["compare", "{spec}", "lenet5"], ["graph", "{spec}"], ["graph", "--format", "dot", "{spec}"],
    ["run", "{spec}"], ["explain", "{spec}", "conv1"],
]


def run_all(tmp_path, text: str) -> list:
    """Every command on the spec `text`; the failures as (command, why)."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(text)
    bad = []
    for number, template in enumerate(COMMANDS):
        out = tmp_path / f"out{number}"
        out.mkdir()
        command = [w.format(spec=spec, out=out) for w in template]
        result = runner.invoke(app, command)
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            bad.append((command[0], f"raised {type(result.exception).__name__}: "
                                    f"{result.exception}"))
        elif result.exit_code not in (0, 1, 2):
            bad.append((command[0], f"exit {result.exit_code}: {stderr[:200]}"))
        elif "Traceback" in stderr or "internal error" in stderr:
            bad.append((command[0], stderr[:200]))
        elif result.exit_code and command[0] != "validate" and len(stderr.splitlines()) != 1:
            bad.append((command[0], f"stderr is not one line: {stderr[:300]!r}"))
    return bad


@pytest.mark.parametrize(("where", "text"), documented_specs(), ids=lambda v: v[:40])
def test_every_command_on_every_documented_spec(tmp_path, where, text):
    assert run_all(tmp_path, text) == [], where


@pytest.mark.parametrize("name", sorted(NOTHING))
def test_every_command_on_a_spec_that_reduces_to_nothing(tmp_path, name):
    assert run_all(tmp_path, NOTHING[name]) == []


def test_a_spec_switched_off_entirely_is_one_error_at_its_layers_key(tmp_path):
    spec = tmp_path / "off.yaml"
    spec.write_text(NOTHING["all-switched-off"])
    for command in (["validate"], ["summarize"], ["memory"], ["run"]):
        result = runner.invoke(app, [*command, str(spec)])
        assert result.exit_code == 1
        text = result.stdout if command == ["validate"] else result.stderr
        assert f"{spec}:2:1: error: the network has no layers (every layer is switched off " \
               "by 'when:')" in text


def test_validate_reports_every_spec_when_one_fails(tmp_path):
    spec = tmp_path / "off.yaml"
    spec.write_text(NOTHING["all-switched-off"])
    result = runner.invoke(app, ["validate", "lenet5", str(spec), "vgg16"])
    assert result.exit_code == 1
    assert "lenet5: ok" in result.stdout and "vgg16: ok" in result.stdout
    assert "no layers" in result.stdout


def test_a_reference_to_a_switched_off_layer_names_when(tmp_path):
    spec = tmp_path / "ref.yaml"
    spec.write_text("input: [8, 8, 3]\nlayers:\n"
                    "  - {name: c, type: conv, filters: 3, kernel: 1, when: false}\n"
                    "  - {name: sum, type: add, inputs: [input, c]}\n")
    result = runner.invoke(app, ["validate", str(spec)])
    assert result.exit_code == 2
    assert "layer 'sum': 'inputs' names 'c', which is switched off by its 'when:'" \
        in result.stdout


def test_a_choice_given_a_4000_digit_integer_is_one_error(tmp_path):
    spec = tmp_path / "hex.yaml"
    spec.write_text("input: [8, 8, 3]\nlayers:\n"
                    "  - {type: pool, kernel: 2, mode: 0x" + "f" * 4000 + "}\n")
    result = runner.invoke(app, ["summarize", str(spec)])
    assert result.exit_code == 2
    assert "'mode' must be one of max" in result.stderr


def test_run_refuses_what_the_address_space_limit_cannot_hold(tmp_path):
    """A process limited by RLIMIT_AS (`ulimit -v`) below what MemAvailable suggests: `run`
    refuses before allocating (exit 1, one line) instead of dying in a MemoryError. The
    forward pass of a 3x3 conv with 16 filters on 1024x1024x3 holds at least the output,
    1024*1024*16 float32 values = 64 MiB, above the 16 MiB the limit leaves."""
    import subprocess
    import sys
    spec = tmp_path / "big.yaml"
    spec.write_text("input: [1024, 1024, 3]\nlayers:\n"
                    "  - {type: conv, filters: 16, kernel: 3, padding: 1}\n")
    script = textwrap.dedent(f"""
        import resource, sys
        import numpy  # mapped before the limit, as the run would have it
        from cnncalc.compute.run import available_bytes
        status = open("/proc/self/status").read()
        mapped = int(status.split("VmSize:")[1].split()[0]) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (mapped + 16 * 2**20, resource.RLIM_INFINITY))
        assert available_bytes() <= 16 * 2**20, available_bytes()
        sys.argv = ["cnncalc", "run", {str(spec)!r}]
        from cnncalc.cli import main
        main()
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                            check=False, timeout=120, cwd=ROOT,
                            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stderr[-500:]
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert "needs" in result.stderr and "available" in result.stderr


def test_a_memory_error_anywhere_is_one_line_exit_1(monkeypatch, capsys):
    import sys

    from cnncalc.cli import bare, main

    def exhausted(argv):
        raise MemoryError
    monkeypatch.setattr(bare, "run_bare", exhausted)
    monkeypatch.setattr(sys, "argv", ["cnncalc", "summarize", "lenet5"])
    with pytest.raises(SystemExit) as stop:
        main()
    assert stop.value.code == 1
    assert len(capsys.readouterr().err.splitlines()) == 1


def test_validate_reports_every_spec_even_when_one_hits_a_bug(monkeypatch):
    from cnncalc.analysis import validate as validate_module
    real = validate_module.check_one

    def buggy(spec, *args):
        if spec == "alexnet":
            raise IndexError("tuple index out of range")
        return real(spec, *args)
    monkeypatch.setattr(validate_module, "check_one", buggy)
    results, worst = validate_module.validate_results(["lenet5", "alexnet", "vgg16"])
    assert worst == 70
    assert [r["exit_code"] for r in results] == [0, 70, 0]
    assert "internal error: IndexError" in results[1]["problems"][0].format()


@pytest.mark.parametrize(("version", "files", "left"), [
    ("v2", {"/proc/self/cgroup": "0::/job\n", "/sys/fs/cgroup/job/memory.max": "1000000\n",
            "/sys/fs/cgroup/job/memory.current": "250000\n"}, [1_000_000 - 250_000]),
    ("v2 unlimited", {"/proc/self/cgroup": "0::/job\n", "/sys/fs/cgroup/job/memory.max": "max\n",
                      "/sys/fs/cgroup/job/memory.current": "250000\n"}, []),
    ("v1", {"/proc/self/cgroup": "4:memory:/job\n0::/\n",
            "/sys/fs/cgroup/memory/job/memory.limit_in_bytes": "5000000\n",
            "/sys/fs/cgroup/memory/job/memory.usage_in_bytes": "1000000\n"}, [4_000_000]),
    ("v1 unlimited", {"/proc/self/cgroup": "4:memory:/job\n",
                      "/sys/fs/cgroup/memory/job/memory.limit_in_bytes": "9223372036854771712\n",
                      "/sys/fs/cgroup/memory/job/memory.usage_in_bytes": "1000000\n"}, []),
])
def test_the_cgroup_memory_limit_is_read(monkeypatch, version, files, left):
    import io

    from cnncalc.compute import run as run_module

    def fake_open(path, *args, **kwargs):
        if path not in files:
            raise FileNotFoundError(path)
        return io.StringIO(files[path])
    monkeypatch.setattr(run_module, "open", fake_open, raising=False)
    assert run_module.cgroup_left() == left, version
