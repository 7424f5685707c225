"""The YOLO heads (Detect, Segment, Pose, OBB, v10Detect, Classify) written as spec groups,
and the modules of the shipped YAMLs that cnncalc refuses, with the reason."""

from __future__ import annotations

from .yolo_modules import Unsupported, arg, pad, whole

def classify(model, row, c1s, srcs):
    if row.many:
        raise Unsupported("cnncalc writes Classify on one row")
    c2_ = whole(row.args[0], "c2 (the number of classes)")
    k, s, p, g = (arg(row.args, i, v) for i, v in enumerate((1, 1, None, 1), start=1))
    return {"block": "Classify", "nc": c2_, "k": k, "s": s, "p": pad(k, p), "g": g,
            "act": model.act}, c2_


def dfl(level: int, box: str, reg_max: int) -> list[dict]:
    """DFL on one level: per box side, softmax over reg_max bins and the frozen 1x1 conv
    (reg_max -> 1, weights 0..reg_max-1, no bias) that Ultralytics applies to all four sides
    and levels with the same weights (so counted once, non-trainable)."""
    owner = "dfl"
    layers, sides = [], []
    for side in range(4):
        tag = f"dfl{level}_{side}"
        conv_ = {"name": tag, "type": "conv", "filters": 1, "kernel": 1, "bias": False}
        conv_ = {**conv_, "name": owner, "trainable": False} if (level, side) == (0, 0) else \
            {**conv_, "shares": owner}
        layers += [{"type": "slice", "channels": [side * reg_max, (side + 1) * reg_max],
                    "inputs": [box]}, "softmax", conv_]
        sides.append(conv_["name"])
    layers.append({"name": f"dfl{level}", "type": "concat", "inputs": sides})
    return layers


def detect(model, row, c1s, srcs, extra=None):
    """Detect (and Segment/Pose/OBB: `extra` = (branch name, c4, outputs)): per level a box
    branch (4 * reg_max outputs, then DFL as inference runs it) and a class branch."""
    nc = whole(row.args[0], "nc")
    reg = model.reg_max
    c2_, c3_ = max(16, c1s[0] // 4, reg * 4), max(c1s[0], min(nc, 100))
    layers = []
    heads = ("", "one2one_") if model.end2end else ("",)  # end2end: a one-to-one copy
    for prefix in heads:
        for level, (x, src) in enumerate(zip(c1s, srcs)):
            layers.append({"name": f"{prefix}box{level}", "block": "Branch", "c_": c2_,
                           "c2": 4 * reg, "act": model.act, "inputs": src})
            cls = {"block": "Branch", "c_": c3_, "c2": nc} if model.legacy else \
                {"block": "LightBranch", "c1": x, "c_": c3_, "c2": nc}
            layers.append({"name": f"{prefix}cls{level}", **cls, "act": model.act, "inputs": src})
            if extra:
                tag, c4, outputs = extra
                layers.append({"name": f"{prefix}{tag}{level}", "block": "Branch", "c_": c4,
                               "c2": outputs, "act": model.act, "inputs": src})
    if reg > 1:
        for level in range(len(c1s)):
            layers += dfl(level, f"box{level}", reg)
    return {"layers": layers}, nc


def v10detect(model, row, c1s, srcs):
    """v10Detect: Detect with the light class branch and a one-to-one copy (end2end)."""
    model.legacy, model.end2end = False, True
    return detect(model, row, c1s, srcs)


def segment(model, row, c1s, srcs):
    nm, npr = arg(row.args, 1, 32), arg(row.args, 2, 256)
    npr = model.scaled(whole(npr, "npr"))  # parse_model scales the prototypes' width
    group, nc = detect(model, row, c1s, srcs, ("mask", max(c1s[0] // 4, nm), nm))
    group["layers"].append({"name": "proto", "block": "Proto", "c_": npr, "c2": nm,
                            "act": model.act, "inputs": srcs[0]})
    return group, nc


def pose(model, row, c1s, srcs):
    shape = arg(row.args, 1, [17, 3])
    nk = whole(shape[0], "keypoints") * whole(shape[1], "keypoint dims")
    return detect(model, row, c1s, srcs, ("kpt", max(c1s[0] // 4, nk), nk))


def obb(model, row, c1s, srcs):
    ne = whole(arg(row.args, 1, 1), "ne")
    return detect(model, row, c1s, srcs, ("angle", max(c1s[0] // 4, ne), ne))


CLASSIFY_HEADS = {"Classify"}

# Modules of the shipped YAMLs that cnncalc refuses, and why (docs/interop.md).
ATTENTION = "is not written yet (its attention is C2PSA's)"
REFUSED = {
    "C2fPSA": ATTENTION,
    "C2fAttn": "attends to text embeddings (YOLO-World), a second input cnncalc does not model",
    "ImagePoolingAttn": "attends to text embeddings (YOLO-World)",
    "WorldDetect": "scores regions against text embeddings (YOLO-World)",
    "YOLOEDetect": "scores regions against text prompts (YOLOE)",
    "YOLOESegment": "scores regions against text prompts (YOLOE)",
    "YOLOESegment26": "scores regions against text prompts (YOLOE)",
    "AIFI": "is a transformer encoder layer (RT-DETR)",
    "HGStem": "is not written yet (RT-DETR, whose transformer decoder is refused)",
    "HGBlock": "is not written yet (RT-DETR, whose transformer decoder is refused)",
    "RepC3": "is not written yet (RT-DETR, whose transformer decoder is refused)",
    "RTDETRDecoder": "is a transformer decoder with deformable attention (RT-DETR)",
    "TorchVision": "loads a torchvision model by name, whose layers the YAML does not hold",
    "Pose26": "is not written yet (a RealNVP flow model and a training-only sigma branch)",
    "Segment26": "is not written yet (Proto26 with a training-only semantic branch)",
    "Depth": "is not written yet (YOLO26 depth head)",
    "SemanticSegment": "is not written yet (YOLO26 semantic head)",
}


MODULES = {"Classify": classify, "Detect": detect, "Segment": segment, "Pose": pose,
           "OBB": obb, "OBB26": obb, "v10Detect": v10detect}
