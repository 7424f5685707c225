"""What one op holds during a training step: the vocabulary the layer classes answer in.

A layer's `step_ops` returns one `Op` per PyTorch op it runs (a conv with a fused ReLU is two:
the convolution, then ReLU in place). Every figure is in bytes for the whole batch. The rules
come from PyTorch's tools/autograd/derivatives.yaml (what each backward formula reads, hence
what the forward saves) and from the measurements in docs/memory-measurements.md (torch 2.13,
CPU: what the kernels allocate on the way). analysis/step.py walks these ops in order.
"""

from __future__ import annotations

from dataclasses import dataclass

NEW, IN_PLACE_OP, VIEW_OP = "new", "in place", "view"  # how an op's output is held
CHANNEL_BLOCK = 8  # oneDNN's blocked layout on AVX2 (nChw8c): channels padded to 8
THIN_INPUT = 8  # inputs with fewer channels are not reordered (measured on AVX2 and AVX-512)
CPU_THREADS = 2  # intra-op threads of the measured machine (oneDNN's per-thread buffers)
GEMM_COPIES = 4  # weight-gradient accumulators per thread in oneDNN's gemm fallback


@dataclass(frozen=True)
class CpuIsa:
    """What oneDNN does differently by instruction set (docs/memory.md, "Instruction set").
    channel_block: the blocked layout's channel block (nChw8c on AVX2, nChw16c on AVX-512);
    onednn_bf16: autocast's bf16 convolutions take oneDNN's blocked path (mkldnn_convolution)
    instead of ATen's slow im2col path (_slow_conv2d): on AVX-512 (avx512_core) and newer,
    with or without native bf16 instructions (measured: ONEDNN_MAX_CPU_ISA=AVX512_CORE on a
    machine with AVX512_BF16 still takes mkldnn_convolution; =AVX2 takes _slow_conv2d);
    gemm_fallback: a conv whose input is smaller than its kernel falls back to oneDNN's gemm
    kernel with per-thread weight-gradient accumulators (AVX2; on AVX-512 the jit kernel
    runs, measured: ResNet-18 at 64x64, Adam, batch 2: 250,464,112 B with
    ONEDNN_MAX_CPU_ISA=AVX2, 206,053,752 B without, on the same AVX-512 machine)."""

    name: str
    channel_block: int
    onednn_bf16: bool
    gemm_fallback: bool
    thin_reorder: bool  # the weight gradient of a conv on a 1-channel input reorders it
    # into a channel block (AVX2, measured on 1 -> 6, 8, 16 channels); on AVX-512 not
    # (measured on LeNet-5's C1 at batch 8: float32 reorders only grad_output; bf16 neither)


AVX2 = CpuIsa("avx2", 8, onednn_bf16=False, gemm_fallback=True, thin_reorder=True)
AVX512 = CpuIsa("avx512", 16, onednn_bf16=True, gemm_fallback=False, thin_reorder=False)
ISAS = {isa.name: isa for isa in (AVX2, AVX512)}


@dataclass(frozen=True)
class StepContext:
    """The settings one op is costed at."""

    batch: int
    act: int  # bytes per activation value (--dtype; bf16/fp16 under --amp)
    param: int  # bytes per parameter value (float32 master weights under --amp)
    amp: bool = False
    backend: str | None = None  # None: framework level; "cpu"; "cuda"
    grad: bool = True  # autograd records (training); False: no_grad (inference)
    in_bytes: int = 0  # bytes per value of this op's first input (the fp32 batch under amp)
    input_grad: bool = True  # the op's input needs a gradient (False: it reads the batch)
    inplace: bool = True  # activations may work in place (--no-inplace: never)
    isa: CpuIsa = AVX2  # the CPU's instruction set (backend "cpu"; analysis/machine.py)

    def values(self, shape) -> int:
        """Bytes of one activation tensor of this shape for the whole batch."""
        return self.batch * shape.size * self.act


@dataclass(frozen=True)
class Op:
    """One op's part of a step, bytes for the batch. `output` is what the op allocates for
    its result (0 when it works in place or returns a view). `saves_input`/`saves_output`:
    the backward formula reads them, so they live until this op's backward. `saved`: extra
    tensors made in forward and freed in its backward (indices, masks, statistics, casts).
    Transients are freed within the op: at its peak they sit on top of what it keeps."""

    name: str = ""
    output: int = 0
    held: str = NEW  # NEW, IN_PLACE_OP or VIEW_OP
    saves_input: bool = False
    saves_output: bool = False
    saved: int = 0
    cached: int = 0  # autocast's low-precision weight copy: held until the autocast region
    # ends, and (recorded) until this op's backward
    forward_transient: int = 0
    grad_inputs: bool = True  # allocates its inputs' gradients (False: passes its own on)
    grad_is_view: bool = False  # what it passes on is a slice of its gradient (concat)
    grad_count: int | None = None  # inputs that get a gradient (None: all; 1: the others
    # only give a size, as upsample's and crop's second input)
    backward_transient: int = 0


