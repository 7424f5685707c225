"""Multi-head self-attention over the spatial positions of a map (BoTNet, MobileViT, YOLO's PSA).

Every position is a token of C channels. A linear map makes each token's query, key and
value (h heads of d_k, d_k and d_v = C / h values); each head scores every pair of tokens
(q . k / sqrt(d_k)), softmaxes the scores over the keys and sums the values with those
weights; a linear map mixes the heads' outputs. MobileViT's unfolding (`patch`) lets a token
attend only to the tokens at the same offset in every patch; BoTNet adds learned relative
position logits (`position: relative`).
"""

from __future__ import annotations

from math import prod

from ..conventions import ATTENTION_SCORE_BACKWARD_FLOPS, ATTENTION_SCORE_FLOPS
from ..declare import Axes, Bool, Choice, Int, frozen, setting
from ..errors import SettingError
from .base import Backward, Counts, Kernel, Layer, axes_text, register
from .geometry import Field
from .shape import Shape
from .stepmem import Op

STAT = 4  # bytes of a saved log-sum-exp: float32 whatever the activations' dtype


@frozen
class Sizes:
    """What the attention works with on one input: heads, sizes per head, token groups."""

    heads: int
    key: int  # d_k: query and key values per head
    value: int  # d_v: value values per head
    groups: int  # P: tokens at each offset in a patch attend together (1: all attend to all)
    length: int  # L: tokens per group (positions / P)
    grid: tuple  # the tokens of a group along each spatial axis (L = product)

    @property
    def qkv(self) -> int:
        """Channels of the stacked queries, keys and values: h (2 d_k + d_v)."""
        return self.heads * (2 * self.key + self.value)

    @property
    def out(self) -> int:
        """Channels of the heads' outputs together: h d_v."""
        return self.heads * self.value

    @property
    def scores(self) -> int:
        """Attention scores per sample: P groups x h heads x L x L."""
        return self.groups * self.heads * self.length * self.length


def array_shape(x) -> Shape:
    """The Shape of one sample of an [N, C, *spatial] array."""
    return Shape(tuple(x.shape[2:]), x.shape[1])


