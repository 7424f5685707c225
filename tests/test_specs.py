"""The example specs of specs/ (README's): each validates under --strict, and the parameters and
multiply-adds its opening comment claims are the formulas below, torch.nn's and cnncalc's. The
specs of specs/broken/ fail with the line and exit code their opening comment states."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cnncalc.analysis.analyze import analyze
from cnncalc.cli import app
from cnncalc.language.document import load

ROOT = Path(__file__).resolve().parents[1]
SPECS = ROOT / "specs"
EXAMPLES = sorted(SPECS.glob("*.yaml"))
BROKEN = sorted((SPECS / "broken").glob("*.yaml"))


def conv(c_in, c_out, k, bias=True, groups=1):
    """A convolution's weights (k is the kernel's volume) and its biases."""
    return c_in // groups * k * c_out + (c_out if bias else 0)


def bn(c):
    """(trainable, running statistics): gamma and beta, mean and variance."""
    return 2 * c, 2 * c


# (trainable params, non-trainable params, MACs) per example, layer by layer; MACs of a
# conv = output positions x filters x (c_in / groups) x kernel volume, of an fc = in x out
FIGURES = {
    "my-net": (
        conv(3, 32, 9) + conv(32, 32, 9) + conv(32, 64, 9) + conv(64, 64, 9) + (64 + 1) * 10,
        0,
        32 * 32 * 32 * 3 * 9 + 32 * 32 * 32 * 32 * 9  # 32x32: conv1, conv2
        + 16 * 16 * 64 * 32 * 9 + 16 * 16 * 64 * 64 * 9  # 16x16 after the first pool
        + 64 * 10),  # the fc after global pooling
    "plain-cnn": (
        conv(1, 32, 9) + bn(32)[0] + conv(32, 64, 9) + bn(64)[0] + conv(64, 128, 9)
        + bn(128)[0] + (7 * 7 * 128 + 1) * 10,
        bn(32)[1] + bn(64)[1] + bn(128)[1],
        28 * 28 * 32 * 1 * 9 + 14 * 14 * 64 * 32 * 9 + 7 * 7 * 128 * 64 * 9 + 7 * 7 * 128 * 10),
    "residual-net": (
        conv(3, 16, 9, bias=False) + bn(16)[0]  # stem
        + 2 * (conv(16, 16, 9, bias=False) + bn(16)[0])  # block1, identity shortcut
        + conv(16, 32, 9, bias=False) + bn(32)[0] + conv(32, 32, 9, bias=False) + bn(32)[0]
        + conv(16, 32, 1, bias=False) + bn(32)[0]  # block2 and its projection shortcut
        + (32 + 1) * 10,
        bn(16)[1] * 3 + bn(32)[1] * 3,
        32 * 32 * 16 * 3 * 9 + 2 * 32 * 32 * 16 * 16 * 9  # stem, block1 at 32x32
        + 16 * 16 * 32 * 16 * 9 + 16 * 16 * 32 * 32 * 9 + 16 * 16 * 32 * 16  # block2 at 16x16
        + 32 * 10),
    "audio-1d": (
        conv(1, 32, 80) + bn(32)[0] + conv(32, 64, 3) + bn(64)[0] + (64 + 1) * 12,
        bn(32)[1] + bn(64)[1],
        # (16000 + 2x38 - 80)/4 + 1 = 4000 positions, pooled by 4 to 1000, then by 4 to 250
        ((16000 + 2 * 38 - 80) // 4 + 1) * 32 * 80 + 1000 * 64 * 32 * 3 + 64 * 12),
    "volume-3d": (
        conv(1, 8, 27) + bn(8)[0] + conv(8, 16, 27) + bn(16)[0] + (16 + 1) * 2,
        bn(8)[1] + bn(16)[1],
        32 ** 3 * 8 * 1 * 27 + 16 ** 3 * 16 * 8 * 27 + 16 * 2),
    "blocks": (
        conv(3, 16, 9, bias=False) + bn(16)[0]  # stem, 64x64 -> 32x32
        # separable(cin, out): depthwise 3x3 (groups = cin) + BN, pointwise 1x1 + BN
        + sum(conv(cin, cin, 9, bias=False, groups=cin) + bn(cin)[0]
              + conv(cin, out, 1, bias=False) + bn(out)[0]
              for cin, out in [(16, 32), (32, 64), (64, 64), (64, 64)])
        + (64 + 1) * 10,
        bn(16)[1] + sum(bn(cin)[1] + bn(out)[1]
                        for cin, out in [(16, 32), (32, 64), (64, 64), (64, 64)]),
        32 * 32 * 16 * 3 * 9  # stem
        + 32 * 32 * 16 * 9 + 32 * 32 * 32 * 16  # separable 16 -> 32 at 32x32
        + 16 * 16 * 32 * 9 + 16 * 16 * 64 * 32  # separable 32 -> 64, stride 2: 16x16
        + 2 * (16 * 16 * 64 * 9 + 16 * 16 * 64 * 64)  # separable 64 -> 64, twice
        + 64 * 10),
}
CLAIM = re.compile(r"^# params: ([\d,]+) \((all|[\d,]+) trainable\)\s+MACs: ([\d,]+)$", re.M)

runner = CliRunner()


def integer(text: str) -> int:
    return int(text.replace(",", ""))


def test_the_examples_are_the_ones_listed():
    assert sorted(p.stem for p in EXAMPLES) == sorted(FIGURES)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.stem)
def test_example_claims_the_figures_of_its_formulas(path):
    trainable, frozen, macs = FIGURES[path.stem]
    params, claimed_trainable, claimed_macs = CLAIM.search(path.read_text()).groups()
    assert integer(params) == trainable + frozen
    if claimed_trainable == "all":
        assert frozen == 0
    else:
        assert integer(claimed_trainable) == trainable
    assert integer(claimed_macs) == macs
    totals = analyze(load(str(path))).totals
    assert (totals.trainable_params, totals.non_trainable_params, totals.macs) == \
        (trainable, frozen, macs)


def test_every_example_validates_strictly():
    result = runner.invoke(app, ["validate", "--strict", *map(str, EXAMPLES)])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok: ") == len(EXAMPLES)


def test_my_net_holds_its_own_budget():
    trainable, _, macs = FIGURES["my-net"]
    assert trainable <= 100_000 and macs <= 50_000_000  # its `budget: {params: 100K, macs: 50M}`


def stated(path: Path) -> tuple[list[str], str, int]:
    """The command, the first line it prints and the exit code a broken spec's comment states."""
    lines = path.read_text().splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("# $ cnncalc "))
    code = re.fullmatch(r"# exit (\d)", lines[at + 2])
    assert code, lines[at + 2]
    return lines[at][len("# $ cnncalc "):].split(), lines[at + 1][2:], int(code.group(1))


