"""The runtime is typed: mypy, configured by pyproject.toml's [tool.mypy], finds no error in it.

The same check as `uv run mypy` from the repository's root, run in process. Its cache is the
test's own (a cold run, some 20 s): nothing is written into the checkout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_runtime_type_checks(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed (the dev group has it)")
    stdout, stderr, status = api.run(
        [
            "--config-file",
            str(ROOT / "pyproject.toml"),
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            "--no-error-summary",
            "--no-pretty",
            str(ROOT / "src" / "mlops_ladder"),
        ]
    )
    assert status == 0, f"mypy found errors in the runtime (uv run mypy):\n{stdout}{stderr}"
