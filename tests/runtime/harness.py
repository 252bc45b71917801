"""The runtime's tests run it in process, on projects made here: no render, no install.

(A module of its own, not conftest.py: pytest imports every conftest.py under the one name
`conftest`, and the template's tests/conftest.py would shadow this one.)

A project is what a generated one holds that the runtime reads: pyproject.toml's
`[tool.mlops-ladder]` table, params.yaml and schema.yaml rendered from the template's own
files (template/), the owner's package (template/src/: features, estimators, ingest, metrics)
and a table. `make_project` builds one for a task and level, on the bundled sample or on any
table (its contract drafted by `schema draft`, as a user would); `inside(root)` runs code in it
(its folder the working one, its identity the runtime's).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from jinja2 import Environment

from mlops_ladder import project

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "template"
PACKAGE_SOURCE = TEMPLATE / "src" / "{{cookiecutter.package_name}}"
SAMPLES = {"classification": "breast_cancer.csv", "regression": "diabetes.csv"}
# The owner's package of every project made here: the template's own files, imported once (each
# project's copy is the same code, so one import serves them all).
PACKAGE = "tabular_model"

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


def answers(task: str, level: int, package: str = PACKAGE) -> dict[str, str]:
    """The template's `cookiecutter` variables for these answers (copier.yml's derived ones)."""
    return {
        "project_name": "Tabular Model",
        "project_slug": package.replace("_", "-"),
        "package_name": package,
        "description": "A project of the runtime's tests.",
        "maturity_level": str(level),
        "task": task,
        "feature_store": "none",
        "python_version": "3.11",
        "__pipeline": "yes" if level >= 1 else "",
        "__cicd": "yes" if level >= 2 else "",
        "__classification": "yes" if task == "classification" else "",
        "__feast": "",
        "__runtime_version": "0.2.0",
    }


def render(name: str, context: dict[str, str]) -> str:
    """One of template/'s `.jinja` files, rendered with copier.yml's Jinja options."""
    environment = Environment(keep_trailing_newline=True, lstrip_blocks=True, trim_blocks=True)
    source = (TEMPLATE / f"{name}.jinja").read_text(encoding="utf-8")
    return environment.from_string(source).render(cookiecutter=context)


@dataclass(frozen=True)
class Made:
    root: Path
    task: str
    level: int

    @property
    def params_file(self) -> Path:
        return self.root / "params.yaml"

    def params(self) -> dict[str, Any]:
        return yaml.safe_load(self.params_file.read_text())

    def set_params(self, **sections: Any) -> None:
        """Replace params.yaml's values: `set_params(tune={"n_trials": 3})` updates a section."""
        params = self.params()
        for name, value in sections.items():
            if isinstance(value, dict) and isinstance(params.get(name), dict):
                params[name] = {**params[name], **value}
            else:
                params[name] = value
        self.params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def make_project(
    root: Path,
    task: str = "classification",
    level: int = 1,
    table: pd.DataFrame | None = None,
    target: str | None = None,
    file_name: str = "data.csv",
    feature_store: bool = False,
) -> Made:
    """A project at `root`: the template's params.yaml, pyproject table and package, and the
    bundled sample with its contract, or `table` with a contract drafted for `target`; with
    `feature_store`, params.yaml's feature_store section as a level-2 Feast project has it."""
    context = answers(task, level)
    if feature_store:
        context |= {"feature_store": "feast", "__feast": "yes"}
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        "[project]\n"
        f'name = "{context["project_slug"]}"\n'
        'version = "0.1.0"\n'
        f'description = "{context["description"]}"\n\n'
        "[tool.mlops-ladder]\n"
        f'package = "{PACKAGE}"\n'
        f"level = {level}\n"
        f'features = "{PACKAGE}.features:DERIVED"\n'
        f'estimators = "{PACKAGE}.model:ESTIMATORS"\n'
        f'ingest = "{PACKAGE}.ingest:ingest"\n'
        f'metrics = "{PACKAGE}.metrics:METRICS"\n'
    )
    (root / "params.yaml").write_text(render("params.yaml", context))
    shutil.copytree(PACKAGE_SOURCE, root / "src" / PACKAGE, dirs_exist_ok=True)
    sample = TEMPLATE / "data" / "sample" / SAMPLES[task]
    (root / "data" / "sample").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sample, root / "data" / "sample" / sample.name)
    made = Made(root, task, level)
    # A new project carries the sample's contract: the draft replaces it, with no --force.
    (root / "schema.yaml").write_text(render("schema.yaml", context))
    if table is None:
        return made
    path = root / "data" / file_name
    if path.suffix == ".parquet":
        table.to_parquet(path, index=False)
    else:
        table.to_csv(path, index=False)
    with inside(root):
        from mlops_ladder.commands import main

        assert main(["schema", "draft", str(path.relative_to(root)), "--target", target]) == 0
    made.set_params(ingest={"source": str(path.relative_to(root))})
    return made


@contextmanager
def inside(root: Path) -> Iterator[project.Identity]:
    """Run in the project at `root`: its folder the working one, its identity the runtime's,
    its package importable."""
    before = Path.cwd()
    source = str(root / "src")
    # mlflow.set_tracking_uri exports the URI to the environment: the next project would read
    # this one's store as its own setting.
    tracking = os.environ.get("MLFLOW_TRACKING_URI")
    sys.path.insert(0, source)
    os.chdir(root)
    try:
        with project.using(root) as identity:
            yield identity
    finally:
        os.chdir(before)
        sys.path.remove(source)
        if tracking is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = tracking


def run(root: Path, *commands: str) -> None:
    """Run commands of the project's command line, in order; each must succeed."""
    from mlops_ladder.commands import main

    with inside(root):
        for command in commands:
            assert main(command.split()) == 0, command


def free_port() -> int:
    """A port of 127.0.0.1 nothing listens on now, for a server a test starts."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def server_process(
    command: list[str], url: str, log: Path, timeout: float, **options: Any
) -> Iterator[subprocess.Popen]:
    """A server started by `command` (its output in `log`), once `url` answers; stopped after,
    with the processes it started (mlflow server's uvicorn, a server's workers: a session of
    their own, stopped together). `options` go to Popen (env, cwd)."""
    with log.open("w") as output:
        process = subprocess.Popen(
            command, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **options
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2):
                    break
            except OSError:
                assert process.poll() is None, log.read_text()[-3000:]
                assert time.monotonic() < deadline, (
                    f"{url} did not answer: {log.read_text()[-3000:]}"
                )
                time.sleep(0.2)
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=60)


def need(program: str, package: str | None = None) -> str:
    """A system program the test needs (.ci/run installs it, from Debian's `package`): a
    failure in CI, a skip elsewhere."""
    found = shutil.which(program)
    if found is None:
        message = (
            f"{program} is not installed (Debian: apt-get install {package or program}; "
            ".ci/run does)"
        )
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return found
