"""What `cnncalc report` puts on its page, computed once: the summary with the backward's
compute, the lints, the memory at one batch and the timeline of one training step (as PyTorch
on the CPU runs it). render/html_report.py lays it out."""

from __future__ import annotations

from dataclasses import dataclass

from ..graph import Network
from . import lint
from .analyze import analyze
from .memory_report import MemorySettings, memory_report
from .training import with_training


@dataclass(frozen=True)
class PageData:
    summary: dict  # Report.as_dict(), with the training columns
    lints: list  # Diagnostic.as_dict() of every warning the spec does not switch off
    memory: dict  # MemoryReport.as_dict() at the page's batch, inference
    timeline: list  # live bytes through one training step
    timing: dict | None = None  # the predicted time per layer on a device (`--device`)


def page_data(network: Network, batch: int = 1, optimizer: str = "sgd",
              device=None) -> PageData:
    report = with_training(network, analyze(network))
    memory = memory_report(network, MemorySettings((batch,)), report).as_dict([batch])
    step = memory_report(network, MemorySettings((batch,), mode="training", optimizer=optimizer,
                                                 backend="cpu"), report)
    lints = [d.as_dict() for d in lint.check(network, report, network.lint_ignore)]
    timing = None
    if device is not None:
        from .timing import TimeSettings, predict
        timing = predict(network, report, device, TimeSettings(device.name, batch)).as_dict()
    return PageData(report.as_dict(), lints, memory, step.timeline(), timing)
