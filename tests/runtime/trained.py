"""Projects whose pipeline ran once, shared by the registry, scoring and serving tests.

Each is a level-2 project (harness.make_project) that ran its stages through the command line,
up to the registry gate: a champion `tabular-model` v1 in its own MLflow store. Building one
costs seconds (MLflow, training, evaluation), so each is built once per test session and only
read afterwards: a test that registers, promotes or rolls back does it under a model name of its
own (`Trained.settings_for`), never the champion the stages registered.

- classification, regression: the bundled samples (breast cancer, diabetes);
- penguins: palmerpenguins as a user's own table, its columns renamed to names with spaces,
  slashes and parentheses, plus one boolean made from its `year` (`since 2008?`): every kind
  of column (text categories, an integer, booleans, nullable numbers) and three text classes,
  its contract drafted by `schema draft` as a user would.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from harness import Made, inside, make_project, run

from mlops_ladder import project
from mlops_ladder.config import Params, Settings, load_params
from mlops_ladder.data import read_table
from mlops_ladder.schema import Schema, load_schema

MODEL_NAME = "tabular-model"  # the project's distribution name: its registered model
KINDS = ("classification", "regression", "penguins")
STAGES = ["ingest", "validate", "split", "featurize", "train", "evaluate", "register"]
# A short study (its tracking is tested, not its search) and a lighter evaluation: importance
# and the staleness backtest are another module's tests; here they only cost time.
SHORT_STUDY = {
    "n_trials": 3,
    "cv_folds": 2,
    "space": {"random_forest": {"n_estimators": {"low": 10, "high": 30}}},
}
LIGHT_EVALUATION = {"importance_repeats": 1, "backtest_windows": 3}
PENGUIN_NAMES = {
    "bill_length_mm": "bill length (mm)",
    "bill_depth_mm": "bill depth / mm",
    "flipper_length_mm": "flipper length (mm)",
    "body_mass_g": "body mass (g)",
}
_names = (f"test-model-{number}" for number in itertools.count())


def penguins() -> pd.DataFrame:
    """palmerpenguins (shipped with the package: offline), renamed; see the module's docstring."""
    from palmerpenguins import load_penguins

    frame = load_penguins().rename(columns=PENGUIN_NAMES)
    frame["since 2008?"] = frame["year"] >= 2008
    return frame


@dataclass(frozen=True)
class Trained:
    """A project after its stages: what they wrote, read back."""

    made: Made
    kind: str
    settings: Settings  # absolute paths: usable from any working folder and thread
    params: Params
    schema: Schema
    model: Any  # models/model.joblib: the registered champion's pipeline
    report: dict[str, Any]  # reports/metrics.json
    metadata: dict[str, Any]  # models/metadata.json
    train_split: pd.DataFrame
    test_split: pd.DataFrame
    train_features: pd.DataFrame

    @property
    def root(self) -> Path:
        return self.made.root

    @property
    def task(self) -> str:
        return self.params.task

    @property
    def classification(self) -> bool:
        return self.task == "classification"

    @property
    def test_records(self) -> pd.DataFrame:
        return self.test_split[self.schema.feature_names]

    @property
    def data_files(self) -> tuple[Path, Path]:
        """The raw table and the training features, as the train stage describes them."""
        return self.settings.raw_data, self.settings.train_features

    def settings_for(self, model_name: str | None = None, **changes: Any) -> Settings:
        """The settings under a registered model name of their own (a fresh one by default)."""
        return self.settings.model_copy(
            update={"model_name": model_name or next(_names), **changes}
        )

    @contextmanager
    def inside(self) -> Iterator[project.Identity]:
        with inside(self.root) as identity:
            yield identity


def build(kind: str, root: Path, store: Path) -> Trained:
    """Make the project, give it a fresh MLflow store, run its stages."""
    if kind == "penguins":
        made = make_project(root, "classification", 2, table=penguins(), target="species")
    else:
        made = make_project(root, kind, 2)
    made.set_params(evaluate=LIGHT_EVALUATION, tune=SHORT_STUDY)
    shutil.copyfile(store, root / "mlflow.db")
    stages = [*STAGES[:4], "tune", *STAGES[4:]] if kind == "classification" else STAGES
    with pytest.MonkeyPatch.context() as patch:
        own_tracking_uri(patch)
        run(root, *stages)
    return read_back(made, kind)


def own_tracking_uri(patch: pytest.MonkeyPatch) -> None:
    """No MLFLOW_TRACKING_URI from elsewhere (until `patch` is undone): `mlflow.set_tracking_uri`
    exports the URI it is given to the environment, where the next project's settings would
    read it and track into another project's store."""
    patch.delenv("MLFLOW_TRACKING_URI", raising=False)


def read_back(made: Made, kind: str) -> Trained:
    with inside(made.root):
        relative = Settings.load()
    root = made.root
    settings = relative.model_copy(
        update={
            name: root / getattr(relative, name)
            for name in (
                "params_file",
                "schema_file",
                "data_dir",
                "models_dir",
                "reports_dir",
                "artifacts_dir",
                "prediction_log_dir",
                "feature_repo",
            )
        }
        | {
            "mlflow_tracking_uri": f"sqlite:///{root / 'mlflow.db'}",
            "experiment_name": MODEL_NAME,
            "model_name": MODEL_NAME,
        }
    )
    return Trained(
        made=made,
        kind=kind,
        settings=settings,
        params=load_params(settings.params_file),
        schema=load_schema(settings.schema_file),
        model=joblib.load(settings.model_file),
        report=json.loads(settings.metrics_file.read_text()),
        metadata=json.loads(settings.metadata_file.read_text()),
        train_split=read_table(settings.train_split),
        test_split=read_table(settings.test_split),
        train_features=read_table(settings.train_features),
    )


def empty_store(folder: Path) -> Path:
    """An MLflow sqlite store with its tables made (10-20 s of migrations on a busy machine):
    made once, each project starts from a copy of it."""
    from mlflow import MlflowClient

    path = folder / "mlflow.db"
    MlflowClient(f"sqlite:///{path}").search_experiments()  # creates the tables
    return path


_built: dict[str, Trained] = {}


def shared(kind: str, factory: pytest.TempPathFactory) -> Trained:
    """The project of `kind`, built on first use in this test session."""
    if kind not in _built:
        base = factory.getbasetemp() / "trained"
        base.mkdir(exist_ok=True)
        store = base / "mlflow.db"
        if not store.exists():
            empty_store(base)
        _built[kind] = build(kind, base / kind, store)
    return _built[kind]


def records_of(frame: pd.DataFrame, schema: Schema) -> list[dict[str, Any]]:
    """Records as a client sends them: real column names, JSON values typed as the contract
    says (a whole-number column read with missing values is float in the frame: sent as int),
    null for a missing value."""
    records = []
    for row in frame[schema.feature_names].to_dict("records"):
        record = {}
        for name, value in row.items():
            value = None if pd.isna(value) else np.asarray(value).item()
            if value is not None and schema.features[name].dtype == "int":
                value = int(value)
            record[name] = value
        records.append(record)
    return records
