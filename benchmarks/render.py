"""What the benchmarks that render share: a project rendered from this checkout, given this
checkout's runtime (mlops-ladder) as its wheel, as the template's tests give it
(tests/rendering.py `provide_runtime`): `make setup` then installs it offline from
.tools/wheels (pyproject.toml's find-links) instead of building it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user's shell: not the template's virtual environment, nor a make
    around this script, nor a choice not to cache bytecode (every command would compile its
    imports again)."""
    env = {key: value for key, value in os.environ.items() if key not in DROPPED}
    env.setdefault("UV_PYTHON_DOWNLOADS", "never")
    return env | extra


DROPPED = {"VIRTUAL_ENV", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"}
DROPPED |= {"PYTHONDONTWRITEBYTECODE"}


def build_wheel(folder: Path, env: dict[str, str]) -> Path:
    """The runtime's wheel, built from this checkout (its work tree, as it is) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("mlops_ladder-*.whl"):
        old.unlink()
    command = ["uv", "build", "--quiet", "--wheel", "--out-dir", str(folder), str(ROOT)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    (wheel,) = folder.glob("mlops_ladder-*.whl")
    return wheel


def render(target: Path, level: int, wheel: Path, env: dict[str, str], **answers: str) -> Path:
    """A project rendered with copier's defaults at `level` (and other `answers`; the template
    as this checkout has it, uncommitted changes included), the runtime's wheel put where its
    `make setup` looks first."""
    copier = Path(sys.executable).parent / "copier"
    command = [str(copier), "copy", "--quiet", "--overwrite", "--defaults", "--vcs-ref", "HEAD"]
    for key, value in {"maturity_level": str(level), **answers}.items():
        command += ["-d", f"{key}={value}"]
    command += [str(ROOT), str(target)]
    subprocess.run(command, cwd=ROOT, env=env, check=True)
    provide_runtime(target, wheel)
    return target


def provide_runtime(project: Path, wheel: Path) -> None:
    wheels = project / ".tools" / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    for old in wheels.glob("mlops_ladder-*.whl"):
        old.unlink()
    shutil.copy2(wheel, wheels / wheel.name)
