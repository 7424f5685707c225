"""The new spec keys through the command line: every refusal is one line on standard error,
`file:line:col: error: ...`, with the documented exit code, never a traceback."""

import pytest
from typer.testing import CliRunner

from cnncalc.cli import app
from cnncalc.errors import EXIT_INCONSISTENT, EXIT_UNREADABLE

runner = CliRunner()

# (spec text, line, column, exit code, words)
CASES = [
    ("input: [8, 8, 3]\nlayers:\n  - {type: batchnorm, affine: maybe}\n", 3, 31,
     EXIT_UNREADABLE, ["'affine' must be true or false"]),
    ("input: [8, 8, 3]\nlayers:\n  - {type: batchnorm, afine: false}\n", 3, 23,
     EXIT_UNREADABLE, ["unknown setting 'afine'", "did you mean 'affine'?"]),
    ("input: [8, 8, 3]\nlayers:\n  - {name: a, type: conv, filters: 2, kernel: 1}\n"
     "  - {type: conv, filters: 3, kernel: 1, shares: a}\n", 4, 49, EXIT_INCONSISTENT,
     ["cannot use the weights of 'a'"]),
    ("input: [8, 8, 3]\nlayers:\n  - {type: relu, shares: nowhere}\n", 3, 26,
     EXIT_UNREADABLE, ["'shares' names no earlier layer"]),
    ("input: [8, 8, 3]\nlayers:\n  - {type: relu, share: a}\n", 3, 18, EXIT_UNREADABLE,
     ["unknown setting 'share'", "did you mean 'shares'?"]),
    ("inputs: {a: [8, 8, 3], b: [8, 8, 0]}\nlayers: [relu]\n", 1, 27, EXIT_UNREADABLE,
     ["'inputs.b' must be"]),
    ("input: [8, 8, 3]\nimputs: {a: [8, 8, 3]}\nlayers: [relu]\n", 2, 1, EXIT_UNREADABLE,
     ["unknown key 'imputs'", "did you mean 'inputs'"]),
    ("input: [8, 8, 3]\ninclude: no/such/file.yaml\nlayers: [relu]\n", 2, 10,
     EXIT_UNREADABLE, ["included file does not exist"]),
    ("input: [8, 8, 3]\ninclude: [a.yaml, 7]\nlayers: [relu]\n", 2, 10, EXIT_UNREADABLE,
     ["'include' must be a file path or a list of file paths"]),
]


@pytest.mark.parametrize("text, line, column, code, words", CASES)
def test_refused_in_one_line_with_its_exit_code(tmp_path, text, line, column, code, words):
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    for command in ("summarize", "validate", "memory"):
        result = runner.invoke(app, [command, str(spec)])
        assert result.exit_code == code, (command, result.output)
        shown = result.stdout if command == "validate" else result.stderr  # validate's report
        lines = shown.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in result.output, result.output
        assert lines[0].startswith(f"{spec}:{line}:{column}: error: "), lines[0]
        for word in words:
            assert word in lines[0], lines[0]
