"""Features, shared by training and serving.

One definition: the exported model starts with `DerivedFeatures`, so what the model learned
from is exactly what it computes from a request in production (no training/serving skew).
Add a feature here, list it in DERIVED, and both paths get it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

{% if cookiecutter.__classification %}
DERIVED = ["radius_ratio", "log_mean_area"]


def add_derived_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `frame` with the derived columns (row-wise, stateless)."""
    out = frame.copy()
    # How far the worst cell nucleus exceeds the average one: irregular growth.
    out["radius_ratio"] = frame["worst_radius"] / frame["mean_radius"].replace(0, np.nan)
    # Areas span two orders of magnitude; the log evens out their spacing.
    out["log_mean_area"] = np.log1p(frame["mean_area"].clip(lower=0))
    return out
{% else %}
DERIVED = ["ldl_hdl_ratio", "obese"]


def add_derived_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of `frame` with the derived columns (row-wise, stateless)."""
    out = frame.copy()
    # The LDL/HDL cholesterol ratio is a standard cardiometabolic risk marker.
    out["ldl_hdl_ratio"] = frame["ldl"] / frame["hdl"].replace(0, np.nan)
    # Obesity (BMI of 30 or more) as its own signal.
    out["obese"] = (frame["bmi"] >= 30).astype("float64")
    return out
{% endif %}


class DerivedFeatures(TransformerMixin, BaseEstimator):
    """`add_derived_features` as a scikit-learn step, so exported models take raw records."""

    def fit(self, frame: pd.DataFrame, target: object = None) -> DerivedFeatures:
        return self

    def transform(self, frame: pd.DataFrame) -> pd.DataFrame:
        return add_derived_features(frame)


def make_preprocessor(numeric: list[str], categorical: list[str]) -> ColumnTransformer:
    """Impute and scale numbers, impute and one-hot encode categories; drop anything else."""
    numbers = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categories = Pipeline(
        [
            ("impute", SimpleImputer(strategy="most_frequent")),
            ("encode", OneHotEncoder(handle_unknown="ignore")),
        ]
    )
    return ColumnTransformer(
        [("numeric", numbers, [*numeric, *DERIVED]), ("categorical", categories, categorical)],
        remainder="drop",
        verbose_feature_names_out=False,
    )
