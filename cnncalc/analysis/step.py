"""One training step (or one forward) as PyTorch runs it, simulated tensor by tensor.

Each layer says what its ops allocate and save (`Layer.step_ops`, layers/stepmem.py); this
module walks them in order with PyTorch's lifetimes (docs/memory.md, "The step model"):
- forward: an op's output lives until its last reader has run and every op that saved it
  has run its backward; in-place ops write into their input's storage, views share it;
- backward, in reverse order (the engine's order for these graphs): an op allocates its
  inputs' gradients (or passes its own on: add, cat's slices, views), its parameters'
  gradients (kept until zero_grad), its transients; then its incoming gradient and what it
  saved are freed. A tensor read twice holds the first gradient until the second is added;
- the optimizer step with its state at rest and its transients (simulate.py's
  `optimizer_state` and `optimizer_transient`).
The peak, its breakdown and where it happens come out, with the timeline of live bytes.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace

from ..graph import INPUT, Network
from ..layers.base import ALLOCATES, IN_PLACE
from ..layers.stepmem import NEW, StepContext
from ..graph import allocation, readers

CATEGORIES = ("weights", "gradients", "optimizer_state", "saved_activations",
              "activation_gradients", "transients")


@dataclass
class Moment:
    phase: str
    layer: str
    live_bytes: int
    breakdown: dict = field(default_factory=dict)  # live bytes by category (CATEGORIES)


@dataclass
class Tracker:
    """Live blocks by category; the running total; the peak and its breakdown."""

    rounding: int = 1  # CUDA's caching allocator rounds every block up to 512 bytes
    blocks: dict = field(default_factory=dict)  # id -> (bytes, category, Counter of holders)
    by: Counter = field(default_factory=Counter)
    total: int = 0
    peak: int = -1
    peak_breakdown: dict = field(default_factory=dict)
    peak_phase: str = ""
    peak_layer: str = ""
    timeline: list = field(default_factory=list)
    next_id: int = 0
    events: list | None = None  # ("alloc", id, bytes) / ("free", id), when recorded (the
    # CUDA caching allocator replays them: cuda_allocator.py)

    def size(self, nbytes: int) -> int:
        return -(-nbytes // self.rounding) * self.rounding

    def alloc(self, nbytes: int, category: str, holder) -> int | None:
        if nbytes <= 0:
            return None
        nbytes = self.size(nbytes)
        self.next_id += 1
        self.blocks[self.next_id] = (nbytes, category, Counter([holder]))
        if self.events is not None:
            self.events.append(("alloc", self.next_id, nbytes))
        self.by[category] += nbytes
        self.total += nbytes
        return self.next_id

    def hold(self, block, holder) -> None:
        if block is not None:
            self.blocks[block][2][holder] += 1

    def holders(self, block) -> int:
        return sum(self.blocks[block][2].values()) if block in self.blocks else 0

    def release(self, block, holder) -> None:
        if block is None or block not in self.blocks:
            return
        nbytes, category, held = self.blocks[block]
        if held[holder] > 0:
            held[holder] -= 1
            if held[holder] == 0:
                del held[holder]
        if not held:
            if self.events is not None:
                self.events.append(("free", block))
            del self.blocks[block]
            self.by[category] -= nbytes
            self.total -= nbytes

    def moment(self, phase: str, layer: str, transient: int = 0) -> None:
        transient = self.size(transient) if transient > 0 else 0
        if self.events is not None and transient:  # made and freed within the op
            self.events += [("alloc", ("transient", len(self.timeline)), transient),
                            ("free", ("transient", len(self.timeline)))]
        live = self.total + transient
        breakdown = {c: self.by[c] for c in CATEGORIES}
        breakdown["transients"] += transient
        self.timeline.append(Moment(phase, layer, live, breakdown))
        if live > self.peak:
            self.peak, self.peak_phase, self.peak_layer = live, phase, layer
            self.peak_breakdown = breakdown


@dataclass(frozen=True)
class Planned:
    """One node ready to simulate: its ops and the tensors they read."""

    name: str
    inputs: tuple  # tensor keys: node index, or INPUT
    ops: tuple
    input_bytes: tuple  # bytes of each input tensor (their gradients' size)
    out_bytes: int
    grad: bool  # autograd records this node (its output needs a gradient)
    input_grads: tuple  # which inputs need a gradient
    param_bytes: int
    param_sizes: tuple  # bytes of each trainable tensor, parameters() order
    groups: tuple = ()  # the enclosing blocks, outermost first
    named: bool = False  # reads its inputs by name (`inputs:`): Python locals of the forward


def plan(network: Network, report, ctx: StepContext, inplace: bool = True) -> list[Planned]:
    """Each node's ops at these settings, with what needs a gradient."""
    read_by = readers(network)
    buffer, members = {INPUT: INPUT}, {INPUT: {INPUT}}
    needs = {INPUT: False}
    width = {INPUT: ctx.param if ctx.amp else ctx.act}  # the batch is float32 under autocast
    planned = []
    for index, (node, row) in enumerate(zip(network.nodes, report.rows, strict=False)):
        if not node.inputs:  # a named input beyond the first: fed in, as the first
            buffer[index], members[index], needs[index] = index, {index}, False
            width[index] = width[INPUT]
            planned.append(Planned(node.name, (), tuple(node.layer.step_ops(
                (), row.output_shape, ctx)), (), ctx.batch * row.output_shape.size
                * width[index], False, (), 0, (), node.groups))
            continue
        kind = allocation(node.layer, index, node.inputs, read_by, buffer, members, inplace)
        buffer[index] = buffer[node.inputs[0]] if kind != ALLOCATES else index
        members.setdefault(buffer[index], set()).add(index)
        x = row.input_shapes[0]
        own = [] if node.frozen else node.layer.parameter_sizes(x)
        sizes = [] if node.shares is not None else own  # shared weights: held by their owner
        input_grads = tuple(needs[i] for i in node.inputs)
        needs[index] = any(input_grads) or bool(own)
        width[index] = ctx.act
        node_ctx = replace(ctx, grad=ctx.grad and needs[index], in_bytes=width[node.inputs[0]],
                           input_grad=input_grads[0], inplace=inplace)
        ops = node.layer.step_ops(tuple(row.input_shapes), row.output_shape, node_ctx,
                                  in_place=kind == IN_PLACE)
        planned.append(Planned(
            node.name, tuple(node.inputs), tuple(ops),
            tuple(ctx.batch * s.size * width[i] for s, i in zip(row.input_shapes, node.inputs)),
            ctx.batch * row.output_shape.size * ctx.act, node_ctx.grad, input_grads,
            sum(sizes) * ctx.param, tuple(s * ctx.param for s in sizes), node.groups,
            "inputs" in node.key_spans))
    return planned


