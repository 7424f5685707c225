"""Per-op memory probes: what each op allocates, keeps for backward, and frees (PyTorch, CPU).

Uses the allocation stream of ``memory_truth.trace`` (the profiler's allocation events, see
that module's docstring).  Every block is followed from its allocation to its free by address,
so each probe can say, per phase, which blocks were allocated, by which op, how large, and
whether they survived the phase.

For each op (default input: N=2, C=16, 32x32 float32 = 131,072 bytes; sizes chosen so that the
input, output, weight and index buffers all differ):

* ``inference``: ``module.eval()``, ``torch.no_grad()``, one call after a warm-up call.
  ``out_bytes`` (the output's storage when it was allocated in the call), ``peak`` (above the
  starting state), ``blocks`` (every allocation: op, bytes, freed inside the call or not).
* ``training``: ``module.train()``; the inputs are ``leaf.clone()`` of leaves that require grad
  (so in-place ops are legal and the op computes a grad_input, as inside a network); one
  warm-up forward+backward, grads set to None, then one profiled region with three ranges:
  ``fwd`` (``out = op(*xs)``), ``bwd`` (``out.backward(g)``, g preallocated) and ``del``
  (``del out``).  Reported: forward peak, what the forward leaves alive (``fwd_retained``;
  minus the output = the tensors saved for backward), the backward peak above its start,
  the backward's allocations (grads of input and parameters, temporaries), and which forward
  blocks the backward frees (saved tensors released when the graph is freed).

Plus optimizer probes (state created at the first step, transient during the step for the
default CPU implementation and for ``foreach=True``), autocast bf16 probes, the
cross-entropy loss, the allocator's rounding, and whole-net chains.

Usage: ``python benchmarks/memory_probe.py [--out benchmarks/results/memory_probe.json]``
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.profiler import record_function

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from memory_truth import storage_bytes, trace

N, C, H, W = 2, 16, 32, 32
SKIP = {"aten::empty", "aten::empty_strided", "aten::empty_like", "aten::new_empty",
        "aten::new_empty_strided", "aten::zeros_like", "aten::zeros", "aten::resize_",
        "aten::new_zeros", "aten::to", "aten::_to_copy", "aten::contiguous", "aten::clone",
        "aten::copy_", "aten::as_strided", "aten::fill_", "aten::zero_"}


def _label(path):
    """'Node: aten::op/aten::inner' for an allocation's enclosing ops."""
    node = ""
    ops = []
    for p in path:
        if p.startswith("autograd::engine::evaluate_function: "):
            node = p.split(": ", 1)[1]
            ops = []
        elif p.startswith("aten::") or p.startswith("mkldnn") or p.startswith("Optimizer"):
            ops.append(p)
    if not ops:
        inner = ""
    else:
        # outermost aten op and the innermost one that allocated
        inner = ops[0] if len(ops) == 1 else f"{ops[0]}>{ops[-1]}"
    return f"{node}: {inner}" if node else inner


def blocks(tr):
    """Pair allocations and frees by address: list of dicts with times, bytes, labels."""
    live = {}
    out = []
    for a in tr.allocs:
        if a.nbytes > 0:
            b = {"bytes": a.nbytes, "t0": a.t, "t1": None, "op": _label(a.path)}
            live[a.ptr] = b
            out.append(b)
        else:
            b = live.pop(a.ptr, None)
            if b is not None:
                b["t1"] = a.t
                b["free_op"] = _label(a.path)
    return out


def phase_of(tr, t):
    if t is None:
        return None
    for name, (s, e) in tr.ranges.items():
        if s <= t <= e:
            return name.replace("probe:", "")
    return "after"


def window_stats(tr, name):
    s, e = tr.ranges[name]
    cur = 0
    start = None
    peak = None
    for a in tr.allocs:
        if a.t > e:
            break
        if a.t >= s and start is None:
            start = cur
            peak = cur
        cur += a.nbytes
        if a.t >= s:
            peak = max(peak, cur)
    if start is None:
        start = peak = cur
    return {"start": start, "peak_above_start": peak - start, "net": cur - start}


def timeline(tr, name):
    """[(delta bytes, label, running sum from the range's start)] inside one range."""
    s, e = tr.ranges[name]
    out = []
    cur = 0
    for a in tr.allocs:
        if s <= a.t <= e:
            cur += a.nbytes
            out.append((a.nbytes, _label(a.path), cur))
    return out


