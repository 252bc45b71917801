"""Data tests: the data meets its contract before anything learns from it."""

from __future__ import annotations

import pandas as pd

from {{ cookiecutter.package_name }}.schema import Schema
from {{ cookiecutter.package_name }}.validate import validate


def test_dataset_meets_the_data_contract(dataset: pd.DataFrame, schema: Schema) -> None:
    # Given the ingested dataset, when it is validated against schema.yaml
    report = validate(dataset, schema)
    # Then every rule holds
    assert report.passed, report.summary()


def test_dataset_has_no_missing_values(dataset: pd.DataFrame) -> None:
    missing = dataset.isna().sum()
    assert not missing.any(), missing[missing > 0].to_dict()


{% if cookiecutter.__classification %}
def test_target_has_every_class_in_healthy_proportions(
    dataset: pd.DataFrame, schema: Schema
) -> None:
    # Given the label column, when its class shares are counted
    shares = dataset[schema.target.name].value_counts(normalize=True)
    # Then every allowed class is present and none is rarer than the contract allows
    assert set(shares.index) == set(schema.target.allowed)
    assert shares.min() >= schema.target.min_class_share, shares.to_dict()
{% else %}
def test_target_varies_within_its_range(dataset: pd.DataFrame, schema: Schema) -> None:
    # Given the target column
    target = dataset[schema.target.name]
    # Then it stays within the contract's bounds and actually varies
    assert target.between(schema.target.min, schema.target.max).all()
    assert target.std() > 0.1 * target.abs().mean(), "the target is nearly constant"
{% endif %}


def test_validation_names_every_broken_rule(dataset: pd.DataFrame, schema: Schema) -> None:
    # Given a copy with missing values, a text column and a column shifted out of range
    first, second, third = schema.numeric[:3]
    broken = dataset.copy()
    broken[first] = broken[first].astype("float64")
    broken.loc[:4, first] = None
    broken[second] = "not a number"
    broken[third] = broken[third] + 1e6
    # When it is validated
    report = validate(broken, schema)
    # Then it fails, naming each broken rule
    assert not report.passed
    failed = {check.name for check in report.failures}
    assert {f"{first}.nulls", f"{second}.dtype", f"{third}.max"} <= failed, failed


def test_split_keeps_every_row_exactly_once(
    dataset: pd.DataFrame, splits: tuple[pd.DataFrame, ...], params
) -> None:
    train, test = splits
    assert len(train) + len(test) == len(dataset)
    assert abs(len(test) / len(dataset) - params.split.test_size) < 0.01
    rejoined = pd.concat([train, test]).sort_values(list(dataset.columns)).reset_index(drop=True)
    expected = dataset.sort_values(list(dataset.columns)).reset_index(drop=True)
    pd.testing.assert_frame_equal(rejoined, expected, check_dtype=False)
