"""What the template's tests share: rendering with either engine, running commands in a render,
the runtime's wheel for its `make setup`, and the system programs they need.

A module of its own, not conftest.py: pytest imports every conftest.py under the one name
`conftest`, so the runtime's tests (tests/runtime/conftest.py) would shadow these.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

# The rendered projects' pipelines and tests run two at a time (xdist) on CI's cores: one thread
# per OpenMP/BLAS pool in each, or their threads spin against each other (the generated conftest
# says the same for its own tests).
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent  # the template's dev environment: copier, cookiecutter, ruff
ENGINES = ("copier", "cookiecutter")
LEVELS = (0, 1, 2)
TASKS = ("classification", "regression")
DEFAULT_PACKAGE = "tabular_model"

# Wall and CPU time of labelled commands run through `run`, and each test's CPU time, printed at
# the end of the session: the suite is CPU-bound, so CPU says where its time goes. Under
# pytest-xdist every worker appends to the same file, which the controller names and reads.
TIMINGS_FILE = "MLOPS_LADDER_TIMINGS"


@dataclass
class Outcome:
    command: str
    code: int
    stdout: str
    stderr: str
    seconds: float

    def tail(self, lines: int = 60) -> str:
        text = f"$ {self.command}\n[exit {self.code}]\n{self.stdout}\n{self.stderr}"
        return "\n".join(text.splitlines()[-lines:])


def run(
    command: Sequence[str | Path],
    cwd: Path,
    env: dict[str, str],
    label: str | None = None,
    check: bool = True,
    timeout: float = 1800,
) -> Outcome:
    """Run a command; on `check`, fail the test with the end of its output."""
    started = time.perf_counter()
    cpu = children_cpu()
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    outcome = Outcome(
        " ".join(str(part) for part in command),
        done.returncode,
        done.stdout,
        done.stderr,
        time.perf_counter() - started,
    )
    if label and os.environ.get(TIMINGS_FILE):
        with open(os.environ[TIMINGS_FILE], "a") as timings:
            spent = children_cpu() - cpu
            entry = {"label": label, "wall": round(outcome.seconds, 1), "cpu": round(spent, 1)}
            timings.write(json.dumps(entry) + "\n")
    if check and outcome.code != 0:
        pytest.fail(f"command failed in {cwd}:\n{outcome.tail()}", pytrace=False)
    return outcome


def children_cpu() -> float:
    """CPU seconds of this process's finished children (and theirs, once waited for)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (the servers the tests start bind it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def engine_command(engine: str, answers: dict[str, str], parent: Path) -> list[str | Path]:
    """The command a user would type to render with `answers` into a folder under `parent`."""
    if engine == "copier":
        data = [arg for key, value in answers.items() for arg in ("-d", f"{key}={value}")]
        return [
            BIN / "copier", "copy", "--defaults", "--vcs-ref", "HEAD", *data, ROOT,
            parent / "project",
        ]  # fmt: skip
    pairs = [f"{key}={value}" for key, value in answers.items()]
    return [BIN / "cookiecutter", "--no-input", ROOT, *pairs, "-o", parent]


def project_dir(engine: str, parent: Path) -> Path:
    """Where the engine put the project: copier where told, cookiecutter in a folder named by
    the (possibly derived) slug, the only thing under `parent`."""
    if engine == "copier":
        return parent / "project"
    folders = list(parent.iterdir())
    assert len(folders) == 1, f"cookiecutter wrote {folders}"
    return folders[0]


def provide_runtime(project: Path, wheel: Path) -> None:
    """Put the runtime's wheel, built from this checkout, where a project's `make setup` looks
    first (.tools/wheels: pyproject.toml's find-links), as a teammate's copy would be: its
    setup then installs this checkout's runtime offline, without building it again."""
    wheels = project / ".tools" / "wheels"
    wheels.mkdir(parents=True, exist_ok=True)
    shutil.copy2(wheel, wheels / wheel.name)


# A project whose tests are about what runs around the pipeline (the team platform, serving,
# monitoring, the workflows, the feature store, ignored outputs) trains with a shorter study and
# backtest: the tests of each level (test_level0.py, test_level1.py) run the defaults.
LIGHT_PARAMS = {"n_trials": (10, 3), "backtest_windows": (6, 3)}


def lighten(project: Path) -> None:
    """params.yaml's study and backtest shortened (LIGHT_PARAMS), its comments kept."""
    params = project / "params.yaml"
    text = params.read_text()
    for key, (default, light) in LIGHT_PARAMS.items():
        line = re.compile(rf"^(\s+{key}: ){default}\b", re.M)
        assert len(line.findall(text)) == 1, f"params.yaml: no single {key}: {default}"
        text = line.sub(rf"\g<1>{light}", text)
    params.write_text(text)


@dataclass
class Renderer:
    """Renders on demand; `get` caches, `fresh` always renders a new copy. Every render gets the
    runtime's wheel of this checkout (`provide_runtime`)."""

    base: Path
    env: dict[str, str]
    wheel: Path
    cache: dict[tuple, Path] = field(default_factory=dict)
    count: int = 0

    def fresh(self, engine: str, provide: bool = True, light: bool = False, **answers: str) -> Path:
        """A new render; `provide=False` leaves the runtime's wheel for `make setup` to build
        from the template, as on a new user's machine; `light` gives its pipeline a shorter
        study and backtest (`lighten`)."""
        self.count += 1
        parent = self.base / f"{engine}-{self.count}"
        parent.mkdir()
        run(engine_command(engine, answers, parent), ROOT, self.env, label=f"render {engine}")
        path = project_dir(engine, parent)
        assert path.is_dir(), f"{engine} wrote no project at {path}"
        if provide:
            provide_runtime(path, self.wheel)
        if light:
            lighten(path)
        return path

    def get(self, engine: str, **answers: str) -> Path:
        key = (engine, *sorted(answers.items()))
        if key not in self.cache:
            self.cache[key] = self.fresh(engine, **answers)
        return self.cache[key]
