"""An ONNX graph as the importer reads it: which tensors carry data (descend from the input)
and which are constants (weights, shapes, settings), their shapes, values and consumers."""

from __future__ import annotations

from math import prod

META_OPS = {"Shape", "Size"}  # read a tensor's shape, not its values: the result is a constant
MAX_CONST_DEPTH = 64  # a constant computed through more nodes than this is not evaluated


class Graph:
    """Facts about one (shape-inferred) ONNX graph; nodes in the file's topological order."""

    def __init__(self, model, shapes: dict, input_name: str):
        self.model, self.graph, self.shapes = model, model.graph, shapes
        self.input_name = input_name
        self.input_layout = "nc"  # or "last": [N, *spatial, C] (set by the reader)
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.initializers = {t.name: t for t in self.graph.initializer}
        self.producer = {out: node for node in self.graph.node for out in node.output if out}
        self.consumers: dict[str, list] = {}
        for node in self.graph.node:
            for tensor in node.input:
                if tensor:
                    self.consumers.setdefault(tensor, []).append(node)
        self.outputs = [o.name for o in self.graph.output]
        self.data = self._data_tensors()
        self._values: dict[str, object] = {}

    def _data_tensors(self) -> set[str]:
        """Tensors computed from the input (not through Shape): the network's activations."""
        data = {self.input_name}
        for node in self.graph.node:
            if node.op_type not in META_OPS and any(t in data for t in node.input):
                data.update(t for t in node.output if t)
        return data

    def is_data(self, tensor: str) -> bool:
        return tensor in self.data

    def data_nodes(self) -> list:
        return [n for n in self.graph.node
                if n.op_type not in META_OPS and any(t in self.data for t in n.input)]

    def shape(self, tensor: str) -> tuple | None:
        return self.shapes.get(tensor)

    def users(self, tensor: str) -> int:
        """How many nodes (and graph outputs) read `tensor`."""
        return len(self.consumers.get(tensor, [])) + self.outputs.count(tensor)

    def only_consumer(self, tensor: str):
        """The one node reading `tensor`'s values, or None (several readers, or a graph
        output). A Shape node reads only the size, which shape inference already knows (the
        legacy exporter computes `flatten(1, 2)`'s target from it), so it does not count."""
        readers = [n for n in self.consumers.get(tensor, []) if n.op_type != "Shape"]
        return readers[0] if len(readers) == 1 and tensor not in self.outputs else None

    def source(self, tensor: str) -> str | None:
        """The initializer behind a constant, through Identity nodes (None: computed)."""
        for _ in range(MAX_CONST_DEPTH):
            if tensor in self.initializers:
                return tensor
            node = self.producer.get(tensor)
            if node is None or node.op_type != "Identity":
                return None
            tensor = node.input[0]
        return None

    def is_float(self, tensor: str) -> bool:
        source = self.source(tensor)
        return source is not None and self.initializers[source].data_type in FLOAT_TYPES

    def size(self, tensor: str) -> int | None:
        shape = self.shape(tensor)
        return prod(shape) if shape is not None else None

    def value(self, tensor: str, depth: int = 0):
        """A constant's value as a NumPy array, or None when it cannot be found."""
        if not tensor or tensor in self.data or depth > MAX_CONST_DEPTH:
            return None
        if tensor not in self._values:
            self._values[tensor] = self._compute(tensor, depth)
        return self._values[tensor]

    def _compute(self, tensor: str, depth: int):
        from onnx import numpy_helper
        if tensor in self.initializers:
            init = self.initializers[tensor]
            if init.data_location == 1:  # external: small settings are never stored that way
                return None
            return numpy_helper.to_array(init)
        node = self.producer.get(tensor)
        if node is None:
            return None
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    return numpy_helper.to_array(attribute.t)
                if attribute.name in ("value_float", "value_int"):
                    import numpy as np
                    return np.array(attribute.f if attribute.name == "value_float" else attribute.i)
                if attribute.name in ("value_floats", "value_ints"):
                    import numpy as np
                    return np.array(list(attribute.floats or attribute.ints))
            return None
        if node.op_type in META_OPS:
            shape = self.shape(node.input[0])
            if shape is None:
                return None
            import numpy as np
            return np.array(shape if node.op_type == "Shape" else prod(shape), dtype=np.int64)
        inputs = [self.value(t, depth + 1) if t else None for t in node.input]
        if any(v is None for v, t in zip(inputs, node.input) if t):
            return None
        return evaluate(node, inputs, tensor)


FLOAT_TYPES = {1, 10, 11, 16}  # FLOAT, FLOAT16, DOUBLE, BFLOAT16


def evaluate(node, inputs: list, tensor: str):
    """One node of a constant subgraph run by ONNX's reference implementation."""
    try:
        from onnx import helper
        from onnx.reference import ReferenceEvaluator
        names = [f"in{i}" if t else "" for i, t in enumerate(node.input)]
        copy = helper.make_node(node.op_type, names, list(node.output), domain=node.domain)
        copy.attribute.extend(node.attribute)
        feeds = {n: v for n, v in zip(names, inputs) if n}
        results = ReferenceEvaluator(copy).run(None, feeds)
        return results[list(node.output).index(tensor)]
    except Exception:  # an op the reference runtime lacks: the caller says what is missing
        return None


def attributes(node) -> dict:
    """A node's attributes as Python values."""
    from onnx import helper
    return {a.name: helper.get_attribute_value(a) for a in node.attribute}
