"""The pytest plugin a project's tests stand on (loaded by pytest through the `pytest11` entry
point of mlops-ladder): fixtures of the project's own data and model, and the marker that ties a
test to the ML Test Score.

In a project (a pyproject.toml with `[tool.mlops-ladder]` at pytest's root) the fixtures are,
each built once per session, read-only (copy before you change one):

    params, schema       params.yaml and schema.yaml, checked
    dataset              the table the ingest stage reads (the project's ingest hook)
    splits               (train, test), cut as the split stage cuts them
    train_features       the training split with the derived features (features.py)
    model                the model trained as params.yaml says
    report               its evaluation: test metrics, baselines, slices, the quality bar
    workspace            every stage of the job run once through the command line, its outputs
                         in a temporary folder (the project's own files untouched)

Runs of a tracked project (level 1 and up) go to a temporary MLflow store, never the project's.
Outside a project the plugin does nothing.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlops_ladder import project

# Every stage up to evaluation, in the order `make all` runs them (level 1 adds the gate).
STAGES = ["ingest", "validate", "split", "featurize", "train", "evaluate"]
MARKER = "ml_test_score"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*ids): the ML Test Score tests (Breck et al. 2017) this test backs, e.g. "
        '"data-1": `make readiness` counts a point only where its tests ran and passed',
    )
    root = Path(config.rootpath)
    if _is_project(root):
        project.activate(project.read_identity(root))
        # One thread per OpenMP/BLAS pool: on test-sized data a pool costs more than it gives,
        # and its threads spin for seconds when the cores are shared (a CI runner, xdist).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _is_project(root: Path) -> bool:
    try:
        project.read_identity(root)
    except project.ConfigError:
        return False
    return True


def _root(request: pytest.FixtureRequest) -> Path:
    root = Path(request.config.rootpath)
    if not _is_project(root):
        pytest.skip(f"{root} is not an mlops-ladder project (no [tool.mlops-ladder])")
    return root


@pytest.fixture(scope="session")
def ml_project(request: pytest.FixtureRequest) -> project.Identity:
    """The project under test (its pyproject.toml)."""
    _root(request)
    return project.current()


@pytest.fixture(scope="session", autouse=True)
def _private_mlflow_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Every run of a tracked project's tests goes to a temporary MLflow store."""
    root = Path(request.config.rootpath)
    if not _is_project(root) or not project.read_identity(root).tracked:
        yield
        return
    folder = tmp_path_factory.mktemp("mlflow")
    prefix = project.read_identity(root).env_prefix
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.setenv(f"{prefix}ARTIFACTS_DIR", str(folder / "artifacts"))
        yield


@pytest.fixture(scope="session")
def params(ml_project: project.Identity) -> Any:
    from mlops_ladder.config import load_params

    return load_params(ml_project.root / "params.yaml")


@pytest.fixture(scope="session")
def schema(ml_project: project.Identity) -> Any:
    from mlops_ladder.schema import load_schema

    return load_schema(ml_project.root / "schema.yaml")


@pytest.fixture(scope="session")
def dataset(ml_project: project.Identity, params: Any) -> Any:
    from mlops_ladder import data

    ingest = project.hook("ingest", data.ingest)
    source = params.ingest.source
    return ingest(str(ml_project.root / source) if not Path(source).is_absolute() else source)


@pytest.fixture(scope="session")
def splits(dataset: Any, params: Any, schema: Any) -> tuple[Any, Any]:
    from mlops_ladder.data import split

    return split(dataset, schema.target, params.split.test_size, params.seed, params.split.stratify)


@pytest.fixture(scope="session")
def train_features(splits: tuple[Any, Any], schema: Any) -> Any:
    from mlops_ladder.features import add_derived_features, derived_for

    return add_derived_features(splits[0], derived_for(schema.feature_names))


@pytest.fixture(scope="session")
def model(train_features: Any, schema: Any, params: Any) -> Any:
    from mlops_ladder.train import train

    return train(train_features, schema, params)


@pytest.fixture(scope="session")
def report(
    model: Any, splits: tuple[Any, Any], train_features: Any, schema: Any, params: Any
) -> dict[str, Any]:
    from mlops_ladder.evaluate import evaluate

    return evaluate(model, splits[1], train_features, schema, params)


def point_outputs_at(root: Path, folder: Path, prefix: str, patch: pytest.MonkeyPatch) -> None:
    """Read params and contract from the project; write every output under `folder`."""
    patch.setenv(f"{prefix}PARAMS_FILE", str(root / "params.yaml"))
    patch.setenv(f"{prefix}SCHEMA_FILE", str(root / "schema.yaml"))
    for name in ("data", "models", "reports"):
        patch.setenv(f"{prefix}{name.upper()}_DIR", str(folder / name))


@pytest.fixture(scope="session")
def workspace(
    ml_project: project.Identity, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Path]:
    """Every stage of the job run once, in order, through the command line, its outputs in a
    temporary folder; the variables that point there stay set while tests read it."""
    from mlops_ladder.commands import main

    folder = tmp_path_factory.mktemp("workspace")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ml_project.root)
        point_outputs_at(ml_project.root, folder, ml_project.env_prefix, patch)
        for stage in STAGES:
            assert main([stage]) == 0, f"the {stage} stage failed on the project's data"
        yield folder


@pytest.fixture(scope="session")
def registered(workspace: Path, ml_project: project.Identity) -> dict[str, Any]:
    """The job's model through the registry gate (level 1 and up), as the register stage runs
    it: the gate's decision (reports/registration.json of the workspace)."""
    import json

    from mlops_ladder.commands import main

    if not ml_project.tracked:
        pytest.skip("level 0 has no registry")
    main(["register"])  # a refusal is the decision the tests read, not an error here
    return json.loads((workspace / "reports" / "registration.json").read_text())


@pytest.fixture(scope="session")
def served(registered: dict[str, Any]) -> Iterator[Any]:
    """The serving app (FastAPI's TestClient) answering with the registry's champion, ready."""
    import time

    from fastapi.testclient import TestClient

    from mlops_ladder.serving.app import create_app

    if not registered.get("promoted"):
        pytest.fail("the gate promoted no champion to serve: " + "; ".join(registered["reasons"]))
    with TestClient(create_app()) as client:
        deadline = time.monotonic() + 60
        while client.get("/ready").status_code != 200:
            if time.monotonic() > deadline:
                pytest.fail(f"the app never got ready: {client.get('/ready').json()}")
            time.sleep(0.2)
        yield client


@pytest.fixture(scope="session")
def monitor(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """monitor(records) -> report: the monitoring job on `records` as the current data (the
    job's model predicts them), against the job's training data."""
    import json

    from mlops_ladder.commands import main

    def run(records: Any) -> dict[str, Any]:
        folder = tmp_path_factory.mktemp("monitoring")
        current = folder / "current.parquet"
        records.to_parquet(current, index=False)
        main(["monitor", "--current", str(current), "--output-dir", str(folder)])
        return json.loads((folder / "report.json").read_text())

    return run
