"""Rules for the tests themselves: a test skips only when an optional dependency is missing
(pytest.importorskip, or a skip naming what is absent), never because something raised."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
BROAD = {"Exception", "BaseException"}


def catches_anything(handler: ast.ExceptHandler) -> bool:
    """A bare `except:` or one whose types include Exception or BaseException."""
    if handler.type is None:
        return True
    types = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(t, ast.Name) and t.id in BROAD for t in types)


def called_name(call: ast.Call) -> str:
    """`skip` for `pytest.skip(...)` and for `skip(...)`."""
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")


def calls_skip(node: ast.AST) -> bool:
    return any(isinstance(call, ast.Call) and called_name(call) in ("skip", "xfail")
               for call in ast.walk(node))


def broad_skips(source: str) -> list[int]:
    """The lines of `except Exception`/bare `except` handlers whose body skips the test."""
    return [handler.lineno for handler in ast.walk(ast.parse(source))
            if isinstance(handler, ast.ExceptHandler) and catches_anything(handler)
            and any(calls_skip(statement) for statement in handler.body)]


def test_no_test_skips_when_anything_is_raised():
    found = [f"{path.relative_to(TESTS.parent)}:{line}" for path in sorted(TESTS.rglob("*.py"))
             for line in broad_skips(path.read_text(encoding="utf-8"))]
    assert found == [], "a skip that hides any exception (skip only for a missing dependency)"


def test_the_scan_finds_the_patterns_it_forbids():
    assert broad_skips("try:\n    f()\nexcept Exception:\n    pytest.skip('x')\n") == [3]
    assert broad_skips("try:\n    f()\nexcept:\n    skip('x')\n") == [3]
    assert broad_skips("try:\n    f()\nexcept (ValueError, BaseException) as e:\n"
                       "    if e:\n        pytest.xfail('x')\n") == [3]
    assert broad_skips("try:\n    import a\nexcept ImportError:\n    pytest.skip('no a')\n") == []
    assert broad_skips("try:\n    f()\nexcept Exception:\n    raise\n") == []
