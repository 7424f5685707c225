"""Training compute: the forward, autograd's backward split into input- and weight-gradient
MACs, and the optimizer's step, per layer and in total (docs/counting.md, "Training").

Which gradients autograd computes follows requires_grad: a tensor needs a gradient when a
trainable parameter lies at or before it on some path, so nothing upstream of the first
trainable parameter (nor the network input) gets one; a frozen layer (`trainable: false`)
gets no weight gradient; a layer using another's weights (`shares:`) computes that
weight's gradient at every use, and the uses are summed into one .grad. Only layers the
network's output (the loss) depends on run backward. Each layer says what its backward
costs (`Layer.backward_counts`); this module decides what it is asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..conventions import OPTIMIZER_FLOPS, OPTIMIZERS
from ..graph import INPUT, Network

TOTAL_KEYS = ("input_grad_macs", "weight_grad_macs", "backward_macs", "backward_flops",
              "train_step_macs", "train_step_flops")


@dataclass(frozen=True)
class LayerTraining:
    """One layer's part of a training step, per sample."""

    name: str
    macs: int  # the forward's
    flops: int  # the forward's
    input_grad_macs: int = 0
    weight_grad_macs: int = 0
    elementwise_flops: int = 0  # backward FLOPs besides the MACs (layer's own + dy sums)
    needs_input_grad: tuple = ()  # per input: autograd computes its gradient
    needs_weight_grad: bool = False

    @property
    def backward_macs(self) -> int:
        return self.input_grad_macs + self.weight_grad_macs

    @property
    def backward_flops(self) -> int:
        return 2 * self.backward_macs + self.elementwise_flops  # a MAC is two FLOPs

    def as_dict(self) -> dict:
        return {"input_grad_macs": self.input_grad_macs,
                "weight_grad_macs": self.weight_grad_macs,
                "backward_macs": self.backward_macs, "backward_flops": self.backward_flops}


@dataclass(frozen=True)
class Training:
    """A training step's compute: per layer (per sample) and the optimizer's (per step)."""

    layers: tuple  # LayerTraining, one per node, in order
    trainable_params: int  # values the optimizer updates (those that get a gradient)
    shared_grad_adds: int  # per step: a shared weight's gradients summed over its uses

    def total(self, key: str) -> int:
        return sum(getattr(layer, key) for layer in self.layers)

    @property
    def totals(self) -> dict:
        """Per sample: the backward's MACs and FLOPs, and forward + backward."""
        out = {key: self.total(key) for key in TOTAL_KEYS[:4]}
        out["train_step_macs"] = self.total("macs") + out["backward_macs"]
        out["train_step_flops"] = self.total("flops") + out["backward_flops"]
        return out

    def optimizer_flops(self, optimizer: str) -> int:
        """FLOPs of one optimizer step (conventions.OPTIMIZER_FLOPS per trainable value)."""
        return OPTIMIZER_FLOPS[optimizer] * self.trainable_params

    def as_dict(self) -> dict:
        return {**self.totals,
                "optimizer_flops": {name: self.optimizer_flops(name) for name in OPTIMIZERS},
                "shared_grad_adds": self.shared_grad_adds}


def gradient_sources(node) -> tuple:
    """The inputs a node's output is differentiable in (a size-giving input is not)."""
    limit = node.layer.gradient_inputs
    return node.inputs if limit is None else node.inputs[:limit]


def reaches_output(network: Network) -> set:
    """Nodes the last node (the network's output, hence the loss) depends on through a
    gradient: the nodes the backward pass visits."""
    last = len(network.nodes) - 1
    seen, todo = {last}, [last]
    while todo:
        for source in gradient_sources(network.nodes[todo.pop()]):
            if source != INPUT and source not in seen:
                seen.add(source)
                todo.append(source)
    return seen


def trains_weights(network: Network, index: int, x) -> bool:
    """The node has parameters that training updates: its own, or those of the layer it
    shares (their owner's `trainable:` decides, as the one tensor's requires_grad does)."""
    node = network.nodes[index]
    owner = network.nodes[node.shares] if node.shares is not None else node
    return not owner.frozen and bool(node.layer.parameter_sizes(x))


def training(network: Network, report) -> Training:
    """Every layer's forward and backward compute, from an analysed network."""
    live = reaches_output(network)
    requires = {INPUT: False}  # tensor -> requires_grad
    layers, wants_grad = [], {}  # wants_grad: tensor -> readers that hand it a gradient
    uses, sizes = {}, {}  # weights' owner -> uses that want their gradient, their values
    for index, (node, row) in enumerate(zip(network.nodes, report.rows, strict=True)):
        layer, ins, out = node.layer, tuple(row.input_shapes), row.output_shape
        weights = trains_weights(network, index, ins[0])
        sources = gradient_sources(node)
        needs_input = tuple(index in live and requires[source] and position < len(sources)
                            for position, source in enumerate(node.inputs))
        needs_weight = index in live and weights
        requires[index] = weights or any(requires[s] for s in sources)
        for source, wanted in zip(node.inputs, needs_input):
            if wanted:
                wants_grad[source] = wants_grad.get(source, 0) + 1
        if needs_weight:  # one weight gradient per use of the owner's tensors
            owner = node.shares if node.shares is not None else index
            uses[owner] = uses.get(owner, 0) + 1
            sizes[owner] = sum(layer.parameter_sizes(ins[0]))
        counts = layer.backward_counts(ins, out, needs_input, needs_weight) \
            if node.inputs else None
        layers.append(LayerTraining(
            node.name, row.totals.macs, row.totals.flops,
            counts.input_grad_macs if counts else 0, counts.weight_grad_macs if counts else 0,
            counts.flops if counts else 0, needs_input, needs_weight))
    for source, readers in wants_grad.items():  # a tensor read by k layers: k - 1 adds
        if source != INPUT and readers > 1:
            done = layers[source]
            extra = (readers - 1) * report.rows[source].output_shape.size
            layers[source] = LayerTraining(
                done.name, done.macs, done.flops, done.input_grad_macs, done.weight_grad_macs,
                done.elementwise_flops + extra, done.needs_input_grad, done.needs_weight_grad)
    return Training(tuple(layers),
                    sum(sizes.values()),  # each updated tensor once
                    sum((n - 1) * sizes[owner] for owner, n in uses.items()))  # summed uses


def with_training(network: Network, report):
    """The report with every row's backward counted (`summarize --mode training`): its
    totals carry the gradients' MACs and FLOPs, the report the whole step's figures."""
    from ..declare import replace
    result = training(network, report)
    for row, layer in zip(report.rows, result.layers, strict=True):
        row.totals = replace(row.totals, input_grad_macs=layer.input_grad_macs,
                             weight_grad_macs=layer.weight_grad_macs,
                             backward_flops=layer.backward_flops)
    report.training = result
    return report
