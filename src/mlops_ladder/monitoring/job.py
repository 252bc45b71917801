"""The `monitor` command: read the reference and the current data, compare them column by
column, score the labelled predictions, decide, and write the report.

Defaults: the reference is the data the model in models/ was trained on (models/metadata.json
`data.train.file`), the current data is the prediction log folder, the report goes to
reports/monitoring/. Everything is read and computed before anything is written.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_ladder.config import Params, Settings
from mlops_ladder.errors import ConfigError, DataError, ProjectError
from mlops_ladder.monitoring import drift, performance, push, report, sources
from mlops_ladder.monitoring.profile import category_keys, category_lookup
from mlops_ladder.privacy import pseudonymise, require_key
from mlops_ladder.schema import Schema

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
OUTPUTS = ["prediction", "probability"]
OPTIONAL = [*OUTPUTS, "request_id", "record", "variant", "model_version"]


def class_columns(schema: Schema) -> list[str]:
    """The columns of every class's probability, `probability_<class>` (as batch prediction
    writes them, and sources.py reads them from the log's `probabilities`)."""
    if schema.task != "classification":
        return []
    return [sources.probability_column(label) for label in schema.target.values or ()]


def champion_training_data(settings: Settings) -> Path:
    """The file the model in models/ was trained on, as its metadata records it."""
    if not settings.metadata_file.is_file():
        raise DataError(
            f"no --reference given and no {settings.metadata_file}: train a model first "
            "(make pipeline) or pass --reference"
        )
    metadata = json.loads(settings.metadata_file.read_text())
    path = Path(metadata["data"]["train"]["file"])
    if not path.is_file():
        raise DataError(
            f"reference {path} (the model's training data, per {settings.metadata_file}) not "
            "found: run `dvc pull` or `make pipeline`, or pass --reference"
        )
    return path


def registry_facts(settings: Settings, versions: list[str]) -> tuple[dict[str, Any], str | None]:
    """The champion and the served versions as the registry knows them (registry.py
    served_versions), or nothing and why: a registry that is not there is no error here."""
    uri = settings.mlflow_tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).is_file():
        return {}, f"no registry at {uri}"
    from mlops_ladder import registry  # MLflow: only when there is one

    try:
        return registry.served_versions(settings, versions), None
    except ProjectError as error:
        return {}, str(error)


def model_age(
    facts: dict[str, Any], max_days: float, now: datetime
) -> tuple[dict[str, Any] | None, str | None]:
    """The champion's version, registration time and age in days, and a retraining reason
    when it is older than `max_days` (params.yaml monitor.max_model_age_days)."""
    version = facts.get("champion")
    if version is None or version not in facts.get("versions", {}):
        return None, None
    registered = facts["versions"][version]["registered_at"]
    age = (now - registered).total_seconds() / 86_400
    champion = {
        "version": version,
        "registered_at": registered.isoformat(timespec="milliseconds"),
        "age_days": age,
        "max_age_days": max_days,
    }
    if age <= max_days:
        return champion, None
    return champion, (
        f"the champion v{version} was registered {age:.3g} days ago: older than "
        f"monitor.max_model_age_days ({max_days:g})"
    )


def default_reference(settings: Settings, params: Params, schema: Schema) -> Path:
    """The reference without --reference: the champion's training data, or
    the offline store's features (params.yaml feature_store.monitoring_reference)."""
    store = params.feature_store
    if store is not None and store.monitoring_reference == "offline_store":
        from mlops_ladder import feature_store

        return feature_store.reference_table(schema, store)
    return champion_training_data(settings)


def champion_test_metrics(settings: Settings) -> dict[str, float] | None:
    """The model's scores on the test split, as evaluate wrote them."""
    if not settings.metrics_file.is_file():
        return None
    return json.loads(settings.metrics_file.read_text()).get("test")


