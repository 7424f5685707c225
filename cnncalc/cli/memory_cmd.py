"""memory: will it fit, and at what batch size."""

from __future__ import annotations

from dataclasses import dataclass

import typer

from ..analysis.memory_report import MemorySettings
from ..analysis.simulate import BACKENDS
from ..analysis.parallel import STRATEGIES, Parallel
from ..layers.stepmem import ISAS
from ..conventions import DTYPES, MODES, OPTIMIZERS
from ..language.budget import parse_size
from ..errors import CnnCalcError, Diagnostic, Span, show
from .common import (
    FORCE_HELP,
    FORMATS,
    SPEC_OR_PROJECT_HELP,
    Target,
    app,
    each_spec,
    check_choice,
    console,
    fail,
    load_network,
    parse_args,
    parse_inputs,
    plain,
)


@app.command()
def memory(
    spec: str | None = typer.Argument(None, help=SPEC_OR_PROJECT_HELP),
    batch: str | None = typer.Option(None, "--batch", help="batch size, or a list: 1,8,64 "
                                     "(default 1, or [tool.cnncalc] batch)"),
    dtype: str | None = typer.Option(None, "--dtype", help="float32 (default, or [tool.cnncalc] "
                                     "dtype), float16, bfloat16, float64 or int8"),
    mode: str = typer.Option("inference", "--mode", help="inference or training"),
    optimizer: str = typer.Option("sgd", "--optimizer", help="sgd, momentum or adam"),
    device_memory: str | None = typer.Option(None, "--device-memory",
                                                help="answer the largest batch that fits, e.g. 24GiB"),
    inplace: bool = typer.Option(True, "--inplace/--no-inplace",
                                 help="ReLU and dropout overwrite their input (default)"),
    backend: str | None = typer.Option(None, "--backend", help="cpu or cuda: add what the "
                                       "backend's kernels and allocator hold (cuda: unmeasured)"),
    device: str | None = typer.Option(None, "--device", help="a device of `cnncalc devices` "
                                      "(capacity and backend: a GPU is cuda, cpu is cpu)"),
    cuda_context: str | None = typer.Option(None, "--cuda-context", help="cuda: the CUDA "
                                            "context's size (default 287MiB)"),
    max_split_size_mb: str | None = typer.Option(None, "--max-split-size-mb", help="cuda: "
                                                 "the allocator's max_split_size_mb (> 20)"),
    expandable_segments: bool = typer.Option(False, "--expandable-segments", help="cuda: "
                                             "the allocator's expandable_segments:True"),
    gpus: str | None = typer.Option(None, "--gpus", help="data-parallel devices: the figures "
                                    "are per device, --batch is per device"),
    global_batch: str | None = typer.Option(None, "--global-batch", help="with --gpus: the "
                                            "batch of one step over every device (split "
                                            "evenly; instead of --batch)"),
    strategy: str | None = typer.Option(None, "--strategy", help="with --gpus: ddp (default), "
                                        "fsdp, zero1, zero2 or zero3"),
    bucket_view: bool = typer.Option(False, "--bucket-view", help="ddp: "
                                     "gradient_as_bucket_view=True"),
    free_at_last_use: bool = typer.Option(False, "--free-at-last-use", help="free a tensor "
                                          "named by a later layer after its last reader "
                                          "(default: it lives until its block returns)"),
    isa: str | None = typer.Option(None, "--isa", help="with --backend cpu: avx2 or avx512 "
                                   "(oneDNN's kernels; default: this machine's)"),
    amp: bool = typer.Option(False, "--amp", help="mixed precision (torch.autocast): float32 "
                             "weights, gradients and optimizer state, --dtype activations"),
    checkpoint: str | None = typer.Option(None, "--checkpoint", help="activation checkpointing "
                                          "in N segments (checkpoint_sequential; training)"),
    micro_batch: str | None = typer.Option(None, "--micro-batch", help="gradient accumulation: "
                                           "samples per forward and backward (training)"),
    timeline: bool = typer.Option(False, "--timeline", help="live bytes through the step"),
    input: str | None = typer.Option(None, "--input",
                                     help="override the input: HxWxC, or a sweep 224,320,384"),
    format: str = typer.Option("table", "--format",
                               help="table, json, csv, markdown, html or svg"),
    output: str | None = typer.Option(None, "-o", "--output", help="write to FILE instead"),
    force: bool = typer.Option(False, "--force", help=FORCE_HELP),
    layers: bool = typer.Option(False, "--layers", help="also the table of every layer"),
    depth: int | None = typer.Option(None, "--depth", min=0, help="with --layers: blocks "
                                     "nested deeper than N as one line each"),
    arg: list[str] = typer.Option([], "--arg", help="set a spec argument, NAME=VALUE"),
    convention: str | None = typer.Option(None, "--convention", help="also torchinfo's or "
                                          "torchsummary's figures, by that tool's rules"),
):
    """Memory for inference and training at any batch size and dtype."""
    try:
        batch = per_device(global_batch, gpus, batch) if global_batch is not None else batch
    except CnnCalcError as exc:
        fail(exc)

    def one(name: str, project) -> None:
        memory_one(name, batch or str(getattr(project, "batch", None) or 1),
                   dtype or getattr(project, "dtype", None) or "float32", mode, optimizer,
                   device_memory, inplace, backend, amp, checkpoint, micro_batch, timeline, input,
                   format, output, force, layers, depth, arg, convention,
                   CudaOptions(device, cuda_context, max_split_size_mb, expandable_segments,
                               isa, gpus, strategy, bucket_view, free_at_last_use))
    each_spec(spec, "memory", one, output)


