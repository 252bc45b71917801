"""Level 0, executed: in a rendered project, `make setup`, `make all`, `make test` and
`make lint` run for real, offline after setup, as a new user would run them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from rendering import DEFAULT_PACKAGE, Renderer, run

pytestmark = pytest.mark.slow


class ProjectChecks:
    """What a level-0 project must do. A subclass per (engine, task): under
    `pytest -n N --dist loadscope` each class runs on one worker, sharing its project."""

    ENGINE = "copier"
    TASK = "classification"

    @pytest.fixture(scope="class")
    @classmethod
    def project(cls, renderer: Renderer, env: dict[str, str]) -> Path:
        path = renderer.fresh(cls.ENGINE, maturity_level="0", task=cls.TASK)
        run(["make", "setup"], path, env, label=f"L0 {cls.ENGINE} {cls.TASK}: make setup")
        return path

    def test_make_without_a_target_lists_the_commands(
        self, project: Path, env: dict[str, str]
    ) -> None:
        shown = re.sub(r"\x1b\[[0-9;]*m", "", run(["make"], project, env).stdout)
        for target in ("setup", "data", "train", "evaluate", "test", "lint", "format", "all"):
            assert re.search(rf"^  {target} +\w", shown, flags=re.MULTILINE), target

    def test_make_all_trains_and_evaluates_a_model(
        self, project: Path, env: dict[str, str]
    ) -> None:
        task = self.TASK
        run(["make", "all"], project, env, label=f"L0 {self.ENGINE} {task}: make all")
        metadata = json.loads((project / "models" / "metadata.json").read_text())
        report = json.loads((project / "reports" / "metrics.json").read_text())
        assert (project / "models" / "model.joblib").is_file()
        assert metadata["task"] == task
        assert metadata["data"]["raw"]["md5"]
        assert metadata["git"]["commit"] is None  # a new repository has no commit yet
        assert report["quality"] == {"passed": True, "failures": []}
        assert set(report["baselines"]) == {"dummy", "linear"}
        assert (project / "reports" / "validation.json").is_file()
        assert list((project / "reports" / "figures").glob("*.png"))

    def test_make_test_passes(self, project: Path, env: dict[str, str]) -> None:
        outcome = run(["make", "test"], project, env, label="L0: make test")
        assert " passed" in outcome.stdout
        assert " failed" not in outcome.stdout

    def test_make_lint_passes_and_changes_nothing(self, project: Path, env: dict[str, str]) -> None:
        before = {path: path.read_bytes() for path in project.rglob("*.py")}
        run(["make", "lint"], project, env, label="L0: make lint")
        assert before == {path: path.read_bytes() for path in project.rglob("*.py")}

    def test_the_cli_is_installed_as_a_command(self, project: Path, env: dict[str, str]) -> None:
        shown = run(["uv", "run", "--frozen", "tabular-model", "--help"], project, env).stdout
        assert "train" in shown
        assert (project / "src" / DEFAULT_PACKAGE).is_dir()


# Both tasks' code paths, rendered by copier: the engines' trees are identical byte for byte
# (test_render), so running a cookiecutter render too would run the same files again (the
# own-data tests run cookiecutter renders end to end).
class TestLevel0CopierClassification(ProjectChecks):
    ENGINE, TASK = "copier", "classification"


class TestLevel0CopierRegression(ProjectChecks):
    ENGINE, TASK = "copier", "regression"