class Columns:
    """The monitored columns: the schema's features, and the model's outputs.

    The log holds features tagged pii as keyed hashes (privacy.py): a category is compared on
    its hashes, the reference's hashed with the same key; a number is left out of drift (a
    hash keeps equality, not order: no distance between hashed numbers)."""

    def __init__(self, schema: Schema, params: Params, pii_key: str = "") -> None:
        monitor = params.monitor
        unknown = [name for name in monitor.key_features if name not in schema.features]
        if unknown:
            raise ConfigError(f"monitor.key_features: not in schema.yaml: {', '.join(unknown)}")
        self.pii, self.pii_key = schema.tagged("pii"), pii_key
        self.left_out: list[str] = []
        self.features: dict[str, drift.Column] = {}
        for index, (name, spec) in enumerate(schema.features.items()):
            if spec.dtype in ("category", "bool"):  # booleans are two categories
                allowed = category_keys(pd.Series(spec.values, dtype=object)).tolist()
                if name in self.pii:
                    values = pd.Series(spec.values, dtype=object)
                    allowed = pseudonymise(values, pii_key).tolist()
                self.features[name] = drift.CategoricalColumn(name, allowed, monitor)
            elif name in self.pii:
                self.left_out.append(name)
            else:
                column = drift.NumericColumn(name, spec.min, spec.max, monitor, params.seed + index)
                self.features[name] = column
        target = schema.target
        self.predictions: dict[str, drift.Column] = {}
        if schema.task == "classification":
            allowed = category_keys(pd.Series(target.values or [], dtype=object)).tolist()
            self.predictions["prediction"] = drift.CategoricalColumn(
                "prediction", allowed or None, monitor
            )
            self.predictions["probability"] = drift.NumericColumn(
                "probability", 0.0, 1.0, monitor, params.seed
            )
        else:
            self.predictions["prediction"] = drift.NumericColumn(
                "prediction", target.min, target.max, monitor, params.seed
            )
        # pii columns are read as they come (hashes in the log, values in the training data)
        self.read = sources.Columns(
            [name for name in schema.numeric if name not in self.pii],
            [name for name in schema.categorical if name not in self.pii],
            [*OPTIONAL, *class_columns(schema), *self.pii],
        )

    def values(self, chunk: pd.DataFrame, name: str) -> pd.Series:
        """A column of a chunk as its drift test sees it: a pii one as its hashes."""
        if name in self.pii:
            return pseudonymise(chunk[name], self.pii_key)
        return chunk[name]


class Predictor:
    """The model's outputs for rows that carry none (a training set, a batch file)."""

    def __init__(self, settings: Settings, schema: Schema) -> None:
        self.schema = schema
        self.file = settings.model_file if settings.model_file.is_file() else None
        self._model: Any = None

    def add_to(self, chunk: pd.DataFrame) -> pd.DataFrame:
        if "prediction" in chunk.columns or self.file is None:
            return chunk
        # scikit-learn's model code: imported only when rows need predictions (a drift check of
        # logged predictions starts two seconds sooner without it).
        from mlops_ladder.model import predict
        from mlops_ladder.train import load

        if self._model is None:
            self._model = load(self.file)
        inputs = model_inputs(chunk, self.schema)
        try:
            labels, scores = predict(self._model, inputs)
        except Exception as error:  # the model rejects the rows: say so, in one line
            raise DataError(f"the model in {self.file} cannot score these rows: {error}") from None
        chunk = chunk.assign(prediction=labels)
        if scores is None:
            return chunk
        # As the serving app logs them: the predicted class's probability, and every class's.
        outputs = {sources.probability_column(label): scores[label] for label in scores.columns}
        return chunk.assign(probability=scores.max(axis=1), **outputs)