@pytest.mark.parametrize("path", BROKEN, ids=lambda p: p.stem)
def test_broken_example_fails_as_its_comment_says(path):
    args, first_line, code = stated(path)
    assert args[-1] == str(path.relative_to(ROOT))
    result = subprocess.run([sys.executable, "-m", "cnncalc", *args], cwd=ROOT, text=True,
                            capture_output=True, timeout=120, check=False)
    assert result.returncode == code, result.stdout + result.stderr
    assert (result.stdout + result.stderr).splitlines()[0] == first_line
    assert "Traceback" not in result.stderr


def test_broken_examples_state_figures_from_formulas():
    # kernel-too-big: 28 -> 28 - 5 + 1 = 24 -> pooled 12 -> 12 - 5 + 1 = 8 -> pooled 4 < 5
    assert (((28 - 5 + 1) // 2 - 5 + 1) // 2) == 4
    assert "only 4 (4 + 0 padding) (received: input 4x4x16)" in \
        stated(SPECS / "broken" / "kernel-too-big.yaml")[1]
    # over-budget: three 3x3 convs (3 -> 64 -> 128 -> 128) and an fc of 10
    convs = {"conv1": conv(3, 64, 9), "conv2": conv(64, 128, 9), "conv3": conv(128, 128, 9)}
    total = sum(convs.values()) + (128 + 1) * 10
    line = stated(SPECS / "broken" / "over-budget.yaml")[1]
    assert f"params {total:,} over the budget of {200_000:,} (most: conv3 " \
        f"{convs['conv3']:,}, conv2 {convs['conv2']:,}, conv1 {convs['conv1']:,})" in line


def test_plain_validate_passes_a_spec_with_only_warnings():
    """lint-warning.yaml fails only under --strict, as its comment says."""
    result = runner.invoke(app, ["validate", str(SPECS / "broken" / "lint-warning.yaml")])
    assert result.exit_code == 0 and "warning" in result.output


def torch_examples(nn):
    """The examples written with torch.nn, as their comments describe them."""
    def separable(cin, out, stride=1):
        return [nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False), nn.BatchNorm2d(cin),
                nn.ReLU(), nn.Conv2d(cin, out, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU()]

    class Basic(nn.Module):
        def __init__(self, cin, out, stride):
            super().__init__()
            self.body = nn.Sequential(
                nn.Conv2d(cin, out, 3, stride, 1, bias=False), nn.BatchNorm2d(out), nn.ReLU(),
                nn.Conv2d(out, out, 3, 1, 1, bias=False), nn.BatchNorm2d(out))
            self.shortcut = nn.Identity() if stride == 1 else nn.Sequential(
                nn.Conv2d(cin, out, 1, stride, bias=False), nn.BatchNorm2d(out))

        def forward(self, x):
            return self.body(x) + self.shortcut(x)

    return {
        "my-net": ((3, 32, 32), nn.Sequential(
            nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3, padding=1), nn.ReLU(),
            nn.MaxPool2d(2), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(),
            nn.Conv2d(64, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2), nn.Linear(64, 10),
            nn.Softmax(1))),
        "plain-cnn": ((1, 28, 28), nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(), nn.Flatten(),
            nn.Dropout(0.5), nn.Linear(7 * 7 * 128, 10), nn.Softmax(1))),
        "residual-net": ((3, 32, 32), nn.Sequential(
            nn.Conv2d(3, 16, 3, padding=1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            Basic(16, 16, 1), nn.ReLU(), Basic(16, 32, 2), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
            nn.Flatten(), nn.Linear(32, 10))),
        "audio-1d": ((1, 16000), nn.Sequential(
            nn.Conv1d(1, 32, 80, 4, 38), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(4),
            nn.Conv1d(32, 64, 3, padding=1), nn.BatchNorm1d(64), nn.ReLU(), nn.MaxPool1d(4),
            nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 12))),
        "volume-3d": ((1, 32, 32, 32), nn.Sequential(
            nn.Conv3d(1, 8, 3, padding=1), nn.BatchNorm3d(8), nn.ReLU(), nn.MaxPool3d(2),
            nn.Conv3d(8, 16, 3, padding=1), nn.BatchNorm3d(16), nn.ReLU(), nn.MaxPool3d(2),
            nn.AdaptiveAvgPool3d(1), nn.Flatten(), nn.Linear(16, 2))),
        "blocks": ((3, 64, 64), nn.Sequential(
            nn.Conv2d(3, 16, 3, 2, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU(),
            *separable(16, 32), *separable(32, 64, 2), *separable(64, 64), *separable(64, 64),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))),
    }


