"""Template versions and the one-way ladder, quickly: the changelog is a list of semver releases,
the recorded release commits and tags agree with it, and `copier update` refuses to go down a
level before writing anything (the slow climb in test_upgrade.py checks it again at level 2)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml
from rendering import BIN, ROOT, run
from template_repo import RELEASE_COMMITS, build_template_repo, changelog_versions


def semver(version: str) -> tuple[int, ...]:
    return tuple(int(part) for part in version.split("."))


def test_the_changelog_lists_semver_releases_newest_first() -> None:
    versions = changelog_versions()
    assert len(versions) >= 2
    numbers = [semver(version) for version, _ in versions]
    assert numbers == sorted(numbers, reverse=True)
    assert len(set(numbers)) == len(numbers)
    # Only the newest section may still be unreleased.
    assert all(date != "unreleased" for _, date in versions[1:])


def test_every_release_commit_and_tag_is_a_changelog_version() -> None:
    released = {version for version, date in changelog_versions() if date != "unreleased"}
    assert set(RELEASE_COMMITS) <= released
    tags = subprocess.run(
        ["git", "tag", "--list", "v*"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()
    assert {tag.removeprefix("v") for tag in tags} <= {
        version for version, _ in changelog_versions()
    }


@pytest.fixture(scope="module")
def level1_project(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """A level-1 project rendered by copier from a tagged template repository, committed."""
    repo = build_template_repo(tmp_path_factory.mktemp("template"), env)
    project = tmp_path_factory.mktemp("downgrade") / "project"
    copy = [BIN / "copier", "copy", "--defaults", "-d", "maturity_level=1", repo.url, project]
    outcome = run(copy, project.parent, env, label="render L1 for the downgrade check")
    # A copy into an empty folder has no previous level: no check, and nothing to warn about.
    assert "Warning" not in outcome.stderr, outcome.stderr
    run(["git", "init", "-q", "-b", "main"], project, env)
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", "Generate"], project, env)
    return project


def test_the_answers_file_records_the_level_as_the_floor(level1_project: Path) -> None:
    answers = yaml.safe_load((level1_project / ".copier-answers.yml").read_text())
    assert answers["maturity_level"] == 1
    assert answers["maturity_level_floor"] == 1


@pytest.mark.parametrize(
    "command", [["update"], ["recopy", "--overwrite"]], ids=["update", "recopy"]
)
def test_going_down_a_level_is_refused_and_changes_nothing(
    level1_project: Path, env: dict[str, str], command: list[str]
) -> None:
    head = git_out(level1_project, "rev-parse", "HEAD")
    outcome = run(
        [BIN / "copier", *command, "--defaults", "-d", "maturity_level=0"],
        level1_project,
        env,
        check=False,
    )
    assert outcome.code != 0
    message = (
        "Validation error for question 'maturity_level': cannot go down from level 1 to level 0"
    )
    assert message in outcome.stderr, outcome.tail()
    assert git_out(level1_project, "status", "--porcelain", "--untracked-files=all") == ""
    assert git_out(level1_project, "rev-parse", "HEAD") == head


def git_out(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, capture_output=True, text=True, check=True
    ).stdout
