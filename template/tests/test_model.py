"""Model tests: the model trained as params.yaml says clears your quality bar, beats its
baselines everywhere, and behaves as a model should.

`model` and `report` are what the pipeline's train and evaluate stages write (models/,
reports/metrics.json) when mlops-ladder's pytest plugin runs the job on your data.
"""

import numpy as np
import pytest
from mlops_ladder.explain import explain, plain
from mlops_ladder.features import derived_for
from mlops_ladder.metrics import compute_metrics
from mlops_ladder.model import predict


@pytest.mark.ml_test_score("model-5", "model-6")
def test_the_model_clears_the_quality_bar(report) -> None:
    # The bar of params.yaml quality: thresholds, the baselines beaten by their margins (and
    # the linear one not clearly better) on the test split and on every slice of schema.yaml,
    # sensitive groups served alike.
    assert report["quality"]["passed"], "\n".join(report["quality"]["failures"])


@pytest.mark.ml_test_score("model-6")
def test_every_slice_of_the_contract_is_evaluated(report, schema) -> None:
    assert set(report["slices"]) == {piece.name for piece in schema.slices}
    for result in report["slices"].values():
        assert "metrics" in result or result.get("skipped"), result


@pytest.mark.ml_test_score("data-2")
def test_every_feature_earns_its_place(report, params) -> None:
    # None harmful, and few that never help (named in reports/metrics.json)
    importance = report["feature_importance"]
    assert importance["passed"], importance["failures"]
    assert importance["useless_share"] <= params.evaluate.max_useless_share


@pytest.mark.ml_test_score("data-6")
def test_each_derived_feature_reaches_the_model(model, schema) -> None:
    # A feature added to features.py is computed for training and serving with no other edit
    derived = [feature.name for feature in derived_for(schema.feature_names)]
    assert model.named_steps["features"].names_ == derived
    preprocess = model.named_steps["predictor"].named_steps["preprocess"]
    names = " ".join(preprocess.get_feature_names_out())
    assert all(name in names for name in derived), names


@pytest.mark.ml_test_score("monitoring-5")
def test_the_outputs_are_numerically_sound(report) -> None:
    assert report["numerics"]["passed"], report["numerics"]["failures"]


@pytest.mark.ml_test_score("infrastructure-1")
def test_same_data_params_and_seed_give_identical_metrics(retrained, report, splits, schema):
    # The pipeline's run (`model`, `report`: every stage through the command line) and a
    # training here, in process, from the same data, params and seed: they score exactly alike.
    inputs, actual = splits[1][schema.feature_names], splits[1][schema.target.name]
    assert compute_metrics(actual, *predict(retrained, inputs)) == report["test"]


@pytest.mark.ml_test_score("infrastructure-2")
def test_a_record_is_predicted_the_same_alone_in_any_batch_and_column_order(
    model, splits, schema
) -> None:
    inputs = splits[1][schema.feature_names].head(50)
    together = predict(model, inputs)[0]
    alone = np.concatenate([predict(model, inputs.iloc[[row]])[0] for row in range(len(inputs))])
    reordered = predict(model, inputs[list(reversed(inputs.columns))])[0]
    # A class exactly; a number to its last bits (a linear model's sums round by batch shape)
    for other in (alone, reordered):
        if together.dtype.kind == "f":
            np.testing.assert_allclose(other, together, rtol=1e-12, atol=0)
        else:
            np.testing.assert_array_equal(other, together)


@pytest.mark.ml_test_score("infrastructure-5")
def test_a_prediction_is_explained_step_by_step(model, splits, schema) -> None:
    # `python -m <package> explain` on a record: each step's output, and what moved it most
    record = splits[1][schema.feature_names].head(1).reset_index(drop=True)
    explained = explain(model, record, schema)
    assert explained["prediction"] == plain(predict(model, record)[0][0])  # as JSON writes it
    assert set(explained["record"]) == set(schema.feature_names)
    assert {item["feature"] for item in explained["influence"]["features"]} <= set(record)