def _fmt_blocks(tr, bl, phase):
    res = []
    for b in bl:
        if phase_of(tr, b["t0"]) != phase:
            continue
        res.append({"op": b["op"], "bytes": b["bytes"], "freed_in": phase_of(tr, b["t1"])})
    return res


def probe(name, make, shapes, note="", dtype=torch.float32, inputs=None, train=True,
          infer=True, grad_out=None, input_grad=True):
    """make() -> callable (module or function); shapes: list of input shapes."""
    torch.manual_seed(0)
    f = make()
    mod = f if isinstance(f, nn.Module) else None
    params = list(mod.parameters()) if mod is not None else []
    rec = {"name": name, "note": note, "input_shapes": [list(s) for s in shapes],
           "input_bytes": [int(torch.Size(s).numel()) * torch.empty((), dtype=dtype).element_size()
                           for s in shapes],
           "param_bytes": [p.numel() * p.element_size() for p in params]}

    def new_inputs(grad):
        if inputs is not None:
            xs = [t.clone() for t in inputs()]
        else:
            xs = [torch.randn(s, dtype=dtype) for s in shapes]
        if grad and input_grad:
            leaves = [t.requires_grad_() for t in xs]
            return leaves, [t.clone() for t in leaves]
        return xs, xs

    if infer:
        if mod is not None:
            mod.eval()
        _, xs = new_inputs(False)
        with torch.no_grad():
            f(*[t.clone() for t in xs])
        holder = {}

        def run():
            with torch.no_grad(), record_function("probe:fwd"):
                holder["out"] = f(*xs)

        tr, _ = trace(run)
        out = holder.pop("out")
        bl = blocks(tr)
        out_alloc = sum(b["bytes"] for b in bl if b["t1"] is None)
        tl = timeline(tr, "probe:fwd")
        rec["inference"] = {
            "timeline": tl,
            "out_shape": list(out.shape), "out_dtype": str(out.dtype),
            "out_storage_bytes": storage_bytes([out]),
            "alive_after": out_alloc,
            "peak": tr.peak,
            "transient": tr.peak - out_alloc,
            "blocks": _fmt_blocks(tr, bl, "fwd")}
        del out
    if train:
        if mod is not None:
            mod.train()
        leaves, xs = new_inputs(True)
        out = f(*xs)
        g = torch.randn_like(out) if grad_out is None else grad_out(out)
        out.backward(g)
        del out
        for t in leaves + params:
            t.grad = None
        leaves, xs = new_inputs(True)
        holder = {}
        gc.collect()

        def run():
            with record_function("probe:fwd"):
                holder["out"] = f(*xs)
            with record_function("probe:bwd"):
                holder["out"].backward(g)
            with record_function("probe:del"):
                del holder["out"]

        tr, _ = trace(run)
        bl = blocks(tr)
        fw = window_stats(tr, "probe:fwd")
        bw = window_stats(tr, "probe:bwd")
        fwd_blocks = _fmt_blocks(tr, bl, "fwd")
        retained = sum(b["bytes"] for b in fwd_blocks if b["freed_in"] != "fwd")
        grads = {"input_grads": [storage_bytes([t.grad]) for t in leaves if t.requires_grad],
                 "param_grads": [storage_bytes([p.grad]) for p in params]}
        rec["training"] = {
            "fwd_timeline": timeline(tr, "probe:fwd"), "bwd_timeline": timeline(tr, "probe:bwd"),
            "fwd_peak": fw["peak_above_start"], "fwd_retained": fw["net"],
            "fwd_transient": fw["peak_above_start"] - fw["net"],
            "fwd_blocks": fwd_blocks,
            "bwd_peak_above_start": bw["peak_above_start"], "bwd_net": bw["net"],
            "bwd_blocks": _fmt_blocks(tr, bl, "bwd"),
            "freed_in_bwd": [{"op": b["op"], "bytes": b["bytes"], "free_op": b.get("free_op")}
                             for b in bl if phase_of(tr, b["t0"]) == "fwd"
                             and phase_of(tr, b["t1"]) == "bwd"],
            "freed_at_del": [{"op": b["op"], "bytes": b["bytes"]} for b in bl
                             if phase_of(tr, b["t1"]) == "del"],
            "saved_extra": retained - sum(b["bytes"] for b in fwd_blocks
                                          if b["freed_in"] == "del"),
            **grads}
    return rec


# ----------------------------------------------------------------------------------------------

