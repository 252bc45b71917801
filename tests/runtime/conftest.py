"""Fixtures of the runtime's tests; the harness they use (made projects, `inside`, `run`) is
harness.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from harness import Made, make_project


@pytest.fixture
def new_project(tmp_path: Path) -> Any:
    """A factory of projects under this test's own folder."""

    def factory(**options: Any) -> Made:
        return make_project(tmp_path / f"project-{len(list(tmp_path.iterdir()))}", **options)

    return factory
