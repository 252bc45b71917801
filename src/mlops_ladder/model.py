"""The estimators params.yaml `train.estimator` may name, the baselines a model must beat, and
one way to predict for both tasks.

Built in, for either task: `random_forest`, `gradient_boosting` (histogram-based), `linear`
(logistic regression or ridge). A project adds its own in its model.py (pyproject.toml
`[tool.mlops-ladder] estimators`): a name and a scikit-learn compatible class, or a function
that returns an estimator from the hyperparameters.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, is_classifier
from sklearn.dummy import DummyClassifier, DummyRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.linear_model import LogisticRegression, Ridge

from mlops_ladder import project
from mlops_ladder.errors import ConfigError

Task = Literal["classification", "regression"]
Factory = Callable[..., BaseEstimator]
BUILT_IN: dict[Task, dict[str, Factory]] = {
    "classification": {
        "random_forest": RandomForestClassifier,
        "gradient_boosting": HistGradientBoostingClassifier,
        "linear": LogisticRegression,
    },
    "regression": {
        "random_forest": RandomForestRegressor,
        "gradient_boosting": HistGradientBoostingRegressor,
        "linear": Ridge,
    },
}


def estimators(task: Task) -> dict[str, Factory]:
    """Every estimator a project of `task` may name: the built-in ones, then its own."""
    own = project.hook("estimators", {}) or {}
    if not isinstance(own, dict):
        raise ConfigError("pyproject.toml [tool.mlops-ladder] estimators: must name a dict")
    return {**BUILT_IN[task], **own}


def make_estimator(
    name: str, hyperparameters: dict[str, Any], seed: int, task: Task
) -> BaseEstimator:
    """The estimator named in params.yaml, seeded (where it takes a seed) so that training is
    reproducible."""
    known = estimators(task)
    if name not in known:
        raise ConfigError(f"params.yaml train.estimator: '{name}' is not one of {', '.join(known)}")
    factory = known[name]
    seeded = {"random_state": seed} if _takes(factory, "random_state") else {}
    try:
        estimator = factory(**seeded, **hyperparameters)
    except TypeError as error:
        raise ConfigError(f"params.yaml train.{name}: {error}") from None
    if (task == "classification") != is_classifier(estimator):
        raise ConfigError(
            f"params.yaml train.estimator: {name} is not a {task} estimator "
            f"({type(estimator).__name__})"
        )
    # Classification's metrics (log loss, ROC AUC), the gate and serving read probabilities.
    if task == "classification" and not hasattr(estimator, "predict_proba"):
        raise ConfigError(
            f"params.yaml train.estimator: {name} ({type(estimator).__name__}) gives no class "
            "probabilities (predict_proba): wrap it in "
            "sklearn.calibration.CalibratedClassifierCV where ESTIMATORS names it, or pick another"
        )
    return estimator


def _takes(factory: Factory, argument: str) -> bool:
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin or C-implemented callable: assume not
        return False
    return argument in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()
    )


def make_baselines(seed: int, task: Task) -> dict[str, BaseEstimator]:
    """What any model must beat: the class prior (or the mean), and a plain linear model."""
    if task == "classification":
        return {
            "dummy": DummyClassifier(strategy="prior"),
            "linear": LogisticRegression(max_iter=1000, random_state=seed),
        }
    return {"dummy": DummyRegressor(strategy="mean"), "linear": Ridge(random_state=seed)}


def predict(model: Any, frame: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Predictions and, for a classifier, every class's probability (columns: the classes), in
    one pass. Any number of classes and any label type (text, integers, booleans)."""
    if not is_classifier(model):
        return model.predict(frame), None
    probabilities = model.predict_proba(frame)
    labels = model.classes_[probabilities.argmax(axis=1)]
    return labels, pd.DataFrame(probabilities, columns=model.classes_, index=frame.index)
