"""The generated GitHub workflows and actions: valid, secure, and true to the project's rules.

Every level that has workflows (1: ci.yml; 2: cd, ct, monitor, rollback too) must pass
actionlint, zizmor offline (its "auditor" persona: every finding) and GitHub's workflow JSON schema.
The structural tests add what those tools leave to taste: least privilege per job, timeouts,
actions pinned to a commit, and no `${{ }}` expression inside any shell script at all.
The steps that are code are the runtime's (`python -m mlops_ladder.ci`, tested in process in
tests/runtime/test_ci.py); act runs them inside the workflows in test_act.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BIN, Renderer, run

from mlops_ladder.ci.cli import build_parser

# (level, task): the levels with workflows, and the other task at level 2.
CASES = [("1", "classification"), ("2", "classification"), ("2", "regression")]
IDS = [f"L{level}-{task}" for level, task in CASES]
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def project_for(renderer: Renderer, level: str, task: str) -> Path:
    return renderer.get("copier", maturity_level=level, task=task)


def workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def actions(project: Path) -> list[Path]:
    return sorted((project / ".github" / "actions").glob("*/action.yml"))


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps_of(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in (document.get("jobs") or {}).values():
        yield from job.get("steps") or []
    yield from (document.get("runs") or {}).get("steps") or []


def test_level_0_has_no_workflows(renderer: Renderer) -> None:
    assert not (renderer.get("copier", maturity_level="0") / ".github").exists()


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_the_workflows_of_each_level(renderer: Renderer, level: str, task: str) -> None:
    names = {path.name for path in workflows(project_for(renderer, level, task))}
    level_2 = {"cd.yml", "ct.yml", "monitor.yml", "rollback.yml"} if level == "2" else set()
    assert names == {"ci.yml"} | level_2


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_actionlint_passes(renderer: Renderer, env: dict[str, str], level: str, task: str) -> None:
    project = project_for(renderer, level, task)
    run([BIN / "actionlint", "-no-color", *workflows(project)], project, env)


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_zizmor_offline_finds_nothing(
    renderer: Renderer, env: dict[str, str], level: str, task: str
) -> None:
    project = project_for(renderer, level, task)
    # The auditor persona: every finding, pedantic ones included (secrets outside an environment).
    outcome = run(
        [BIN / "zizmor", "--offline", "--no-progress", "--persona=auditor", "."], project, env
    )
    assert "No findings" in outcome.stdout
    audited = outcome.stderr.count("completed ")
    assert audited >= len(workflows(project)) + len(actions(project))


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_workflows_and_actions_match_githubs_schemas(
    renderer: Renderer, env: dict[str, str], level: str, task: str
) -> None:
    project = project_for(renderer, level, task)
    check = BIN / "check-jsonschema"
    run([check, "--builtin-schema", "vendor.github-workflows", *workflows(project)], project, env)
    run([check, "--builtin-schema", "vendor.github-actions", *actions(project)], project, env)


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_least_privilege_timeouts_and_pins(renderer: Renderer, level: str, task: str) -> None:
    project = project_for(renderer, level, task)
    for path in workflows(project):
        document = load(path)
        assert document["permissions"] == {}, f"{path.name}: the workflow must grant nothing"
        for name, job in document["jobs"].items():
            where = f"{path.name}: job {name}"
            assert "permissions" in job, f"{where} must say which permissions it needs"
            assert "write-all" not in str(job["permissions"]), where
            if "uses" not in job:  # a called workflow sets its own jobs' timeouts
                assert 0 < job["timeout-minutes"] <= 60, f"{where} needs a timeout"
    for path in [*workflows(project), *actions(project)]:
        for step in steps_of(load(path)):
            uses = step.get("uses", "")
            if uses and not uses.startswith("./"):
                assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a commit"


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_no_expression_inside_any_script(renderer: Renderer, level: str, task: str) -> None:
    # Values reach scripts through `env:` only: an expression expanded into a script is code
    # injection waiting for a hostile branch name, input or report.
    project = project_for(renderer, level, task)
    for path in [*workflows(project), *actions(project)]:
        for step in steps_of(load(path)):
            assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"


def test_the_project_lints_its_own_workflows(renderer: Renderer) -> None:
    # `make lint` (and so CI's lint job) runs actionlint and zizmor from the project's own
    # locked tools, as pre-commit hooks.
    project = project_for(renderer, "1", "classification")
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    ids = {hook["id"] for repo in hooks["repos"] for hook in repo["hooks"]}
    assert {"actionlint", "zizmor"} <= ids
    makefile = (project / "Makefile").read_text()
    assert "ci-local:" in makefile
    assert "ubuntu-latest=-self-hosted" in makefile
    assert "--cache-server-addr 127.0.0.1 --artifact-server-addr 127.0.0.1" in makefile


CI_COMMAND = re.compile(r"python -m mlops_ladder\.ci ([a-z-]+)")


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_the_steps_that_are_code_are_the_runtimes(
    renderer: Renderer, level: str, task: str
) -> None:
    # The workflows' Python steps are commands of the runtime (tests/runtime/test_ci.py runs
    # them): each one a workflow names exists, and every one is called from a job that set up
    # the locked environment first.
    project = project_for(renderer, level, task)
    known = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    called = set()
    for path in [*workflows(project), *actions(project)]:
        document = load(path)
        jobs = list((document.get("jobs") or {}).values()) or [document.get("runs") or {}]
        for job in jobs:
            set_up = False
            for step in job.get("steps") or []:
                set_up = set_up or step.get("uses") == "./.github/actions/setup"
                for command in CI_COMMAND.findall(step.get("run", "")):
                    called.add(command)
                    assert set_up, f"{path.name}: {step.get('name')} runs before the setup"
                    assert "uv run --frozen python -m mlops_ladder.ci" in step["run"]
    assert called <= known, called - known
    if level == "2":
        assert called == known  # every command has its workflow
    assert not (project / ".github" / "scripts").exists() or {
        file.name for file in (project / ".github" / "scripts").iterdir()
    } == {"deploy.sh", "service.sh"}
