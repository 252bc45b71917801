"""Data tests: the data meets its contract (schema.yaml) before anything learns from it.

Every test reads the contract, so it holds for your data as for the sample.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data import split
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.schema import Schema
from {{ cookiecutter.package_name }}.validate import single_feature_scores, validate


def test_dataset_meets_the_data_contract(dataset: pd.DataFrame, schema: Schema) -> None:
    # Given the ingested dataset, when it is validated against schema.yaml
    report = validate(dataset, schema)
    # Then every rule holds
    assert report.passed, report.summary()


def test_only_nullable_columns_have_missing_values(dataset: pd.DataFrame, schema: Schema) -> None:
    missing = dataset[schema.feature_names].isna().sum()
    holes = {name: int(count) for name, count in missing.items() if count}
    assert all(schema.features[name].nullable for name in holes), holes


def test_every_column_is_in_the_contract(dataset: pd.DataFrame, schema: Schema) -> None:
    assert sorted(dataset.columns) == sorted(
        name for name in schema.columns if name in dataset.columns
    )
    assert set(schema.feature_names) | {schema.target.name} <= set(dataset.columns)


{% if cookiecutter.__classification %}
def test_target_has_every_class_in_healthy_proportions(
    dataset: pd.DataFrame, schema: Schema
) -> None:
    # Given the label column, when its class shares are counted
    shares = dataset[schema.target.name].value_counts(normalize=True)
    # Then every allowed class is present and none is rarer than the contract allows
    assert set(shares.index) == set(schema.target.values)
    assert shares.min() >= schema.target.min_class_share, shares.to_dict()


{% endif %}
def test_validation_names_every_broken_rule(dataset: pd.DataFrame, schema: Schema) -> None:
    # Given a copy with nulls where none are allowed, text in a number column, a number column
    # shifted far out of range and a value no category allows
    broken = dataset.copy()
    expected = set()
    strict = [name for name in schema.feature_names if not schema.features[name].nullable]
    if strict:
        broken[strict[0]] = broken[strict[0]].astype(object)
        broken.loc[broken.index[:5], strict[0]] = None
        expected.add(f"{strict[0]}.nulls")
    bounded = [name for name in schema.numeric if schema.features[name].max is not None]
    if bounded:
        broken[bounded[-1]] = broken[bounded[-1]].astype("float64") + 1e9
        expected.add(f"{bounded[-1]}.max")
    textless = [name for name in schema.numeric if name not in {*bounded[-1:], *strict[:1]}]
    if textless:
        broken[textless[0]] = "not a number"
        expected.add(f"{textless[0]}.dtype")
    for name in schema.categorical:
        broken[name] = broken[name].astype(object)
        broken.loc[broken.index[-3:], name] = "a value nobody allowed"
        expected.add(f"{name}.allowed")
        break
    assert expected, "the contract has no rule these tests can break"
    # When it is validated
    report = validate(broken, schema)
    # Then it fails, naming each broken rule
    assert not report.passed
    failed = {check.name for check in report.failures}
    assert expected <= failed, failed


def test_an_unlisted_column_is_refused_and_a_missing_one_named(
    dataset: pd.DataFrame, schema: Schema
) -> None:
    extra = dataset.assign(**{"an unlisted column": 1.0})
    missing = dataset.drop(columns=[schema.feature_names[0]])
    assert "columns.unexpected" in {check.name for check in validate(extra, schema).failures}
    report = validate(missing, schema)
    assert schema.feature_names[0] in report.summary()


def test_rows_without_a_target_are_counted_and_dropped_by_the_split(
    dataset: pd.DataFrame, schema: Schema, params
) -> None:
    # Given a copy where some rows lost their target
    unlabelled = dataset.copy()
    unlabelled[schema.target.name] = unlabelled[schema.target.name].astype(object)
    unlabelled.loc[unlabelled.index[:7], schema.target.name] = None
    labelled = len(unlabelled[unlabelled[schema.target.name].notna()].drop_duplicates())
    # When it is validated and split
    report = validate(unlabelled, schema)
    train, test = split(
        unlabelled, schema.target, params.split.test_size, params.seed, params.split.stratify
    )
    # Then validation reports them (schema.yaml target.missing: drop) and the split drops them
    assert schema.target.missing == "drop"
    unlabelled_check = next(c for c in report.checks if c.name.endswith(".unlabelled"))
    assert unlabelled_check.passed
    assert str(int(unlabelled[schema.target.name].isna().sum())) in unlabelled_check.detail
    assert len(train) + len(test) == labelled
    assert train[schema.target.name].notna().all()
    assert test[schema.target.name].notna().all()


def test_rows_without_a_target_fail_when_the_contract_says_error(
    dataset: pd.DataFrame, schema: Schema
) -> None:
    strict = schema.model_copy(
        update={"target": schema.target.model_copy(update={"missing": "error"})}
    )
    holed = dataset.copy()
    holed[schema.target.name] = holed[schema.target.name].astype(object)
    holed.loc[holed.index[:3], schema.target.name] = None
    failed = {check.name for check in validate(holed, strict).failures}
    assert f"{schema.target.name}.nulls" in failed


def test_no_single_column_gives_the_target_away(dataset: pd.DataFrame, schema: Schema) -> None:
    # A column that alone predicts the target almost exactly is usually target leakage: a
    # value recorded after the outcome, or the outcome itself under another name.
    labelled = dataset[dataset[schema.target.name].notna()]
    scores = single_feature_scores(labelled, schema)
    bound = schema.dataset.max_single_feature_score
    assert set(scores) == set(schema.feature_names)
    assert max(scores.values()) <= bound, scores


def test_the_leakage_check_catches_a_planted_copy_of_the_target(
    dataset: pd.DataFrame, schema: Schema
) -> None:
    # Given the data with a feature replaced by the target itself (numbers: the class codes)
    labelled = dataset[dataset[schema.target.name].notna()].copy()
    target = labelled[schema.target.name]
    name = schema.numeric[0] if schema.numeric else schema.feature_names[0]
    codes = pd.factorize(target, sort=True)[0] if target.dtype.kind not in "fi" else target
    labelled[name] = np.asarray(codes, dtype="float64")
    leaky = schema.model_copy(
        update={
            "features": {
                **schema.features,
                name: schema.features[name].model_copy(
                    update={"dtype": "float", "min": None, "max": None, "allowed": None}
                ),
            }
        }
    )
    # When it is validated
    report = validate(labelled, leaky)
    # Then the leakage check names that column
    assert f"{name}.leakage" in {check.name for check in report.failures}


def test_split_keeps_every_labelled_row_exactly_once(
    dataset: pd.DataFrame, splits: tuple[pd.DataFrame, ...], schema: Schema, params
) -> None:
    train, test = splits
    labelled = dataset[dataset[schema.target.name].notna()].drop_duplicates()
    assert len(train) + len(test) == len(labelled)
    assert abs(len(test) / len(labelled) - params.split.test_size) < 0.01
    columns = list(dataset.columns)
    rejoined = pd.concat([train, test]).sort_values(columns).reset_index(drop=True)
    expected = labelled.sort_values(columns).reset_index(drop=True)
    pd.testing.assert_frame_equal(rejoined, expected, check_dtype=False)


def test_too_few_rows_to_split_is_one_clear_error(dataset: pd.DataFrame, schema: Schema) -> None:
    with pytest.raises(DataError, match="cannot split"):
        split(dataset.head(1), schema.target, 0.2, 0, False)
