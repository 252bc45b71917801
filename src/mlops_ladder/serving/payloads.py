"""The request and response bodies of /predict, generated from the data contract (schema.yaml).

One record model per schema: every feature is a field with its type and range, named exactly
as its column (any name: spaces, parentheses, slashes), so a request the model was not trained
for is a 422 that names the column and the rule it breaks, before the model sees it. Types are
strict (a string is not a number, 1 is not true), numbers finite (NaN and infinity are
refused), categories one of their allowed values. A whole-number column takes 97.0 as 97 (a
file's integer column with missing values is read as floats, and a client sends its rows as
they are) and refuses 97.5 by name. The columns the contract lists as `ignored` (a date, a
name) and the target may come with a record, as they do in the file: they are accepted and
dropped, as batch prediction drops them, and never logged. Any other unknown field is refused,
which catches typos in names. Every feature must be there; only nullable ones may be null.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from operator import attrgetter
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model
from pydantic_core import PydanticCustomError

from mlops_ladder.schema import Feature, Schema, Target

# Fields are validated by their aliases (the column names) only; unknown fields are refused.
STRICT = ConfigDict(extra="forbid")


def value_type(spec: Feature | Target) -> Any:
    """The Python type of one column: a Literal of the allowed values for categories (text,
    whole numbers or booleans), bool for booleans, float or int for numbers."""
    values = spec.values
    if spec.dtype == "bool" and (values is None or set(values) == {False, True}):
        return bool
    if values:
        return Annotated[Literal[tuple(values)], BeforeValidator(same_kind(values))]
    if spec.dtype == "category":  # a target whose classes schema.yaml does not list
        return str | int
    if spec.dtype == "int":
        return Annotated[int, BeforeValidator(whole_number)]
    return float


def whole_number(value: Any) -> Any:
    """A float with no fraction (97.0: how a file's integer column with missing values reads)
    as the int it is; a fraction or a non-finite float refused, saying why."""
    if not isinstance(value, float):
        return value  # the field's strict int check judges the rest (text, booleans)
    if math.isfinite(value) and value.is_integer():
        return int(value)
    raise PydanticCustomError(
        "int_from_float",
        "Input should be a whole number, as this int column of schema.yaml holds (got {value})",
        {"value": value},
    )


def same_kind(allowed: list[Any]) -> Callable[[Any], Any]:
    """A check that a category's value has the JSON type of its allowed values: a Literal alone
    would take true for 1 and 1 for true (pydantic's Literal has no strict mode)."""
    kinds = {type(value) for value in allowed}
    if float in kinds:
        kinds.add(int)  # 2 is the category 2.0
    whole = int in kinds and float not in kinds  # 2.0 is the category 2 (a file's integers)
    expected = ", ".join(repr(value) for value in allowed[:10])
    if len(allowed) > 10:
        expected += f", ... ({len(allowed)} values)"

    def check(value: Any) -> Any:
        if whole and type(value) is float and value.is_integer():
            return int(value)
        if value is not None and type(value) not in kinds:
            raise PydanticCustomError(
                "literal_error", "Input should be one of {expected}", {"expected": expected}
            )
        return value

    return check


def field_names(schema: Schema) -> dict[str, str]:
    """Column name -> the record model's field name. Columns may have any name (spaces,
    parentheses, a name pydantic reserves): fields get safe names, the column is the alias."""
    return {name: f"field_{index}" for index, name in enumerate(schema.feature_names)}


def field_of(name: str, spec: Feature) -> tuple[Any, Any]:
    annotation = value_type(spec)
    rules: dict[str, Any] = {"alias": name, "description": spec.description or None}
    if spec.dtype == "bool" and annotation is bool:
        rules["strict"] = True  # 1 and "true" are not booleans
    if spec.dtype in ("float", "int") and not spec.allowed:
        rules |= {"ge": spec.min, "le": spec.max, "strict": True}  # "1" is not a number
        if spec.dtype == "float":
            rules["allow_inf_nan"] = False
    if spec.nullable:  # null is a missing value (imputed); the field itself must be there
        return annotation | None, Field(**rules)
    return annotation, Field(**rules)


def passed_over(schema: Schema) -> list[str]:
    """The columns a record may carry that the model does not take: the contract's ignored
    ones and the target (a row of the data file, as it is)."""
    return [*schema.ignored, schema.target.name]


def record_model(schema: Schema) -> type[BaseModel]:
    """One record: the schema's features, by their column names; the ignored columns and the
    target accepted, any value, then dropped (excluded from the record's dump: never logged)."""
    names = field_names(schema)
    fields: dict[str, Any] = {
        names[name]: field_of(name, spec) for name, spec in schema.features.items()
    }
    for index, name in enumerate(passed_over(schema)):
        fields[f"passed_{index}"] = (
            Any,
            Field(None, alias=name, exclude=True, description="not a model input: dropped"),
        )
    return create_model("Record", __config__=STRICT, **fields)


def request_model(schema: Schema, max_records: int, entities: bool = False) -> type[BaseModel]:
    """The body of /predict: records; with a feature store (`entities`), records or entity keys
    whose features the online store holds (serving/online.py)."""
    record: Any = record_model(schema)  # made at run time: a type to pydantic, a value to mypy
    if not entities:
        return create_model(
            "PredictRequest",
            __config__=STRICT,
            records=(
                list[record],
                Field(min_length=1, max_length=max_records, description="one or more records"),
            ),
        )
    return create_model(
        "PredictRequest",
        __config__=STRICT,
        records=(
            list[record] | None,
            Field(None, min_length=1, max_length=max_records, description="one or more records"),
        ),
        entities=(
            list[int | str] | None,
            Field(
                None,
                min_length=1,
                max_length=max_records,
                description="entity keys, instead of records: features from the online store",
            ),
        ),
    )


def response_model(schema: Schema, classification: bool) -> type[BaseModel]:
    label: Any = value_type(schema.target) if classification else float  # a type, made at run time
    fields: dict[str, Any] = {
        "request_id": (str, Field(description="X-Request-ID, or a new id")),
        "model_name": (str, ...),
        "model_version": (str, ...),
        "variant": (Literal["champion", "challenger"], ...),
        "predictions": (list[label], Field(description="one per record, in order")),
    }
    if classification:
        fields["classes"] = (list[label], Field(description="the order of `probabilities`"))
        fields["probabilities"] = (
            list[list[float]],
            Field(description="per record, the probability of each class, in `classes` order"),
        )
    return create_model("PredictResponse", **fields)


def frame_builder(schema: Schema) -> Callable[[list[BaseModel]], pd.DataFrame]:
    """A function from records to the table training saw, with the real column names: numbers
    as float64 (int64 for whole numbers without nulls), booleans as bool, categories as given;
    a missing value is NaN, as when the data was read from a file. Built once."""
    names = schema.feature_names
    fields = field_names(schema)
    index = pd.Index(names)
    specs = list(schema.features.values())

    if all(spec.dtype == "float" for spec in specs):
        row_of = attrgetter(*(fields[name] for name in names))

        # All floats (None becomes NaN): one 2-D array, the cheapest table pandas can build.
        def floats(records: list[BaseModel]) -> pd.DataFrame:
            rows = np.array([row_of(record) for record in records], dtype=np.float64)
            return pd.DataFrame(rows.reshape(len(records), -1), columns=index)

        return floats

    def mixed(records: list[BaseModel]) -> pd.DataFrame:
        columns: dict[str, Any] = {}
        for name, spec in zip(names, specs, strict=True):
            values = [getattr(record, fields[name]) for record in records]
            missing = None in values
            numbers = spec.values is None or all(
                isinstance(value, int | float) and not isinstance(value, bool)
                for value in spec.values
            )
            if numbers and spec.dtype != "bool":
                integers = spec.dtype == "int" or (
                    spec.dtype == "category" and all(isinstance(v, int) for v in spec.values or ())
                )
                whole = integers and not missing
                columns[name] = np.array(values, dtype=np.int64 if whole else np.float64)
            elif missing:
                columns[name] = np.array(
                    [np.nan if value is None else value for value in values], dtype=object
                )
            else:
                columns[name] = np.array(values, dtype=bool if spec.dtype == "bool" else object)
        return pd.DataFrame(columns, columns=index)

    return mixed


@dataclass(frozen=True)
class Answer:
    """The model's answer, as JSON-ready lists."""

    predictions: list[Any]
    # Classification: per record, per class (in `classes_` order), and the probability of the
    # predicted class; regression has neither.
    probabilities: list[list[float]] | None = None
    predicted: list[float] | None = None


def answer(predictor: Any, frame: pd.DataFrame) -> Answer:
    """Labels and probabilities from one predict_proba call (the rule of model.predict), or
    values."""
    if not hasattr(predictor, "classes_"):  # a regressor (a compiled one has predict_proba)
        return Answer(np.asarray(predictor.predict(frame), dtype=np.float64).tolist())
    probabilities = predictor.predict_proba(frame)
    chosen = probabilities.argmax(axis=1)
    labels = predictor.classes_[chosen]
    predicted = probabilities[np.arange(len(chosen)), chosen]
    return Answer(labels.tolist(), probabilities.tolist(), predicted.tolist())
