"""Data tests: the data meets its contract (schema.yaml) before anything learns from it.

Every test reads the contract, so each holds for your data as for the sample. The fixtures
(`dataset`, `schema`, ...) come from mlops-ladder's pytest plugin: the table your ingest stage
reads, and your contract.
"""

import pytest
from mlops_ladder.validate import single_feature_scores, validate


@pytest.mark.ml_test_score("data-1", "monitoring-2")
def test_the_data_meets_its_contract(dataset, schema) -> None:
    report = validate(dataset, schema)
    assert report.passed, report.summary()


@pytest.mark.ml_test_score("data-1")
def test_only_nullable_features_have_missing_values(dataset, schema) -> None:
    missing = dataset[schema.feature_names].isna().sum()
    holes = {name: int(count) for name, count in missing.items() if count}
    assert all(schema.features[name].nullable for name in holes), holes


def test_every_class_is_present_and_none_too_rare(dataset, schema) -> None:
    if schema.task != "classification":
        pytest.skip("regression: the target has no classes")
    shares = dataset[schema.target.name].value_counts(normalize=True)
    assert set(shares.index) == set(schema.target.values)
    assert shares.min() >= (schema.target.min_class_share or 0), shares.to_dict()


@pytest.mark.ml_test_score("data-4")
def test_no_single_column_gives_the_target_away(dataset, schema) -> None:
    # A column that alone predicts the target almost exactly is usually leakage: a value
    # recorded after the outcome, or the outcome itself under another name.
    labelled = dataset[dataset[schema.target.name].notna()]
    scores = single_feature_scores(labelled, schema)
    assert max(scores.values()) <= schema.dataset.max_single_feature_score, scores
