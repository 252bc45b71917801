"""Fixtures of the template's tests (the helpers they use are in rendering.py): the environment
of every command, the renderer, the runtime's wheel; the order xdist hands scopes out in, and
the wall and CPU times of labelled commands and the tests' CPU times at the end of the session."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
from acting import ActProject, prepare
from rendering import ROOT, TIMINGS_FILE, Renderer, children_cpu, run


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


@pytest.fixture(scope="session")
def runtime_wheel(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> Path:
    """The mlops-ladder wheel of this checkout, built once per test process."""
    folder = tmp_path_factory.mktemp("runtime-wheel")
    run(["uv", "build", "--quiet", "--wheel", "--out-dir", folder, ROOT], ROOT, env)
    (wheel,) = folder.glob("mlops_ladder-*.whl")
    return wheel


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
        if "not slow" not in (config.option.markexpr or ""):  # the quick run installs nothing
            compile_uv_cache()


def compile_uv_cache() -> None:
    """Compile, once, the packages of the template's lock where uv keeps them. uv links each
    package's files from its cache into every environment it makes, a __pycache__ folder
    included, and a rendered project locks the same versions (`make setup`: no release after
    the template's tested day). Without this, Python compiles each module again on its first
    import in each rendered project: ~10 s of CPU for a project's pipeline and tests, some 35
    projects a run. Bytecode is used only if its source's mtime and size match, which the
    linked copy shares; what is not compiled here, Python compiles in the project as before."""
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    cache = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, check=True)
    wheels = Path(cache.stdout.strip())
    folders = {
        entry.resolve()
        for package in lock["package"]
        if "registry" in package.get("source", {})
        for entry in wheels.glob(f"wheels-v*/pypi/{package['name']}/{package['version']}-*")
        if entry.is_dir()  # the link to the unpacked wheel, not its .http, .lock, .msgpack
    }
    # What is imported only: not a wheel's .data (uv refuses a folder in its scripts) nor its
    # .dist-info.
    parts = [
        str(part)
        for folder in folders
        for part in folder.iterdir()
        if not part.name.endswith((".data", ".dist-info"))
    ]
    if parts:
        compile_all = [sys.executable, "-m", "compileall", "-q", "-j", "0", *parts]
        subprocess.run(compile_all, stdout=subprocess.DEVNULL, check=False)


@pytest.fixture(scope="session")
def served_project(renderer: Renderer, env: dict[str, str]) -> Path:
    """A level-2 copier project, its pipeline run (a light study): the champion that
    test_serving.py serves and test_monitoring.py monitors (SHARED_SCOPES)."""
    path = renderer.fresh("copier", maturity_level="2", light=True)
    run(["make", "setup"], path, env, label="served L2: make setup")
    run(["make", "pipeline"], path, env, label="served L2: make pipeline")
    return path


@pytest.fixture(scope="session")
def feast_project(
    renderer: Renderer, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> ActProject:
    """A level-2 project with the feature store, set up, its pipeline run once (`make all`)
    against the team's services (an MLflow registry and a DVC remote, as folders), pushed and
    committed: test_act.py runs its workflows, then test_feature_store.py its store, its serving
    by entity key and its image (SHARED_SCOPES). One Feast pipeline where there were two."""
    state = tmp_path_factory.mktemp("feast-l2")
    return prepare(renderer, env, state, "2", registry=True, feature_store="feast")


# Scopes (modules, or test_act.py's class) that share a session fixture's project: pytest-xdist
# hands each group out as one scope, so that the worker that runs it makes the project once. A
# group's tests run in collection order: test_act.py's before test_feature_store.py's.
SHARED_SCOPES = {
    "tests/test_monitoring.py": "served_project",
    "tests/test_serving.py": "served_project",
    "tests/test_act.py::TestLevel2": "feast_project",
    "tests/test_feature_store.py": "feast_project",
}


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    if config.getvalue("dist") != "loadscope":
        return None  # xdist's own
    from xdist.scheduler import LoadScopeScheduling

    class SharedScopes(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            scope = super()._split_scope(nodeid)
            return SHARED_SCOPES.get(scope) or SHARED_SCOPES.get(nodeid.split("::", 1)[0], scope)

    return SharedScopes(config, log)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The longest scopes first, then the other slow ones, then the quick ones: pytest-xdist
    (`--dist loadscope --no-loadscope-reorder`) hands scopes out in this order, so that no
    worker starts a scope of several minutes while the other has run out of work."""

    def rank(item: pytest.Item) -> int:
        if item.get_closest_marker("long"):
            return 0
        return 1 if item.get_closest_marker("slow") else 2

    items.sort(key=rank)  # stable: the order within each rank stays pytest's


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item) -> Iterator[None]:
    """Each test's wall time and CPU time (its fixtures' setup included: this process and the
    commands it waited for), written where the labelled commands' times go."""
    started, cpu = time.perf_counter(), time.process_time() + children_cpu()
    try:
        return (yield)
    finally:
        if os.environ.get(TIMINGS_FILE):
            spent = time.process_time() + children_cpu() - cpu
            entry = {"test": item.nodeid, "wall": round(time.perf_counter() - started, 1)}
            with open(os.environ[TIMINGS_FILE], "a") as timings:
                timings.write(json.dumps({**entry, "cpu": round(spent, 1)}) + "\n")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    path = Path(os.environ.get(TIMINGS_FILE, ""))
    if os.environ.get("PYTEST_XDIST_WORKER") or not path.is_file():
        return
    entries = [json.loads(line) for line in path.read_text().splitlines()]
    path.unlink()
    commands = [entry for entry in entries if "label" in entry]
    if commands:
        terminalreporter.section("labelled commands: wall and CPU seconds")
        for entry in commands:
            terminalreporter.write_line(
                f"{entry['wall']:8.1f} {entry['cpu']:8.1f}  {entry['label']}"
            )
    tests = sorted((entry for entry in entries if "test" in entry), key=lambda e: -e["cpu"])
    if tests:
        modules: dict[str, float] = {}
        for entry in tests:
            module = entry["test"].split("::", 1)[0]
            modules[module] = modules.get(module, 0.0) + entry["cpu"]
        terminalreporter.section("CPU seconds by module")
        for module, cpu in sorted(modules.items(), key=lambda item: -item[1]):
            terminalreporter.write_line(f"{cpu:8.1f}  {module}")
        total = sum(entry["cpu"] for entry in tests)
        terminalreporter.section(f"CPU seconds by test: {total:.0f} in all, the 40 largest")
        for entry in tests[:40]:
            terminalreporter.write_line(
                f"{entry['cpu']:8.1f} {entry['wall']:8.1f}  {entry['test']}"
            )
