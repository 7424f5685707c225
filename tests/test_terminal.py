"""On a real pseudo-terminal at 80 and 100 columns: every line fits, every figure shown is
whole (no ellipsis or cut digits in a number), and NO_COLOR switches every escape off."""

import fcntl
import os
import pty
import re
import struct
import subprocess
import sys
import termios

import pytest

NUMBER_CUT = re.compile(r"\d…|…\d")


def on_terminal(args, columns: int, env_extra=None) -> str:
    """The output of `cnncalc ARGS` run on a pty of `columns` x 50."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "NO_COLOR")}
    env.update({"TERM": "xterm", **(env_extra or {})})
    process = subprocess.Popen([sys.executable, "-m", "cnncalc", *args], stdin=follower,
                               stdout=follower, stderr=follower, env=env, close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=60)
    os.close(leader)
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def visible(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.mark.parametrize("columns", [80, 100])
@pytest.mark.parametrize("args", [["summarize", "lenet5"], ["summarize", "vgg16"],
                                  ["summarize", "resnet50", "--depth", "1"],
                                  ["memory", "resnet50"], ["memory", "vgg16", "--layers"]])
def test_tables_fit_and_figures_stay_whole(args, columns):
    text = visible(on_terminal(args, columns))
    lines = text.splitlines()
    assert lines and max(len(line) for line in lines) <= columns, (args, columns)
    assert not NUMBER_CUT.search(text), text
    if args[0] == "summarize":
        header = next(line for line in lines if " name " in line)
        assert "params" in header and "MACs" in header
    if args[:2] == ["summarize", "lenet5"] and columns == 80:
        # what a student checks: C3's 1,516 params and 151,600 connections, in full
        row = next(line for line in lines if " C3 " in line)
        assert "1,516" in row and "151,600" in row


def test_colour_on_a_terminal_and_none_with_no_color():
    assert "\x1b[" in on_terminal(["summarize", "lenet5"], 100)
    for args in (["summarize", "lenet5"], ["memory", "lenet5", "--layers"], ["zoo"]):
        assert "\x1b[" not in on_terminal(args, 100, {"NO_COLOR": "1"}), args
