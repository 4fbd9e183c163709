"""Print pip constraints pinning every dependency of pyproject.toml to its declared floor.

``make test-min`` installs with these constraints (torch stays at the CPU build's
2.13.0), so the lowest versions the package claims to support are the ones tested.
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

PINNED = {"torch": "2.13.0"}  # the CPU build on these machines; any other spec pulls CUDA


def floors(pyproject: Path) -> list[str]:
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    lines = []
    for requirement in requirements:
        match = re.fullmatch(r"\s*([A-Za-z0-9_.-]+)\s*>=\s*([^,;\s]+)\s*", requirement)
        if match is None:
            raise SystemExit(f"{pyproject}: {requirement!r}: expected NAME>=FLOOR")
        name, floor = match.groups()
        lines.append(f"{name}=={PINNED.get(name, floor)}")
    return lines


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    sys.stdout.write("".join(line + "\n" for line in floors(root / "pyproject.toml")))