def model_inputs(chunk: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The features of a chunk as the model was trained on them: categories and booleans were
    read as text (profile.category_keys), so each key gets back the value it stands for (a
    number, a boolean, a text; an unknown one stays as it is) and a missing value is NaN."""
    inputs = chunk[schema.feature_names].copy()
    for name in schema.categorical:
        allowed = schema.features[name].values or []
        known = category_lookup(allowed)
        values = [np.nan if pd.isna(key) else known.get(key, key) for key in inputs[name]]
        inputs[name] = pd.Series(values, index=inputs.index)  # int64, float64, bool or object
    return inputs


def _champion_rows(chunk: pd.DataFrame) -> pd.DataFrame:
    """Rows the champion answered (A/B traffic to a challenger is left out of its scores)."""
    if "variant" not in chunk.columns:
        return chunk
    return chunk[chunk["variant"].isna() | (chunk["variant"] == "champion")]


def _profile_reference(
    source: sources.Source,
    monitored: Columns,
    columns: dict[str, drift.Column],
    predictor: Predictor | None,
) -> int:
    """Two passes at most: moments and samples, then counts on points for large columns.
    Returns the rows read; columns the source does not have are dropped from `columns`."""

    def chunks(outputs: bool) -> Iterator[pd.DataFrame]:
        for chunk in sources.chunks(source, monitored.read):
            yield predictor.add_to(chunk) if predictor and outputs else chunk

    rows, seen = 0, set()
    for chunk in chunks(outputs=True):
        rows += len(chunk)
        for name in columns.keys() & set(chunk.columns):
            seen.add(name)
            columns[name].see_reference(monitored.values(chunk, name))
    if not rows:
        raise DataError(f"reference: {source.describe()} has no rows")
    for name in columns.keys() - seen:
        del columns[name]
    again = [name for name, column in columns.items() if column.fix_points()]
    if again:
        # The model predicts again only if one of its outputs needs the second pass.
        for chunk in chunks(outputs=any(name in OUTPUTS for name in again)):
            for name in again:
                columns[name].count_reference(monitored.values(chunk, name))
    return rows


def monitor(
    settings: Settings,
    params: Params,
    schema: Schema,
    reference: Path | None = None,
    current: Path | None = None,
    labels: Path | None = None,
) -> dict[str, Any]:
    """Compare, score and decide; return the report (nothing is written here)."""
    require_key(settings, schema)  # the log's pii hashes are compared under the deployment's key
    started = time.perf_counter()
    reference_source = sources.open_source(
        reference or default_reference(settings, params, schema), "reference"
    )
    # In-sample predictions of the training data are overconfident: the model's outputs are
    # compared with its outputs on the held-out test split when the reference is the default.
    held_out = reference is None and settings.test_split.is_file()
    outputs_source = sources.open_source(settings.test_split, "reference") if held_out else None
    current_source = sources.open_source(current or settings.prediction_log_dir, "current")
    label_rows = performance.read_labels(labels, schema.target) if labels else None
    key = settings.pii_key.get_secret_value()
    columns = Columns(schema, params, key)
    predictor = Predictor(settings, schema)
    notes = [
        f"{name}: tagged pii, logged as a keyed hash: a number is not compared"
        for name in columns.left_out
    ]

    if outputs_source is None:
        both = {**columns.features, **columns.predictions}
        reference_rows = _profile_reference(reference_source, columns, both, predictor)
        columns.predictions = {name: both[name] for name in columns.predictions if name in both}
    else:
        reference_rows = _profile_reference(reference_source, columns, columns.features, None)
        _profile_reference(outputs_source, columns, columns.predictions, predictor)
    if not columns.predictions:
        notes.append("no model file and no prediction column: prediction drift not computed")
    log.info("reference: %d rows (%.1f s)", reference_rows, time.perf_counter() - started)

    classes = schema.target.values if schema.task == "classification" else None
    join = performance.Join(label_rows, classes) if label_rows is not None else None
    current_rows = 0
    served: dict[str, dict[str, int]] = {"variant": {}, "model_version": {}}
    for chunk in sources.chunks(current_source, columns.read):
        current_rows += len(chunk)
        for name, column in columns.features.items():
            column.see_current(columns.values(chunk, name))
        for field, counts in served.items():
            if field in chunk.columns:
                for value, count in chunk[field].fillna("none").value_counts().items():
                    counts[str(value)] = counts.get(str(value), 0) + int(count)
        if not columns.predictions and join is None:
            continue
        scored = _champion_rows(predictor.add_to(chunk))
        if "prediction" in scored.columns:
            for name, column in columns.predictions.items():
                if name in scored.columns:
                    column.see_current(scored[name])
        if join is not None:
            join.add(scored)
    if not current_rows:
        raise DataError(f"current: {current_source.describe()} has no rows")
    log.info("current: %d rows (%.1f s)", current_rows, time.perf_counter() - started)

    family = len(columns.features)  # the features are tested together: one false-alarm rate
    features = {
        name: drift.column_report(column, family) for name, column in columns.features.items()
    }
    predictions = {
        name: drift.column_report(column) for name, column in columns.predictions.items()
    }
    dataset = drift.verdict(features, current_rows, params.monitor)
    if not dataset["judged"]:
        notes.append(
            f"only {current_rows} current rows: too few to judge drift "
            f"(monitor.min_rows = {params.monitor.min_rows})"
        )
    live = None
    if join is not None:
        monitor_params = params.monitor
        live = performance.live_performance(
            join,
            schema.target,
            champion_test_metrics(settings),
            params.quality.primary_metric,
            monitor_params.max_performance_drop,
            monitor_params.min_labelled_rows,
        )
    facts, unread = registry_facts(settings, [v for v in served["model_version"] if v != "none"])
    if unread:
        notes.append(f"registry not read: {unread}; model age and offline scores not checked")
    champion, too_old = model_age(facts, params.monitor.max_model_age_days, datetime.now(UTC))
    alerts = drift.quality_alerts(features, params.monitor)
    if live is not None and join is not None:  # live is measured on the join
        offline = {version: v["test"] for version, v in facts.get("versions", {}).items()}
        live["versions"] = performance.offline_and_online(
            join,
            schema.target,
            offline,
            params.quality.primary_metric,
            params.monitor.max_offline_online_gap,
            params.monitor.min_labelled_rows,
        )
        for version, scores in live["versions"].items():
            if scores["flagged"]:
                alerts.append(
                    f"model v{version}: live {live['primary_metric']} {scores['live']:.4f}, "
                    f"offline {scores['offline']:.4f}: a gap of {scores['gap']:.4f} "
                    f"(monitor.max_offline_online_gap {scores['max_gap']})"
                )
    reasons = list(dataset["reasons"])
    if live is not None and live["alert"]:
        reasons.append(live["reason"])
    if too_old:
        reasons.append(too_old)
    metadata_file = settings.metadata_file
    metadata = json.loads(metadata_file.read_text()) if metadata_file.is_file() else {}
    return {
        "schema_version": SCHEMA_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "retrain_needed": bool(reasons),
        "reasons": reasons,
        "model": {
            "name": settings.model_name,
            "task": schema.task,
            "trained_at": metadata.get("trained_at"),
            "mlflow_run_id": metadata.get("mlflow", {}).get("run_id"),
            "champion": champion,
        },
        "reference": {
            "source": reference_source.describe(),
            "rows": reference_rows,
            "predictions_source": (outputs_source or reference_source).describe(),
        },
        "current": {
            "source": current_source.describe(),
            "rows": current_rows,
            "variants": served["variant"],
            "model_versions": served["model_version"],
        },
        "dataset": dataset,
        "features": features,
        "predictions": predictions,
        "performance": live,
        "alerts": alerts,
        "notes": notes,
        "params": params.monitor.model_dump(),
        "seconds": round(time.perf_counter() - started, 3),
    }


def run(
    settings: Settings,
    params: Params,
    schema: Schema,
    reference: Path | None,
    current: Path | None,
    labels: Path | None,
    output_dir: Path | None,
) -> dict[str, Any]:
    """The command: monitor, write report.json and report.html, push when configured."""
    result = monitor(settings, params, schema, reference, current, labels)
    json_file, html_file = report.write_outputs(result, output_dir or settings.monitoring_dir)
    dataset = result["dataset"]
    log.info(
        "%d of %d features drifted%s -> %s, %s",
        dataset["drifted"],
        dataset["features"],
        f" ({', '.join(dataset['drifted_features'])})" if dataset["drifted"] else "",
        json_file,
        html_file,
    )
    for line in [*result["alerts"], *result["notes"]]:
        log.warning("%s", line)
    if result["retrain_needed"]:
        log.warning("retrain needed:\n  - %s", "\n  - ".join(result["reasons"]))
    else:
        log.info("no retraining needed")
    if settings.pushgateway_url:
        target = push.push(settings.pushgateway_url, settings.model_name, result, time.time())
        log.info("pushed the figures to %s", target)
    return result
