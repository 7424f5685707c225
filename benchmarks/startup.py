"""Start-up benchmark: wall time of `cnncalc summarize vgg16` and `validate` against `python -c
pass` and `import typer`, interleaved so the machine's noise falls on all alike, with Python's
bytecode cache allowed (as in any pip install; PYTHONDONTWRITEBYTECODE=1 makes every import
compile its source and doubles the figure). Also lists the heaviest imports.

Run: python benchmarks/startup.py [runs] [python]   (python: e.g. a fresh venv's bin/python)."""

from __future__ import annotations

import os
import re
import statistics
import subprocess
import sys
import time

ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def commands(python: str) -> dict[str, list[str]]:
    return {
        "python -c pass": [python, "-c", "pass"],
        "python -c 'import typer'": [python, "-c", "import typer"],
        "cnncalc summarize vgg16": [python, "-m", "cnncalc", "summarize", "vgg16"],
        "cnncalc validate vgg16": [python, "-m", "cnncalc", "validate", "vgg16"],
        "cnncalc summarize vgg16 --depth 1 (typer)": [python, "-m", "cnncalc", "summarize",
                                                      "vgg16", "--depth", "1"],
    }


def once(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=ENV, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def medians(python: str, runs: int) -> dict[str, float]:
    todo = commands(python)
    for argv in todo.values():  # warm the bytecode cache and the page cache
        once(argv)
    times: dict[str, list[float]] = {name: [] for name in todo}
    for _ in range(runs):
        for name, argv in todo.items():
            times[name].append(once(argv))
    return {name: statistics.median(values) for name, values in times.items()}


def heaviest_imports(python: str, top: int = 8) -> list[tuple[int, str]]:
    done = subprocess.run([python, "-X", "importtime", "-m", "cnncalc", "summarize", "vgg16"],
                          env=ENV, capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 1:  # top-level imports only
            rows.append((int(match.group(1)), match.group(3)))
    loaded = {name for _, name in rows}
    assert "numpy" not in loaded, "numpy imported on the summarize path"
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 21
    python = sys.argv[2] if len(sys.argv) > 2 else sys.executable
    for name, seconds in medians(python, runs).items():
        print(f"{name}: median {seconds * 1000:.0f} ms over {runs} runs")
    print("heaviest top-level imports of summarize (cumulative us):")
    for micros, name in heaviest_imports(python):
        print(f"  {micros:>8}  {name}")


if __name__ == "__main__":
    main()
