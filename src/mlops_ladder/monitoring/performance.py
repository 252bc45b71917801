"""Live performance: the model's predictions joined to the labels that arrived later.

Labels are a CSV or Parquet file with `request_id`, `record` (optional, default 0) and the
target column of schema.yaml, joined to the predictions on (request_id, record). The request id
is the client's (X-Request-ID), so neither side is trusted to be unique: of labels given twice
for one (request_id, record) the last in the file wins (a correction), and a labelled key that
the log holds more than once (a client reused a request id) is left out, since the label cannot
say which prediction it is for; the report counts both (`duplicate_labels`,
`ambiguous_predictions`). They are
scored with the metrics evaluate uses (metrics.compute_metrics; for a classifier, with every
class's logged probability, so ranking metrics are those of the model), and compared with the
champion's scores on the test split: an alert when the primary metric is worse than that by
more than `monitor.max_performance_drop`. Memory grows with the number of labels, not of
predictions.

Per model version that answered labelled requests, its live primary metric is kept beside its
offline one (its training run's test score, from the registry): a gap above
`monitor.max_offline_online_gap` is flagged, either way (offline and online should agree).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_ladder.data import read_table
from mlops_ladder.errors import DataError
from mlops_ladder.monitoring.profile import category_keys, category_lookup
from mlops_ladder.monitoring.sources import probability_column
from mlops_ladder.schema import Target

KEYS = ["request_id", "record"]
SERVED = ["variant", "model_version"]  # who answered, kept with each matched prediction


def read_labels(path: Path, target: Target) -> pd.DataFrame:
    """The labels file, keyed by (request_id, record), with the target typed as schema.yaml
    says."""
    frame = read_table(path)
    if "record" not in frame.columns:
        frame = frame.assign(record=0)
    missing = [name for name in ["request_id", target.name] if name not in frame.columns]
    if missing:
        raise DataError(f"labels: {path} lacks columns: {', '.join(missing)}")
    if frame.empty:
        raise DataError(f"labels: {path} has no rows")
    labels = pd.DataFrame(
        {
            "request_id": frame["request_id"].astype("string"),
            "record": pd.to_numeric(frame["record"], errors="coerce"),
            "label": frame[target.name],
        }
    ).dropna(subset=["label"])
    if labels["record"].isna().any():
        raise DataError(f"labels: {path} column 'record' should hold whole numbers")
    labels["record"] = labels["record"].astype("int64")
    return labels.reset_index(drop=True)


class Join:
    """Collects, chunk by chunk, the predictions that have a label (with every class's
    probability, `probability_<class>`, when the predictions carry them). Labels given twice
    for a key: the last wins; a labelled key predicted twice: left out (the module's docstring).
    """

    def __init__(self, labels: pd.DataFrame, classes: list[Any] | None = None) -> None:
        self.duplicate_labels = int(labels.duplicated(KEYS).sum())
        self.labels = labels.drop_duplicates(KEYS, keep="last").reset_index(drop=True)
        self.score_columns = [probability_column(label) for label in classes or ()]
        self.matched: list[pd.DataFrame] = []
        self._unique: pd.DataFrame | None = None
        self.ambiguous_predictions = 0  # labelled keys the log holds more than once

    def add(self, chunk: pd.DataFrame) -> None:
        if "request_id" not in chunk.columns:
            raise DataError("labels need predictions with a request_id: the current data has none")
        missing = pd.Series(np.nan, index=chunk.index)
        keys = pd.DataFrame(
            {
                "request_id": chunk["request_id"].astype("string"),
                "record": chunk["record"].fillna(0).astype("int64")
                if "record" in chunk.columns
                else 0,
                "prediction": chunk["prediction"],
                **{name: chunk.get(name, missing) for name in [*SERVED, *self.score_columns]},
            }
        )
        found = keys.merge(self.labels, on=KEYS, how="inner")
        if len(found):
            self.matched.append(found)
            self._unique = None

    def unique(self) -> pd.DataFrame:
        """Every matched prediction whose key the log holds once (every variant's)."""
        if self._unique is None:
            if not self.matched:
                columns = [*KEYS, "prediction", *SERVED, *self.score_columns, "label"]
                self._unique = pd.DataFrame(columns=columns)
            else:
                matched = pd.concat(self.matched, ignore_index=True)
                repeated = matched.duplicated(KEYS, keep=False)
                self.ambiguous_predictions = int(
                    matched.loc[repeated, KEYS].drop_duplicates().shape[0]
                )
                self._unique = matched[~repeated].reset_index(drop=True)
        return self._unique

    def result(self, champion_only: bool = True) -> pd.DataFrame:
        """The matched predictions: the champion's only (A/B traffic to a challenger is left
        out of its scores), or every variant's."""
        matched = self.unique()
        if champion_only and len(matched):
            variant = matched["variant"]
            matched = matched[variant.isna() | (variant == "champion")].reset_index(drop=True)
        return matched


def _typed(values: pd.Series, target: Target, what: str) -> np.ndarray:
    """Labels or predictions as the model's classes (text, whole numbers, booleans, whatever
    type the file or the log gave them), or as numbers for regression."""
    classes = target.values
    if classes:
        known = category_lookup(classes)
        keys = category_keys(values.reset_index(drop=True))
        unknown = sorted({str(key) for key in keys if key not in known})
        if unknown:
            raise DataError(
                f"{what} of '{target.name}' that are not its classes in schema.yaml: "
                f"{', '.join(unknown[:5])}"
            )
        return np.array([known[key] for key in keys], dtype=object if _mixed(classes) else None)
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        raise DataError(f"{what} of '{target.name}' are not numbers")
    # float64 even for a whole-number target: predictions of a regressor are not whole numbers
    return numbers.to_numpy(dtype="float64")


def _mixed(classes: list[Any]) -> bool:
    return len({type(label) for label in classes}) > 1


def _scores(matched: pd.DataFrame, target: Target) -> pd.DataFrame | None:
    """Every class's probability, columns the classes in the model's (sorted) order (classes
    the model never saw have none); None when the predictions carry no probability table."""
    classes = [
        label
        for label in sorted(target.values or [], key=lambda label: (str(type(label)), label))
        if probability_column(label) in matched.columns
    ]
    names = [probability_column(label) for label in classes]
    if len(classes) < 2:
        return None
    table = matched[names].apply(pd.to_numeric, errors="coerce")
    if table.isna().any().any():
        return None
    return pd.DataFrame(table.to_numpy(dtype="float64"), columns=classes)


def _metrics(matched: pd.DataFrame, target: Target) -> tuple[dict[str, float], str | None]:
    """The metrics of labelled predictions, and what limits them (None: nothing)."""
    from mlops_ladder import metrics  # scikit-learn's: only when labels came (a second's import)

    y_true = _typed(matched["label"], target, "labels")
    y_pred = _typed(matched["prediction"], target, "predictions")
    if target.values is None:  # regression
        return metrics.compute_metrics(y_true, y_pred), None
    scores = _scores(matched, target)
    if scores is None:
        # Labels only (predictions logged without every class's probability): the metrics of
        # the labels, from a table that gives each prediction all of the probability.
        classes = sorted(target.values or [], key=lambda label: (str(type(label)), label))
        certain = pd.DataFrame(
            [[float(label == predicted) for label in classes] for predicted in y_pred],
            columns=classes,
        )
        live = metrics.compute_metrics(y_true, y_pred, certain)
        for name in ("roc_auc", "average_precision", "log_loss"):
            live.pop(name, None)
        return live, "no class probabilities with the predictions: label metrics only"
    return metrics.compute_metrics(y_true, y_pred, scores), None


def offline_and_online(
    join: Join,
    target: Target,
    offline: dict[str, dict[str, float]],
    primary: str,
    max_gap: float,
    min_rows: int,
) -> dict[str, dict[str, Any]]:
    """Per model version with labelled predictions (every variant): its offline primary
    metric (`offline`: the test scores of each version's run) beside its live one, their gap,
    and whether it is over `max_gap` (judged from `min_rows` labelled predictions)."""
    matched = join.result(champion_only=False)
    versions: dict[str, dict[str, Any]] = {}
    served = matched["model_version"].astype("string").fillna("unknown")
    for version, rows in matched.groupby(served, sort=True):
        live = _metrics(rows.reset_index(drop=True), target)[0].get(primary)
        score = offline.get(str(version), {}).get(primary)
        gap = None if live is None or score is None else round(abs(live - score), 6)
        versions[str(version)] = {
            "rows": len(rows),
            "offline": score,
            "live": live,
            "gap": gap,
            "max_gap": max_gap,
            "flagged": gap is not None and len(rows) >= min_rows and gap > max_gap,
        }
    return versions


def live_performance(
    join: Join,
    target: Target,
    champion: dict[str, float] | None,
    primary: str,
    max_drop: float,
    min_rows: int,
) -> dict[str, Any]:
    """Metrics on the labelled predictions, and whether the primary one fell below its floor:
    the champion's test score less `max_drop` (more, for a metric where lower is better)."""
    matched = join.result()
    result: dict[str, Any] = {
        "labels": len(join.labels),
        "duplicate_labels": join.duplicate_labels,
        "ambiguous_predictions": join.ambiguous_predictions,
        "rows": len(matched),
        "primary_metric": primary,
        "metrics": {},
        "champion": champion,
        "floor": None,
        "alert": False,
        "reason": None,
    }
    if not len(matched):
        result["reason"] = "no label matches a prediction"
        return result
    live, result["reason"] = _metrics(matched, target)
    result["metrics"] = live
    if champion is None or primary not in champion or primary not in live:
        result["reason"] = f"no champion {primary} to compare with"
        return result
    from mlops_ladder import metrics

    higher = metrics.higher_is_better(primary)
    floor = champion[primary] - max_drop if higher else champion[primary] + max_drop
    result["floor"] = round(floor, 6)
    if len(matched) < min_rows:
        result["reason"] = f"only {len(matched)} labelled predictions ({min_rows} needed)"
        return result
    worse = live[primary] < floor if higher else live[primary] > floor
    if worse:
        result["alert"] = True
        result["reason"] = (
            f"live {primary} {live[primary]:.4f} is below its floor {floor:.4f} "
            f"(champion {champion[primary]:.4f} on the test split, at most {max_drop} worse)"
            if higher
            else f"live {primary} {live[primary]:.4f} is above its ceiling {floor:.4f} "
            f"(champion {champion[primary]:.4f} on the test split, at most {max_drop} worse)"
        )
    return result
