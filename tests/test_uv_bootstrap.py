"""First contact on a machine with python3, git and make and nothing else: the generated
Makefile installs uv into the project's .tools/ (git-ignored) when uv is not on PATH, and builds
the runtime's wheel from the template the project came from (it is not on the package index
yet) into .tools/wheels/, committed with the project."""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rendering import ROOT, Renderer, run

pytestmark = pytest.mark.slow

# What the generated Makefile and the tools it starts call, besides python3 (and uv).
PROGRAMS = ("bash", "sh", "make", "git", "awk", "rm", "xargs", "mkdir", "head", "ls", "grep")


def version() -> str:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]


def versions(lock: Path) -> dict[str, str]:
    return {
        package["name"]: package["version"]
        for package in tomllib.loads(lock.read_text())["package"]
    }


def path_without_uv(folder: Path) -> str:
    """A PATH of one folder holding python3, git, make and the few programs the Makefile uses."""
    folder.mkdir()
    python = (
        Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    )
    assert python.is_file(), f"no base interpreter at {python}"
    (folder / "python3").symlink_to(python)
    for program in PROGRAMS:
        found = shutil.which(program)
        assert found, f"{program} is not installed"
        (folder / program).symlink_to(Path(found).resolve())
    assert shutil.which("uv", path=str(folder)) is None
    return str(folder)


def test_make_setup_installs_uv_into_tools_when_the_machine_has_none(
    renderer: Renderer, env: dict[str, str], tmp_path: Path
) -> None:
    # Given a fresh level-0 project (no runtime wheel: a new user's) on a machine without uv
    project = renderer.fresh("copier", provide=False, maturity_level="0")
    bare = {**env, "PATH": path_without_uv(tmp_path / "bin")}
    # Then `make help` works, and needs no uv
    shown = run(["make", "help"], project, bare)
    assert "setup" in shown.stdout
    assert not (project / ".tools" / "bin").exists()
    assert (project / ".tools" / "template-source").read_text().strip() == str(ROOT)
    # When `make setup` runs
    setup = run(["make", "setup"], project, bare, label="L0: make setup, uv bootstrapped")
    # Then it installed uv into .tools/ and used it for the environment and the hook
    assert "-m venv .tools" in setup.stdout
    # and built the runtime from the template it was generated from
    assert f"building mlops-ladder {version()} from {ROOT}" in setup.stdout
    assert list((project / ".tools" / "wheels").glob(f"mlops_ladder-{version()}-*.whl"))
    assert (project / ".tools" / "bin" / "uv").is_file()
    assert (project / ".venv" / "bin" / "python").exists()
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
    # And the first lock took no release newer than the day the template's tests ran (the
    # Makefile's TESTED_UP_TO, a day past: the set every render of this suite resolved)
    tested_up_to = re.search(r"^TESTED_UP_TO := (\S+)$", (project / "Makefile").read_text(), re.M)
    assert tested_up_to, "the Makefile sets no TESTED_UP_TO"
    day = datetime.fromisoformat(tested_up_to[1])
    assert day <= datetime.now(UTC), f"TESTED_UP_TO {day} is in the future: it pins nothing"
    locked = versions(project / "uv.lock")
    again = tmp_path / "resolved-again"
    shutil.copytree(
        project, again, ignore=shutil.ignore_patterns(".venv", ".git", "uv.lock", "bin")
    )
    uv = project / ".tools" / "bin" / "uv"
    run([uv, "lock", "--quiet", "--exclude-newer", tested_up_to[1]], again, bare)
    assert locked == versions(again / "uv.lock")
    # and the lock keeps no date: Dependabot's locks move on from there
    assert "exclude-newer" not in tomllib.loads((project / "uv.lock").read_text()).get(
        "options", {}
    )
    # And of .tools/ only the runtime's wheel goes into git (uv.lock points at it)
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], project, bare).stdout
    tracked = [line.split()[-1] for line in status.splitlines() if ".tools/" in line]
    assert tracked == [f".tools/wheels/mlops_ladder-{version()}-py3-none-any.whl"], tracked
    # And the next commands find that uv (format runs ruff through it), help still works
    formatted = run(["make", "format"], project, bare)
    assert "uv run --frozen ruff format ." in formatted.stdout
    assert "setup" in run(["make", "help"], project, bare).stdout
