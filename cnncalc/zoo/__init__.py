"""The built-in networks: the YAML specs shipped inside the package."""

from __future__ import annotations

from pathlib import Path


def spec_dir() -> Path:
    """The folder of the shipped specs: this package's own."""
    return Path(__file__).resolve().parent


def names() -> list[str]:
    return sorted(p.stem for p in spec_dir().glob("*.yaml"))


def path_of(name: str) -> Path | None:
    """The shipped spec called `name` (with or without .yaml), if there is one."""
    stem = name.removesuffix(".yaml")
    candidate = spec_dir() / f"{stem}.yaml"
    return candidate if "/" not in stem and candidate.is_file() else None
