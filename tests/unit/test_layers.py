"""The layering rule: an inner layer never imports an outer one (README, design)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2] / "voxloop"
# inner to outer; top-level modules (aio, errors) are below every layer, except the package's
# __init__ (the public face: it re-exports voxloop.api lazily), which is above them all
LAYERS = ["audio", "engines", "dialogue", "session", "server", "api", "cli"]


def _rank(module: str) -> int:
    parts = module.split(".")
    if len(parts) < 2 or parts[0] != "voxloop" or parts[1] not in LAYERS:
        return -1
    return LAYERS.index(parts[1])


def test_no_inner_layer_imports_an_outer_one() -> None:
    wrong = []
    for path in ROOT.rglob("*.py"):
        own = _rank("voxloop." + ".".join(path.relative_to(ROOT).with_suffix("").parts))
        if path == ROOT / "__init__.py":
            own = len(LAYERS)
        for node in ast.walk(ast.parse(path.read_text())):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else \
                [a.name for a in node.names] if isinstance(node, ast.Import) else []
            wrong += [f"{path.relative_to(ROOT)} imports {n}" for n in names if _rank(n) > own]
    assert wrong == []
