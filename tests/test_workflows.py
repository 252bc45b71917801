"""The generated GitHub workflows and actions: valid, secure, and true to the project's rules.

Every level that has workflows (1: ci.yml; 2: cd, ct, monitor, rollback too) must pass
actionlint, zizmor offline (its "auditor" persona: every finding) and GitHub's workflow JSON schema.
The structural tests add what those tools leave to taste: least privilege per job, timeouts,
actions pinned to a commit, and no `${{ }}` expression inside any shell script at all.
The scripts the workflows call are run here against a local stand-in for GitHub's REST API
(a mock: GitHub itself cannot be reached from the tests); act runs them for real in test_act.py.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import BIN, Renderer, run
from fake_github import TOKEN, FakeGitHub, serve_fake_github

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


@pytest.fixture
def fake_github() -> Iterator[tuple[str, type[FakeGitHub]]]:
    with serve_fake_github() as served:
        yield served


def github_rest(project: Path, api: str, *args: str, token: str = TOKEN) -> Any:
    environment = {
        "GITHUB_API_URL": api,
        "GITHUB_REPOSITORY": "example-org/tabular-model",
        "GITHUB_TOKEN": token,
        "PATH": "/usr/bin:/bin",
    }
    script = project / ".github" / "scripts" / "github_rest.py"
    return subprocess.run(
        [sys.executable, script, *args], env=environment, capture_output=True, text=True
    )


def test_monitoring_opens_one_issue_then_updates_it(
    renderer: Renderer, tmp_path: Path, fake_github: tuple[str, type[FakeGitHub]]
) -> None:
    # Given the monitoring workflow's scripts and a report that asks for retraining
    project = project_for(renderer, "2", "classification")
    api, github = fake_github
    report = {
        "retrain_needed": True,
        "reasons": ["6 of 30 features drifted"],
        "model": {"name": "tabular-model"},
        "current": {"rows": 300},
        "features": {"mean_radius": {"drift": True}, "mean_area": {"drift": False}},
    }
    (tmp_path / "report.json").write_text(json.dumps(report))
    script = project / ".github" / "scripts" / "monitoring_summary.py"
    summary = subprocess.run(
        [sys.executable, script, tmp_path / "report.json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "retraining needed" in summary
    assert "6 of 30 features drifted" in summary
    assert "`mean_radius`" in summary
    assert "mean_area" not in summary
    (tmp_path / "issue.md").write_text(summary)
    title = "Model monitoring: retraining needed"
    issue = ["issue", "--label", "model-monitoring", "--title", title]

    # When it reports twice
    first = github_rest(project, api, *issue, "--body-file", str(tmp_path / "issue.md"))
    second = github_rest(project, api, *issue, "--body-file", str(tmp_path / "issue.md"))

    # Then one issue was opened, and updated (with a comment) the second time
    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert first.stdout.strip() == "opened issue #1"
    assert second.stdout.strip() == "updated issue #1"
    assert len(github.issues) == 1
    assert github.issues[0]["labels"] == ["model-monitoring"]
    assert "6 of 30 features drifted" in github.issues[0]["body"]
    methods = [(method, path.split("?")[0]) for method, path, _ in github.calls]
    assert ("PATCH", "/repos/example-org/tabular-model/issues/1") in methods
    assert ("POST", "/repos/example-org/tabular-model/issues/1/comments") in methods


def test_monitoring_starts_continuous_training(
    renderer: Renderer, fake_github: tuple[str, type[FakeGitHub]]
) -> None:
    project = project_for(renderer, "2", "classification")
    api, github = fake_github
    done = github_rest(
        project, api, "dispatch", "ct.yml", "--ref", "refs/heads/main", "--input", "reason=drift"
    )
    assert done.returncode == 0, done.stderr
    assert github.calls == [
        (
            "POST",
            "/repos/example-org/tabular-model/actions/workflows/ct.yml/dispatches",
            {"ref": "refs/heads/main", "inputs": {"reason": "drift"}},
        )
    ]


def test_a_refused_token_is_one_clear_error(
    renderer: Renderer, fake_github: tuple[str, type[FakeGitHub]]
) -> None:
    project = project_for(renderer, "2", "classification")
    api, _ = fake_github
    done = github_rest(project, api, "dispatch", "ct.yml", "--ref", "main", token="wrong")
    assert done.returncode == 1
    assert done.stderr.startswith("error: POST ")
    assert "HTTP 401" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_local_run_without_a_token_prints_what_it_would_send(
    renderer: Renderer, fake_github: tuple[str, type[FakeGitHub]]
) -> None:
    # Under act (ACT=true) with no token: the requests are shown, nothing is sent
    project = project_for(renderer, "2", "classification")
    api, github = fake_github
    script = project / ".github" / "scripts" / "github_rest.py"
    environment = {"ACT": "true", "GITHUB_API_URL": api, "GITHUB_REPOSITORY": "o/r"}
    done = subprocess.run(
        [sys.executable, script, "dispatch", "ct.yml", "--ref", "main", "--input", "reason=drift"],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert "[dry run: no GITHUB_TOKEN] POST" in done.stdout
    assert github.calls == []
    # On GitHub (no ACT), a missing token is an error, never a silent dry run
    del environment["ACT"]
    done = subprocess.run(
        [sys.executable, script, "dispatch", "ct.yml", "--ref", "main"],
        env=environment,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert done.stderr == "error: GITHUB_TOKEN is not set\n"
