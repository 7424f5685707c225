"""Scale benchmark: a generated spec of N layers (default 100,000: conv and relu alternating)
through validate, summarize (table and JSON) and memory, each as a whole process.
Run: python benchmarks/scale.py [layers]."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def generate(path: Path, layers: int) -> None:
    with path.open("w") as handle:
        handle.write("input: [32, 32, 3]\nlayers:\n")
        for i in range(layers):
            handle.write("  - {type: conv, filters: 8, kernel: 3, padding: 1}\n" if i % 2 == 0
                         else "  - relu\n")


def main() -> None:
    layers = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    with tempfile.TemporaryDirectory() as folder:
        spec = Path(folder) / "big.yaml"
        generate(spec, layers)
        print(f"{layers:,} layers, {spec.stat().st_size / 2**20:.1f} MiB of YAML")
        for args in (["validate"], ["summarize"], ["summarize", "--format", "json"],
                     ["memory", "--format", "json"]):
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "cnncalc", *args, str(spec)],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                  check=False)
            took = time.perf_counter() - start
            print(f"cnncalc {' '.join(args)}: {took:.1f} s (exit {done.returncode})")


if __name__ == "__main__":
    main()
