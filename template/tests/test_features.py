"""Feature tests: each derived feature on hand-made rows, and the preprocessing around them."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import features
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.errors import ConfigError
from {{ cookiecutter.package_name }}.features import (
    SAMPLE_DERIVED,
    Derived,
    DerivedFeatures,
    add_derived_features,
    derived_for,
    feature_costs,
    make_preprocessor,
)
from {{ cookiecutter.package_name }}.model import predict
from {{ cookiecutter.package_name }}.schema import Schema
from {{ cookiecutter.package_name }}.train import train

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


def test_derived_features_leave_the_input_untouched(dataset: pd.DataFrame, schema: Schema) -> None:
    before = dataset.copy()
    derived = derived_for(schema.feature_names)
    out = add_derived_features(dataset, derived)
    pd.testing.assert_frame_equal(dataset, before)
    assert {feature.name for feature in derived} <= set(out.columns)


def test_the_samples_derived_features_need_the_samples_columns(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(features, "DERIVED", [])  # the sample's alone, whatever yours need
    # Given data with none of the sample's columns, then none of its derived features apply
    assert derived_for(["a column", "another (one)"]) == []
    # and each applies exactly where its inputs are there
    for feature in SAMPLE_DERIVED:
        assert feature in derived_for(feature.inputs)


def test_a_derived_feature_whose_input_is_missing_is_one_clear_error(
    monkeypatch: pytest.MonkeyPatch, schema: Schema
) -> None:
    # Given a derived feature of yours that reads a column the data does not have
    mine = Derived("per_unit", ("no such column",), lambda frame: frame["no such column"])
    monkeypatch.setattr(features, "DERIVED", [mine])
    # Then the error names features.py, the feature and the column
    with pytest.raises(ConfigError, match=r"features\.py.*per_unit.*no such column"):
        derived_for(schema.feature_names)


def test_a_derived_feature_added_to_features_py_reaches_the_model(
    monkeypatch: pytest.MonkeyPatch, train_features: pd.DataFrame, schema: Schema, params
) -> None:
    # Given a derived feature added the documented way (one entry in DERIVED)
    column = schema.numeric[0] if schema.numeric else schema.feature_names[0]
    mine = Derived("my_feature", (column,), lambda frame: frame[column].notna().astype(float))
    monkeypatch.setattr(features, "DERIVED", [mine])
    # When the model is trained on raw records
    model = train(
        add_derived_features(train_features[schema.feature_names]).assign(
            **{schema.target.name: train_features[schema.target.name]}
        ),
        schema,
        params,
    )
    # Then the model computes it from a raw record itself, and its preprocessing uses it
    assert "my_feature" in model.named_steps["features"].names_
    assert "my_feature" in model.named_steps["predictor"].feature_names_in_
    predict(model, train_features[schema.feature_names].head(3))


def test_the_pipeline_step_computes_what_the_function_does(
    dataset: pd.DataFrame, schema: Schema
) -> None:
    step = DerivedFeatures().fit(dataset[schema.feature_names])
    expected = add_derived_features(dataset, derived_for(schema.feature_names))
    pd.testing.assert_frame_equal(step.transform(dataset), expected)


def test_preprocessing_fills_missing_values(train_features: pd.DataFrame, schema: Schema) -> None:
    # Given preprocessing fitted on the training features
    names = [feature.name for feature in derived_for(schema.feature_names)]
    inputs = train_features[[*schema.feature_names, *names]]
    preprocess = make_preprocessor(schema.numeric, schema.categorical, names).fit(inputs)
    # When a record arrives with a missing value in every column
    holed = inputs.head(3).copy().astype(object)
    holed.iloc[0] = None
    # Then the model still receives complete, finite numbers
    assert np.isfinite(preprocess.transform(holed).astype(float)).all()


def test_every_derived_feature_is_within_its_cost_budget(
    splits: tuple[pd.DataFrame, ...], schema: Schema, params: Params
) -> None:
    # Given the derived features of this project, measured on the training split
    derived = derived_for(schema.feature_names)
    costs = feature_costs(splits[0], derived, params.featurize)
    # Then each has its time per thousand rows, per record and memory, all within budget
    assert set(costs["features"]) == {feature.name for feature in derived}
    for cost in costs["features"].values():
        assert set(cost) == {"ms_per_1k_rows", "ms_per_record", "bytes_per_row"}
    assert not costs["failures"], costs["failures"]


def test_a_costly_derived_feature_fails_its_budget(
    splits: tuple[pd.DataFrame, ...], schema: Schema, params: Params
) -> None:
    # Given a derived feature that waits 20 ms on each call (a remote lookup, say), and one
    # whose column holds long text
    column = schema.numeric[0] if schema.numeric else schema.feature_names[0]

    def slow(frame: pd.DataFrame) -> pd.Series:
        time.sleep(0.02)
        return frame[column].notna().astype("float64")

    planted = [
        Derived("slow_lookup", (column,), slow),
        Derived("long_text", (column,), lambda frame: frame[column].astype(str) * 100),
    ]
    # When their cost is measured against the budget of params.yaml
    costs = feature_costs(splits[0], planted, params.featurize, repeats=2)
    # Then the slow one is over the per-record budget and the long one over the memory budget
    failures = " | ".join(costs["failures"])
    assert "derived feature slow_lookup:" in failures
    assert "ms per record is over the budget" in failures
    assert "derived feature long_text:" in failures
    assert "bytes per row is over the budget" in failures
