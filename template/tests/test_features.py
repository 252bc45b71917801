"""Feature tests: each derived feature on hand-made rows, and the preprocessing around them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.features import (
    DERIVED,
    DerivedFeatures,
    add_derived_features,
    make_preprocessor,
)
from {{ cookiecutter.package_name }}.schema import Schema

{% if cookiecutter.__classification %}

def test_radius_ratio_is_worst_over_mean_radius() -> None:
    frame = pd.DataFrame({"worst_radius": [20.0], "mean_radius": [10.0], "mean_area": [300.0]})
    assert add_derived_features(frame)["radius_ratio"].iloc[0] == pytest.approx(2.0)


def test_zero_mean_radius_gives_a_missing_ratio_not_infinity() -> None:
    frame = pd.DataFrame({"worst_radius": [20.0], "mean_radius": [0.0], "mean_area": [300.0]})
    assert np.isnan(add_derived_features(frame)["radius_ratio"].iloc[0])


def test_log_mean_area_is_log1p_of_area() -> None:
    frame = pd.DataFrame({"worst_radius": [1.0], "mean_radius": [1.0], "mean_area": [np.e - 1]})
    assert add_derived_features(frame)["log_mean_area"].iloc[0] == pytest.approx(1.0)
{% else %}

def test_ldl_hdl_ratio_is_ldl_over_hdl() -> None:
    frame = pd.DataFrame({"ldl": [120.0], "hdl": [40.0], "bmi": [25.0]})
    assert add_derived_features(frame)["ldl_hdl_ratio"].iloc[0] == pytest.approx(3.0)


def test_zero_hdl_gives_a_missing_ratio_not_infinity() -> None:
    frame = pd.DataFrame({"ldl": [120.0], "hdl": [0.0], "bmi": [25.0]})
    assert np.isnan(add_derived_features(frame)["ldl_hdl_ratio"].iloc[0])


def test_obese_flags_a_bmi_of_30_or_more() -> None:
    frame = pd.DataFrame({"ldl": [1.0] * 3, "hdl": [1.0] * 3, "bmi": [29.9, 30.0, 35.0]})
    assert add_derived_features(frame)["obese"].tolist() == [0.0, 1.0, 1.0]
{% endif %}


def test_derived_features_leave_the_input_untouched(dataset: pd.DataFrame) -> None:
    before = dataset.copy()
    out = add_derived_features(dataset)
    pd.testing.assert_frame_equal(dataset, before)
    assert set(DERIVED) <= set(out.columns)


def test_the_pipeline_step_computes_what_the_function_does(dataset: pd.DataFrame) -> None:
    step = DerivedFeatures().fit(dataset)
    pd.testing.assert_frame_equal(step.transform(dataset), add_derived_features(dataset))


def test_preprocessing_fills_missing_values(train_features: pd.DataFrame, schema: Schema) -> None:
    # Given preprocessing fitted on the training features
    inputs = train_features.drop(columns=[schema.target.name])
    preprocess = make_preprocessor(schema.numeric, schema.categorical).fit(inputs)
    # When a record arrives with a missing value
    holed = inputs.head(3).copy()
    holed.loc[0, schema.numeric[0]] = np.nan
    # Then the model still receives complete, finite numbers
    assert np.isfinite(preprocess.transform(holed)).all()
{% if not cookiecutter.__classification %}


def test_preprocessing_ignores_unseen_categories(
    train_features: pd.DataFrame, schema: Schema
) -> None:
    inputs = train_features.drop(columns=[schema.target.name])
    preprocess = make_preprocessor(schema.numeric, schema.categorical).fit(inputs)
    unseen = inputs.head(1).copy()
    unseen[schema.categorical[0]] = 99
    encoded = preprocess.transform(unseen)
    assert encoded.shape[1] == preprocess.transform(inputs.head(1)).shape[1]
{% endif %}
