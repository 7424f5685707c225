"""Every `$ cnncalc ...` line of README.md's console blocks runs, from the repository root as a
fresh checkout has it, with the exit code README implies (0, unless its comment ends in
`exit N`), and prints the output lines README shows under it. Files a command writes go to
tmp_path."""

import glob
from itertools import pairwise
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
OUTPUT_OPTIONS = {"-o", "--output"}


def commands() -> list[tuple[str, list[str]]]:
    """(the `$` line, the output lines README shows under it) for each command of README."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", README, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found and line.strip() and line.strip() != "...":
                found[-1][1].append(line.rstrip())
    return found


COMMANDS = commands()


def expected_exit(line: str) -> int:
    """The exit code README implies: `# ... exit N` at the end of the comment, else 0."""
    comment = line.partition("#")[2]
    stated = re.search(r"\bexit (\d+)\s*(?::.*)?$", comment)
    return int(stated.group(1)) if stated and not re.search(r"exit \d+,", comment) else 0


def argv(line: str, tmp_path: Path) -> list[str]:
    """The words after `cnncalc`, globs expanded from the root, output files in tmp_path."""
    words = shlex.split(line, comments=True)
    assert words[0] == "cnncalc", line
    out = []
    for previous, word in pairwise(words):
        if previous in OUTPUT_OPTIONS:
            out.append(str(tmp_path / Path(word).name))
        elif any(c in word for c in "*?["):
            matches = sorted(glob.glob(word, root_dir=ROOT))
            assert matches, f"{word} matches no file in the repository"
            out.extend(matches)
        else:
            out.append(word)
    return out


def test_readme_has_its_commands():
    assert len(COMMANDS) >= 10 and all(line.startswith("cnncalc ") for line, _ in COMMANDS)


def test_the_exit_code_a_comment_implies():
    assert expected_exit("cnncalc validate x.yaml    # exit 1: one line") == 1
    assert expected_exit("cnncalc validate x.yaml    # in CI: exit 0, 1 or 2") == 0
    assert expected_exit("cnncalc summarize lenet5   # every layer") == 0


@pytest.mark.parametrize("line, shown", COMMANDS, ids=[line for line, _ in COMMANDS])
def test_readme_command_runs_as_written(line, shown, tmp_path):
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    result = subprocess.run([sys.executable, "-m", "cnncalc", *argv(line, tmp_path)], cwd=ROOT,
                            env=env, text=True, capture_output=True, timeout=300, check=False)
    printed = result.stdout + result.stderr
    assert result.returncode == expected_exit(line), printed[-2000:]
    assert "Traceback" not in printed
    lines = [out.rstrip() for out in printed.splitlines()]
    for expected in shown:
        assert expected in lines, f"README shows {expected!r}; printed:\n{printed[:3000]}"
    for option in OUTPUT_OPTIONS & set(line.split()):  # the file README says is written
        written = tmp_path / Path(line.split()[line.split().index(option) + 1]).name
        assert written.stat().st_size > 0
