"""What PyTorch refuses, said by `memory` as a warning: a checkpointed segment beginning with
an in-place op (ResNet-18's stem ReLU under --checkpoint 4), checked against PyTorch."""

import pytest

from tests.test_memory_step import network_of, predicted, torch_resnet18


def pytorch_backward_fails(segments: int) -> bool:
    torch = pytest.importorskip("torch")
    from torch.utils.checkpoint import checkpoint_sequential
    model = torch_resnet18()
    x = torch.randn(2, 3, 32, 32, requires_grad=True)  # an input needing a gradient, so
    # the first segment is recorded too
    try:
        checkpoint_sequential(model, segments, x, use_reentrant=False).sum().backward()
    except RuntimeError as exc:
        assert "inplace operation" in str(exc)
        return True
    return False


@pytest.mark.parametrize("segments", [2, 3, 4, 5])
def test_checkpoint_warning_when_pytorch_fails(segments):
    network = network_of(zoo="resnet18", size=32)
    ours = predicted(network, 2, "training", checkpoint=segments)
    assert bool(ours.warnings) == pytorch_backward_fails(segments)


def test_no_warning_when_relu_is_out_of_place():
    network = network_of(zoo="resnet18", size=32)
    assert predicted(network, 2, "training", checkpoint=4, inplace=False).warnings == ()
