"""Monitoring tests: traffic like your test split needs no retraining; traffic whose numbers
have moved is drift, naming the features that moved.

`monitor(records)` (mlops-ladder's pytest plugin) runs the monitoring job on `records` as the
current data, against the data the job's model was trained on.
"""

import pytest


@pytest.mark.ml_test_score("monitoring-2")
def test_traffic_like_the_test_split_needs_no_retraining(monitor, splits, schema) -> None:
    report = monitor(splits[1][schema.feature_names])
    assert not report["retrain_needed"], report["reasons"]


@pytest.mark.ml_test_score("monitoring-2")
def test_moved_numbers_are_drift_that_names_them(monitor, splits, schema) -> None:
    numbers = [name for name in schema.numeric if splits[1][name].nunique() > 2][:3]
    if not numbers:
        pytest.skip("the contract has no continuous feature to move")
    moved = splits[1][schema.feature_names].copy()
    for name in numbers:
        moved[name] = moved[name] + 3 * splits[0][name].std()
    report = monitor(moved)
    drifted = {name for name, entry in report["features"].items() if entry.get("drift")}
    assert set(numbers) <= drifted, report["features"]
