"""The data contract: schema.yaml read strictly (one clear error per malformed entry), and every
rule of it checked on a table by `validate`, on both bundled samples and on hand-made tables."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jobs
import numpy as np
import pandas as pd
import pytest
import yaml
from harness import inside

from mlops_ladder.errors import ConfigError
from mlops_ladder.schema import Schema, load_schema
from mlops_ladder.validate import single_feature_scores, validate


@pytest.fixture
def here(job: jobs.Job) -> Iterator[jobs.Job]:
    """The job's project as the runtime's current one (its hooks: the leakage check reads
    none, but the metrics of the owner could)."""
    with inside(job.root):
        yield job


def minimal() -> dict[str, Any]:
    """A valid contract, as loaded YAML, for the malformed variants below."""
    return {
        "target": {"name": "label", "dtype": "category", "allowed": ["a", "b"]},
        "features": {
            "size": {"dtype": "float", "min": 0, "max": 10},
            "colour": {"dtype": "category", "allowed": ["red", "blue"]},
        },
        "dataset": {"min_rows": 10, "max_duplicate_share": 0.1},
    }


def written(tmp_path: Path, content: Any) -> Path:
    path = tmp_path / "schema.yaml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


# --- reading schema.yaml -------------------------------------------------------------------


def test_the_templates_contracts_load_and_agree_with_their_task(job: jobs.Job) -> None:
    schema = load_schema(job.root / "schema.yaml")
    assert schema.task == job.task == job.params.task
    assert schema.feature_names
    assert schema.target.name not in schema.feature_names
    assert set(schema.numeric) | set(schema.categorical) == set(schema.feature_names)


def change(path: str, value: Any) -> dict[str, Any]:
    """The minimal contract with the entry at dotted `path` set to `value` (None: removed)."""
    content = minimal()
    *parents, key = path.split(".")
    node = content
    for part in parents:
        node = node[part]
    if value is None:
        del node[key]
    else:
        node[key] = value
    return content


@pytest.mark.parametrize(
    ("path", "value", "said"),
    [
        ("features.colour.allowed", None, "features.colour: Value error, a category needs"),
        ("features.size.min", 20, "features.size: Value error, min is greater than max"),
        ("features.size.nulable", True, "features.size.nulable: Extra inputs are not permitted"),
        ("features.size.dtype", "string", "features.size.dtype: Input should be"),
        ("features.size.tags", ["secret"], "features.size.tags.0: Input should be"),
        ("target.min_class_share", 2, "target.min_class_share: Input should be less than"),
        ("target.missing", "skip", "target.missing: Input should be 'drop' or 'error'"),
        ("dataset.min_rows", 0, "dataset.min_rows: Input should be greater than or equal to 1"),
        ("dataset", None, "dataset: Field required"),
        ("features", {}, "at least one input column is needed"),
        ("features.label", {"dtype": "float"}, "target 'label' is also listed as a feature"),
        ("ignored", {"size": "an id"}, "columns both features and ignored: size"),
        ("slices", [{"name": "big"}], "slices.0.query: Field required"),
    ],
)
def test_each_malformed_entry_is_one_clear_error_naming_it(
    tmp_path: Path, path: str, value: Any, said: str
) -> None:
    with pytest.raises(ConfigError) as raised:
        load_schema(written(tmp_path, change(path, value)))
    assert str(raised.value).startswith(f"{tmp_path / 'schema.yaml'} is invalid:")
    assert said in str(raised.value)


def test_a_restricted_column_can_never_be_a_model_input(job: jobs.Job) -> None:
    # Given the contract with one feature tagged restricted
    name = job.schema.feature_names[0]
    loaded = job.schema.model_dump()
    loaded["features"][name]["tags"] = ["restricted"]
    # Then the contract is refused, naming it and where it belongs
    with pytest.raises(ValueError, match=f"{name} tagged restricted: never a model") as raised:
        Schema.model_validate(loaded)
    assert "list it under ignored with the reason" in str(raised.value)


def test_a_missing_or_unreadable_contract_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_schema(tmp_path / "schema.yaml")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_schema(written(tmp_path, "target: [unclosed"))
    with pytest.raises(ConfigError, match="is invalid"):
        load_schema(written(tmp_path, "just text"))


@pytest.mark.parametrize(
    ("target", "task"),
    [
        ({"dtype": "category", "allowed": ["cat", "dog", "owl"]}, "classification"),
        ({"dtype": "int", "allowed": [0, 1, 2]}, "classification"),
        ({"dtype": "bool"}, "classification"),  # its values are False and True without a list
        ({"dtype": "int", "min": 0, "max": 100}, "regression"),
        ({"dtype": "float"}, "regression"),
    ],
)
def test_the_task_is_what_the_target_asks_for(target: dict[str, Any], task: str) -> None:
    content = minimal()
    content["target"] = {"name": "label", **target}
    assert Schema.model_validate(content).task == task


def test_tags_numbers_categories_and_columns_are_read_from_the_features() -> None:
    content = minimal()
    content["features"]["flag"] = {"dtype": "bool", "tags": ["sensitive", "pii"]}
    content["ignored"] = {"row_id": "identifier"}
    schema = Schema.model_validate(content)
    assert schema.numeric == ["size"]
    assert schema.categorical == ["colour", "flag"]
    assert schema.tagged("sensitive") == schema.tagged("pii") == ["flag"]
    assert schema.columns == ["size", "colour", "flag", "label", "row_id"]
    assert schema.features["flag"].values == [False, True]


# --- validate on the samples ---------------------------------------------------------------


def test_dataset_meets_the_data_contract(here: jobs.Job) -> None:
    # Given the ingested dataset, when it is validated against schema.yaml
    report = validate(here.dataset, here.schema)
    # Then every rule holds
    assert report.passed, report.summary()
    assert report.summary().startswith(f"data valid: {len(report.checks)} checks passed")
    assert here.report("validation")["passed"] is True  # as the validate stage wrote it


def test_only_nullable_columns_have_missing_values(job: jobs.Job) -> None:
    dataset, schema = job.dataset, job.schema
    missing = dataset[schema.feature_names].isna().sum()
    holes = {name: int(count) for name, count in missing.items() if count}
    assert all(schema.features[name].nullable for name in holes), holes


def test_every_column_is_in_the_contract(job: jobs.Job) -> None:
    dataset, schema = job.dataset, job.schema
    assert set(dataset.columns) <= set(schema.columns)
    assert set(schema.feature_names) | {schema.target.name} <= set(dataset.columns)


def test_the_classes_are_all_present_in_healthy_proportions(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # The classification sample only: regression's target has no classes.
    job = jobs.job("classification", tmp_path_factory)
    dataset, schema = job.dataset, job.schema
    # Given the label column, when its class shares are counted
    shares = dataset[schema.target.name].value_counts(normalize=True)
    # Then every allowed class is present and none is rarer than the contract allows
    assert set(shares.index) == set(schema.target.values)
    assert shares.min() >= schema.target.min_class_share, shares.to_dict()


def broken_copy(dataset: pd.DataFrame, schema: Schema) -> tuple[pd.DataFrame, set[str]]:
    """A copy with nulls where none are allowed, a number column shifted far out of range,
    text in a number column and a value no category allows; the rules that must fail."""
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
    return broken, expected


def test_validation_names_every_broken_rule(here: jobs.Job) -> None:
    broken, expected = broken_copy(here.dataset, here.schema)
    assert len(expected) >= 3, "the contract has too few rules these tests can break"
    # When it is validated
    report = validate(broken, here.schema)
    # Then it fails, naming each broken rule, all at once
    assert not report.passed
    failed = {check.name for check in report.failures}
    assert expected <= failed, failed
    assert report.to_dict()["failed"] == [check.name for check in report.failures]
    for name in expected:
        assert f"  - {name}: " in report.summary()


def test_an_unlisted_column_is_refused_and_a_missing_one_named(job: jobs.Job) -> None:
    dataset, schema = job.dataset, job.schema
    extra = dataset.assign(**{"an unlisted column": 1.0})
    missing = dataset.drop(columns=[schema.feature_names[0]])
    failed = validate(extra, schema).failures
    assert [check.name for check in failed] == ["columns.unexpected"]
    assert "an unlisted column" in failed[0].detail
    report = validate(missing, schema)
    assert "columns.missing" in {check.name for check in report.failures}
    assert f"missing columns: {schema.feature_names[0]}" in report.summary()


def test_rows_without_a_target_are_reported_not_failed(job: jobs.Job) -> None:
    # Given a copy where 7 rows lost their target (schema.yaml target.missing: drop)
    dataset, schema = job.dataset, job.schema
    target = dataset[schema.target.name]
    unlabelled = dataset.assign(**{schema.target.name: target.where(dataset.index >= 7)})
    # When it is validated, then they are counted and the data still passes
    assert schema.target.missing == "drop"
    report = validate(unlabelled, schema)
    assert report.passed, report.summary()
    check = next(c for c in report.checks if c.name == f"{schema.target.name}.unlabelled")
    assert check.detail == "7 rows without a target: dropped"


def test_rows_without_a_target_fail_when_the_contract_says_error(job: jobs.Job) -> None:
    dataset, schema = job.dataset, job.schema
    strict = schema.model_copy(
        update={"target": schema.target.model_copy(update={"missing": "error"})}
    )
    target = dataset[schema.target.name]
    holed = dataset.assign(**{schema.target.name: target.where(dataset.index >= 3)})
    report = validate(holed, strict)
    assert f"{schema.target.name}.nulls" in {check.name for check in report.failures}
    assert f"{schema.target.name}.unlabelled" not in {check.name for check in report.checks}


def test_no_single_column_gives_the_target_away(job: jobs.Job) -> None:
    # A column that alone predicts the target almost exactly is usually target leakage: a
    # value recorded after the outcome, or the outcome itself under another name.
    dataset, schema = job.dataset, job.schema
    labelled = dataset[dataset[schema.target.name].notna()]
    scores = single_feature_scores(labelled, schema)
    bound = schema.dataset.max_single_feature_score
    assert set(scores) == set(schema.feature_names)
    assert all(0 <= score <= 1 for score in scores.values()), scores
    assert max(scores.values()) <= bound, scores


def test_the_leakage_check_catches_a_planted_copy_of_the_target(job: jobs.Job) -> None:
    # Given the data with a feature replaced by the target itself (numbers: the class codes)
    dataset, schema = job.dataset, job.schema
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
    # Then the leakage check names that column, and only it
    assert [check.name for check in report.failures] == [f"{name}.leakage"]
    assert single_feature_scores(labelled, leaky)[name] == pytest.approx(1.0)


def test_a_monotone_transform_of_a_numeric_target_is_leakage_too(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Regression: the target's logarithm ranks exactly like it (squared rank correlation 1),
    # though its bins do not explain every unit of variance.
    job = jobs.job("regression", tmp_path_factory)
    dataset, schema = job.dataset, job.schema
    name = schema.numeric[0]
    leaky = dataset.assign(**{name: np.log(dataset[schema.target.name])})
    spec = schema.features[name].model_copy(update={"min": None, "max": None})
    loose = schema.model_copy(update={"features": {**schema.features, name: spec}})
    assert f"{name}.leakage" in {check.name for check in validate(leaky, loose).failures}


# --- each rule on hand-made tables ---------------------------------------------------------


def table(rows: int = 40, **columns: Any) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    base = {
        "label": np.array(["a", "b"] * (rows // 2)),
        "size": rng.uniform(1, 9, rows).round(2),
        "colour": np.array(["red", "blue"] * (rows // 2))[rng.permutation(rows)],
    }
    return pd.DataFrame({**base, **columns})


def contract(**sections: Any) -> Schema:
    """The minimal contract, its top-level `sections` replaced."""
    return Schema.model_validate({**minimal(), **sections})


def failed(frame: pd.DataFrame, schema: Schema) -> dict[str, str]:
    return {check.name: check.detail for check in validate(frame, schema).failures}


def test_a_hand_made_table_that_keeps_every_rule_passes() -> None:
    assert failed(table(), contract()) == {}


def test_infinite_and_fractional_values_break_a_whole_number_column() -> None:
    schema = Schema.model_validate(change("features.size", {"dtype": "int"}))
    frame = table().assign(size=[np.inf, 2.5, *np.arange(3.0, 41.0)])
    assert failed(frame, schema) == {
        "size.finite": "1 infinite values",
        "size.integer": "1 non-integer values",
    }


def test_values_out_of_range_are_counted_on_either_side() -> None:
    frame = table().assign(size=[-1.0, -2.0, 11.0, *np.linspace(1, 9, 37)])
    found = failed(frame, contract())
    assert found == {"size.min": "2 values below 0.0", "size.max": "1 values above 10.0"}


def test_a_rare_or_lone_class_breaks_the_balance() -> None:
    schema = Schema.model_validate(change("target.min_class_share", 0.2))
    rare = table().assign(label=["a"] * 36 + ["b"] * 4)  # b: 10%
    assert "label.balance" in failed(rare, schema)
    lone = table().assign(label=["a"] * 40)  # one class: nothing to tell apart
    assert "label.balance" in failed(lone, schema)


def test_too_few_rows_and_too_many_duplicates_fail_the_table_rules() -> None:
    found = failed(table(rows=8), contract())
    assert found["rows.count"] == "8 labelled rows, at least 10 needed"
    repeated = pd.concat([table()] * 2, ignore_index=True)  # every row twice: 50% duplicates
    assert "rows.duplicates" in failed(repeated, contract())


def test_values_of_a_personal_column_are_counted_never_shown() -> None:
    content = minimal()
    content["features"]["colour"]["tags"] = ["pii"]
    frame = table().assign(colour=["jane.doe@example.com"] + ["red"] * 39)
    detail = failed(frame, Schema.model_validate(content))["colour.allowed"]
    assert "1 (tagged pii)" in detail
    assert "jane.doe" not in detail
    # without the tag, the report shows the value (to find and fix it)
    assert "jane.doe@example.com" in failed(frame, contract())["colour.allowed"]


def test_ignored_columns_are_accepted_and_never_checked() -> None:
    schema = contract(ignored={"note": "free text"})
    assert failed(table().assign(note="anything at all"), schema) == {}
