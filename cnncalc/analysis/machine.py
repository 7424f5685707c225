"""The running CPU's instruction set, as oneDNN will use it (the `--backend cpu` model).

oneDNN picks its kernels by the best ISA the CPU has, capped by the environment variable
ONEDNN_MAX_CPU_ISA (older name DNNL_MAX_CPU_ISA): AVX-512 (avx512_core: avx512f, bw, vl, dq)
gives 16-channel blocks and the bf16 convolution path; anything less is modelled as AVX2
(8-channel blocks, the slow bf16 path). Read from /proc/cpuinfo's flags; a machine without
it (macOS, Windows, ARM) gets the AVX2 model, and the report names the ISA it used.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

from ..layers.stepmem import AVX2, AVX512, ISAS, CpuIsa

AVX512_CORE = {"avx512f", "avx512bw", "avx512vl", "avx512dq"}
CAP_VARIABLES = ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA")


@lru_cache(maxsize=1)
def proc_cpuinfo() -> str:
    try:
        return Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return ""


def cpu_flags(cpuinfo: str | None = None) -> set[str]:
    """The flags line of /proc/cpuinfo (empty when there is none)."""
    cpuinfo = proc_cpuinfo() if cpuinfo is None else cpuinfo
    for line in cpuinfo.splitlines():
        if line.startswith("flags"):
            return set(line.partition(":")[2].split())
    return set()


def capped(isa: CpuIsa, cap: str | None) -> CpuIsa:
    """oneDNN's cap (ONEDNN_MAX_CPU_ISA): SSE41, AVX, AVX2, AVX2_VNNI... below AVX-512 give
    the AVX2 model; AVX512_* , AVX10_*, AMX_* and ALL/DEFAULT leave the detected ISA."""
    if not cap:
        return isa
    name = cap.strip().upper()
    if name in ("", "ALL", "DEFAULT") or name.startswith(("AVX512", "AVX10", "AMX")):
        return isa
    return AVX2


def detect(cpuinfo: str | None = None, environ=None) -> CpuIsa:
    """The ISA oneDNN runs on this machine (or on the machine `cpuinfo` describes)."""
    environ = os.environ if environ is None else environ
    flags = cpu_flags(cpuinfo)
    isa = AVX512 if flags >= AVX512_CORE else AVX2
    cap = next((environ[v] for v in CAP_VARIABLES if environ.get(v)), None)
    return capped(isa, cap)


def isa_named(name: str | None) -> CpuIsa:
    """An ISA by name ("avx2", "avx512"), or the running machine's for None."""
    return detect() if name is None else ISAS[name]


__all__ = ["ISAS", "cpu_flags", "detect", "isa_named"]