@register
@frozen
class Attention(Layer):
    type_name = "attention"
    summary = ("multi-head self-attention over the spatial positions: q, k, v = linear(x), "
               "softmax(q k^T / sqrt(d_k)) v per head, then a linear map")
    example = "- {type: attention, heads: 4}"
    axis_settings = ("patch",)

    heads: int = setting(Int(), "heads h: the channels split into h groups attending apart", 1)
    key_dim: int | None = setting(
        Int(), "query and key size per head d_k (default: the value size C / h; with qkv: "
        "false, a third of the input per head)", None)
    qkv: bool = setting(Bool(), "a learned linear map makes q, k, v from the input; false: "
                        "the input holds them stacked along the channels", True)
    out: bool = setting(Bool(), "a learned linear map mixes the heads' outputs", True)
    bias: bool = setting(Bool(), "biases on the linear maps", True)
    layout: str = setting(Choice(("stacked", "per_head")), "order of q, k, v along the "
                          "channels: all heads' q, then k, then v (timm, PyTorch), or per head "
                          "q, k, v (Ultralytics)", "stacked")
    patch: tuple = setting(Axes(), "MobileViT's unfolding: tokens attend to the tokens at the "
                           "same offset in every patch of this size (1: every position to "
                           "every position)", 1)
    areas: int = setting(Int(), "YOLOv12's area attention: the positions, in row-major order, "
                         "split into this many consecutive runs that attend apart", 1)
    position: str = setting(Choice(("none", "relative")), "relative: BoTNet's learned "
                            "relative position logits, (2S - 1) x d_k per axis of S tokens", "none")
    efficient: bool = setting(Bool(), "memory: the memory-efficient path (no attention matrix "
                              "kept for backward; recomputed) instead of the math path", False)

    # --- shape ------------------------------------------------------------------------------
    def sizes(self, x: Shape) -> Sizes:
        """The heads and sizes on input x; impossible settings are errors (exit 1)."""
        if x.c % self.heads:
            raise SettingError(f"heads ({self.heads}) must divide the channels ({x.c})",
                               key="heads", received=self.heads, inconsistent=True)
        if self.qkv:
            value = x.c // self.heads
            key = self.key_dim or value
        else:
            width = x.c // self.heads  # 2 d_k + d_v channels per head
            key = self.key_dim or width // 3
            value = width - 2 * key
            if value < 1 or (self.key_dim is None and width % 3):
                raise SettingError(
                    f"the input's {x.c} channels do not hold q, k and v of {self.heads} heads "
                    f"with key_dim {key}", key="key_dim" if self.key_dim else "heads",
                    received=self.key_dim or self.heads, inconsistent=True)
        patch = self.at(x.rank).patch
        for size, p in zip(x.spatial, patch):
            if size % p:
                raise SettingError(f"patch {axes_text(patch)} does not divide the input "
                                   f"{x.spatial_text()}", key="patch",
                                   received=self.patch if isinstance(self.patch, int)
                                   else list(self.patch), inconsistent=True)
        grid = tuple(size // p for size, p in zip(x.spatial, patch))
        if self.areas > 1:
            if any(p != 1 for p in patch) or self.position == "relative" or \
                    x.positions % self.areas:
                raise SettingError(f"{self.areas} areas need {x.positions} positions split "
                                   "evenly, without patch or relative positions", key="areas",
                                   received=self.areas, inconsistent=True)
            return Sizes(self.heads, key, value, self.areas, x.positions // self.areas, ())
        return Sizes(self.heads, key, value, prod(patch), prod(grid), grid)

    def shape(self, x: Shape) -> Shape:
        return x.with_channels(self.sizes(x).out)

    def receptive(self, fields, inputs, out):
        """Every token reads tokens spread over the whole input (a patch's offset recurs in
        every patch): its field spans all of the input's, each unit staying where it is."""
        f = fields[0]
        return Field(tuple(size + (n - 1) * jump for size, n, jump in
                           zip(f.size, inputs[0].spatial, f.jump)), f.jump, f.start)

    # --- counts -----------------------------------------------------------------------------
    def counts(self, x: Shape, y: Shape) -> Counts:
        s, n = self.sizes(x), x.positions  # n tokens
        qkv_weights = x.c * s.qkv if self.qkv else 0  # nn.Linear(C, h (2 d_k + d_v))
        out_weights = s.out * s.out if self.out else 0  # nn.Linear(h d_v, h d_v)
        biases = self.bias * ((s.qkv if self.qkv else 0) + (s.out if self.out else 0))
        relative = self.relative_params(s)  # (2 S_i - 1) x d_k per axis, shared by the heads
        macs = (n * (qkv_weights + out_weights)  # each linear weight once per token
                + s.scores * s.key  # q k^T: d_k per score
                + s.scores * s.value  # attention x v: d_v per score and output value
                + n * s.heads * relative)  # q . every relative embedding, per head and token
        score_flops = ATTENTION_SCORE_FLOPS + (x.rank if relative else 0)  # + relative logits
        return Counts(params=qkv_weights + out_weights + biases + relative, macs=macs,
                      flops=2 * macs + n * biases + s.scores * score_flops)

    def backward_counts(self, inputs, out, needs_input_grad, needs_weight_grad) -> Backward:
        """Autograd through the math path (derivatives.yaml's mm/bmm: each product's two
        input gradients cost the forward's MACs each). q, k, v and every tensor after them
        need gradients when the input does, or when the qkv weights train."""
        x = inputs[0]
        s, n = self.sizes(x), x.positions
        inner = needs_input_grad[0] or (needs_weight_grad and self.qkv)
        qkv = n * x.c * s.qkv if self.qkv else 0  # the qkv linear's forward MACs
        proj = n * s.out * s.out if self.out else 0  # the output linear's forward MACs
        relative = n * s.heads * self.relative_params(s)  # q . relative embeddings
        biases = self.bias * ((s.qkv if self.qkv else 0) + (s.out if self.out else 0))
        activations = (
            proj  # d(heads' output) = dy W_out^T
            + 2 * s.scores * s.value  # attention x v: dA = dO v^T and dv = A^T dO
            + 2 * s.scores * s.key  # q k^T: dq = dS k and dk = dS^T q
            + relative  # dq from the relative logits
        ) if inner else 0
        weights = (qkv + proj + relative) if needs_weight_grad else 0  # dW = dy^T x, d(rel)
        return Backward(
            input_grad_macs=activations + (qkv if needs_input_grad[0] else 0),  # dx = dqkv W
            weight_grad_macs=weights,
            flops=(s.scores * ATTENTION_SCORE_BACKWARD_FLOPS if inner else 0)  # softmax, scale
            + (n * biases if needs_weight_grad else 0))  # db: the sum of dy per bias

    def time_kind(self, inputs, out, training=False) -> str:
        return "matmul"  # the maps and the two batched products are matrix products

    def time_kernels(self, inputs, out, training=False) -> list[Kernel]:
        """As the math path runs (the exported module's forward): the q, k, v map over the
        tokens, q and k laid out per group and head (copies), q k^T, the scale, (the relative
        logits), softmax, v laid out, attention x v, the heads' outputs back in token order,
        the output map, and channels first again (a copy)."""
        x = inputs[0]
        s, n = self.sizes(x), x.positions
        qk, v, o = n * s.heads * s.key, n * s.heads * s.value, n * s.out  # values per sample
        kernels = []
        if self.qkv:
            kernels.append(Kernel("matmul", n * x.c * s.qkv, n * (x.c + s.qkv), x.c * s.qkv))
        kernels += [Kernel("elementwise", values=2 * 2 * qk),  # q and k laid out
                    Kernel("matmul", s.scores * s.key, 2 * qk + s.scores),  # q k^T
                    Kernel("elementwise", values=2 * s.scores)]  # x d_k^-0.5
        relative = self.relative_params(s)
        if relative:  # q . each relative embedding, gathered per score, added
            kernels += [Kernel("matmul", n * s.heads * relative, qk + relative),
                        Kernel("elementwise", values=5 * s.scores)]
        kernels += [Kernel("softmax", values=2 * s.scores),
                    Kernel("elementwise", values=2 * v),  # v laid out
                    Kernel("matmul", s.scores * s.value, s.scores + 2 * v),  # attention x v
                    Kernel("elementwise", values=2 * o)]  # the heads back in token order
        if self.out:
            kernels.append(Kernel("matmul", n * s.out * s.out, 2 * o, s.out * s.out))
        return [*kernels, Kernel("elementwise", values=2 * o)]  # back to [N, C, *spatial]

    def relative_params(self, s: Sizes) -> int:
        if self.position != "relative":
            return 0
        return sum(2 * size - 1 for size in s.grid) * s.key  # one d_k vector per offset

    def describe(self) -> str:
        text = f"h{self.heads}" + (f" dk{self.key_dim}" if self.key_dim else "")
        if self.patch != 1 and axes_text(self.patch) != "1":
            text += f" patch {axes_text(self.patch)}"
        text += " rel" if self.position == "relative" else ""
        text += f" areas {self.areas}" if self.areas > 1 else ""
        text += "" if self.qkv else " qkv in"
        return text + ("" if self.out else " no out") + ("" if self.bias else " nobias")

    def explain_counts(self, inputs, out, t):
        x, s = inputs[0], self.sizes(inputs[0])
        n, b = x.positions, int(self.bias)
        lines = []
        if self.qkv:
            lines.append(f"q, k, v: linear {x.c} -> {s.qkv} = {s.heads} x (2 x {s.key} + "
                         f"{s.value}): ({x.c} + {b}) x {s.qkv} params, {n:,} tokens x {x.c} x "
                         f"{s.qkv} = {n * x.c * s.qkv:,} MACs")
        lines.append(f"q k^T: {s.groups} x {s.heads} x {s.length} x {s.length} scores x "
                     f"{s.key} = {s.scores * s.key:,} MACs")
        lines.append(f"attention x v: {s.scores:,} scores x {s.value} = "
                     f"{s.scores * s.value:,} MACs")
        if self.position == "relative":
            r = self.relative_params(s)
            lines.append(f"relative logits: {r:,} params; {n:,} tokens x {s.heads} x {r:,} "
                         f"= {n * s.heads * r:,} MACs")
        if self.out:
            lines.append(f"output: linear {s.out} -> {s.out}: ({s.out} + {b}) x {s.out} "
                         f"params, {n:,} x {s.out} x {s.out} = {n * s.out * s.out:,} MACs")
        per_score = ATTENTION_SCORE_FLOPS + (x.rank if self.position == "relative" else 0)
        bias_adds = t.flops - 2 * t.macs - s.scores * per_score
        return [*lines, f"params: {t.params:,}", f"MACs: {t.macs:,}",
                f"FLOPs: 2 x {t.macs:,} + {bias_adds:,} bias adds + {s.scores:,} scores x "
                f"{per_score} (scale, softmax{', relative logits' if per_score > 2 else ''}) "
                f"= {t.flops:,}"]

    # --- memory -----------------------------------------------------------------------------
    def step_ops(self, inputs, out, ctx, in_place=False):
        """The math path (PyTorch's explicit q @ k^T, softmax, @ v; derivatives.yaml): the
        linear map saves the input, the matmuls q, k, v (the qkv tensor), softmax and the
        second matmul the attention matrix (h L^2 per group), the output map the heads'
        output; the raw and scaled scores are transients. efficient: the memory-efficient
        kernel keeps q, k, v, its output and a float32 log-sum-exp per query and head, and
        recomputes the scores in backward (the kept bytes of both paths are checked against
        autograd's saved tensors; the transients are not measured)."""
        x, s = inputs[0], self.sizes(inputs[0])
        tokens = ctx.batch * x.positions
        qkv = tokens * s.qkv * ctx.act if self.qkv else 0  # the linear map's output
        work = tokens * s.qkv * ctx.act  # q, k, v, wherever they come from
        heads = tokens * s.out * ctx.act  # the heads' output (the output map's input)
        scores = ctx.batch * s.scores * ctx.act  # one attention matrix
        relative = scores if self.position == "relative" else 0  # the gathered logits
        if not ctx.grad:  # at the softmax: q, k, v, their copies regrouped by heads (and
            # patches) for the matmuls, the scaled scores and the softmax (measured, CPU)
            inside = work + heads if self.efficient else 2 * work + 2 * scores + relative
            return [Op("attention", output=ctx.values(out), forward_transient=inside)]
        if self.efficient:  # measured on the CPU kernel: its output is laid out so that the
            # output map reads it as a view; without the map it is kept beside the output
            lse = ctx.batch * s.groups * s.heads * s.length * STAT
            return [Op("attention", output=ctx.values(out), saves_input=True,
                       saved=qkv + lse + tokens * s.out * ctx.act,
                       forward_transient=relative, backward_transient=work + lse)]
        return [Op("attention", output=ctx.values(out), saves_input=True,
                   saved=qkv + scores + (heads if self.out else 0),
                   forward_transient=scores + relative, backward_transient=2 * scores)]

    # --- NumPy ------------------------------------------------------------------------------
    def weight_shapes(self, x: Shape) -> dict:
        """In the exported module's order: qkv_weight [h (2 d_k + d_v), C], qkv_bias, one
        relative table per axis [2 S - 1, d_k], proj_weight [h d_v, h d_v], proj_bias."""
        s, shapes = self.sizes(x), {}
        if self.qkv:
            shapes["qkv_weight"] = (s.qkv, x.c)
            if self.bias:
                shapes["qkv_bias"] = (s.qkv,)
        if self.position == "relative":
            for i, size in enumerate(s.grid):
                shapes[f"relative_{i}"] = (2 * size - 1, s.key)
        if self.out:
            shapes["proj_weight"] = (s.out, s.out)
            if self.bias:
                shapes["proj_bias"] = (s.out,)
        return shapes

    def fan_in(self, key, shape):
        return shape[1] if key.endswith("weight") or key.startswith("relative") else None

    def forward(self, xs, w):
        from ..compute.attention import forward
        return forward(self, self.sizes(array_shape(xs[0])), xs[0], w)[0]

    def backward(self, xs, w, y, dy):
        from ..compute.attention import backward
        return backward(self, self.sizes(array_shape(xs[0])), xs[0], w, dy)

    # --- PyTorch export ---------------------------------------------------------------------
    def torch_code(self, inputs, out):
        from .torch_code import TorchCode
        x, s = inputs[0], self.sizes(inputs[0])
        options = [f"{x.c}", f"{s.heads}", f"{s.key}", f"{s.value}"]
        patch = self.at(x.rank).patch
        if any(p != 1 for p in patch):
            options.append(f"patch={tuple(patch)}")
        if self.position == "relative":
            options.append(f"relative={tuple(s.grid)}")
        if self.areas > 1:
            options.append(f"areas={self.areas}")
        for name, default in (("qkv", True), ("out", True), ("bias", True)):
            if getattr(self, name) != default:
                options.append(f"{name}={getattr(self, name)}")
        if self.layout != "stacked":
            options.append("per_head=True")
        return TorchCode("{m}({0})", f"SpatialAttention({', '.join(options)})",
                         (("SpatialAttention", SPATIAL_ATTENTION),))


SPATIAL_ATTENTION = '''
class SpatialAttention(nn.Module):
    """Multi-head self-attention over the positions of an [N, C, *spatial] tensor, written
    with explicit matmuls (q @ k^T, softmax, @ v) so that FlopCounterMode counts them.
    qkv_weight [h (2 d_k + d_v), C] makes the queries, keys and values (all heads' q, then k,
    then v; per_head: q, k, v of each head in turn); proj_weight mixes the heads. patch:
    MobileViT's unfolding (tokens attend to those at the same offset in every patch); areas:
    YOLOv12's area attention (consecutive runs of tokens attend apart);
    relative: BoTNet's relative position logits over a grid of these sizes."""

    def __init__(self, channels, heads, key_dim, value_dim, patch=None, relative=None,
                 qkv=True, out=True, bias=True, per_head=False, areas=1):
        super().__init__()
        self.areas = areas
        self.heads, self.key_dim, self.value_dim, self.per_head = heads, key_dim, value_dim, per_head
        self.patch = patch
        width, inner = heads * (2 * key_dim + value_dim), heads * value_dim
        self.qkv_weight = nn.Parameter(torch.randn(width, channels) * (2 / channels) ** 0.5) \\
            if qkv else None
        self.qkv_bias = nn.Parameter(torch.zeros(width)) if qkv and bias else None
        self.relative = relative
        for i, size in enumerate(relative or ()):
            setattr(self, f"relative_{i}",
                    nn.Parameter(torch.randn(2 * size - 1, key_dim) * key_dim ** -0.5))
        self.proj_weight = nn.Parameter(torch.randn(inner, inner) * (2 / inner) ** 0.5) \\
            if out else None
        self.proj_bias = nn.Parameter(torch.zeros(inner)) if out and bias else None

    def group(self, t, spatial):
        """[n, tokens, h, d] -> [n, P, h, L, d]: the tokens at each patch offset (or in each
        area) together."""
        if self.areas > 1:
            return t.unflatten(1, (self.areas, -1)).transpose(2, 3)
        patch = self.patch or (1,) * len(spatial)
        r, split = len(spatial), []
        for size, p in zip(spatial, patch):
            split += [size // p, p]
        t = t.reshape(t.shape[0], *split, *t.shape[2:])
        order = [0, *(2 + 2 * i for i in range(r)), 1 + 2 * r, *(1 + 2 * i for i in range(r)),
                 2 + 2 * r]
        return t.permute(order).flatten(1, r).flatten(3, 2 + r)

    def ungroup(self, t, spatial):
        """[n, P, h, L, d] -> [n, tokens, h d]: the inverse of group."""
        if self.areas > 1:
            return t.transpose(2, 3).flatten(1, 2).flatten(2)
        patch = self.patch or (1,) * len(spatial)
        r, grid = len(spatial), [size // p for size, p in zip(spatial, patch)]
        t = t.reshape(t.shape[0], *patch, t.shape[2], *grid, t.shape[-1])
        order = [0, *(k for i in range(r) for k in (r + 2 + i, 1 + i)), r + 1, 2 * r + 2]
        return t.permute(order).flatten(1, 2 * r).flatten(2)

    def relative_logits(self, q):
        """Logit (a, b) += q_a . relative_i[b_i - a_i + S_i - 1] on every axis i."""
        coords = torch.stack(torch.meshgrid(*(torch.arange(s) for s in self.relative),
                                            indexing="ij")).reshape(len(self.relative), -1)
        total = 0
        for i, size in enumerate(self.relative):
            index = coords[i][None, :] - coords[i][:, None] + size - 1  # [L, L]
            table = q @ getattr(self, f"relative_{i}").transpose(0, 1)  # [n, P, h, L, 2S - 1]
            total = total + torch.gather(table, -1, index.expand(*table.shape[:-1], -1))
        return total

    def forward(self, x):
        n, spatial = x.shape[0], tuple(x.shape[2:])
        z = x.flatten(2).transpose(1, 2)  # [n, tokens, C]
        if self.qkv_weight is not None:
            z = F.linear(z, self.qkv_weight, self.qkv_bias)
        h, dk, dv = self.heads, self.key_dim, self.value_dim
        if self.per_head:
            q, k, v = z.unflatten(2, (h, 2 * dk + dv)).split([dk, dk, dv], dim=-1)
        else:
            q, k, v = (t.unflatten(2, (h, -1)) for t in z.split([h * dk, h * dk, h * dv], -1))
        q, k, v = (self.group(t, spatial) for t in (q, k, v))
        attn = (q @ k.transpose(-2, -1)) * dk ** -0.5
        if self.relative:
            attn = attn + self.relative_logits(q)
        o = self.ungroup(attn.softmax(dim=-1) @ v, spatial)
        if self.proj_weight is not None:
            o = F.linear(o, self.proj_weight, self.proj_bias)
        return o.transpose(1, 2).reshape(n, -1, *spatial)
'''
