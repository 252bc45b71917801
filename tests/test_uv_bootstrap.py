"""First contact on a machine with python3, git and make and nothing else: the generated
Makefile installs uv into the project's .tools/ (git-ignored) when uv is not on PATH."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from conftest import Renderer, run

pytestmark = pytest.mark.slow

# What the generated Makefile and the tools it starts call, besides python3 (and uv).
PROGRAMS = ("bash", "sh", "make", "git", "awk", "rm", "xargs")


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
    # Given a fresh level-0 project on a machine whose PATH has no uv
    project = renderer.fresh("copier", maturity_level="0")
    bare = {**env, "PATH": path_without_uv(tmp_path / "bin")}
    # Then `make help` works, and needs no uv
    shown = run(["make", "help"], project, bare)
    assert "setup" in shown.stdout
    assert not (project / ".tools").exists()
    # When `make setup` runs
    setup = run(["make", "setup"], project, bare, label="L0: make setup, uv bootstrapped")
    # Then it installed uv into .tools/ and used it for the environment and the hook
    assert "-m venv .tools" in setup.stdout
    assert (project / ".tools" / "bin" / "uv").is_file()
    assert (project / ".venv" / "bin" / "python").exists()
    assert (project / ".git" / "hooks" / "pre-commit").is_file()
    # And .tools/ stays out of git
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], project, bare).stdout
    assert not [line for line in status.splitlines() if ".tools/" in line]
    # And the next commands find that uv (format runs ruff through it), help still works
    formatted = run(["make", "format"], project, bare)
    assert "uv run --frozen ruff format ." in formatted.stdout
    assert "setup" in run(["make", "help"], project, bare).stdout
