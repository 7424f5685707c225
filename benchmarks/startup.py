"""Start-up benchmark: wall time of `cnncalc summarize vgg16` and `validate`, and the
heaviest imports (python -X importtime). Run: python benchmarks/startup.py [runs]."""

from __future__ import annotations

import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VGG = str(ROOT / "cnncalc" / "zoo" / "vgg16.yaml")


def wall(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-m", "cnncalc", *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def heaviest_imports(args: list[str], top: int = 8) -> list[tuple[int, str]]:
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "cnncalc", *args],
                          capture_output=True, text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match and len(match.group(2)) <= 2:  # top-level imports only
            rows.append((int(match.group(1)), match.group(3)))
    loaded = {name for _, name in rows}
    assert "numpy" not in loaded, "numpy imported on the summarize path"
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 11
    for args in (["summarize", VGG], ["validate", VGG], ["--version"]):
        print(f"cnncalc {' '.join(a if a != VGG else 'vgg16' for a in args)}: "
              f"median {wall(args, runs) * 1000:.0f} ms over {runs} runs")
    print("heaviest top-level imports of summarize (cumulative us):")
    for micros, name in heaviest_imports(["summarize", VGG]):
        print(f"  {micros:>8}  {name}")


if __name__ == "__main__":
    main()