def padded(channels: int, block: int = CHANNEL_BLOCK) -> int:
    """Channels rounded up to oneDNN's channel block (8 on AVX2, 16 on AVX-512)."""
    return -(-channels // block) * block


def conv_transients(ctx: StepContext, x, y, weight_values: int, bias_values: int,
                    columns: int, depthwise: bool = False,
                    taps_over_input: int = 0, strided_3d: bool = False) -> tuple[int, int]:
    """(forward, backward) transients of a convolution, by backend.

    cpu, float32 (oneDNN, docs/memory-measurements.md): the forward reorders its input and
    weight into blocked copies and writes a temporary output: peak over the op =
    max(in_r + w_r + out_tmp, out_tmp + out), i.e. out + max(in + w, out) (no input reorder
    when C_in < 8: 2 out). The backward reorders grad_output, input and weight, and makes
    temporaries of the weight gradients: max(out + in, w + b) beyond what it keeps (out alone
    when the input needs no gradient, out + the input padded to 8 channels when it has one
    channel: measured on 1 -> 6, 8, 16 channels; 3-channel inputs are not reordered).
    Channels are padded to the ISA's block: 8 on AVX2, 16 on AVX-512 (ctx.isa).
    When the input is smaller than the kernel (a 3x3 conv on 2x2 or 1x1 maps: ResNet's
    last stage at 64x64) and the batch is over 1, oneDNN falls back to its gemm kernel,
    whose weight gradient takes 4 accumulators per thread (measured on 2 threads: 8.0 w + C_out
    x taps x 32 B; on 1 thread 4.0 w): `taps_over_input` is the kernel's taps when so.
    On AVX-512 the jit kernel runs there: no fallback (ctx.isa.gemm_fallback).
    cpu under bf16 autocast on AVX2: the slow path's im2col column buffer
    (batch x C_in k k x H_out W_out) in forward and again in backward. On AVX-512
    oneDNN's blocked path, the float32 rules at 2 bytes a value
    (measured on LeNet-5: a 16-channel-padded bf16 temporary output, 8x28x28x16x2 B).
    cuda: cuDNN's workspace, modelled as one im2col matrix (unmeasured).
    """
    if ctx.backend is None:
        return 0, 0
    if ctx.backend == "cuda":
        work = ctx.batch * columns * ctx.act
        return work, work
    if ctx.amp and not ctx.isa.onednn_bf16:
        cols = ctx.batch * columns * ctx.act
        out = ctx.batch * y.size * ctx.act
        return cols, max(cols, 2 * out)
    n, width, block = ctx.batch, ctx.act, ctx.isa.channel_block
    cin, cout = padded(x.c, block), padded(y.c, block)
    in_r = n * x.positions * cin * width
    out_tmp = n * y.positions * cout * width
    scale = (cout / y.c) * (1 if depthwise else cin / x.c)  # the weight's padded channels
    w_r = int(weight_values * scale) * width
    b = bias_values * width
    # beyond the output it keeps; a thin input is not reordered: out_tmp, then out
    forward = out_tmp if x.c < THIN_INPUT and not depthwise else max(in_r + w_r, out_tmp)
    if ctx.input_grad:
        backward = max(out_tmp + in_r, w_r + b)
    else:  # AVX2: a single input channel is reordered into a block of 8 for the weight
        # gradient; AVX-512 reorders grad_output alone, and under bf16 (on a thin input)
        # neither (LeNet-5's C1 at batch 8: its weight and bias gradients and a 42,136 B
        # scratchpad)
        thin = in_r if x.c == 1 and ctx.isa.thin_reorder else 0
        grad_out = 0 if ctx.amp and x.c < THIN_INPUT else out_tmp
        backward = max(grad_out + thin, w_r + b)
    if strided_3d and ctx.input_grad:  # a strided 3-D conv's backward makes its input
        # gradient twice (measured: Conv3d 16 -> 32, stride 2, allocates two input-sized
        # tensors in convolution_backward where stride 1 allocates one)
        backward += n * x.size * width
    if taps_over_input and ctx.batch > 1 and ctx.isa.gemm_fallback:
        copies = GEMM_COPIES * CPU_THREADS
        backward = max(backward, copies * (weight_values + y.c * taps_over_input) * width)
    return (forward, backward) if ctx.grad else (forward, 0)


def amp_casts(ctx: StepContext, weight_values: int, input_values: int) -> tuple[int, int]:
    """Autocast's low-precision copies (measured, bf16 on the CPU): (the weight's, cached for
    the region and saved for backward; a float32 input's (the batch) cast down and saved)."""
    if not ctx.amp:
        return 0, 0
    cast_input = input_values * ctx.act if ctx.in_bytes > ctx.act and ctx.grad else 0
    return weight_values * ctx.act, cast_input


def activation_op(name: str, ctx: StepContext, shape, in_place: bool, keeps: str,
                  copy_in_place: bool = False) -> Op:
    """An elementwise activation. `keeps`: what derivatives.yaml's backward reads, "result"
    (relu, sigmoid, tanh, softmax, leaky_relu_ in place) or "self" (silu, gelu, hardswish,
    relu6 and leaky_relu out of place). `copy_in_place`: the in-place form saves a copy of its
    input (hardtanh_/relu6_, measured: an input-sized tensor kept until its backward)."""
    size = ctx.values(shape)
    copy = in_place and copy_in_place
    return Op(name, output=0 if in_place else size, held=IN_PLACE_OP if in_place else NEW,
              saves_input=keeps == "self" and not copy, saves_output=keeps == "result",
              saved=size if copy and ctx.grad else 0)
