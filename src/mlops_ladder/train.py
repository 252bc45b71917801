"""Fit the model on the training features; save it with the metadata that explains it."""

from __future__ import annotations

import json
import platform
import subprocess
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata as package_metadata
from pathlib import Path
from typing import Any

import joblib
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.pipeline import Pipeline

from mlops_ladder import metrics, project
from mlops_ladder.config import Params
from mlops_ladder.data import file_md5, read_table
from mlops_ladder.errors import ConfigError, DataError
from mlops_ladder.features import DerivedFeatures, make_preprocessor, missing_as_nan
from mlops_ladder.model import make_estimator, predict
from mlops_ladder.schema import Schema

LIBRARIES = ["numpy", "pandas", "scikit-learn", "mlops-ladder"]


def fit(train_features: pd.DataFrame, schema: Schema, estimator: BaseEstimator) -> Pipeline:
    """Fit preprocessing + `estimator` on engineered features.

    The returned pipeline starts with `DerivedFeatures` (stateless, so it needs no fitting): it
    takes raw records, the same ones the validate stage checks and serving receives.
    """
    target = schema.target.name
    if target not in train_features.columns:
        raise DataError(f"training data has no target column '{target}'")
    # The inputs as the model's first step makes them (the target as it is: a boolean label
    # stays one)
    train_features = missing_as_nan(train_features.drop(columns=[target])).assign(
        **{target: train_features[target]}
    )
    derived = DerivedFeatures().fit(train_features[schema.feature_names])
    inputs = [*schema.feature_names, *derived.names_]
    missing = [name for name in inputs if name not in train_features.columns]
    if missing:
        raise DataError(f"training features lack {', '.join(missing)}: run featurize again")
    predictor = Pipeline(
        [
            ("preprocess", make_preprocessor(schema.numeric, schema.categorical, derived.names_)),
            ("estimator", estimator),
        ]
    )
    with warnings.catch_warnings():
        # A model that did not converge is not a model to ship: fail, naming the estimator.
        warnings.simplefilter("error", ConvergenceWarning)
        try:
            predictor.fit(train_features[inputs], train_features[target])
        except ConvergenceWarning as warning:
            raise ConfigError(
                f"{type(estimator).__name__} did not converge: {warning} "
                "(params.yaml train: raise max_iter, or scale the inputs)"
            ) from None
    return Pipeline([("features", derived), ("predictor", predictor)])


@dataclass(frozen=True)
class Tuned:
    """What the tune stage's report has train fit instead of params.yaml's model: the study's
    best hyperparameters of params.yaml's estimator, or the linear model (with train.linear's
    hyperparameters, or its study's best where train.linear falls short)."""

    estimator: str
    hyperparameters: dict[str, Any]
    hyperparameters_from: str = "tuning"  # or params.yaml: train.linear's own


def train(
    train_features: pd.DataFrame,
    schema: Schema,
    params: Params,
    tuned: Tuned | None = None,
) -> Pipeline:
    """The model params.yaml describes (or with `tuned`: the tune stage's choice, see
    tuned_model), fitted on the training features."""
    name, chosen = (
        (params.train.estimator, params.train.hyperparameters)
        if tuned is None
        else (tuned.estimator, tuned.hyperparameters)
    )
    return fit(train_features, schema, make_estimator(name, chosen, params.seed, params.task))


def tuned_model(report_file: Path, params: Params) -> Tuned | None:
    """What the tune stage's report says train fits instead of params.yaml's model (params.yaml
    tune.on_shortfall use_best, and its configuration clearly below the study's best, or the
    linear model clearly better than the model train would fit), for the estimator and
    configuration params.yaml holds now (and train.linear and the bar's linear margin, where
    the linear model is the choice); else None: params.yaml's."""
    if not report_file.is_file():
        return None
    report = json.loads(report_file.read_text())
    current = (
        report.get("estimator") == params.train.estimator
        and report.get("configured") == params.train.hyperparameters
        and params.tune.on_shortfall == "use_best"
        and report.get("use_best")
    )
    if not current:
        return None
    if report.get("use_estimator") == "linear":
        scored = report.get("linear") or {}
        if scored.get("configured") != params.train.sections["linear"] or scored.get(
            "margin"
        ) != params.quality.beat_baselines.get("linear"):
            return None  # train.linear or the bar changed since it was scored: tune again
        if scored.get("hyperparameters_passed"):
            return Tuned("linear", dict(scored["configured"]), "params.yaml")
        return Tuned("linear", dict(scored["best_params"]))
    return Tuned(params.train.estimator, dict(report["best_params"]))


def describe(
    model: Pipeline,
    raw_file: Path,
    train_file: Path,
    schema: Schema,
    params: Params,
    tuned: Tuned | None = None,
) -> dict[str, Any]:
    """Metadata to reproduce and explain the model: data, code, params, metrics, libraries,
    and the estimator and hyperparameters fitted (the tune stage's choice, when they are not
    params.yaml's).

    The data hashes are MD5s of the files, the hashes DVC gives them: the data's version.
    """
    target = schema.target.name
    train_features = read_table(train_file)
    predicted, scores = predict(model, train_features[schema.feature_names])
    return {
        "task": params.task,
        "estimator": params.train.estimator if tuned is None else tuned.estimator,
        "hyperparameters": params.train.hyperparameters if tuned is None else tuned.hyperparameters,
        "hyperparameters_from": "params.yaml" if tuned is None else tuned.hyperparameters_from,
        "estimator_from": "params.yaml"
        if tuned is None or tuned.estimator == params.train.estimator
        else "tuning",
        "trained_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "data": {
            "raw": {"file": str(raw_file), "md5": file_md5(raw_file)},
            "train": {
                "file": str(train_file),
                "md5": file_md5(train_file),
                "rows": len(train_features),
            },
        },
        "inputs": schema.feature_names,
        "target": target,
        "classes": [_plain(label) for label in getattr(model, "classes_", [])] or None,
        "git": git_state(),
        "params": params.model_dump(),
        "metrics": {"train": metrics.compute_metrics(train_features[target], predicted, scores)},
        "versions": library_versions(),
    }


def save(model: Pipeline, metadata: dict[str, Any], model_file: Path, metadata_file: Path) -> None:
    model_file.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, model_file)
    metadata_file.write_text(json.dumps(metadata, indent=2, default=str) + "\n")


def load(model_file: Path) -> Pipeline:
    if not model_file.is_file():
        raise DataError(f"{model_file} not found: train a model first (make train)")
    return joblib.load(model_file)


def _plain(value: Any) -> Any:
    return value.item() if hasattr(value, "item") else value


# What specifies a model: a change to one of these not yet committed makes the tree dirty
# (pipeline outputs, dvc.lock and notebooks do not).
MODEL_SPEC = ("src", "params.yaml", "schema.yaml", "dvc.yaml", "pyproject.toml", "uv.lock")


def git_state() -> dict[str, Any]:
    """The commit the code came from, and the model spec's files changed since (untracked
    ones too: a new module counts)."""
    try:
        commit = _git("rev-parse", "HEAD")
        changed = [
            *_git("diff", "--name-only", "HEAD", "--", *MODEL_SPEC).splitlines(),
            *_git("ls-files", "--others", "--exclude-standard", "--", *MODEL_SPEC).splitlines(),
        ]
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None, "changed": []}
    return {"commit": commit, "dirty": bool(changed), "changed": changed[:20]}


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def library_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in [*LIBRARIES, project.current().distribution]:
        try:
            versions[name] = package_metadata.version(name)
        except package_metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions
