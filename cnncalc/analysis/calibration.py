"""This machine's measured rates (`cnncalc calibrate`): stored in the user's cache directory,
read back for `--device cpu`. A file that is corrupt, from another machine or from another
cnncalc version is ignored with a one-line warning, never a crash."""

from __future__ import annotations

import json
import os
from bisect import bisect_left
from dataclasses import dataclass, field, replace
from math import exp, log
from pathlib import Path

FILE_NAME = "calibration.json"
# kind -> the curve (keyed by weight values) that floors its time: oneDNN's weight layout, a
# matrix-vector product's weight streaming
FLOORS = {"conv": "conv_weights", "strided": "conv_weights", "stem": "conv_weights",
          "conv_3d": "conv_weights", "grouped": "conv_weights", "gemm": "gemv"}
FORMAT = 2  # the layout of the file; another one is ignored (2: matmul, softmax, pool_1d)


def cache_path() -> Path:
    """$XDG_CACHE_HOME/cnncalc/calibration.json, else ~/.cache/cnncalc/calibration.json."""
    root = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(root) / "cnncalc" / FILE_NAME


def machine_id() -> dict:
    """What makes the measurements this machine's: the CPU model and its logical cores."""
    import platform
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cpu": model or platform.processor() or platform.machine(),
            "cores": os.cpu_count() or 1}


def interpolate(points: list, work: float) -> float:
    """Seconds for `work` from measured (work, seconds) points: log-log interpolation between
    them, the nearest point's rate (seconds per unit of work) outside them."""
    if work <= 0 or not points:
        return 0.0
    works = [w for w, _ in points]
    if work <= works[0]:  # below the smallest case (a kernel's fixed cost): its time
        return points[0][1]
    if work >= works[-1]:
        return points[-1][1] * work / works[-1]
    i = bisect_left(works, work)
    (w0, t0), (w1, t1) = points[i - 1], points[i]
    f = (log(work) - log(w0)) / (log(w1) - log(w0))
    return exp(log(t0) + f * (log(t1) - log(t0)))


@dataclass(frozen=True)
class Calibration:
    """Measured on this machine: per kernel kind, (forward FLOPs, seconds) forward and
    (forward FLOPs, backward seconds); elementwise (bytes moved, seconds); the per-op
    overhead; the thread count and the library that measured."""

    forward: dict  # kind -> [(flops, seconds), ...] sorted by flops
    backward: dict  # kind -> [(forward flops, seconds of its backward), ...]
    elementwise: list  # [(bytes moved, seconds), ...]
    overhead: float  # seconds of the smallest op (an nn.Module on one value)
    backward_overhead: float  # seconds of the smallest op's backward
    threads: int
    backend: str  # "torch 2.13.0" or "numpy 2.x"
    machine: dict = field(default_factory=dict)
    version: str = ""
    measured_at: str = ""
    step_overhead: float = 0.0  # a training step's fixed cost (zero_grad, loss, engine, step)

    def peak(self) -> float:
        """The best FLOP/s reached by any kernel kind (the 'peak' the efficiencies divide)."""
        return max((f / t for points in self.forward.values() for f, t in points if t > 0),
                   default=1.0)

    def bandwidth(self) -> float:
        """Bytes/s of the largest elementwise pass (main memory, past the caches)."""
        moved, seconds = self.elementwise[-1]
        return moved / seconds

    def compute_seconds(self, kind: str, flops: float, backward: bool = False,
                        weights: float = 0) -> float:
        """The kind's measured time at these FLOPs, at least its floor for `weights` values
        (FLOORS): a conv that oneDNN runs lays its weights out first (most of LeNet-5's C5,
        48,000 weights for one output position); an fc layer streams its weights once
        whatever the batch (a matrix-vector product at batch 1)."""
        curves = self.backward if backward else self.forward
        points = curves.get(kind) or curves.get("conv1x1" if kind == "matmul" else "conv") or []
        seconds = interpolate(points, flops)
        if kind in FLOORS and weights:
            seconds = max(seconds, interpolate(curves.get(FLOORS[kind], []), weights))
        return seconds

    def memory_seconds(self, moved: float, backward: bool = False) -> float:
        """An elementwise pass moving `moved` bytes (its backward: keyed by the forward's)."""
        return interpolate(self.backward["elementwise"] if backward else self.elementwise, moved)

    def traffic_seconds(self, moved: float) -> float:
        """A compute kernel's memory term: 0, its measured curve already holds its traffic
        (the GEMM cases stream a 400 MB weight; an elementwise pass, which allocates its
        output, would overstate reading)."""
        return 0.0

    def pass_seconds(self, kind: str, moved: float, backward: bool = False) -> float:
        """A pass over memory of a kind measured by its bytes (pool, norm, elementwise)."""
        curves = self.backward if backward else self.forward
        points = curves.get(kind) or (curves.get("pool") if kind == "pool_tiled" else None)
        return interpolate(points, moved) if points else self.memory_seconds(moved, backward)

    def device(self, entry):
        """The table's `cpu` entry with this machine's figures."""
        return replace(entry, peak_flops={"fp32": self.peak()}, bandwidth=self.bandwidth(),
                       memory_bytes=_ram(), calibration=self,
                       source=f"cnncalc calibrate ({self.backend}, {self.threads} "
                              f"thread{'s' if self.threads != 1 else ''}, "
                              f"{self.machine.get('cpu', '?')}, {self.measured_at})")

    def as_dict(self) -> dict:
        return {"format": FORMAT, "version": self.version, "machine": self.machine,
                "measured_at": self.measured_at, "backend": self.backend,
                "threads": self.threads, "overhead_seconds": self.overhead,
                "backward_overhead_seconds": self.backward_overhead,
                "step_overhead_seconds": self.step_overhead,
                "forward": self.forward, "backward": self.backward,
                "elementwise": self.elementwise}


