"""A throwaway git repository of the template, tagged the way releases are.

Copier renders from git, and `copier update` moves a project to the newest release tag. The
upgrade tests therefore need a template repository with release tags, and they cannot count on
this one: tags do not always travel with a clone, and the work tree may hold changes not yet
committed. So they build their own, in two commits:

1. the previous release: the tree of its tag `vX.Y.Z` in this repository if the tag is here,
   else of the commit recorded for it in RELEASE_COMMITS (main's history holds it), tagged
   `vX.Y.Z`;
2. the template as it is now (every file git tracks, with its content on disk), tagged with the
   newest version of CHANGELOG.md.

The folder is named `mlops-ladder`, as a clone of the template would be.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rendering import ROOT, run

# The commit of each release, for clones that lack its tag. Releasing a version (see
# docs/upgrading.md) adds it here; the tag, where it exists, wins.
RELEASE_COMMITS = {
    "0.1.0": "b30d4a3eee53e780b5f75b91c110e6ef5c7937e3",
}
VERSION_HEADING = re.compile(
    r"^## \[(?P<version>\d+\.\d+\.\d+)\] - (?P<date>\d{4}-\d{2}-\d{2}|unreleased)$", re.MULTILINE
)


def changelog_versions() -> list[tuple[str, str]]:
    """(version, date or 'unreleased') of every section of CHANGELOG.md, newest first."""
    return [
        (match["version"], match["date"])
        for match in VERSION_HEADING.finditer((ROOT / "CHANGELOG.md").read_text())
    ]


def git_out(args: list[str], cwd: Path) -> str | None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def release_commit(version: str) -> str | None:
    """The commit of a release in this repository: its tag's, else the recorded one if present."""
    tagged = git_out(["rev-parse", "--verify", "--quiet", f"v{version}^{{commit}}"], ROOT)
    if tagged:
        return tagged
    recorded = RELEASE_COMMITS.get(version)
    if recorded and git_out(["cat-file", "-e", f"{recorded}^{{commit}}"], ROOT) is not None:
        return recorded
    return None


@dataclass(frozen=True)
class TemplateRepo:
    path: Path
    current: str  # newest CHANGELOG version, tagged on the template as it is now
    previous: str | None  # the release before it, tagged on its own commit
    missing: str = ""  # why `previous` is None

    @property
    def url(self) -> str:
        return str(self.path)


def copy_work_tree(dest: Path) -> None:
    """Every file git tracks here, with its content on disk (symlinks stay symlinks)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source, target = ROOT / name, dest / name
        if not (source.exists() or source.is_symlink()):
            continue  # deleted in the work tree, not yet in the index
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            os.symlink(os.readlink(source), target)
        else:
            shutil.copy2(source, target)


def build_template_repo(parent: Path, env: dict[str, str]) -> TemplateRepo:
    path = parent / "mlops-ladder"
    path.mkdir()
    versions = changelog_versions()
    current = versions[0][0]
    previous = versions[1][0] if len(versions) > 1 else None
    git = ["git", "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"]
    run([*git, "init", "--quiet", "--initial-branch=main"], path, env)
    missing = ""
    commit = release_commit(previous) if previous else None
    if previous and commit:
        archive = subprocess.run(
            ["git", "archive", "--format=tar", commit], cwd=ROOT, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-xf", "-"], cwd=path, input=archive, check=True)
        run([*git, "add", "--all"], path, env)
        run([*git, "commit", "--quiet", "-m", f"Release {previous}"], path, env)
        run([*git, "tag", "-a", f"v{previous}", "-m", f"Release {previous}"], path, env)
        run([*git, "rm", "-r", "--quiet", "."], path, env)
    elif previous:
        missing = (
            f"release {previous} is not in this clone: no tag v{previous}, and its recorded "
            f"commit {RELEASE_COMMITS.get(previous)} is missing (a shallow clone?)"
        )
        previous = None
    copy_work_tree(path)
    run([*git, "add", "--all"], path, env)
    run([*git, "commit", "--quiet", "--allow-empty", "-m", f"Release {current}"], path, env)
    run([*git, "tag", "-a", f"v{current}", "-m", f"Release {current}"], path, env)
    return TemplateRepo(path, current, previous, missing)
