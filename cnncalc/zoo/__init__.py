"""The built-in networks: the YAML specs shipped inside the package."""

from __future__ import annotations

from pathlib import Path


def spec_dir() -> Path:
    """The folder of the shipped specs: this package's own."""
    return Path(__file__).resolve().parent


def names() -> list[str]:
    return sorted(p.stem for p in spec_dir().glob("*.yaml"))


def key(name: str) -> str:
    """A name as compared: case, '-', '_', '.' and spaces ignored (VGG16, vgg-16 -> vgg16)."""
    return "".join(c for c in name.lower() if c.isalnum())


def path_of(name: str) -> Path | None:
    """The shipped spec called `name` (with or without .yaml, forgiving case and
    separators), if there is one."""
    stem = name.removesuffix(".yaml")
    if "/" in stem or "\\" in stem:
        return None
    wanted = key(stem)
    for candidate in spec_dir().glob("*.yaml"):
        if candidate.stem == stem or key(candidate.stem) == wanted:
            return candidate
    return None


def suggestion(name: str) -> str:
    """'; did you mean 'resnet18'?' (or the family: resnet -> resnet18, resnet34, ...)."""
    import difflib
    stems = names()
    wanted = key(name.removesuffix(".yaml"))
    family = [s for s in stems if key(s).startswith(wanted)] if len(wanted) >= 3 else []
    if family:
        return f"; built-in networks: {', '.join(family[:8])}"
    close = difflib.get_close_matches(wanted, [key(s) for s in stems], 3, 0.6)
    found = [s for s in stems if key(s) in close]
    return f"; did you mean {' or '.join(repr(s) for s in found)}?" if found else ""