def _ram() -> int | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def measured_points(value) -> list:
    """Measured (work, seconds) pairs sorted by work; pairs of the same work averaged."""
    merged: dict[float, list] = {}
    for w, t in value:
        merged.setdefault(float(w), []).append(float(t))
    points = [(w, sum(ts) / len(ts)) for w, ts in sorted(merged.items())]
    if not points or any(not (w > 0 and t > 0) for w, t in points):
        raise ValueError("a measured point is not positive")
    return points


def load(path: Path | None = None) -> tuple[Calibration | None, str | None]:
    """(the calibration, None), or (None, a one-line warning) when the file is there but
    unusable, or (None, None) when there is none."""
    from .. import __version__
    path = path or cache_path()
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None, None
    except OSError as exc:
        return None, f"warning: cannot read {path} ({exc.strerror}); ignored"
    try:
        raw = json.loads(data.decode("utf-8"))
        if raw.get("format") != FORMAT:
            return None, f"warning: {path} has another layout; ignored (run `cnncalc calibrate`)"
        if raw.get("version") != __version__:
            return None, (f"warning: {path} was measured by cnncalc {raw.get('version')}, this "
                          f"is {__version__}; ignored (run `cnncalc calibrate`)")
        if raw.get("machine") != machine_id():
            return None, (f"warning: {path} was measured on another machine "
                          f"({raw.get('machine')}); ignored (run `cnncalc calibrate`)")
        calibration = Calibration(
            {k: measured_points(v) for k, v in raw["forward"].items()},
            {k: measured_points(v) for k, v in raw["backward"].items()},
            measured_points(raw["elementwise"]), float(raw["overhead_seconds"]),
            float(raw["backward_overhead_seconds"]), int(raw["threads"]),
            str(raw["backend"]), raw["machine"], raw["version"], str(raw.get("measured_at", "")),
            float(raw.get("step_overhead_seconds", 0.0)))
        if "elementwise" not in calibration.backward or not calibration.overhead > 0:
            raise ValueError("no rates")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        return None, f"warning: {path} is not a calibration file ({exc}); ignored"
    return calibration, None


def store(calibration: Calibration, path: Path | None = None) -> Path:
    """Write atomically: a temporary file in the same folder, then a rename."""
    import tempfile
    path = path or cache_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(prefix=".calibration.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(calibration.as_dict(), handle, indent=1)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path
