"""Fixtures of the runtime's tests; the harness they use (made projects, `inside`, `run`) is
harness.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jobs
import pytest
from harness import Made, inside, make_project


@pytest.fixture(scope="module", params=jobs.TASKS)
def job(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> jobs.Job:
    """A project of each task whose stages ran once (jobs.job), shared by a module's tests;
    modules that serve or score a trained model define their own `job`."""
    return jobs.job(request.param, tmp_path_factory)


@pytest.fixture
def here(job: jobs.Job) -> Iterator[jobs.Job]:
    """The job's project as the current one, for one test."""
    with inside(job.root):
        yield job


@pytest.fixture
def new_project(tmp_path: Path) -> Any:
    """A factory of projects under this test's own folder."""

    def factory(**options: Any) -> Made:
        return make_project(tmp_path / f"project-{len(list(tmp_path.iterdir()))}", **options)

    return factory
