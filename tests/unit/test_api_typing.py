"""The public API type-checks under ``mypy --strict`` in a user's script and in the examples
(with mypy's defaults, not this project's config), and mypy catches a misuse of a tool."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.support import ROOT


def _mypy(*files: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mypy", "--config-file=", "--strict", "--ignore-missing-imports",
                           *map(str, files)], cwd=ROOT, capture_output=True, text=True)


def test_user_scripts_pass_mypy_strict() -> None:
    run = _mypy(ROOT / "tests" / "data" / "user_agent.py", *sorted((ROOT / "examples").glob("*.py")))
    assert run.returncode == 0, run.stdout + run.stderr


def test_mypy_strict_catches_a_misuse(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import voxloop\n\n\n@voxloop.tool\ndef f(x: int) -> str:\n    return str(x)\n\n\ny: int = f('no')\n")
    run = _mypy(bad)
    assert run.returncode == 1 and 'has incompatible type "str"; expected "int"' in run.stdout, run.stdout
