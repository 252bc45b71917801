"""Metrics for both tasks, the tables behind the evaluation plots, and the plots themselves.

Classification: any number of classes, any label type. `scores` is the probability table of
model.predict: one column per class. With two classes, precision, recall and F1 are those of the
positive class (the second of the sorted classes: 1, True, or the later name) and ROC AUC ranks
its probability; with more, they are macro averages over the classes, ROC AUC and average
precision are one-vs-rest, and log loss uses the full probability table. Regression (`scores`
is None): rmse and mae in the target's units, r2 the share of variance explained.

A project adds its own metrics in its metrics.py (pyproject.toml `[tool.mlops-ladder] metrics`):
each is computed beside these, and may be the primary metric or carry a threshold.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import (
    ConfusionMatrixDisplay,
    PrecisionRecallDisplay,
    PredictionErrorDisplay,
    RocCurveDisplay,
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    log_loss,
    mean_absolute_error,
    precision_recall_curve,
    precision_recall_fscore_support,
    precision_score,
    r2_score,
    recall_score,
    roc_auc_score,
    roc_curve,
    root_mean_squared_error,
)
from sklearn.preprocessing import label_binarize

from mlops_ladder import project
from mlops_ladder.errors import ConfigError

if TYPE_CHECKING:  # matplotlib takes a second to import: only where a plot is drawn
    from matplotlib.figure import Figure

# Direction of every built-in metric: thresholds are minimums for True, maximums for False.
CLASSIFICATION = {
    "accuracy": True,
    "balanced_accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "roc_auc": True,
    "average_precision": True,
    "log_loss": False,
}
REGRESSION = {"r2": True, "rmse": False, "mae": False}


@dataclass(frozen=True)
class Metric:
    """A project's own metric: `compute(y_true, y_pred, scores)` gives a number (`scores` is the
    class probability table, None for regression); `task` limits it to one task."""

    compute: Callable[[Any, Any, pd.DataFrame | None], float]
    greater_is_better: bool = True
    task: str | None = None


def own_metrics() -> dict[str, Metric]:
    """The project's metrics (its metrics.py), checked."""
    found = project.hook("metrics", {}) or {}
    if not isinstance(found, dict) or not all(isinstance(m, Metric) for m in found.values()):
        raise ConfigError(
            "pyproject.toml [tool.mlops-ladder] metrics: must name a dict of "
            "mlops_ladder.metrics.Metric"
        )
    return found


def known(task: str) -> dict[str, bool]:
    """Every metric of `task`, built in and the project's, with its direction."""
    built_in = CLASSIFICATION if task == "classification" else REGRESSION
    own = {
        name: metric.greater_is_better
        for name, metric in own_metrics().items()
        if metric.task in (None, task)
    }
    return {**built_in, **own}


def higher_is_better(metric: str) -> bool:
    """The direction of `metric`, built in or the project's."""
    for table in (CLASSIFICATION, REGRESSION):
        if metric in table:
            return table[metric]
    own = own_metrics()
    if metric in own:
        return own[metric].greater_is_better
    raise ConfigError(f"unknown metric '{metric}' (params.yaml quality)")


def compute_metrics(
    y_true: Any,
    y_pred: Any,
    scores: pd.DataFrame | None = None,
    names: Collection[str] | None = None,
) -> dict:
    """Every metric defined for these labels or values, the project's own included; with
    `names`, only those (a metric computed many times over, such as the primary metric of
    evaluate's chance regroupings, skips the others' cost)."""
    found = (
        _regression(y_true, y_pred, names)
        if scores is None
        else _classification(y_true, y_pred, scores, names)
    )
    task = "regression" if scores is None else "classification"
    for name, metric in own_metrics().items():
        if metric.task in (None, task) and (names is None or name in names):
            try:
                found[name] = round(float(metric.compute(y_true, y_pred, scores)), 6)
            except Exception as error:  # the owner's code: name it, do not crash the report
                raise ConfigError(f"metrics.py: metric '{name}' failed: {error}") from None
    return found


def plot_tables(y_true: Any, y_pred: Any, scores: pd.DataFrame | None = None) -> dict:
    """Data for `dvc plots`: confusion matrix, ROC and precision-recall curves for classes;
    predicted against actual and residuals for values."""
    if scores is None:
        return {
            "predictions": pd.DataFrame({"actual": y_true, "predicted": y_pred}),
            "residuals": pd.DataFrame({"predicted": y_pred, "residual": y_true - y_pred}),
        }
    return _classification_tables(y_true, y_pred, scores)


def figures(y_true: Any, y_pred: Any, scores: pd.DataFrame | None = None) -> dict[str, Figure]:
    """The same views as images, for reports and the tracking server."""
    if scores is not None:
        return _classification_figures(y_true, y_pred, scores)
    from matplotlib.figure import Figure

    shown = {}
    for name, kind in {
        "predicted_vs_actual": "actual_vs_predicted",
        "residuals": "residual_vs_predicted",
    }.items():
        figure = Figure(figsize=(5, 4), layout="constrained")
        PredictionErrorDisplay.from_predictions(y_true, y_pred, kind=kind, ax=figure.subplots())
        shown[name] = figure
    return shown


def _computed(metrics: dict[str, Callable[[], Any]], names: Collection[str] | None) -> dict:
    return {
        name: round(float(compute()), 6)
        for name, compute in metrics.items()
        if names is None or name in names
    }