def memory_one(spec, batch, dtype, mode, optimizer, device_memory, inplace, backend, amp,
               checkpoint, micro_batch, timeline, input, format, output, force, layers, depth,
               arg, convention, extra: CudaOptions | None = None) -> None:
    from ..analysis.memory_report import memory_report
    from ..render.memory_formats import MemoryView, render_memory
    target = Target(output, force, spec)
    try:
        check_choice("--format", format, FORMATS)
        settings = memory_settings(batch, dtype, mode, optimizer, device_memory, inplace,
                                   backend, amp, checkpoint, micro_batch, extra)
        network = load_network(spec, None, parse_args(arg))
        shapes = (parse_inputs(input, network.input_shape.c, network.input_shape.rank)
                  or [network.input_shape])
        reports = []
        for shape in shapes:
            network.input_shape = shape
            reports.append(memory_report(network, settings))
        peer = peer_figures(reports[-1], convention, shapes)
    except CnnCalcError as exc:
        fail(exc)
    shown = render_memory(MemoryView(tuple(reports), tuple(shapes), peer, layers, depth,
                                     timeline), format)
    if isinstance(shown, str):
        return target.emit(shown)
    return target.emit(plain(shown)) if output else console().print(shown)


def memory_settings(batch: str, dtype: str, mode: str, optimizer: str,
                    device_memory: str | None, inplace: bool, backend: str | None, amp: bool,
                    checkpoint: str | None, micro_batch: str | None,
                    extra: CudaOptions | None = None) -> MemorySettings:
    """The options, checked, as the settings the core takes."""
    batches = parse_batches(batch)
    check_choice("--dtype", dtype, tuple(DTYPES))
    check_choice("--mode", mode, MODES)
    check_choice("--optimizer", optimizer, OPTIMIZERS)
    if backend is not None:
        check_choice("--backend", backend, BACKENDS)
    for option, given in (("--checkpoint", checkpoint), ("--micro-batch", micro_batch)):
        if given is not None and mode != "training":  # no backward: nothing to recompute
            raise CnnCalcError(Diagnostic(Span(option), "applies to training only; add --mode "
                                          "training", received=show(given)))
    extra = extra or CudaOptions()
    isa = extra.isa
    device_name, major, capacity = None, 0, None
    if extra.device is not None:
        device_name, device_backend, capacity, major = memory_device(extra.device)
        if backend is not None and backend != device_backend:
            raise CnnCalcError(Diagnostic(Span("--backend"), f"disagrees with --device "
                                          f"{device_name} (a {device_backend} device)",
                                          received=show(backend)))
        backend = device_backend
    cuda_only = [(name, value) for name, value in (
        ("--cuda-context", extra.cuda_context), ("--max-split-size-mb", extra.max_split_size_mb),
        ("--expandable-segments", extra.expandable_segments or None)) if value is not None]
    if cuda_only and backend != "cuda":
        raise CnnCalcError(Diagnostic(Span(cuda_only[0][0]), "needs --backend cuda or a GPU "
                                      "--device", received=show(str(cuda_only[0][1]))))
    context = parse_size(extra.cuda_context) if extra.cuda_context is not None else None
    split = positive("--max-split-size-mb", extra.max_split_size_mb, "a size in MiB over 20")
    if split is not None and split <= 20:  # CUDAAllocatorConfig: "max_split_size_mb too
        # small, must be > 20" (kLargeBuffer / MiB)
        raise CnnCalcError(Diagnostic(Span("--max-split-size-mb"), "must be over 20 (PyTorch "
                                      "refuses smaller)", received=show(extra.max_split_size_mb)))
    if isa is not None:
        check_choice("--isa", isa, tuple(ISAS))
        if backend != "cpu":
            raise CnnCalcError(Diagnostic(Span("--isa"), "needs --backend cpu (it picks "
                                          "oneDNN's CPU kernels)", received=show(isa)))
    segments, micro = step_options(amp, dtype, checkpoint, micro_batch, batches)
    device = parse_size(device_memory) if device_memory else capacity  # --device-memory
    # overrides the table's capacity
    return MemorySettings(tuple(batches), dtype, mode, optimizer, device, inplace, backend,
                          amp, segments, micro, isa, device_name, context, split,
                          extra.expandable_segments, major, parallel_of(extra),
                          extra.free_at_last_use)


