"""Shared fixtures: the data, and a model trained once per session exactly as params.yaml says.

Session fixtures are shared by many tests: copy before you change them.
"""

from __future__ import annotations

import os

# One thread per OpenMP and BLAS pool, here and in the commands tests run: on test-sized data a
# pool costs more than it gives, and its threads spin for seconds when the cores are shared (a CI
# runner, tests in parallel): gradient boosting trained in 11 s instead of 0.7 s on a busy 2-core.
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.data import ingest, split
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.features import add_derived_features, derived_for
from {{ cookiecutter.package_name }}.schema import Schema, load_schema
from {{ cookiecutter.package_name }}.train import train

ROOT = Path(__file__).resolve().parents[1]
ENV = "{{ cookiecutter.package_name | upper }}_"
# The job's stages up to evaluation, in order: what `make all` runs{{ " before the gate" if cookiecutter.__pipeline else "" }}.
STAGES = ["ingest", "validate", "split", "featurize", "train", "evaluate"]
{% if cookiecutter.__pipeline %}


@pytest.fixture(scope="session", autouse=True)
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Every test tracks to a temporary MLflow store, never to the project's own."""
    folder = tmp_path_factory.mktemp("mlflow")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.setenv("{{ cookiecutter.package_name | upper }}_ARTIFACTS_DIR", str(folder / "artifacts"))
        yield folder
{% endif %}


@pytest.fixture(scope="session")
def params() -> Params:
    return load_params(ROOT / "params.yaml")


@pytest.fixture(scope="session")
def schema() -> Schema:
    return load_schema(ROOT / "schema.yaml")


@pytest.fixture(scope="session")
def dataset(params: Params) -> pd.DataFrame:
    return ingest(str(ROOT / params.ingest.source))


@pytest.fixture(scope="session")
def splits(dataset: pd.DataFrame, params: Params, schema: Schema) -> tuple[pd.DataFrame, ...]:
    return split(dataset, schema.target, params.split.test_size, params.seed, params.split.stratify)


@pytest.fixture(scope="session")
def train_features(splits: tuple[pd.DataFrame, ...], schema: Schema) -> pd.DataFrame:
    return add_derived_features(splits[0], derived_for(schema.feature_names))


@pytest.fixture(scope="session")
def model(train_features: pd.DataFrame, schema: Schema, params: Params) -> Any:
    return train(train_features, schema, params)


@pytest.fixture(scope="session")
def report(
    model: Any,
    splits: tuple[pd.DataFrame, ...],
    train_features: pd.DataFrame,
    schema: Schema,
    params: Params,
) -> dict[str, Any]:
    return evaluate(model, splits[1], train_features, schema, params)


def point_outputs_at(folder: Path, patch: pytest.MonkeyPatch) -> None:
    """Read params and schema from the project; write every output under `folder`."""
    patch.setenv(f"{ENV}PARAMS_FILE", str(ROOT / "params.yaml"))
    patch.setenv(f"{ENV}SCHEMA_FILE", str(ROOT / "schema.yaml"))
    for name in ("data", "models", "reports"):
        patch.setenv(f"{ENV}{name.upper()}_DIR", str(folder / name))


@pytest.fixture(scope="session")
def job_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every stage run once, in order, through the command line, its outputs in a temporary
    workspace: the command-line{{ " and pipeline" if cookiecutter.__pipeline else "" }} tests read them (training once for both)."""
    workspace = tmp_path_factory.mktemp("job")
    with pytest.MonkeyPatch.context() as patch:
        point_outputs_at(workspace, patch)
        for stage in STAGES:
            assert main([stage]) == 0, stage
    return workspace


@pytest.fixture
def outputs_here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A test's own workspace: params and schema from the project, outputs under tmp_path."""
    point_outputs_at(tmp_path, monkeypatch)
    return tmp_path


@pytest.fixture(scope="module")
def job(job_outputs: Path) -> Iterator[Path]:
    """The job's workspace, where the commands a module's tests run read and write."""
    with pytest.MonkeyPatch.context() as patch:
        point_outputs_at(job_outputs, patch)
        yield job_outputs