def _regression(y_true: Any, y_pred: Any, names: Collection[str] | None) -> dict[str, float]:
    metrics = {
        "rmse": lambda: root_mean_squared_error(y_true, y_pred),
        "mae": lambda: mean_absolute_error(y_true, y_pred),
    }
    if len(y_true) >= 2:
        metrics["r2"] = lambda: r2_score(y_true, y_pred)
    return _computed(metrics, names)


def _classification(
    y_true: Any, y_pred: Any, scores: pd.DataFrame, names: Collection[str] | None
) -> dict[str, float]:
    """Every metric that is defined for these labels.

    Ranking metrics (ROC AUC, average precision) need every class among the true labels: on a
    slice where one is absent they are left out, not guessed.
    """
    y_true, classes = np.asarray(y_true), list(scores.columns)
    binary = len(classes) == 2
    averaging: dict[str, Any] = (
        {"average": "binary", "pos_label": classes[1]}
        if binary
        else {"average": "macro", "labels": classes}
    )
    metrics: dict[str, Callable[[], Any]] = {
        "accuracy": lambda: accuracy_score(y_true, y_pred),
        "balanced_accuracy": lambda: balanced_accuracy_score(y_true, y_pred),
        "precision": lambda: precision_score(y_true, y_pred, zero_division=0, **averaging),
        "recall": lambda: recall_score(y_true, y_pred, zero_division=0, **averaging),
        "f1": lambda: f1_score(y_true, y_pred, zero_division=0, **averaging),
        "log_loss": lambda: log_loss(y_true, scores.to_numpy(), labels=classes),
    }
    if set(classes) <= set(y_true.tolist()):
        if binary:
            positive, probability = y_true == classes[1], scores[classes[1]]
            metrics["roc_auc"] = lambda: roc_auc_score(positive, probability)
            metrics["average_precision"] = lambda: average_precision_score(positive, probability)
        else:
            matrix = scores.to_numpy()
            metrics["roc_auc"] = lambda: roc_auc_score(
                y_true, matrix, multi_class="ovr", labels=classes
            )
            metrics["average_precision"] = lambda: average_precision_score(
                label_binarize(y_true, classes=classes), matrix
            )
    return _computed(metrics, names)


def per_class(y_true: Any, y_pred: Any, scores: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Precision, recall, F1 and support of each class (keys are the labels as text)."""
    classes = list(scores.columns)
    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=classes, zero_division=0
    )
    return {
        str(label): {
            "precision": round(float(precision[index]), 6),
            "recall": round(float(recall[index]), 6),
            "f1": round(float(f1[index]), 6),
            "support": int(support[index]),
        }
        for index, label in enumerate(classes)
    }


def _ranking_inputs(y_true: Any, scores: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Binary: the positive class's labels and scores. More classes: one-vs-rest, pooled (the
    micro average), so that one curve describes the model whatever the number of classes."""
    classes = list(scores.columns)
    if len(classes) == 2:
        return np.asarray(y_true) == classes[1], scores[classes[1]].to_numpy()
    return label_binarize(y_true, classes=classes).ravel(), scores.to_numpy().ravel()


def _classification_tables(
    y_true: Any, y_pred: Any, scores: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Data for `dvc plots`: confusion matrix, ROC curve, precision-recall curve."""
    truth, ranked = _ranking_inputs(y_true, scores)
    fpr, tpr, _ = roc_curve(truth, ranked)
    precision, recall, _ = precision_recall_curve(truth, ranked)
    return {
        "confusion": pd.DataFrame({"actual": y_true, "predicted": y_pred}),
        "roc": pd.DataFrame({"fpr": fpr, "tpr": tpr}),
        "precision_recall": pd.DataFrame({"recall": recall, "precision": precision}),
    }


def _classification_figures(y_true: Any, y_pred: Any, scores: pd.DataFrame) -> dict[str, Figure]:
    """The same three views as images, for reports and the tracking server: with more than two
    classes, one ROC and one precision-recall curve per class (one-vs-rest)."""
    from matplotlib.figure import Figure

    classes = list(scores.columns)
    y_true = np.asarray(y_true)
    curves = [(classes[1], y_true == classes[1])] if len(classes) == 2 else []
    curves = curves or [(label, y_true == label) for label in classes]

    def confusion(ax: Any) -> None:
        ConfusionMatrixDisplay.from_predictions(
            y_true, y_pred, labels=classes, ax=ax, colorbar=False
        )

    def roc(ax: Any) -> None:
        for label, truth in curves:
            if truth.any() and not truth.all():
                RocCurveDisplay.from_predictions(truth, scores[label], name=str(label), ax=ax)
        ax.set(xlabel="False positive rate", ylabel="True positive rate (each class vs the rest)")

    def precision_recall(ax: Any) -> None:
        for label, truth in curves:
            if truth.any():
                PrecisionRecallDisplay.from_predictions(
                    truth, scores[label], name=str(label), ax=ax
                )
        ax.set(xlabel="Recall", ylabel="Precision (each class vs the rest)")

    shown = {}
    for name, draw in {
        "confusion_matrix": confusion,
        "roc_curve": roc,
        "precision_recall_curve": precision_recall,
    }.items():
        figure = Figure(figsize=(5, 4), layout="constrained")
        draw(figure.subplots())
        shown[name] = figure
    return shown
