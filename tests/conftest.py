"""Fixtures: render the template with either engine, once per session, and run commands in it.

Every render goes through the engines' real command lines, as a user would call them. Renders
are cached per (engine, answers) for the session; a test that changes a rendered project must
render its own copy (`render_fresh`).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
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

# Wall time of labelled commands run through `run`, printed at the end of the session. Under
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
            timings.write(json.dumps([label, round(outcome.seconds, 1)]) + "\n")
    if check and outcome.code != 0:
        pytest.fail(f"command failed in {cwd}:\n{outcome.tail()}", pytrace=False)
    return outcome


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on (the servers the tests start bind it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def need(program: str) -> str:
    """A system program the test needs (.ci/run installs it): a failure in CI, a skip else."""
    found = shutil.which(program)
    if found is None:
        message = f"{program} is not installed (apt-get install {program}; .ci/run does)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest.fixture(scope="session")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment of every command: offline-friendly, isolated from the user's config."""
    home = tmp_path_factory.mktemp("home")
    config = home / "cookiecutterrc.yaml"
    config.write_text(
        f"cookiecutters_dir: {home / 'cookiecutters'}\nreplay_dir: {home / 'replay'}\n"
    )
    if shutil.which("uv") is None:
        pytest.exit("uv is not on PATH: run the tests with `make test`", returncode=2)
    values = dict(os.environ)
    values.update(
        {
            "COOKIECUTTER_CONFIG": str(config),
            "UV_PYTHON_DOWNLOADS": "never",
            "UV_NO_PROGRESS": "1",
            # One pre-commit cache for the whole run (hooks are local: nothing is downloaded).
            "PRE_COMMIT_HOME": str(home / "pre-commit"),
            "DVC_NO_ANALYTICS": "1",
            # Each rendered project's environment is used once: byte-compiling all of it costs
            # more than compiling, on import, what the commands use (`make setup` does not; a
            # machine's UV_COMPILE_BYTECODE=1 would).
            "UV_COMPILE_BYTECODE": "0",
            # A project's `make test` runs its tests in one process here: this suite keeps the
            # cores busy already (test_level1's level-2 project runs them on every core, as a
            # user's `make test` does).
            "TEST_WORKERS": "0",
            "MPLBACKEND": "Agg",
            "GIT_AUTHOR_NAME": "mlops-ladder tests",
            "GIT_AUTHOR_EMAIL": "tests@example.com",
            "GIT_COMMITTER_NAME": "mlops-ladder tests",
            "GIT_COMMITTER_EMAIL": "tests@example.com",
        }
    )
    # The generated project must not see the template's own virtual environment, nor the make
    # that runs this suite (`make test`): a user's `make` in the project is a top-level one.
    for name in ("VIRTUAL_ENV", "MAKELEVEL", "MAKEFLAGS", "MFLAGS", "MAKEOVERRIDES"):
        values.pop(name, None)
    # Nor a machine's choice not to cache bytecode: then every command would compile every
    # module it imports from source again (see UV_COMPILE_BYTECODE above).
    values.pop("PYTHONDONTWRITEBYTECODE", None)
    return values


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


@pytest.fixture(scope="session")
def runtime_wheel(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """The mlops-ladder wheel of this checkout, built once per test process."""
    folder = tmp_path_factory.mktemp("runtime-wheel")
    run(["uv", "build", "--quiet", "--wheel", "--out-dir", folder, ROOT], ROOT, env)
    (wheel,) = folder.glob("mlops_ladder-*.whl")
    return wheel


@dataclass
class Renderer:
    """Renders on demand; `get` caches, `fresh` always renders a new copy. Every render gets the
    runtime's wheel of this checkout (`provide_runtime`)."""

    base: Path
    env: dict[str, str]
    wheel: Path
    cache: dict[tuple, Path] = field(default_factory=dict)
    count: int = 0

    def fresh(self, engine: str, provide: bool = True, **answers: str) -> Path:
        """A new render; `provide=False` leaves the runtime's wheel for `make setup` to build
        from the template, as on a new user's machine."""
        self.count += 1
        parent = self.base / f"{engine}-{self.count}"
        parent.mkdir()
        run(engine_command(engine, answers, parent), ROOT, self.env, label=f"render {engine}")
        path = project_dir(engine, parent)
        assert path.is_dir(), f"{engine} wrote no project at {path}"
        if provide:
            provide_runtime(path, self.wheel)
        return path

    def get(self, engine: str, **answers: str) -> Path:
        key = (engine, *sorted(answers.items()))
        if key not in self.cache:
            self.cache[key] = self.fresh(engine, **answers)
        return self.cache[key]


@pytest.fixture(scope="session")
def renderer(
    tmp_path_factory: pytest.TempPathFactory, env: dict[str, str], runtime_wheel: Path
) -> Renderer:
    return Renderer(tmp_path_factory.mktemp("renders"), env, runtime_wheel)


def pytest_configure(config: pytest.Config) -> None:
    if not os.environ.get(TIMINGS_FILE):  # the controller, not an xdist worker
        handle, path = tempfile.mkstemp(prefix="mlops-ladder-timings-", suffix=".jsonl")
        os.close(handle)
        os.environ[TIMINGS_FILE] = path


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest scopes first, then the other slow ones, then the quick ones: pytest-xdist
    (`--dist loadscope --no-loadscope-reorder`) hands scopes out in this order, so that no
    worker starts a scope of several minutes while the other has run out of work."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("long"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)  # stable: the order within each rank stays pytest's


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    path = Path(os.environ.get(TIMINGS_FILE, ""))
    if os.environ.get("PYTEST_XDIST_WORKER") or not path.is_file():
        return
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    path.unlink()
    if lines:
        terminalreporter.section("command wall times")
        for label, seconds in lines:
            terminalreporter.write_line(f"{seconds:8.1f} s  {label}")
