"""Derived features (the owner's features.py, through the `features` hook) and the preprocessing
around them: one definition for training and serving, each within its cost budget."""

from __future__ import annotations

import importlib
import json
import time
from types import ModuleType

import jobs
import numpy as np
import pandas as pd
import pytest
from harness import PACKAGE

from mlops_ladder.commands import main
from mlops_ladder.config import FeaturizeParams
from mlops_ladder.errors import ConfigError
from mlops_ladder.features import (
    Derived,
    DerivedFeatures,
    add_derived_features,
    declared,
    derived_for,
    feature_costs,
    make_preprocessor,
)
from mlops_ladder.model import predict
from mlops_ladder.train import train


@pytest.fixture
def owned(here: jobs.Job) -> ModuleType:
    """The project's features.py (the hook's module), to plant features in with monkeypatch."""
    return importlib.import_module(f"{PACKAGE}.features")


def sample_rows() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "worst_radius": [20.0, 20.0],
            "mean_radius": [10.0, 0.0],
            "mean_area": [np.e - 1, 300.0],
            "ldl": [120.0, 120.0],
            "hdl": [40.0, 0.0],
            "bmi": [29.9, 30.0],
        }
    )


def test_the_sample_features_compute_their_formulas(here: jobs.Job) -> None:
    out = add_derived_features(sample_rows())
    assert out["radius_ratio"].iloc[0] == pytest.approx(2.0)  # worst over mean radius
    assert np.isnan(out["radius_ratio"].iloc[1])  # a zero radius: missing, not infinite
    assert out["log_mean_area"].iloc[0] == pytest.approx(1.0)  # log1p of the area
    assert out["ldl_hdl_ratio"].iloc[0] == pytest.approx(3.0)  # ldl over hdl
    assert np.isnan(out["ldl_hdl_ratio"].iloc[1])
    assert out["obese"].tolist() == [0.0, 1.0]  # a bmi of 30 or more


def test_each_sample_derives_its_own_features_only(here: jobs.Job) -> None:
    expected = {
        "classification": {"radius_ratio", "log_mean_area"},
        "regression": {"ldl_hdl_ratio", "obese"},
    }[here.task]
    assert {feature.name for feature in derived_for(here.schema.feature_names)} == expected
    assert expected <= set(here.train_features.columns)  # the featurize stage added them


def test_derived_features_leave_the_input_untouched(here: jobs.Job) -> None:
    dataset = here.dataset
    before = dataset.copy()
    derived = derived_for(here.schema.feature_names)
    out = add_derived_features(dataset, derived)
    pd.testing.assert_frame_equal(dataset, before)
    assert {feature.name for feature in derived} <= set(out.columns)


def test_the_samples_derived_features_need_the_samples_columns(here: jobs.Job) -> None:
    # Given data with none of the sample's columns, then none of its derived features apply
    assert derived_for(["a column", "another (one)"]) == []
    # and each applies exactly where its inputs are there (they are optional)
    for feature in declared():
        assert feature.optional
        assert feature in derived_for(feature.inputs)
        assert feature not in derived_for(feature.inputs[1:])


def test_a_derived_feature_whose_input_is_missing_is_one_clear_error(
    owned: ModuleType, monkeypatch: pytest.MonkeyPatch, here: jobs.Job
) -> None:
    # Given a derived feature of the owner's that reads a column the data does not have
    mine = Derived("per_unit", ("no such column",), lambda frame: frame["no such column"])
    monkeypatch.setattr(owned, "DERIVED", [mine])
    # Then the error names features.py, the feature and the column
    with pytest.raises(ConfigError, match=r"features\.py.*'per_unit'.*'no such column'"):
        derived_for(here.schema.feature_names)
    # and the featurize stage stops with it, one line, no traceback
    assert main(["featurize"]) == 1