def test_examples_agree_with_pytorch():
    """Each example built with torch.nn: its parameters, its BN running statistics and the
    multiply-adds FlopCounterMode counts (FLOPs / 2) are the formulas' and cnncalc's."""
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode
    for name, (shape, model) in torch_examples(torch.nn).items():
        trainable, frozen, macs = FIGURES[name]
        assert sum(p.numel() for p in model.parameters()) == trainable, name
        assert sum(b.numel() for key, b in model.named_buffers()
                   if not key.endswith("num_batches_tracked")) == frozen, name
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            y = model.eval()(torch.zeros(1, *shape))
        assert counter.get_total_flops() == 2 * macs, name
        report = analyze(load(str(SPECS / f"{name}.yaml")))
        assert report.output_shape.as_list()[-1] == y.shape[1], name


def test_the_keras_example_is_the_notes_keras_net():
    """specs/formats/keras-mnist.json is model.to_json() of the notes' Keras net; its layers' params
    are the notes' 320, 18,496, 73,856, 8,256 and 650 (file 004)."""
    from cnncalc.analysis.analyze import analyze
    from cnncalc.load import open_spec
    report = analyze(open_spec(str(Path(__file__).resolve().parent.parent / "specs" /
                                   "formats" / "keras-mnist.json")))
    params = [row.totals.params for row in report.rows if row.totals.params]
    assert params == [(3 * 3 * 1 + 1) * 32, (3 * 3 * 32 + 1) * 64, (3 * 3 * 64 + 1) * 128,
                      (128 + 1) * 64, (64 + 1) * 10] == [320, 18_496, 73_856, 8_256, 650]