def op_probes():
    S = (N, C, H, W)
    P = []
    add = P.append
    add(probe("conv3x3 16->32 p1", lambda: nn.Conv2d(16, 32, 3, padding=1), [S]))
    add(probe("conv3x3 16->32 p1 nobias", lambda: nn.Conv2d(16, 32, 3, padding=1, bias=False),
              [S]))
    add(probe("conv1x1 16->32", lambda: nn.Conv2d(16, 32, 1), [S]))
    add(probe("conv3x3 16->32 s2 p1", lambda: nn.Conv2d(16, 32, 3, stride=2, padding=1), [S]))
    add(probe("conv7x7 3->16 s2 p3 (stem)", lambda: nn.Conv2d(3, 16, 7, stride=2, padding=3),
              [(N, 3, 64, 64)]))
    add(probe("depthwise conv3x3 16 g16", lambda: nn.Conv2d(16, 16, 3, padding=1, groups=16,
                                                            bias=False), [S]))
    add(probe("conv5x5 16->8 p2", lambda: nn.Conv2d(16, 8, 5, padding=2), [S]))
    add(probe("batchnorm2d 16", lambda: nn.BatchNorm2d(16), [S]))
    add(probe("relu", lambda: nn.ReLU(), [S]))
    add(probe("relu inplace", lambda: nn.ReLU(inplace=True), [S]))
    add(probe("relu6 inplace", lambda: nn.ReLU6(inplace=True), [S]))
    add(probe("relu6", lambda: nn.ReLU6(), [S]))
    add(probe("leaky_relu 0.1", lambda: nn.LeakyReLU(0.1), [S]))
    add(probe("leaky_relu 0.1 inplace", lambda: nn.LeakyReLU(0.1, inplace=True), [S]))
    add(probe("sigmoid", lambda: nn.Sigmoid(), [S]))
    add(probe("tanh", lambda: nn.Tanh(), [S]))
    add(probe("silu", lambda: nn.SiLU(), [S]))
    add(probe("gelu", lambda: nn.GELU(), [S]))
    add(probe("hardswish", lambda: nn.Hardswish(), [S]))
    add(probe("hardsigmoid", lambda: nn.Hardsigmoid(), [S]))
    add(probe("maxpool 2x2 s2", lambda: nn.MaxPool2d(2, 2), [S]))
    add(probe("maxpool 3x3 s2 p1", lambda: nn.MaxPool2d(3, 2, 1), [S]))
    add(probe("maxpool 3x3 s2 ceil", lambda: nn.MaxPool2d(3, 2, ceil_mode=True), [S]))
    add(probe("avgpool 2x2 s2", lambda: nn.AvgPool2d(2, 2), [S]))
    add(probe("avgpool 3x3 s1 p1", lambda: nn.AvgPool2d(3, 1, 1), [S]))
    add(probe("adaptive avgpool 1x1", lambda: nn.AdaptiveAvgPool2d(1), [S]))
    add(probe("adaptive avgpool 7x7", lambda: nn.AdaptiveAvgPool2d(7), [S]))
    add(probe("adaptive maxpool 1x1", lambda: nn.AdaptiveMaxPool2d(1), [S]))
    add(probe("mean(2,3)", lambda: (lambda x: x.mean((2, 3))), [S]))
    add(probe("flatten", lambda: nn.Flatten(), [S]))
    add(probe("linear 512->1000", lambda: nn.Linear(512, 1000), [(N, 512)]))
    add(probe("linear 512->1000 nobias", lambda: nn.Linear(512, 1000, bias=False), [(N, 512)]))
    add(probe("linear 4096->4096 N=8", lambda: nn.Linear(4096, 4096), [(8, 4096)]))
    add(probe("dropout 0.5", lambda: nn.Dropout(0.5), [S]))
    add(probe("dropout 0.5 inplace", lambda: nn.Dropout(0.5, inplace=True), [S]))
    add(probe("dropout 0.5 on [N,4096]", lambda: nn.Dropout(0.5), [(8, 4096)]))
    add(probe("dropout2d 0.5", lambda: nn.Dropout2d(0.5), [S]))
    add(probe("softmax dim1 [N,1000]", lambda: nn.Softmax(1), [(N, 1000)]))
    add(probe("log_softmax dim1 [N,1000]", lambda: nn.LogSoftmax(1), [(N, 1000)]))
    add(probe("softmax dim1 NCHW", lambda: nn.Softmax(1), [S]))
    add(probe("upsample nearest x2", lambda: nn.Upsample(scale_factor=2, mode="nearest"), [S]))
    add(probe("upsample bilinear x2", lambda: nn.Upsample(scale_factor=2, mode="bilinear",
                                                          align_corners=False), [S]))
    add(probe("cat 2x [2,16,32,32] dim1", lambda: (lambda a, b: torch.cat([a, b], 1)), [S, S]))
    add(probe("cat 3x dim1 (8,16,24 ch)", lambda: (lambda a, b, c: torch.cat([a, b, c], 1)),
              [(N, 8, H, W), (N, 16, H, W), (N, 24, H, W)]))
    add(probe("add a+b", lambda: (lambda a, b: a + b), [S, S]))
    add(probe("add_ inplace a+=b", lambda: (lambda a, b: a.add_(b)), [S, S]))
    add(probe("mul a*b", lambda: (lambda a, b: a * b), [S, S]))
    add(probe("mul by per-channel [N,C,1,1] (SE)", lambda: (lambda a, b: a * b),
              [S, (N, C, 1, 1)]))
    add(probe("local_response_norm size5", lambda: nn.LocalResponseNorm(5), [S]))
    add(probe("cross_entropy [N,1000] (sum of loss probe)",
              lambda: (lambda z: F.cross_entropy(z, torch.tensor([3, 7]))), [(N, 1000)],
              grad_out=lambda out: torch.ones_like(out)))
    add(probe("cross_entropy [8,1000]",
              lambda: (lambda z: F.cross_entropy(z, torch.arange(8))), [(8, 1000)],
              grad_out=lambda out: torch.ones_like(out)))
    return P


