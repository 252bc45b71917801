"""The data contract (schema.yaml): the columns, types and ranges the model accepts.

One definition serves the validate stage (training data), batch prediction and serving (requests),
so data the model was not trained for is stopped at the door everywhere.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from {{ cookiecutter.package_name }}.errors import ConfigError


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Feature(_Spec):
    """One input column."""

    dtype: Literal["float", "int", "category"]
    description: str = ""
    min: float | None = None
    max: float | None = None
    allowed: list[int | float | str] | None = None
    nullable: bool = False

    @model_validator(mode="after")
    def _check(self) -> Feature:
        if self.dtype == "category" and not self.allowed:
            raise ValueError("a category needs its allowed values")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError("min is greater than max")
        return self


class Target(_Spec):
    """The column the model predicts."""

    name: str
    dtype: Literal["float", "int", "category"]
    description: str = ""
    min: float | None = None
    max: float | None = None
    allowed: list[int | float | str] | None = None
    min_class_share: float | None = Field(default=None, ge=0, le=1)


class DatasetRules(_Spec):
    """Whole-table rules."""

    min_rows: int = Field(ge=1)
    max_duplicate_share: float = Field(ge=0, le=1)


class Schema(_Spec):
    target: Target
    features: dict[str, Feature]
    dataset: DatasetRules

    @property
    def feature_names(self) -> list[str]:
        return list(self.features)

    @property
    def categorical(self) -> list[str]:
        return [name for name, spec in self.features.items() if spec.dtype == "category"]

    @property
    def numeric(self) -> list[str]:
        return [name for name, spec in self.features.items() if spec.dtype != "category"]


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
