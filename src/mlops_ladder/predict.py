"""Batch prediction: a CSV or Parquet file of records in, the same records with predictions out."""

from __future__ import annotations

from typing import Any

import pandas as pd

from mlops_ladder.errors import DataError
from mlops_ladder.model import predict
from mlops_ladder.schema import Schema
from mlops_ladder.validate import column_checks


def predict_table(model: Any, records: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """Check the records against the data contract, then add the model's predictions."""
    check_records(records, schema)
    predicted, scores = predict(model, records[schema.feature_names])
    out = records.copy()
    out["prediction"] = predicted
    if scores is not None:
        # The predicted class's probability, then every class's (probability_<class>).
        out["probability"] = scores.max(axis=1).to_numpy()
        for label in scores.columns:
            out[f"probability_{label}"] = scores[label].to_numpy()
    return out


def check_records(records: pd.DataFrame, schema: Schema) -> None:
    """Every feature of the contract is there and keeps its rules, else one DataError."""
    missing = [name for name in schema.feature_names if name not in records.columns]
    if missing:
        raise DataError(f"input lacks columns the model needs: {', '.join(missing)}")
    problems = [
        f"{check.name}: {check.detail}"
        for name, spec in schema.features.items()
        for check in column_checks(name, records[name], spec)
        if not check.passed
    ]
    if problems:
        raise DataError("input breaks the data contract:\n  " + "\n  ".join(problems))
