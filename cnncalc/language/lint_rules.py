"""The design lints' ids as the spec language knows them (`lint: {ignore: [...]}`, validate's
--ignore), each with its one-line reason and the source of its advice. analysis/lint.py pairs
each id with the check that finds it; `window-tiling` and `rf-misaligned` are found by the
analysis itself."""

CS231N = "CS231n notes (https://cs231n.github.io/convolutional-networks/), 'Layer Sizing Patterns'"
NOTES_000 = "CS231n notes (https://cs231n.github.io/convolutional-networks/), 'Case studies: VGGNet'"
ARAUJO = "Araujo et al., Distill 2019"

RULE_TEXT = {  # id: (reason, source)
    "window-tiling": ("a window that does not tile its input leaves rows unread",
                      CS231N + ": (W - F + 2P)/S + 1 must be an integer"),
    "rf-misaligned": ("merged paths whose units sit at different places",
                      ARAUJO + ": receptive fields of multi-path networks"),
    "input-no-channels": ("a 2-element input that looks like an image written without its "
                          "channels ([28, 28] is a 1-D signal of 28 positions with 28 channels)",
                          "cnncalc's shape convention: spatial sizes, then channels"),
    "input-divisible": ("an input side not divisible by 2 several times", CS231N + "; " + NOTES_000),
    "conv-keeps-size": ("a stride-1 conv that does not keep its input size",
                        CS231N + ": P = (F - 1)/2 with S = 1 preserves the size"),
    "large-filter": ("a filter larger than 3x3 after the first layer",
                     CS231N + ": prefer a stack of small filters"),
    "pool-window": ("a pooling window above 3 or a stride above its window",
                    CS231N + ": F=2, S=2 or F=3, S=2"),
    "fc-dominates": ("one fully-connected layer holding most of the parameters",
                     CS231N + ": VGG16's first FC holds 102.8M of 138.4M"),
    "rf-exceeds-input": ("units that see more than the input (it is all padding beyond)", ARAUJO),
    "repeat-one-copy": ("a repeated item named among several inputs reads its last copy only",
                        "docs/spec.md, 'Ranges of copies' (DenseNet reads every copy)"),
    "fc-large-input": ("a fully-connected layer fed by a large spatial map",
                       NOTES_000 + ": FC after 7x7x512"),
}