@dataclass(frozen=True)
class CudaOptions:
    """The device options: --device, the CUDA allocator's, --isa."""

    device: str | None = None
    cuda_context: str | None = None
    max_split_size_mb: str | None = None
    expandable_segments: bool = False
    isa: str | None = None
    gpus: str | None = None
    strategy: str | None = None
    bucket_view: bool = False
    free_at_last_use: bool = False


def parallel_of(extra: CudaOptions) -> Parallel:
    """--gpus, --strategy, --bucket-view checked."""
    gpus = positive("--gpus", extra.gpus, "a number of devices, 1 or more") or 1
    strategy = extra.strategy
    if strategy is not None:
        check_choice("--strategy", strategy, STRATEGIES)
        if gpus < 2:
            raise CnnCalcError(Diagnostic(Span("--strategy"), "splits work over devices: "
                                          "needs --gpus 2 or more", received=show(strategy)))
    strategy = strategy or ("ddp" if gpus > 1 else None)
    if extra.bucket_view and strategy != "ddp":
        raise CnnCalcError(Diagnostic(Span("--bucket-view"), "is DDP's option: needs --gpus "
                                      "2 or more with --strategy ddp",
                                      received=show(strategy or "one device")))
    return Parallel(gpus, strategy, extra.bucket_view)


def memory_device(text: str) -> tuple[str, str, int | None, int]:
    """--device NAME: (name, backend, capacity, compute capability major) from the device
    table; did-you-mean when unknown. The table's measured device (this machine) is the cpu
    backend."""
    from ..analysis.devices import lookup, table
    entry = table().get(text.strip().lower())
    if entry is not None and entry.measured:
        return entry.name, "cpu", None, 0
    device = lookup(text)
    return device.name, "cuda", device.memory_bytes, device.compute_major


def peer_figures(report, convention: str | None, shapes):
    """--convention: torchinfo's or torchsummary's figures (analysis/peer_memory.py), or None."""
    if convention is None:
        return None
    from ..analysis.peer_memory import CONVENTIONS, peer_figures as figures
    check_choice("--convention", convention, CONVENTIONS)
    if len(shapes) > 1:
        raise CnnCalcError(Diagnostic(Span("--convention"), "takes one input size, not an "
                                      "--input sweep", received=f"{len(shapes)} sizes"))
    return figures(report.network, report.analysis, convention, report.batch,
                   DTYPES[report.dtype])


def per_device(global_batch: str, gpus: str | None, batch: str | None) -> str:
    """--global-batch N over --gpus G: N / G samples per device (N must divide)."""
    if batch is not None:
        raise CnnCalcError(Diagnostic(Span("--global-batch"), "replaces --batch (the batch per "
                                      "device): give one of them", received=show(global_batch)))
    devices = positive("--gpus", gpus, "a number of devices, 1 or more") or 1
    total = positive("--global-batch", global_batch, "a number of samples, 1 or more")
    if total % devices:
        raise CnnCalcError(Diagnostic(Span("--global-batch"), f"must divide over the {devices} "
                                      f"devices of --gpus (a whole batch per device)",
                                      received=show(global_batch)))
    return str(total // devices)


def parse_batches(text: str) -> list[int]:
    items = [item.strip() for item in text.split(",")]
    if not all(item.isascii() and item.isdigit() and len(item) <= 12 and int(item) > 0
               for item in items):
        raise CnnCalcError(Diagnostic(Span("--batch"), "must be a positive integer or a list "
                                      "such as 1,8,64", received=show(text)))
    return [int(item) for item in items]


def step_options(amp: bool, dtype: str, checkpoint: str | None, micro_batch: str | None,
                 batches: list[int]) -> tuple[int | None, int | None]:
    """Check --amp, --checkpoint and --micro-batch; return (segments, micro-batch)."""
    if amp and dtype not in ("float16", "bfloat16"):
        raise CnnCalcError(Diagnostic(Span("--amp"), "needs --dtype float16 or bfloat16 (the "
                                      "precision autocast computes in)", received=show(dtype)))
    segments = positive("--checkpoint", checkpoint, "a number of segments, 1 or more")
    micro = positive("--micro-batch", micro_batch, "a number of samples, 1 or more")
    for b in batches if micro else []:
        if micro > b or b % micro:
            raise CnnCalcError(Diagnostic(Span("--micro-batch"), f"must divide the batch ({b}) "
                                          "and be at most the batch", received=show(micro_batch)))
    return segments, micro


def positive(option: str, text: str | None, what: str) -> int | None:
    if text is None:
        return None
    value = text.strip()
    if not (value.isascii() and value.isdigit() and len(value) <= 12 and int(value) > 0):
        raise CnnCalcError(Diagnostic(Span(option), f"must be {what}", received=show(text)))
    return int(value)
