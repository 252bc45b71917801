"""Level 0, executed: in a rendered project, `make setup`, `make all`, `make test` and
`make lint` run for real, offline after setup, as a new user would run them."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import DEFAULT_PACKAGE, Renderer, run

pytestmark = pytest.mark.slow

# Both engines (their trees are identical, see test_render) and both tasks' code paths.
CASES = [("copier", "classification"), ("cookiecutter", "classification"), ("copier", "regression")]


@pytest.fixture(scope="module", params=CASES, ids=[f"{e}-{t}" for e, t in CASES])
def project(request: pytest.FixtureRequest, renderer: Renderer, env: dict[str, str]) -> Path:
    engine, task = request.param
    path = renderer.fresh(engine, maturity_level="0", task=task)
    run(["make", "setup"], path, env, label=f"L0 {engine} {task}: make setup")
    return path


def test_make_without_a_target_lists_the_commands(project: Path, env: dict[str, str]) -> None:
    shown = re.sub(r"\x1b\[[0-9;]*m", "", run(["make"], project, env).stdout)
    for target in ("setup", "data", "train", "evaluate", "test", "lint", "format", "all"):
        assert re.search(rf"^  {target} +\w", shown, flags=re.MULTILINE), target


def test_make_all_trains_and_evaluates_a_model(project: Path, env: dict[str, str]) -> None:
    task = (
        "regression" if "progression" in (project / "schema.yaml").read_text() else "classification"
    )
    run(["make", "all"], project, env, label=f"L0 {task}: make all")
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


def test_make_test_passes(project: Path, env: dict[str, str]) -> None:
    outcome = run(["make", "test"], project, env, label="L0: make test")
    assert " passed" in outcome.stdout
    assert " failed" not in outcome.stdout


def test_make_lint_passes_and_changes_nothing(project: Path, env: dict[str, str]) -> None:
    before = {path: path.read_bytes() for path in project.rglob("*.py")}
    run(["make", "lint"], project, env, label="L0: make lint")
    assert before == {path: path.read_bytes() for path in project.rglob("*.py")}


def test_the_cli_is_installed_as_a_command(project: Path, env: dict[str, str]) -> None:
    shown = run(["uv", "run", "--frozen", "tabular-model", "--help"], project, env).stdout
    assert "train" in shown
    assert (project / "src" / DEFAULT_PACKAGE).is_dir()