def held_by_names(nodes: list[Planned]) -> dict:
    """A tensor a later layer names (`inputs:`) is a local of the forward that computes it,
    as nets are usually written (and as `cnncalc export` writes them): it lives until the
    innermost block holding both it and its reader returns, the whole forward at the top
    level (U-Net's skip tensors). For each such tensor: the last node of that block."""
    last: dict = {(): len(nodes) - 1}
    for index, node in enumerate(nodes):
        for depth in range(1, len(node.groups) + 1):
            last[node.groups[:depth]] = index
    held: dict = {}
    for index, node in enumerate(nodes):
        if not node.named:
            continue
        for source in node.inputs:
            if source < 0 or source == index - 1:
                continue
            common = 0
            for a, b in zip(nodes[source].groups, node.groups):
                if a != b:
                    break
                common += 1
            held[source] = max(held.get(source, -1), last[node.groups[:common]])
    return held


def held_by_callers(nodes: list[Planned]) -> dict:
    """A block (a module in PyTorch) is called with its input bound to the caller's variable
    (`x = self.layer1(x)`, Sequential's `input = module(input)`): that tensor lives until
    the block returns. For each tensor entering a group from outside: the group's last node."""
    first: dict = {}
    last: dict = {}
    for index, node in enumerate(nodes):
        for group in node.groups:
            first.setdefault(group, index)
            last[group] = index
    held: dict = {}
    for group, start in first.items():
        end = last[group]
        for index in range(start, end + 1):
            for source in nodes[index].inputs:
                if source < start and end > held.get(source, -2):
                    held[source] = end
    return held