def conv_probes():
    """Convolutions of real layer shapes: oneDNN's reorder buffers depend on the shape."""
    cases = [
        ("stem 3->64 k7 s2 p3 224, N=1", 1, 3, 64, 224, 7, 2, 3, 1),
        ("3->64 k3 p1 224 (vgg conv1_1), N=1", 1, 3, 64, 224, 3, 1, 1, 1),
        ("64->64 k3 p1 56, N=1", 1, 64, 64, 56, 3, 1, 1, 1),
        ("64->64 k3 p1 56, N=2", 2, 64, 64, 56, 3, 1, 1, 1),
        ("64->128 k3 s2 p1 56, N=1", 1, 64, 128, 56, 3, 2, 1, 1),
        ("64->128 k1 s2 56 (downsample), N=1", 1, 64, 128, 56, 1, 2, 0, 1),
        ("256->64 k1 56, N=1", 1, 256, 64, 56, 1, 1, 0, 1),
        ("64->256 k1 56, N=1", 1, 64, 256, 56, 1, 1, 0, 1),
        ("512->512 k3 p1 7, N=1", 1, 512, 512, 7, 3, 1, 1, 1),
        ("512->512 k3 p1 14, N=2", 2, 512, 512, 14, 3, 1, 1, 1),
        ("dw 32 k3 p1 112, N=1", 1, 32, 32, 112, 3, 1, 1, 32),
        ("dw 96 k3 s2 p1 112, N=1", 1, 96, 96, 112, 3, 2, 1, 96),
        ("12->20 k3 p1 32, N=2 (C not /8)", 2, 12, 20, 32, 3, 1, 1, 1),
        ("20->12 k3 p1 32, N=2 (C not /8)", 2, 20, 12, 32, 3, 1, 1, 1),
        ("32->1000 k1 13 (squeezenet conv10), N=1", 1, 512, 1000, 13, 1, 1, 0, 1),
        ("alexnet conv1 3->64 k11 s4 p2 224, N=1", 1, 3, 64, 224, 11, 4, 2, 1),
    ]
    res = []
    for name, n, ci, co, hw, k, s, p, g in cases:
        rec = probe(name, lambda: nn.Conv2d(ci, co, k, stride=s, padding=p, groups=g),
                    [(n, ci, hw, hw)])
        rec["weight_bytes"] = co * (ci // g) * k * k * 4
        rec["input_requires_grad"] = True
        rec["in_bytes"] = n * ci * hw * hw * 4
        ho = (hw + 2 * p - k) // s + 1
        rec["out_bytes"] = n * co * ho * ho * 4
        res.append(rec)
        print(name, flush=True)
    # first layer of a network: the input batch does not require grad, no grad_input
    for name, n, ci, co, hw, k, s, p, g in [cases[0], cases[1], cases[2], cases[15]]:
        rec = probe(name + " [input without grad]",
                    lambda: nn.Conv2d(ci, co, k, stride=s, padding=p, groups=g),
                    [(n, ci, hw, hw)], infer=False, input_grad=False)
        rec["weight_bytes"] = co * (ci // g) * k * k * 4
        rec["input_requires_grad"] = False
        rec["in_bytes"] = n * ci * hw * hw * 4
        ho = (hw + 2 * p - k) // s + 1
        rec["out_bytes"] = n * co * ho * ho * 4
        res.append(rec)
    return res


# ----------------------------------------------------------------------------------------------

def optimizer_probes():
    """Optimizer state and step transients.  Params: several sizes, grads random."""
    res = []
    layouts = {
        "one 4 MiB tensor": [(1024, 1024)],
        "four 1 MiB tensors": [(512, 512)] * 4,
        "4 MiB + 1 MiB + 256 KiB + 100x1 KiB": [(1024, 1024), (512, 512), (256, 256)]
        + [(256,)] * 100,
    }
    for lname, shapes in layouts.items():
        for oname, kw in [("sgd", dict(lr=0.01)), ("momentum", dict(lr=0.01, momentum=0.9)),
                          ("adam", dict(lr=1e-3)), ("adamw", dict(lr=1e-3))]:
            for impl in ("default", "foreach", "forloop"):
                if impl == "foreach":
                    kw2 = dict(kw, foreach=True)
                elif impl == "forloop":
                    kw2 = dict(kw, foreach=False)
                else:
                    kw2 = dict(kw)
                cls = {"sgd": torch.optim.SGD, "momentum": torch.optim.SGD,
                       "adam": torch.optim.Adam, "adamw": torch.optim.AdamW}[oname]
                params = [nn.Parameter(torch.randn(s)) for s in shapes]
                for p in params:
                    p.grad = torch.randn_like(p)
                opt = cls(params, **kw2)
                pb = storage_bytes(params)
                maxp = max(p.numel() * 4 for p in params)
                tr1, _ = trace(opt.step)  # first step: creates state
                state = storage_bytes([v for st in opt.state.values() for v in st.values()
                                       if isinstance(v, torch.Tensor)])
                nstate = sum(1 for st in opt.state.values() for v in st.values()
                             if isinstance(v, torch.Tensor))
                tr2, _ = trace(opt.step)  # steady state
                res.append({"layout": lname, "optimizer": oname, "impl": impl,
                            "param_bytes": pb, "max_param_bytes": maxp,
                            "n_params": len(params),
                            "state_bytes": state, "state_tensors": nstate,
                            "first_step_net": tr1.end, "first_step_peak": tr1.peak,
                            "first_step_transient": tr1.peak - tr1.end,
                            "step_peak": tr2.peak, "step_net": tr2.end,
                            "step_transient_over_params": round(tr2.peak / pb, 4),
                            "step_transient_over_max_param": round(tr2.peak / maxp, 4)})
    return res


# ----------------------------------------------------------------------------------------------

def amp_probes():
    """bf16 autocast: casts of weights (cached per forward), activation dtypes, saved tensors."""
    res = []
    S = (N, C, H, W)
    cases = {
        "conv3x3 16->32": (lambda: nn.Conv2d(16, 32, 3, padding=1), [S]),
        "conv3x3 16->32 nobias": (lambda: nn.Conv2d(16, 32, 3, padding=1, bias=False), [S]),
        "linear 512->1000": (lambda: nn.Linear(512, 1000), [(N, 512)]),
        "batchnorm2d 16 (fp32 input)": (lambda: nn.BatchNorm2d(16), [S]),
        "relu": (lambda: nn.ReLU(), [S]),
        "maxpool 2x2": (lambda: nn.MaxPool2d(2), [S]),
        "adaptive avgpool 1x1": (lambda: nn.AdaptiveAvgPool2d(1), [S]),
    }
    for name, (make, shapes) in cases.items():
        for inp_dtype in (torch.float32, torch.bfloat16):
            torch.manual_seed(0)
            m = make()
            params = list(m.parameters())
            m.train()

            def mk():
                leaves = [torch.randn(s, dtype=inp_dtype).requires_grad_() for s in shapes]
                return leaves, [t.clone() for t in leaves]

            leaves, xs = mk()
            with torch.autocast("cpu", dtype=torch.bfloat16):
                out = m(*xs)
            g = torch.randn_like(out)
            out.backward(g)
            del out
            for t in params:
                t.grad = None
            leaves, xs = mk()
            holder = {}

            def run():
                with record_function("probe:fwd"):
                    with torch.autocast("cpu", dtype=torch.bfloat16):
                        holder["out"] = m(*xs)
                    holder["dtype"] = str(holder["out"].dtype)
                with record_function("probe:bwd"):
                    holder["out"].backward(g)
                with record_function("probe:del"):
                    del holder["out"]

            tr, _ = trace(run)
            bl = blocks(tr)
            fw = window_stats(tr, "probe:fwd")
            bw = window_stats(tr, "probe:bwd")
            res.append({"name": name, "input_dtype": str(inp_dtype), "out_dtype": holder["dtype"],
                        "input_bytes": [int(torch.Size(s).numel()) * (4 if inp_dtype ==
                                        torch.float32 else 2) for s in shapes],
                        "param_bytes": [p.numel() * 4 for p in params],
                        "fwd_peak": fw["peak_above_start"], "fwd_retained": fw["net"],
                        "fwd_blocks": _fmt_blocks(tr, bl, "fwd"),
                        "bwd_peak_above_start": bw["peak_above_start"], "bwd_net": bw["net"],
                        "bwd_blocks": _fmt_blocks(tr, bl, "bwd"),
                        "param_grad_dtypes": [str(p.grad.dtype) for p in params
                                              if p.grad is not None]})
    # the cache: one weight used twice in one autocast region is cast once
    lin = nn.Linear(512, 512)
    x = torch.randn(N, 512)

    def twice():
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = lin(lin(x))
        return y

    twice()
    tr, _ = trace(twice)
    res.append({"name": "same linear applied twice in one autocast region",
                "blocks": [{"op": b["op"], "bytes": b["bytes"], "freed": b["t1"] is not None}
                           for b in blocks(tr)], "peak": tr.peak, "net": tr.end})
    return res


# ----------------------------------------------------------------------------------------------

def allocator_probes():
    res = {}
    for n in (1, 3, 5, 17, 1000):
        tr, _ = trace(lambda: torch.empty(n, dtype=torch.uint8))
        res[f"uint8[{n}]"] = [a.nbytes for a in tr.allocs]
    tr, _ = trace(lambda: torch.empty(0))
    res["float[0]"] = [a.nbytes for a in tr.allocs]
    x = torch.randn(10)
    tr, _ = trace(lambda: x.sum())
    res["x.sum() of float[10]"] = [(a.nbytes, _label(a.path)) for a in tr.allocs]
    tr, _ = trace(lambda: x.add(1))
    res["x.add(1) of float[10]"] = [(a.nbytes, _label(a.path)) for a in tr.allocs]
    y = torch.randn(1000)
    ptrs = [y.data_ptr() % 64]
    for n in (1, 3, 17, 1000):
        ptrs.append(torch.empty(n, dtype=torch.uint8).data_ptr() % 64)
    res["data_ptr % 64 of fresh tensors"] = ptrs
    return res


# ----------------------------------------------------------------------------------------------

def chain_probes():
    """Backward of short chains: when the engine frees incoming grads and saved tensors."""
    S = (N, C, H, W)
    res = []
    nets = {
        "conv-bn-relu_-conv": lambda: nn.Sequential(nn.Conv2d(16, 32, 3, padding=1),
                                                    nn.BatchNorm2d(32), nn.ReLU(inplace=True),
                                                    nn.Conv2d(32, 16, 3, padding=1)),
        "conv-relu-maxpool-flatten-linear": lambda: nn.Sequential(
            nn.Conv2d(16, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
            nn.Linear(32 * 16 * 16, 10)),
    }
    for name, make in nets.items():
        rec = probe(name, make, [S], infer=True)
        tr_events = []
        res.append(rec)
        del tr_events
    return res


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                  "results", "memory_probe.json"))
    ap.add_argument("--only", default=None, help="ops|optimizer|amp|allocator|chain")
    a = ap.parse_args(argv)
    torch.manual_seed(0)
    sections = {"allocator": allocator_probes, "ops": op_probes, "optimizer": optimizer_probes,
                "amp": amp_probes, "chain": chain_probes, "conv": conv_probes}
    data = {}
    if os.path.exists(a.out):
        with open(a.out) as fh:
            data = json.load(fh)
    data["meta"] = {"torch": torch.__version__, "threads": torch.get_num_threads(),
                    "input": [N, C, H, W], "dtype": "float32"}
    for k, fn in sections.items():
        if a.only and k not in a.only.split(","):
            continue
        data[k] = fn()
        os.makedirs(os.path.dirname(a.out), exist_ok=True)
        with open(a.out, "w") as fh:
            json.dump(data, fh, indent=1)
        print("done", k, flush=True)


if __name__ == "__main__":
    main()