def test_a_features_hook_that_is_not_a_list_of_derived_is_one_clear_error(
    owned: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(owned, "DERIVED", {"ratio": lambda frame: frame})
    with pytest.raises(ConfigError, match="the features hook must be a list of Derived"):
        declared()


def test_a_derived_feature_added_to_features_py_reaches_the_model(
    owned: ModuleType, monkeypatch: pytest.MonkeyPatch, here: jobs.Job
) -> None:
    # Given a derived feature added the documented way (one entry in DERIVED)
    schema, train_features = here.schema, here.train_features
    column = schema.numeric[0]
    mine = Derived("my_feature", (column,), lambda frame: frame[column].notna().astype(float))
    monkeypatch.setattr(owned, "DERIVED", [mine])
    # When the model is trained on raw records
    raw = train_features[[*schema.feature_names, schema.target.name]]
    model = train(add_derived_features(raw), schema, here.params)
    # Then the model computes it from a raw record itself, and its preprocessing uses it
    assert model.named_steps["features"].names_ == ["my_feature"]
    assert "my_feature" in model.named_steps["predictor"].feature_names_in_
    assert len(predict(model, train_features[schema.feature_names].head(3))[0]) == 3
    # And a model whose feature the owner has since removed says to retrain, not a KeyError
    monkeypatch.setattr(owned, "DERIVED", [])
    with pytest.raises(ConfigError, match=r"features\.py no longer defines my_feature: retrain"):
        predict(model, train_features[schema.feature_names].head(3))


def test_the_saved_model_computes_its_features_from_a_raw_record(here: jobs.Job) -> None:
    step = here.model.named_steps["features"]
    assert step.source_ == f"{PACKAGE}.features:DERIVED"  # found again wherever it is loaded
    assert step.names_ == [feature.name for feature in derived_for(here.schema.feature_names)]


def test_the_pipeline_step_computes_what_the_function_does(here: jobs.Job) -> None:
    dataset, schema = here.dataset, here.schema
    step = DerivedFeatures().fit(dataset[schema.feature_names])
    expected = add_derived_features(dataset, derived_for(schema.feature_names))
    pd.testing.assert_frame_equal(step.transform(dataset), expected)


def test_preprocessing_fills_missing_values(here: jobs.Job) -> None:
    # Given preprocessing fitted on the training features
    schema, train_features = here.schema, here.train_features
    names = [feature.name for feature in derived_for(schema.feature_names)]
    inputs = train_features[[*schema.feature_names, *names]]
    preprocess = make_preprocessor(schema.numeric, schema.categorical, names).fit(inputs)
    # When a record arrives with a missing value in every column
    holed = inputs.head(3).copy().astype(object)
    holed.iloc[0] = None
    # Then the model still receives complete, finite numbers
    assert np.isfinite(preprocess.transform(holed).astype(float)).all()


def test_preprocessing_encodes_categories_and_ignores_unseen_ones() -> None:
    frame = pd.DataFrame({"size": [1.0, 2.0, 3.0], "colour": ["red", "blue", "red"]})
    preprocess = make_preprocessor(["size"], ["colour"], []).fit(frame)
    assert list(preprocess.get_feature_names_out()) == ["size", "colour_blue", "colour_red"]
    unseen = preprocess.transform(pd.DataFrame({"size": [2.0], "colour": ["green"]}))
    assert unseen.tolist() == [[0.0, 0.0, 0.0]]  # scaled to the mean, no category lit


def test_every_derived_feature_is_within_its_cost_budget(here: jobs.Job) -> None:
    # Given the derived features of this project, measured on the training split
    derived = derived_for(here.schema.feature_names)
    costs = feature_costs(here.splits[0], derived, here.params.featurize)
    # Then each has its time per thousand rows, per record and memory, all within budget
    assert set(costs["features"]) == {feature.name for feature in derived}
    for cost in costs["features"].values():
        assert set(cost) == {"ms_per_1k_rows", "ms_per_record", "bytes_per_row"}
    assert not costs["failures"], costs["failures"]
    # as the featurize stage reported them
    written = json.loads((here.root / "reports" / "feature_cost.json").read_text())
    assert set(written["features"]) == set(costs["features"])
    assert written["budget"] == here.params.featurize.model_dump()


def test_a_costly_derived_feature_fails_its_budget(
    owned: ModuleType, monkeypatch: pytest.MonkeyPatch, here: jobs.Job, capsys
) -> None:
    # Given a derived feature that waits 20 ms on each call (a remote lookup, say), and one
    # whose column holds long text
    column = here.schema.numeric[0]

    def slow(frame: pd.DataFrame) -> pd.Series:
        time.sleep(0.02)
        return frame[column].notna().astype("float64")

    planted = [
        Derived("slow_lookup", (column,), slow),
        Derived("long_text", (column,), lambda frame: frame[column].astype(str) * 100),
    ]
    # When their cost is measured against the budget of params.yaml
    costs = feature_costs(here.splits[0], planted, here.params.featurize, repeats=2)
    # Then the slow one is over the per-record budget and the long one over the memory budget
    failures = " | ".join(costs["failures"])
    assert "derived feature slow_lookup:" in failures
    assert "ms per record is over the budget of 5 (params.yaml featurize max_ms_per_record)" in (
        failures
    )
    assert "derived feature long_text:" in failures
    assert "bytes per row is over the budget" in failures
    # And the featurize stage stops on them, naming them (its outputs go elsewhere)
    monkeypatch.setattr(owned, "DERIVED", planted[1:])
    monkeypatch.setenv("TABULAR_MODEL_REPORTS_DIR", str(here.root / "costly-reports"))
    monkeypatch.setenv("TABULAR_MODEL_DATA_DIR", str(here.root / "costly-data"))
    (here.root / "costly-data").mkdir(exist_ok=True)
    for name in ("processed/train.parquet", "processed/test.parquet"):
        target = here.root / "costly-data" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes((here.root / "data" / name).read_bytes())
    assert main(["featurize"]) == 1
    assert "error: features over budget: derived feature long_text:" in capsys.readouterr().err


def test_no_derived_features_is_fine(owned: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(owned, "DERIVED", [])
    frame = sample_rows()
    assert derived_for(frame.columns) == []
    pd.testing.assert_frame_equal(add_derived_features(frame), frame)
    assert feature_costs(frame, [], FeaturizeParams())["failures"] == []