class Simulator:
    """Walks planned nodes forward and backward over one Tracker."""

    def __init__(self, nodes: list[Planned], mem: Tracker, hold_names: bool = True):
        self.nodes, self.mem, self.hold_names = nodes, mem, hold_names
        self.storage: dict = {}  # tensor key -> block
        self.saved: dict = {}  # (node, op) -> blocks it holds for its backward
        self.grad: dict = {}  # tensor key -> (block, is_view)
        self.param_grads: dict = {}  # node -> block, once made
        self.cache: list = []  # autocast's weight copies, until the region ends
        self.read_by: dict = {}
        for index, node in enumerate(nodes):
            for source in node.inputs:
                self.read_by.setdefault(source, []).append(index)
        self.grad_shard = 1  # ZeRO-2: each device keeps 1/N of every gradient
        self.units = None  # FSDP, ZeRO-3: the all-gathered units (parallel.Units)
        self.callers: dict = {}  # node -> tensors its block's caller lets go after it
        holds = held_by_callers(nodes)
        if hold_names:
            for source, until in held_by_names(nodes).items():
                holds[source] = max(holds.get(source, -1), until)
        for source, until in holds.items():
            self.read_by.setdefault(source, []).append(until)
            self.callers.setdefault(until, []).append(source)

    # --- forward ------------------------------------------------------------------------
    def forward(self, indices, phase: str = "forward", within=None, grad: bool = True,
                keep=()) -> None:
        """Run nodes `indices` in order. Readers outside `within` (a set of node indices)
        hold nothing (a recomputed segment's readers are its own); grad=False is no_grad;
        the outputs of nodes in `keep` are held ("kept") until the caller lets go."""
        for index in indices:
            node = self.nodes[index]
            if self.units:
                self.units.enter(index, phase != "forward", phase)
            sources = list(node.inputs)
            record = grad and node.grad
            last = len(node.ops) - 1
            for k, op in enumerate(node.ops):
                key = index if k == last else (index, k)
                if op.held == NEW and op.output > 0:
                    block = self.mem.alloc(op.output, "saved_activations", ("tmp", key))
                    if not node.inputs:  # a named input: the caller holds it, as the batch
                        self.mem.hold(block, ("batch",))
                else:
                    block = self.storage.get(sources[0])
                    self.mem.hold(block, ("tmp", key))
                self.storage[key] = block
                extra = []
                if record:
                    extra.append(self.mem.alloc(op.saved, "saved_activations", ("saved", key)))
                cast = self.mem.alloc(op.cached, "weights", ("autocast",))
                if cast is not None:
                    self.cache.append(cast)
                    if record:
                        self.mem.hold(cast, ("saved", key))
                        extra.append(cast)
                transient = op.forward_transient
                self.mem.moment(phase, node.name + ("" if k == 0 else f" ({op.name})"),
                                transient)
                if record:
                    held = [self.storage.get(s) for s in sources] if op.saves_input else []
                    if op.saves_output:
                        held.append(block)
                    for b in held:
                        self.mem.hold(b, ("saved", key))
                    self.saved[key] = [b for b in extra if b is not None] + held
                readers = [("sub", index, k + 1)] if k < last else [
                    r for r in self.read_by.get(index, []) if within is None or r in within]
                for r in readers:
                    self.mem.hold(block, ("read", r))
                if k == last and index == len(self.nodes) - 1:
                    self.mem.hold(block, ("output",))
                if k == last and index in keep:
                    self.mem.hold(block, ("kept",))
                for s in sources:  # this op has read them
                    self.mem.release(self.storage.get(s), ("read", ("sub", index, k) if k
                                                           else index))
                self.mem.release(block, ("tmp", key))
                sources = [key]
            for source in self.callers.get(index, []):  # the block has returned
                self.mem.release(self.storage.get(source), ("read", index))

    def shard(self, nbytes: int) -> int:
        return -(-nbytes // self.grad_shard)

    def fresh(self) -> Simulator:
        """The same network and memory for the next micro-batch; parameter gradients stay."""
        other = Simulator(self.nodes, self.mem, self.hold_names)
        other.param_grads = self.param_grads
        other.grad_shard, other.units = self.grad_shard, self.units
        return other

    def end_autocast(self) -> None:
        """Leaving the autocast region clears its cache of weight copies."""
        for block in self.cache:
            self.mem.release(block, ("autocast",))
        self.cache = []

    # --- backward -----------------------------------------------------------------------
    def backward(self, indices, accumulate: bool = False) -> None:
        """Run the backward of nodes `indices` (given in forward order) in reverse.
        accumulate: parameter gradients already exist (a later micro-batch): each op's new
        gradient is a transient added into them."""
        for index in reversed(list(indices)):
            node = self.nodes[index]
            if not node.grad:
                continue
            if self.units:
                self.units.enter(index, True, "backward")
            last = len(node.ops) - 1
            for k in range(last, -1, -1):
                op = node.ops[k]
                key = index if k == last else (index, k)
                inputs = list(node.inputs) if k == 0 else [(index, k - 1)]
                wants = list(node.input_grads) if k == 0 else [True]
                sizes = list(node.input_bytes) if k == 0 else [node.out_bytes]
                if op.grad_count is not None:
                    wants = [w and i < op.grad_count for i, w in enumerate(wants)]
                incoming = self.grad.pop(key, (None, False))
                arriving = []
                for tensor, want, nbytes in zip(inputs, wants, sizes):
                    if not want:
                        continue
                    if op.grad_inputs:
                        arriving.append((tensor, self.mem.alloc(nbytes, "activation_gradients",
                                                                ("grad", tensor)), False))
                    elif incoming[0] is not None:
                        self.mem.hold(incoming[0], ("grad", tensor))
                        arriving.append((tensor, incoming[0], op.grad_is_view or incoming[1]))
                transient = op.backward_transient + op.cached  # under autocast, the
                # weight's gradient comes out in bf16 and ToCopyBackward makes the float32 one
                # after this node has freed what it saved
                later = k == 0 and node.param_bytes and (accumulate or
                                                         index not in self.param_grads)
                if later and self.units:  # whole until the unit's backward ends
                    self.units.gradient(index, node.param_bytes)
                    self.param_grads[index], later = None, False
                if later and accumulate:  # the new gradient, added into .grad, then freed
                    transient, later = transient + node.param_bytes, False
                if later and self.grad_shard > 1:  # the full gradient, reduce-scattered:
                    transient += node.param_bytes  # its shard is kept
                if later and not op.cached:
                    self.param_grads[index] = self.mem.alloc(self.shard(node.param_bytes),
                                                             "gradients", ("param",))
                name = node.name + ("" if k == 0 else f" ({op.name})")
                self.mem.moment("backward", name, transient)
                for tensor, block, view in arriving:
                    self.deliver(tensor, block, view, sizes[inputs.index(tensor)])
                self.mem.release(incoming[0], ("grad", key))
                for block in self.saved.pop(key, []):
                    self.mem.release(block, ("saved", key))
                if later and op.cached:
                    self.param_grads[index] = self.mem.alloc(self.shard(node.param_bytes),
                                                             "gradients", ("param",))
                    self.mem.moment("backward", name + " (to float32)", op.cached)

    def deliver(self, tensor, block, view: bool, nbytes: int) -> None:
        """A gradient arrives for `tensor`; a second one is added into the first (in place
        when one of them is not shared and not a view, as the engine's InputBuffer does)."""
        if tensor not in self.grad:
            self.grad[tensor] = (block, view)
            return
        old, old_view = self.grad[tensor]
        if not old_view and self.mem.holders(old) == 1:
            self.mem.release(block, ("grad", tensor))
        elif not view and self.mem.holders(block) == 1:
            self.mem.release(old, ("grad", tensor))
            self.grad[tensor] = (block, view)
        else:
            summed = self.mem.alloc(nbytes, "activation_gradients", ("grad", tensor))
            self.mem.release(old, ("grad", tensor))
            self.mem.release(block, ("grad", tensor))
            self.grad[tensor] = (summed, False)
