"""Ground truth for cnncalc's memory model: what PyTorch (CPU) really allocates.

Method
------
The CPU allocator (c10's ``ProfiledCPUMemoryReporter``) reports every allocation and every
free to the profiler when ``torch.profiler.profile(profile_memory=True)`` is on.  We read those
reports from the profiler's raw event tree,
``prof.profiler.kineto_results.experimental_event_tree()``: each node with
``tag == _EventType.Allocation`` carries ``extra_fields.alloc_size`` (bytes, negative for a
free), ``ptr`` and a nanosecond timestamp, and hangs under the op (``aten::...``, autograd
node, or ``record_function`` range) that was running when it happened.  This is the same
stream that ``prof.profiler.kineto_results.events()`` exposes as ``[memory]`` events
(``nbytes()``), but the tree also tells us the op, so ``trace()`` uses the tree.

The allocation nodes of all threads are merged and sorted by timestamp (a stable sort, so ties
keep the profiler's order) and summed; the peak of that running sum is the transient peak of
the profiled region.  Two facts about the reporter matter:

* sizes are the requested ``nbytes`` exactly: no rounding or alignment shows in the numbers
  (the allocator does align the *address* to 64 bytes, ``c10::alignment``, and glibc's malloc
  rounds internally, but neither is reported).  Zero-byte tensors report nothing.
* a free is reported only for blocks that were allocated while profiling was on.  A block that
  existed before ``profile()`` started and is freed inside it is invisible (PyTorch logs
  "Memory block of unknown size was allocated before the profiling started").  So everything
  that is alive when the region starts is counted separately as the *baseline* (the unique
  storages of parameters, buffers, gradients, optimizer state, input and target, deduplicated
  by storage pointer), and nothing pre-existing is freed inside the region: ``zero_grad`` (the
  only such free in a training step; it allocates nothing) runs just before the region.

Peak = baseline + max(0, max running sum).  ``trace()`` also returns the running sum at the end
of the region so the bookkeeping can be checked: for a training step, baseline + end must equal
the state at rest afterwards (params + buffers + grads + optimizer state + batch); ``measure()``
reports the difference as ``end_minus_rest`` (0 when nothing leaked or went unseen).

Validated on a trivial case (``python benchmarks/memory_truth.py --selftest``): a tensor of
known size allocated inside the region gives a peak of exactly its nbytes, 12-byte and
12345-byte tensors report 12 and 12345 (no rounding).

The training step measured (after one unprofiled warm-up step, so optimizer state exists):
``opt.zero_grad(set_to_none=True)`` (before the region), then inside the region, each in a
``record_function`` range: ``forward`` (``out = model(x)``), ``loss``
(``F.cross_entropy(out, target)``), ``backward``, ``optimizer``; ``out`` and ``loss`` are
locals that die when the step returns (inside the region).  The phase of the peak is the
range whose time span contains the peak event.  AMP wraps forward and loss in
``torch.autocast("cpu", dtype=torch.bfloat16)``.  Inference is one forward of a
``model.eval()`` under ``torch.no_grad()`` after one warm-up forward.

What this does not see: memory that bypasses c10's allocator (oneDNN's own primitive caches
and scratchpads if it mallocs them itself, the Python heap, glibc fragmentation).  It measures
what PyTorch tensors hold, which is what cnncalc models.

The sweep covers every zoo network torchvision also has (``ZOO``; ``--check-zoo`` re-checks
the pairs by parameter count), at batch 1 and 8: training with SGD, momentum and Adam,
inference, and training under bf16 autocast with each optimizer, cheapest cases first.
Results are written after every case (a partial run is kept; a rerun skips what is done).
A case whose generous estimate exceeds 8 GiB is recorded as skipped, not run.

Usage::

    python benchmarks/memory_truth.py [--models resnet18,vgg11] [--batches 1,8] [--quick]
        [--no-amp-extra] [--out benchmarks/results/memory_truth.json] [--selftest]
    python benchmarks/memory_truth.py --check-zoo
    python benchmarks/memory_truth.py --table
    python benchmarks/memory_truth.py --write-docs [docs/memory.md]   # the table, with cnncalc
    python benchmarks/memory_truth.py --device cuda [--models resnet18] [--batches 1,8]  # GPU
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch.profiler import ProfilerActivity, profile, record_function
from torch._C._profiler import _EventType

PHASES = ("forward", "loss", "backward", "optimizer")
DOCS_MD = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "docs", "memory.md")


# ----------------------------------------------------------------------------------------------
# Tracing
# ----------------------------------------------------------------------------------------------

@dataclass
class Alloc:
    t: int  # ns
    nbytes: int  # negative for a free
    ptr: int
    op: str  # innermost enclosing op / range name ("" if none)
    path: tuple  # names of enclosing ops, outermost first


@dataclass
class Trace:
    allocs: list = field(default_factory=list)  # time-ordered Alloc
    ranges: dict = field(default_factory=dict)  # record_function name -> (start_ns, end_ns)
    ops: list = field(default_factory=list)  # (name, start, end, depth) of every op node

    def running(self):
        s = 0
        out = []
        for a in self.allocs:
            s += a.nbytes
            out.append(s)
        return out

    @property
    def peak(self) -> int:
        """max(0, max running sum): the transient peak above the starting state."""
        r = self.running()
        return max([0] + r)

    @property
    def end(self) -> int:
        r = self.running()
        return r[-1] if r else 0

    def peak_index(self) -> int:
        r = self.running()
        if not r or max(r) <= 0:
            return -1
        return r.index(max(r))

    def peak_time(self):
        i = self.peak_index()
        return self.allocs[i].t if i >= 0 else None

    def phase_at(self, t) -> str:
        if t is None:
            return "none"
        best = None
        for name, (s, e) in self.ranges.items():
            if s <= t <= e:
                if best is None or (e - s) < (self.ranges[best][1] - self.ranges[best][0]):
                    best = name
        return best or "outside"

    def window(self, name):
        """(sum at range start, peak inside range, sum at range end) relative to region start."""
        s, e = self.ranges[name]
        before = 0
        peak = None
        cur = 0
        for a in self.allocs:
            if a.t < s:
                before += a.nbytes
                cur = before
                continue
            if a.t > e:
                break
            cur += a.nbytes
            peak = cur if peak is None else max(peak, cur)
        if peak is None:
            peak = before
        return before, max(peak, before), cur if peak is not None else before


def trace(fn, *args, **kwargs) -> tuple:
    """Run fn(*args, **kwargs) under the memory profiler; return (Trace, fn's result)."""
    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        result = fn(*args, **kwargs)
    tr = Trace()
    roots = prof.profiler.kineto_results.experimental_event_tree()
    stack = [(n, ()) for n in reversed(roots)]
    while stack:
        node, path = stack.pop()
        if node.tag == _EventType.Allocation:
            ef = node.extra_fields
            if str(ef.device).startswith("cpu"):
                tr.allocs.append(Alloc(node.start_time_ns, int(ef.alloc_size), int(ef.ptr),
                                       path[-1] if path else "", path))
            continue
        name = node.name
        if node.tag == _EventType.TorchOp:
            tr.ops.append((name, node.start_time_ns, node.end_time_ns, len(path)))
            if name in PHASES or name.startswith("probe:"):
                tr.ranges[name] = (node.start_time_ns, node.end_time_ns)
        for c in reversed(node.children):  # reversed: pop() then visits them in order
            stack.append((c, path + (name,)))
    # pre-order DFS visits each thread's allocations in order; a stable sort by time merges
    # the threads and keeps that order for equal timestamps
    tr.allocs.sort(key=lambda a: a.t)
    return tr, result


def storage_bytes(tensors) -> int:
    """Bytes of the unique storages behind tensors (views and aliases counted once)."""
    seen = {}
    for t in tensors:
        if t is None or not isinstance(t, torch.Tensor):
            continue
        st = t.untyped_storage()
        seen[st.data_ptr()] = st.nbytes()
    return sum(seen.values())


def optimizer_tensors(opt):
    out = []
    for st in opt.state.values():
        for v in st.values():
            if isinstance(v, torch.Tensor):
                out.append(v)
    return out


def make_optimizer(name, params):
    if name == "sgd":
        return torch.optim.SGD(params, lr=0.01)
    if name == "momentum":
        return torch.optim.SGD(params, lr=0.01, momentum=0.9)
    if name == "adam":
        return torch.optim.Adam(params, lr=1e-3)
    raise ValueError(f"unknown optimizer {name!r}")


# ----------------------------------------------------------------------------------------------
# The oracle
# ----------------------------------------------------------------------------------------------

def measure(model: torch.nn.Module, x: torch.Tensor, mode: str = "training",
            optimizer: str | None = "sgd", amp: bool = False) -> dict:
    """Measure peak and resting CPU memory of one training step or one inference forward.

    mode: "training" (uses optimizer: "sgd" | "momentum" | "adam") or "inference".
    amp: bf16 autocast around forward and loss (training) or forward (inference).
    Works for any nn.Module whose output can go into F.cross_entropy (logits [N, C, ...]).
    Returns bytes: peak_bytes (absolute), at_rest_bytes (between steps, batch included),
    its parts (param_bytes, buffer_bytes, grad_bytes, optimizer_state_bytes, input_bytes),
    per-phase peaks (absolute) and peak_phase.
    """
    t0 = time.time()
    params = [p for p in model.parameters()]
    buffers = [b for b in model.buffers()]
    param_bytes = storage_bytes(params)
    buffer_bytes = storage_bytes(buffers)
    ac = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if amp else nullcontext
    res = {"mode": mode, "optimizer": optimizer if mode == "training" else None, "amp": amp,
           "batch": int(x.shape[0]), "param_bytes": param_bytes, "buffer_bytes": buffer_bytes,
           "input_bytes": storage_bytes([x])}

    if mode == "inference":
        model.eval()

        def fwd():
            with torch.no_grad(), ac(), record_function("forward"):
                out = model(x)
            del out

        fwd()  # warm-up
        gc.collect()
        baseline = storage_bytes(params + buffers + [x])
        tr, _ = trace(fwd)
        res.update(grad_bytes=0, optimizer_state_bytes=0, target_bytes=0,
                   at_rest_bytes=baseline, baseline_bytes=baseline,
                   peak_bytes=baseline + tr.peak, peak_phase=tr.phase_at(tr.peak_time()),
                   end_minus_rest=tr.end, phases={"forward": baseline + tr.peak})
    elif mode == "training":
        model.train()
        trainable = [p for p in params if p.requires_grad]
        opt = make_optimizer(optimizer, trainable)
        with ac():
            out = model(x)
        target = torch.randint(0, out.shape[1], (out.shape[0],) + tuple(out.shape[2:]))
        del out

        def step():
            with record_function("forward"), ac():
                out = model(x)
            with record_function("loss"), ac():
                loss = F.cross_entropy(out, target)
            with record_function("backward"):
                loss.backward()
            with record_function("optimizer"):
                opt.step()

        opt.zero_grad(set_to_none=True)
        step()  # warm-up: creates optimizer state and grads
        gc.collect()
        opt.zero_grad(set_to_none=True)  # frees grads: done outside the region (see docstring)
        gc.collect()
        baseline = storage_bytes(params + buffers + optimizer_tensors(opt) + [x, target])
        tr, _ = trace(step)
        gc.collect()
        grads = [p.grad for p in trainable]
        grad_bytes = storage_bytes(grads)
        state_bytes = storage_bytes(optimizer_tensors(opt))
        at_rest = storage_bytes(params + buffers + grads + optimizer_tensors(opt) + [x, target])
        phases = {}
        for ph in PHASES:
            if ph in tr.ranges:
                phases[ph] = baseline + tr.window(ph)[1]
        res.update(grad_bytes=grad_bytes, optimizer_state_bytes=state_bytes,
                   target_bytes=storage_bytes([target]), at_rest_bytes=at_rest,
                   baseline_bytes=baseline, peak_bytes=baseline + tr.peak,
                   peak_phase=tr.phase_at(tr.peak_time()),
                   end_minus_rest=baseline + tr.end - at_rest, phases=phases)
        del opt
    else:
        raise ValueError(f"unknown mode {mode!r}")
    res["peak_op"] = tr.allocs[tr.peak_index()].op if tr.peak_index() >= 0 else None
    res["seconds"] = round(time.time() - t0, 2)
    return res


# ----------------------------------------------------------------------------------------------
# torchvision sweep: every zoo network torchvision also has
# ----------------------------------------------------------------------------------------------

# zoo spec -> torchvision builder.  Each pair was checked by parameter count: cnncalc's
# trainable_params (`cnncalc summarize NAME --format json`) equals torchvision's
# sum(p.numel() for p in model.parameters()), and its non_trainable_params the floating-point
# buffers (batch-norm statistics); `--check-zoo` re-checks.  Not in torchvision: alexnet (the
# paper's 227x227 two-tower net), lenet5, keras_mnist, mobilenet_v1, unet, zfnet.
ZOO = {"alexnet_torchvision": "alexnet", "squeezenet1_0": "squeezenet1_0",
       "squeezenet1_1": "squeezenet1_1", "mobilenet_v2": "mobilenet_v2", "resnet18": "resnet18",
       "resnet34": "resnet34", "googlenet": "googlenet", "resnet50": "resnet50",
       "densenet121": "densenet121", "inception_v3": "inception_v3", "vgg11": "vgg11",
       "vgg11_bn": "vgg11_bn", "vgg13": "vgg13", "vgg13_bn": "vgg13_bn", "vgg16": "vgg16",
       "vgg16_bn": "vgg16_bn", "vgg19": "vgg19", "vgg19_bn": "vgg19_bn", "resnet101": "resnet101",
       "resnet152": "resnet152"}
ZOO_OF = {tv: zoo for zoo, tv in ZOO.items()}
MODELS = list(ZOO.values())  # roughly cheapest first
QUICK_MODELS = ["alexnet", "squeezenet1_1", "mobilenet_v2", "resnet18"]
# (mode, optimizer, amp); amp = bf16 autocast, training only
CASES = [("training", "sgd", False), ("training", "momentum", False),
         ("training", "adam", False), ("inference", None, False), ("training", "sgd", True),
         ("training", "momentum", True), ("training", "adam", True)]
# The order of the sweep, so a partial run keeps the most useful cases: every model at batch 1
# before batch 8, fp32 before AMP (bf16 autocast on this CPU is 5-10x slower), AMP with SGD
# before AMP with momentum and Adam (autocast leaves the optimizer step in fp32).
TIERS = [(1, CASES[:4]), (8, CASES[:4]), (1, CASES[4:5]), (8, CASES[4:5]),
         (1, CASES[5:]), (8, CASES[5:])]
MAX_CASE_BYTES = 8 * 2**30  # skip a case estimated to need more (the machine is shared)


def key_of(r) -> tuple:
    return (r["model"], r["batch"], r["mode"], r["optimizer"], r["amp"])


def estimate_bytes(model, x, mode, optimizer) -> int:
    """A generous upper bound of a case's peak, to skip what would not fit: parameters x (1
    weight + 1 grad + optimizer state + 2 for the optimizer step's temporaries) + 2 x the bytes
    of every leaf module's output at this batch (saved for backward and its gradient; in-place
    ReLU outputs counted again), found by one no_grad forward with hooks. Measured peaks are
    below it by 2x to 4x (ResNet-50 batch 8 SGD: 2.7 GiB estimated, 0.84 GB allocated)."""
    outs = []
    hooks = [m.register_forward_hook(lambda m, i, o: outs.append(
        o.numel() * o.element_size() if isinstance(o, torch.Tensor) else 0))
        for m in model.modules() if not list(m.children())]
    with torch.no_grad():
        model.eval()
        model(x[:1])
    for h in hooks:
        h.remove()
    p = storage_bytes(list(model.parameters()) + list(model.buffers()))
    k = {"sgd": 2, "momentum": 3, "adam": 4}.get(optimizer, 1) if mode == "training" else 1
    act = sum(outs) * x.shape[0] * (2 if mode == "training" else 1)
    return p * (k + (2 if mode == "training" else 0)) + act


def onednn_isa() -> str:
    """The ISA cnncalc models for this process (/proc/cpuinfo, ONEDNN_MAX_CPU_ISA)."""
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
    from cnncalc.analysis.machine import detect
    return detect().name


def machine() -> dict:
    """Where the numbers were measured."""
    import platform
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    ram = None
    try:
        with open("/proc/meminfo") as fh:
            ram = int(next(line.split()[1] for line in fh
                           if line.startswith("MemTotal"))) * 1024
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cpus": os.cpu_count(), "ram_bytes": ram,
            "os": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "threads": torch.get_num_threads(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
            "onednn_isa": onednn_isa(),
            "mkldnn": torch.backends.mkldnn.is_available()}


def _torchvision():
    # torchvision's compiled ops do not load against this torch; its models are pure Python.
    torch.library.register_fake = lambda *a, **k: (lambda f: f)
    import torchvision
    return torchvision


def build(name):
    tv = _torchvision()
    kw = {}
    if name == "googlenet" or name == "inception_v3":
        kw = dict(aux_logits=False, init_weights=False)
    return getattr(tv.models, name)(weights=None, **kw)


def input_size(name):
    return 299 if name == "inception_v3" else 224


def selftest():
    def f():
        t = torch.empty(1000)  # 4000 bytes
        u = torch.empty(3)  # 12 bytes
        del u
        v = torch.empty(12345, dtype=torch.uint8)
        del t, v

    tr, _ = trace(f)
    sizes = [a.nbytes for a in tr.allocs]
    assert sizes == [4000, 12, -12, 12345, -4000, -12345], sizes
    assert tr.peak == 16345 and tr.end == 0, (tr.peak, tr.end)
    def g():
        t = torch.zeros(256, 256)
        del t

    tr, _ = trace(g)
    assert tr.peak == 256 * 256 * 4 and tr.end == 0, (tr.peak, tr.end)
    print("selftest ok: sizes reported exactly as requested (no rounding):", sizes)


def fmt_mib(b):
    return f"{b / 2**20:,.1f}"


def table(rows):
    lines = ["| model | batch | mode | optimizer | amp | peak MiB | at rest MiB | params MiB |"
             " peak phase | peak op | s |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r or "skipped" in r:
            why = f"error: {r['error'][:60]}" if "error" in r else f"skipped: {r['skipped']}"
            lines.append(f"| {r['model']} | {r['batch']} | {r['mode']} | {r['optimizer']} | "
                         f"{r['amp']} | {why} | | | | | |")
            continue
        lines.append(f"| {r['model']} | {r['batch']} | {r['mode']} | {r['optimizer'] or '-'} | "
                     f"{'bf16' if r['amp'] else '-'} | {fmt_mib(r['peak_bytes'])} | "
                     f"{fmt_mib(r['at_rest_bytes'])} | {fmt_mib(r['param_bytes'])} | "
                     f"{r['peak_phase']} | {r.get('peak_op')} | {r['seconds']} |")
    return "\n".join(lines)


def check_zoo() -> list:
    """Re-check ZOO: cnncalc's parameter counts against torchvision's; returns the mismatches."""
    import subprocess
    bad = []
    for zoo, tv in ZOO.items():
        out = subprocess.run([sys.executable, "-m", "cnncalc", "summarize", zoo, "--format",
                              "json"], capture_output=True, text=True, check=True).stdout
        totals = json.loads(out)["totals"]
        m = build(tv)
        n = sum(p.numel() for p in m.parameters())
        nb = sum(b.numel() for b in m.buffers() if b.dtype.is_floating_point)
        ok = (totals["trainable_params"], totals["non_trainable_params"]) == (n, nb)
        print(f"{zoo:22} {tv:15} cnncalc {totals['trainable_params']:>11,} + "
              f"{totals['non_trainable_params']:>7,}  torchvision {n:>11,} + {nb:>7,}  "
              f"{'ok' if ok else 'MISMATCH'}", flush=True)
        if not ok:
            bad.append(zoo)
    return bad


def save(path, meta, rows):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path + ".tmp", "w") as fh:
        json.dump({"meta": meta, "results": rows}, fh, indent=1)
    os.replace(path + ".tmp", path)


def run_case(name, batch, mode, opt, amp) -> dict:
    model = build(name)
    x = torch.randn(batch, 3, input_size(name), input_size(name))
    est = estimate_bytes(model, x, mode, opt)
    if est > MAX_CASE_BYTES:
        return {"model": name, "zoo": ZOO_OF.get(name), "batch": batch, "mode": mode,
                "optimizer": opt, "amp": amp, "skipped": f"estimated {est / 2**30:.1f} GiB "
                f"> {MAX_CASE_BYTES / 2**30:.0f} GiB"}
    r = {"model": name, "zoo": ZOO_OF.get(name), **measure(model, x, mode, opt, amp),
         "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    return r


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", default=None,
                    help="comma-separated torchvision or zoo names (default: every zoo network "
                         "torchvision has)")
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--quick", action="store_true", help="4 small models, batch 1")
    ap.add_argument("--no-amp-extra", action="store_true",
                    help="AMP with SGD only (skip AMP with momentum and Adam)")
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results",
                                                  "memory_truth.json"))
    ap.add_argument("--selftest", action="store_true")
    ap.add_argument("--check-zoo", action="store_true",
                    help="check that each zoo spec matches its torchvision model")
    ap.add_argument("--table", action="store_true", help="only print the table of --out")
    ap.add_argument("--write-docs", metavar="MD", nargs="?", const=DOCS_MD, default=None,
                    help="write the cnncalc-vs-measured table of --out into MD (default "
                         "docs/memory.md) between its marker comments; runs cnncalc memory")
    ap.add_argument("--device", choices=("cpu", "cuda"), default="cpu",
                    help="cuda: allocated, reserved and the driver's figure on a GPU against "
                         "cnncalc --backend cuda (benchmarks/memory_truth_cuda.py)")
    a = ap.parse_args(argv)
    if a.device == "cuda":
        from memory_truth_cuda import run  # benchmarks/ is on sys.path when run
        return run([ZOO.get(m, m) for m in a.models.split(",")] if a.models else None,
                   [int(b) for b in a.batches.split(",")])
    if a.selftest:
        selftest()
        return
    if a.check_zoo:
        return 1 if check_zoo() else 0
    if a.table:
        with open(a.out) as fh:
            print(table(json.load(fh)["results"]))
        return
    if a.write_docs:
        from memory_truth_docs import write_docs  # benchmarks/ is on sys.path when run
        return write_docs(a.out, a.write_docs)
    models = [ZOO.get(m, m) for m in a.models.split(",")] if a.models else (
        QUICK_MODELS if a.quick else MODELS)
    batches = [int(b) for b in a.batches.split(",")] if not a.quick else [1]
    selftest()
    torch.manual_seed(0)
    rows, meta = [], {}
    if os.path.exists(a.out):
        with open(a.out) as fh:
            old = json.load(fh)
        rows, meta = old.get("results", []), old.get("meta", {})
    for r in rows:
        r.setdefault("zoo", ZOO_OF.get(r["model"]))
    now = machine()
    if meta.get("machine") not in (None, now):
        print("warning: --out was measured on another machine:", meta.get("machine"))
    meta.update(machine=now, method="see benchmarks/memory_truth.py")
    meta.setdefault("dates", [])
    meta.pop("date", None), meta.pop("torch", None), meta.pop("threads", None)
    if time.strftime("%Y-%m-%d") not in meta["dates"]:
        meta["dates"].append(time.strftime("%Y-%m-%d"))
    done = {key_of(r): r for r in rows if "error" not in r and "skipped" not in r}
    tiers = [(b, c) for b, c in TIERS if b in batches]
    if a.no_amp_extra:
        tiers = [(b, [k for k in c if k not in CASES[5:]]) for b, c in tiers]
    for batch, cases in tiers:
        for name in models:
            for mode, opt, amp in cases:
                key = (name, batch, mode, opt, amp)
                if key in done:
                    continue
                try:
                    r = run_case(name, batch, mode, opt, amp)
                except Exception as e:  # keep going; record the failure
                    r = {"model": name, "zoo": ZOO_OF.get(name), "batch": batch, "mode": mode,
                         "optimizer": opt, "amp": amp, "error": repr(e)}
                gc.collect()
                rows = [q for q in rows if key_of(q) != key] + [r]
                save(a.out, meta, rows)
                if "skipped" in r:
                    print(f"| {name} | {batch} | {mode} | {opt} | {amp} | skipped: "
                          f"{r['skipped']} |", flush=True)
                else:
                    print(table([r]).splitlines()[-1], flush=True)
    print(table(rows))


if __name__ == "__main__":
    sys.exit(main())
