"""The device table (cnncalc/devices.yaml): dense peak FLOP/s per dtype, memory bandwidth and
capacity of each device, with the datasheet each figure comes from; and `--device
flops=...,bandwidth=...,memory=...` for any other device."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..errors import CnnCalcError, Diagnostic, Span, show

TABLE = Path(__file__).resolve().parent.parent / "devices.yaml"
PEAK_DTYPES = ("fp32", "tf32", "fp16", "bf16", "int8")  # the keys of peak_flops
# --dtype (conventions.DTYPES) -> the peak it computes at
PEAK_OF_DTYPE = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "int8": "int8",
                 "float64": "fp64"}
CUSTOM_KEYS = ("flops", "bandwidth", "memory")


@dataclass(frozen=True)
class Device:
    """One device: dense peaks (dtype -> FLOP/s), bandwidth (bytes/s), capacity (bytes)."""

    name: str
    title: str
    peak_flops: dict = field(default_factory=dict)
    bandwidth: float = 0.0
    memory_bytes: int | None = None
    source: str = ""
    url: str = ""
    measured: bool = False  # figures measured on this machine (cpu), not a datasheet's
    calibration: object = None  # the cpu's calibration.Calibration, when measured
    compute_capability: str = ""  # a CUDA GPU's major.minor ("9.0": Hopper)

    @property
    def compute_major(self) -> int:
        """The compute capability's major (0: not a CUDA GPU, or not known)."""
        return int(self.compute_capability.split(".")[0]) if self.compute_capability else 0

    def peak(self, dtype: str) -> float | None:
        """Dense FLOP/s at a --dtype (float32 -> fp32, ...), None where the device has none."""
        return self.peak_flops.get(PEAK_OF_DTYPE.get(dtype, dtype))

    def as_dict(self) -> dict:
        return {"name": self.name, "title": self.title, "peak_flops": dict(self.peak_flops),
                "bandwidth": self.bandwidth, "memory_bytes": self.memory_bytes,
                "source": self.source, "url": self.url,
                "measured": self.measured,
                **({"compute_capability": self.compute_capability}
                   if self.compute_capability else {})}


def _number(value, where: str) -> float:
    """PyYAML reads 15.7e12 as text (YAML 1.1 wants a sign in the exponent): convert here."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"devices.yaml: {where} is not a number: {value!r}") from None
    if not number > 0:
        raise ValueError(f"devices.yaml: {where} must be positive: {value!r}")
    return number


@lru_cache(maxsize=1)
def table() -> dict[str, Device]:
    """Every device of devices.yaml by name (the cpu without figures: calibrate fills them)."""
    import yaml
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: 10x faster
    raw = yaml.load(TABLE.read_text(encoding="utf-8"), Loader=loader)
    devices = {}
    for name, entry in raw.items():
        peaks = {k: _number(v, f"{name}.peak_flops.{k}")
                 for k, v in (entry.get("peak_flops") or {}).items()}
        unknown = set(peaks) - set(PEAK_DTYPES)
        if unknown:
            raise ValueError(f"devices.yaml: {name}: unknown dtype {sorted(unknown)}")
        gib = entry.get("memory_gib")
        devices[name] = Device(
            name, entry["title"], peaks,
            _number(entry["bandwidth"], f"{name}.bandwidth") if "bandwidth" in entry else 0.0,
            int(_number(gib, f"{name}.memory_gib") * 2**30) if gib is not None else None,
            " ".join(str(entry.get("source", "")).split()), entry.get("url", ""),
            bool(entry.get("measured", False)),
            compute_capability=str(entry.get("compute_capability", "")))
    return devices


def names() -> list[str]:
    return list(table())


def lookup(text: str, calibration=None) -> Device:
    """--device: a name of the table, or `flops=...,bandwidth=...[,memory=...]`. The cpu takes
    its figures from `calibration` (analysis/calibration.py: load()); without one it is an
    error that says how to measure it."""
    if "=" in text:
        return custom(text)
    devices = table()
    key = text.strip().lower()
    if key not in devices:
        from ..declare import did_you_mean
        variants = [name for name in devices if name.startswith(key + "-")]  # a100: its sizes
        hint = (f"; did you mean {' or '.join(repr(v) for v in variants)}?" if variants
                else did_you_mean(key, devices))
        raise CnnCalcError(Diagnostic(
            Span("--device"), f"unknown device{hint} (see `cnncalc "
            f"devices`, or describe one: flops=...,bandwidth=...,memory=...)",
            received=show(text)))
    device = devices[key]
    if device.measured:
        if calibration is None:
            raise CnnCalcError(Diagnostic(
                Span("--device"), "this machine is not calibrated yet: run `cnncalc "
                "calibrate` (under a minute) first", received=show(text)))
        return calibration.device(device)
    return device


def resolve(text: str) -> tuple[Device, str | None]:
    """--device with the stored calibration read for a measured device: (the device, a
    one-line warning about an unusable calibration file or None)."""
    entry = table().get(text.strip().lower())
    calibration, warning = None, None
    if entry is not None and entry.measured:
        from .calibration import load
        calibration, warning = load()
    try:
        return lookup(text, calibration), warning
    except CnnCalcError as exc:
        exc.warning = warning  # shown before the error
        raise


def custom(text: str) -> Device:
    """`flops=312e12,bandwidth=2.0e12,memory=80GiB`: flops is one peak (FLOP/s, used for
    every dtype) or per dtype `flops.bf16=...`; bandwidth in bytes/s; memory optional."""
    from ..declare import size_value
    values: dict[str, str] = {}
    for item in text.split(","):
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        base = key.split(".", 1)[0]
        if not sep or base not in CUSTOM_KEYS or (
                "." in key and (base != "flops" or key.split(".", 1)[1] not in PEAK_DTYPES)):
            raise CnnCalcError(Diagnostic(
                Span("--device"), f"'{key or item.strip()}' is not a device field (fields: "
                "flops or flops.fp32/tf32/fp16/bf16/int8 in FLOP/s, bandwidth in bytes/s, "
                "memory as 80GiB)", received=show(text)))
        values[key] = value.strip()
    peaks = {}
    for key, value in values.items():
        if key.startswith("flops"):
            number = _positive(key, value)
            for dtype in (PEAK_DTYPES if key == "flops" else (key.split(".", 1)[1],)):
                if key == "flops" and dtype in peaks:
                    continue
                peaks[dtype] = number
    if not peaks:
        raise CnnCalcError(Diagnostic(Span("--device"), "field 'flops' is missing (peak "
                                      "FLOP/s, e.g. flops=312e12)", received=show(text)))
    if "bandwidth" not in values:
        raise CnnCalcError(Diagnostic(Span("--device"), "field 'bandwidth' is missing "
                                      "(bytes/s, e.g. bandwidth=2e12)", received=show(text)))
    memory = None
    if "memory" in values:
        memory = size_value(values["memory"])
        if not memory:
            raise CnnCalcError(Diagnostic(Span("--device"), "field 'memory' must be a size "
                                          "such as 80GiB", received=show(values["memory"])))
    return Device("custom", "a device given on the command line", peaks,
                  _positive("bandwidth", values["bandwidth"]), memory, "--device " + text)


def _positive(key: str, value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = float("nan")
    if not (number > 0 and number != float("inf")):
        raise CnnCalcError(Diagnostic(Span("--device"), f"field '{key}' must be a positive "
                                      "number such as 312e12", received=show(value)))
    return number
