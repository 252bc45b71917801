"""Debug one prediction: what the model computes, step by step, for one record.

The steps of the saved pipeline in order: the record as given, the derived features
(features.py), the vector the estimator reads (preprocessed: imputed, scaled, one-hot, by
column name), the prediction (and each class's probability). Then what moved it: each input
is set in turn to its training median (numbers) or most frequent value (categories), the
values the model's imputers learned, with its derived features recomputed; the change in the
score (the probability of the predicted class, or the predicted value) is the record's score
less that one. Simple,
exact for this one record; it says nothing of features that act only together.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_ladder.errors import DataError
from mlops_ladder.model import predict
from mlops_ladder.predict import check_records
from mlops_ladder.schema import Schema

METHOD = (
    "each input set to its training median (numbers) or most frequent value (categories), "
    "derived features recomputed; change = the record's {} less that one's"
)


def read_record(given: str) -> dict[str, Any]:
    """A record from a JSON object, given as text or as the path of a file holding one."""
    if given.lstrip().startswith(("{", "[")):
        source, text = "the record", given
    else:
        path = Path(given)
        if not path.is_file():
            raise DataError(f"{given}: neither a JSON object nor a file")
        source, text = str(path), path.read_text()
    try:
        record = json.loads(text)
    except json.JSONDecodeError as error:
        raise DataError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(record, dict):
        raise DataError(f"{source}: one record is one JSON object, not a {type(record).__name__}")
    return record


def record_frame(record: dict[str, Any], schema: Schema) -> pd.DataFrame:
    """The record as a one-row table of the contract's features, checked against it (numbers
    as numbers, null as missing), as batch prediction checks each row."""
    missing = [name for name in schema.feature_names if name not in record]
    if missing:
        raise DataError(f"the record lacks features the model needs: {', '.join(missing)}")
    columns = {}
    for name in schema.feature_names:
        value = record[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if name in schema.numeric and (value is None or number):
            columns[name] = pd.Series([np.nan if value is None else value])
        else:
            columns[name] = pd.Series([value], dtype=object)
    frame = pd.DataFrame(columns)
    check_records(frame, schema)
    return frame


def explain(model: Any, frame: pd.DataFrame, schema: Schema) -> dict[str, Any]:
    """Every step's output for the one record of `frame`, and the inputs that moved it most."""
    features = model.named_steps["features"]
    preprocess = model.named_steps["predictor"].named_steps["preprocess"]
    with_derived = features.transform(frame)
    vector = preprocess.transform(with_derived)
    vector = vector.toarray() if hasattr(vector, "toarray") else np.asarray(vector)
    predicted, scores = predict(model, frame)
    label = predicted[0]
    if scores is None:  # regression: the value itself
        probabilities = None
        scored, score = "predicted value", float(label)
    else:
        probabilities = {str(name): float(scores[name].iloc[0]) for name in scores.columns}
        scored, score = f"probability of {label}", float(scores[label].iloc[0])
    return {
        "record": {name: plain(frame[name].iloc[0]) for name in schema.feature_names},
        "derived": {name: plain(with_derived[name].iloc[0]) for name in features.names_},
        "preprocessed": dict(
            zip(preprocess.get_feature_names_out(), map(plain, vector[0]), strict=True)
        ),
        "prediction": plain(label),
        "probabilities": probabilities,
        "influence": {
            "method": METHOD.format(scored),
            "score": scored,
            "features": influence(model, frame, schema, preprocess, label, score),
        },
    }


def influence(
    model: Any, frame: pd.DataFrame, schema: Schema, preprocess: Any, label: Any, score: float
) -> list[dict[str, Any]]:
    """Each input replaced by its training reference (one row per input, one predict call),
    sorted by how much the score changes, largest first."""
    references = training_references(preprocess)
    names = [name for name in schema.feature_names if name in references]
    variants = pd.concat([frame] * len(names), ignore_index=True)
    numeric = [name for name in schema.numeric if name in variants.columns]
    variants[numeric] = variants[numeric].astype("float64")
    for row, name in enumerate(names):
        variants.loc[row, name] = references[name]
    predicted, scores = predict(model, variants)
    others = np.asarray(predicted, dtype="float64") if scores is None else scores[label].to_numpy()
    moved = [
        {
            "feature": name,
            "value": plain(frame[name].iloc[0]),
            "reference": plain(references[name]),
            "change": round(score - float(other), 6),
        }
        for name, other in zip(names, others, strict=True)
    ]
    return sorted(moved, key=lambda item: abs(item["change"]), reverse=True)


def training_references(preprocess: Any) -> dict[str, Any]:
    """The training median of each number and most frequent value of each category: the
    statistics the preprocessor's imputers learned on the training split."""
    references: dict[str, Any] = {}
    for _, step, columns in preprocess.transformers_:
        if not hasattr(step, "named_steps") or not len(columns):
            continue
        statistics = step.named_steps["impute"].statistics_
        references.update(zip(columns, statistics, strict=True))
    return references


def render(explained: dict[str, Any], top: int = 10) -> str:
    """The explanation as text, step by step."""

    def block(title: str, values: dict[str, Any]) -> list[str]:
        width = max((len(str(name)) for name in values), default=0)
        return [title, *(f"  {name:<{width}}  {value}" for name, value in values.items())]

    lines = block("record (input):", explained["record"])
    lines += block("derived features (features.py):", explained["derived"] or {"none": ""})
    lines += block("preprocessed (what the estimator reads):", explained["preprocessed"])
    lines.append(f"prediction: {explained['prediction']}")
    if explained["probabilities"]:
        lines += block("probabilities:", explained["probabilities"])
    moved = explained["influence"]
    lines.append(f"what moved it most ({moved['method']}):")
    shown = moved["features"][:top]
    width = max((len(item["feature"]) for item in shown), default=0)
    for item in shown:
        lines.append(
            f"  {item['feature']:<{width}}  {item['change']:+.4f}  "
            f"(value {item['value']}, reference {item['reference']})"
        )
    return "\n".join(lines)


def plain(value: Any) -> Any:
    """A JSON value: numpy scalars as Python's, missing numbers as null."""
    value = value.item() if hasattr(value, "item") else value
    if isinstance(value, float) and math.isnan(value):
        return None
    return round(value, 6) if isinstance(value, float) else value
