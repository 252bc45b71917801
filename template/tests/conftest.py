"""Shared fixtures: the data, and a model trained once per session exactly as params.yaml says.

Session fixtures are shared by many tests: copy before you change them.
"""

from __future__ import annotations

{% if cookiecutter.__pipeline %}
from collections.abc import Iterator
{% endif %}
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.config import Params, load_params
from {{ cookiecutter.package_name }}.data import ingest, split
from {{ cookiecutter.package_name }}.evaluate import evaluate
from {{ cookiecutter.package_name }}.features import add_derived_features, derived_for
from {{ cookiecutter.package_name }}.schema import Schema, load_schema
from {{ cookiecutter.package_name }}.train import train

ROOT = Path(__file__).resolve().parents[1]
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
