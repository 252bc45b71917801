"""The data contract (schema.yaml): the columns, types and ranges the model accepts.

One definition serves the validate stage (training data), batch prediction and serving (requests),
so data the model was not trained for is stopped at the door everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from mlops_ladder.errors import ConfigError


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Label = bool | int | float | str  # bool first: pydantic would read True as the integer 1
Dtype = Literal["float", "int", "bool", "category"]
# What a column is, beyond its values: `sensitive` (a protected attribute: the model must serve
# each of its groups about equally well, params.yaml quality.max_group_gap), `pii` (personal
# data), `restricted` (may be read, never a model input: list it under `ignored`).
Tag = Literal["sensitive", "pii", "restricted"]


class Feature(_Spec):
    """One input column. `nullable: true` lets it have missing values (imputed in training)."""

    dtype: Dtype
    description: str = ""
    min: float | None = None
    max: float | None = None
    allowed: list[Label] | None = None
    nullable: bool = False
    tags: list[Tag] = []

    @model_validator(mode="after")
    def _check(self) -> Feature:
        if self.dtype == "category" and not self.allowed:
            raise ValueError("a category needs its allowed values")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self

    @property
    def values(self) -> list[Label] | None:
        """The values a category or boolean may take (None: a number in its range)."""
        return [False, True] if self.dtype == "bool" and not self.allowed else self.allowed


class Target(_Spec):
    """The column the model predicts. Rows where it is missing are dropped before training
    (`missing: drop`, counted in reports/validation.json) or fail validation (`missing: error`)."""

    name: str
    dtype: Dtype
    description: str = ""
    min: float | None = None
    max: float | None = None
    allowed: list[Label] | None = None
    min_class_share: float | None = Field(default=None, ge=0, le=1)
    missing: Literal["drop", "error"] = "drop"

    @property
    def nullable(self) -> bool:
        return self.missing == "drop"

    @property
    def values(self) -> list[Label] | None:
        return [False, True] if self.dtype == "bool" and not self.allowed else self.allowed


class DatasetRules(_Spec):
    """Whole-table rules."""

    min_rows: int = Field(ge=1, description="labelled rows, after dropping those without target")
    max_duplicate_share: float = Field(ge=0, le=1)
    # Leakage guard: how well one column alone predicts the target (0: not at all, 1: exactly).
    max_single_feature_score: float = Field(default=0.99, gt=0, le=1)


class Slice(_Spec):
    """A part of the data the model must serve well too: a pandas query over input columns
    (names with spaces or symbols in backticks: `` `body mass (g)` > 4000 ``)."""

    name: str
    query: str


class Schema(_Spec):
    target: Target
    features: dict[str, Feature]
    dataset: DatasetRules
    # Columns the data has that are not model inputs (identifiers, free text, dates, constants),
    # each with the reason: validation accepts them, training never sees them.
    ignored: dict[str, str] = {}
    slices: list[Slice] = []

    @model_validator(mode="after")
    def _check(self) -> Schema:
        if not self.features:
            raise ValueError("features: at least one input column is needed")
        if self.target.name in self.features or self.target.name in self.ignored:
            raise ValueError(f"target '{self.target.name}' is also listed as a feature or ignored")
        both = sorted(set(self.features) & set(self.ignored))
        if both:
            raise ValueError(f"columns both features and ignored: {', '.join(both)}")
        restricted = [name for name, spec in self.features.items() if "restricted" in spec.tags]
        if restricted:
            raise ValueError(
                f"{', '.join(restricted)} tagged restricted: never a model input, "
                "list it under ignored with the reason"
            )
        return self

    def tagged(self, tag: Tag) -> list[str]:
        """The features that carry `tag`."""
        return [name for name, spec in self.features.items() if tag in spec.tags]

    @property
    def feature_names(self) -> list[str]:
        return list(self.features)

    @property
    def categorical(self) -> list[str]:
        """Categories and booleans: one-hot encoded."""
        return [name for name, spec in self.features.items() if spec.dtype in ("category", "bool")]

    @property
    def numeric(self) -> list[str]:
        return [name for name, spec in self.features.items() if spec.dtype in ("float", "int")]

    @property
    def columns(self) -> list[str]:
        """Every column the data may have: features, target, ignored."""
        return [*self.features, self.target.name, *self.ignored]

    @property
    def task(self) -> str:
        """What the target asks for: classes (a category, a boolean, whole numbers with their
        allowed values) or a value (any other number)."""
        return "regression" if self.target.values is None else "classification"


def load_schema(path: Path) -> Schema:
    """Read schema.yaml, reporting every malformed entry."""
    try:
        raw = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found (run from the project root)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    try:
        return Schema.model_validate(raw)
    except ValidationError as error:
        details = "\n".join(
            f"  {'.'.join(str(part) for part in item['loc'])}: {item['msg']}"
            for item in error.errors()
        )
        raise ConfigError(f"{path} is invalid:\n{details}") from None
