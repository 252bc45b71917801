"""Features, shared by training and serving.

One definition: the exported model starts with `DerivedFeatures`, so what the model learned
from is exactly what it computes from a request in production (no training/serving skew).

A project's derived features are its own code: a list of `Derived` in its features.py, named
by pyproject.toml `[tool.mlops-ladder] features`. Training, evaluation, serving and monitoring
all pick them up with no other edit. Their inputs must be columns of the data (schema.yaml
features); a missing one stops training with an error naming it, unless the feature is
`optional` (the bundled sample's are: they apply only to data that has the sample's columns).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from mlops_ladder import project
from mlops_ladder.config import FeaturizeParams
from mlops_ladder.errors import ConfigError


@dataclass(frozen=True)
class Derived:
    """A numeric column computed row by row from input columns (stateless: no fitting).
    `optional`: computed only where the data has every input, instead of an error."""

    name: str
    inputs: tuple[str, ...]
    compute: Callable[[pd.DataFrame], pd.Series]
    optional: bool = False


def declared(reference: str | None = None) -> list[Derived]:
    """The project's derived features: those `reference` ('module:attribute') names, else the
    project's hook; none when it has no hook."""
    found = project.resolve(reference) if reference else project.hook("features", [])
    if not isinstance(found, list | tuple) or not all(isinstance(f, Derived) for f in found):
        raise ConfigError("features.py: the features hook must be a list of Derived")
    return list(found)


def derived_for(columns: Iterable[str], reference: str | None = None) -> list[Derived]:
    """The derived features that apply to data with these columns: every required one (each
    input must be there), and each optional one whose inputs are."""
    available = set(columns)
    chosen = []
    for feature in declared(reference):
        missing = [column for column in feature.inputs if column not in available]
        if not missing:
            chosen.append(feature)
        elif not feature.optional:
            raise ConfigError(
                f"features.py: derived feature '{feature.name}' needs column '{missing[0]}', "
                "which the data does not have (schema.yaml features)"
            )
    return chosen


def add_derived_features(frame: pd.DataFrame, derived: list[Derived] | None = None) -> pd.DataFrame:
    """Return a copy of `frame` with the derived columns (those of `derived_for` by default)."""
    out = frame.copy()
    for feature in derived_for(frame.columns) if derived is None else derived:
        out[feature.name] = feature.compute(frame)
    return out


def feature_costs(
    frame: pd.DataFrame, derived: list[Derived], budget: FeaturizeParams, repeats: int = 5
) -> dict[str, Any]:
    """What each derived feature costs on `frame`: milliseconds per thousand rows (the whole
    frame), per record (one row, as serving computes it) and bytes per row of its column, each
    the best of `repeats` runs (the least noisy estimate of the work itself), against the
    budget of params.yaml featurize."""
    features: dict[str, dict[str, float]] = {}
    failures: list[str] = []
    if frame.empty:
        return {"budget": budget.model_dump(), "features": features, "failures": failures}
    one = frame.iloc[:1]
    for feature in derived:
        column = feature.compute(frame)
        cost = {
            "ms_per_1k_rows": _best_ms(feature, frame, repeats) * 1000 / len(frame),
            "ms_per_record": _best_ms(feature, one, repeats),
            "bytes_per_row": int(pd.Series(column).memory_usage(index=False, deep=True))
            / len(frame),
        }
        features[feature.name] = {key: round(value, 4) for key, value in cost.items()}
        for key, value in cost.items():
            bound = getattr(budget, f"max_{key}")
            if value > bound:
                failures.append(
                    f"derived feature {feature.name}: {value:.4g} {key.replace('_', ' ')} "
                    f"is over the budget of {bound:g} (params.yaml featurize max_{key})"
                )
    return {"budget": budget.model_dump(), "features": features, "failures": failures}


def _best_ms(feature: Derived, frame: pd.DataFrame, repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        feature.compute(frame)
        best = min(best, time.perf_counter() - start)
    return best * 1000


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """`add_derived_features` as a scikit-learn step, so exported models take raw records.

    `fit` notes which derived features apply to the training columns; `transform` computes
    exactly those, in training and in serving alike.
    """

    def fit(self, frame: pd.DataFrame, target: object = None) -> DerivedFeatures:
        # Where the definitions live, so that a saved model finds them wherever it is loaded.
        self.source_ = project.current().hooks.get("features")
        self.names_ = [feature.name for feature in derived_for(frame.columns, self.source_)]
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        defined = declared(self.source_) if self.source_ else []
        known = {feature.name: feature for feature in defined}
        missing = [name for name in self.names_ if name not in known]
        if missing:
            raise ConfigError(f"features.py no longer defines {', '.join(missing)}: retrain")
        return add_derived_features(missing_as_nan(frame), [known[name] for name in self.names_])


def missing_as_nan(frame: pd.DataFrame) -> pd.DataFrame:
    """Missing text values as NaN, whatever wrote them (Parquet and databases give None): the
    imputers take NaN only, so a None would be learnt as a category of its own in training and
    imputed when serving sends NaN. Boolean columns (a Parquet file's, a request's) as objects,
    True and False, as a CSV column of booleans with a gap reads: the imputer refuses bool.
    pandas' nullable numbers (Int64, Float64: pd.NA for a gap) as float64 with NaN."""
    texts = [name for name, dtype in frame.dtypes.items() if dtype.kind == "O"]
    holes = [name for name in texts if any(value is None for value in frame[name])]
    flags = [name for name, dtype in frame.dtypes.items() if pd.api.types.is_bool_dtype(dtype)]
    nullable = [
        name
        for name, dtype in frame.dtypes.items()
        if isinstance(dtype, pd.api.extensions.ExtensionDtype)
        and pd.api.types.is_numeric_dtype(dtype)
        and not pd.api.types.is_bool_dtype(dtype)
    ]
    if not holes and not flags and not nullable:
        return frame
    frame = frame.copy()
    for name in nullable:
        frame[name] = frame[name].to_numpy(dtype="float64", na_value=float("nan"))
    for name in holes:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), float("nan"))
    for name in flags:
        frame[name] = frame[name].astype(object).where(frame[name].notna(), float("nan"))
    return frame


def make_preprocessor(
    numeric: list[str], categorical: list[str], derived: list[str]
) -> ColumnTransformer:
    """Impute and scale numbers, impute and one-hot encode categories; drop anything else."""
    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categories = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    return ColumnTransformer(
        [
            ("numeric", numbers, [*numeric, *derived]),
            ("categorical", categories, categorical),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
