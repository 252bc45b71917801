"""`schema draft` tests: one per rule it infers, on hand-made tables, and on the project's data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.draft import draft
from {{ cookiecutter.package_name }}.errors import DataError
from {{ cookiecutter.package_name }}.schema import load_schema
from {{ cookiecutter.package_name }}.validate import validate

ROWS = 120


def table(**columns: object) -> pd.DataFrame:
    """A table of ROWS rows with a target fit for this project's task, and `columns`."""
    rng = np.random.default_rng(0)
{% if cookiecutter.__classification %}
    target = rng.choice(["cat", "dog", "owl"], ROWS)
{% else %}
    target = rng.normal(50, 10, ROWS).round(3)
{% endif %}
    return pd.DataFrame({"label": target, **columns})


def drafted(frame: pd.DataFrame) -> dict:
    result = draft(frame, "label", "data.csv")
    return {"features": result.features, "ignored": result.ignored, "draft": result}


def test_whole_numbers_are_int_and_others_float_with_generous_bounds() -> None:
    found = drafted(table(count=np.arange(ROWS) % 7 + 10, size=np.linspace(1.5, 9.5, ROWS)))
    count, size = found["features"]["count"], found["features"]["size"]
    assert count == {"dtype": "int", "min": 4, "max": 22}  # 10..16 widened by 6 each side
    assert size["dtype"] == "float"
    assert size["min"] == 0.0  # 1.5 - 8 would go negative: a positive column floors at 0
    assert size["max"] == pytest.approx(17.5)


def test_a_negative_column_keeps_a_negative_floor() -> None:
    spec = drafted(table(delta=np.linspace(-2.0, 2.0, ROWS)))["features"]["delta"]
    assert spec["min"] == pytest.approx(-6.0)
    assert spec["max"] == pytest.approx(6.0)


def test_missing_values_make_a_column_nullable() -> None:
    values = np.linspace(1, 2, ROWS)
    values[:3] = np.nan
    assert drafted(table(x=values))["features"]["x"]["nullable"] is True
    assert "nullable" not in drafted(table(x=np.linspace(1, 2, ROWS)))["features"]["x"]


def test_a_few_distinct_texts_are_a_category_with_their_values() -> None:
    spec = drafted(table(colour=["red", "blue", "green"] * (ROWS // 3)))["features"]["colour"]
    assert spec == {"dtype": "category", "allowed": ["blue", "green", "red"]}


def test_true_false_is_bool() -> None:
    assert drafted(table(flag=[True, False] * (ROWS // 2)))["features"]["flag"] == {"dtype": "bool"}


def test_identifiers_constants_free_text_dates_and_empty_columns_are_ignored() -> None:
    ignored = drafted(
        table(
            row_id=np.arange(ROWS),
            code=[f"A-{i}" for i in range(ROWS)],
            stage=["adult"] * ROWS,
            note=[f"note {i % 70}" for i in range(ROWS)],
            day=pd.date_range("2024-01-01", periods=ROWS).strftime("%Y-%m-%d"),
            empty=[None] * ROWS,
            keep=np.linspace(0, 1, ROWS),
        )
    )["ignored"]
    assert set(ignored) == {"row_id", "code", "stage", "note", "day", "empty"}
    assert "identifier" in ignored["row_id"]
    assert "identifier" in ignored["code"]
    assert "constant" in ignored["stage"]
    assert "free text" in ignored["note"]
    assert "date" in ignored["day"]
    assert ignored["empty"] == "no values"


def test_any_column_name_survives_the_round_trip(tmp_path: Path) -> None:
    # Given names with spaces, parentheses, slashes, quotes and a YAML keyword
    frame = table(
        **{"Length (mm)": np.linspace(1, 5, ROWS), "a/b 'c'": ["x", "y"] * (ROWS // 2)},
        **{"yes": np.linspace(0, 1, ROWS)},
    )
    frame.to_csv(tmp_path / "data.csv", index=False)
    # When the contract is drafted, written and read back
    assert main(["schema", "draft", str(tmp_path / "data.csv"), "--target", "label",
                 "--output", str(tmp_path / "schema.yaml")]) == 0  # fmt: skip
    schema = load_schema(tmp_path / "schema.yaml")
    # Then every name is there as written, and the data meets its own contract
    assert set(schema.feature_names) == {"Length (mm)", "a/b 'c'", "yes"}
    assert validate(frame, schema).passed, validate(frame, schema).summary()


def test_the_target_and_the_dataset_rules() -> None:
    frame = table(x=np.linspace(0, 1, ROWS))
    frame.loc[:4, "label"] = None
    result = drafted(frame)["draft"]
    target = result.target
    assert target["missing"] == "drop"
    assert result.unlabelled == 5
{% if cookiecutter.__classification %}
    assert target["dtype"] == "category"
    assert target["allowed"] == ["cat", "dog", "owl"]
    assert 0 < target["min_class_share"] < frame["label"].value_counts(normalize=True).min()
{% else %}
    assert target["dtype"] == "float"
    assert target["min"] <= frame["label"].min()
    assert target["max"] >= frame["label"].max()
{% endif %}
    assert result.dataset["min_rows"] == (ROWS - 5) // 2
    assert result.dataset["max_duplicate_share"] == 0.01


{% if cookiecutter.__classification %}
def test_integer_and_boolean_labels_are_classes() -> None:
    numbers = draft(table(x=np.arange(ROWS) * 0.5).assign(label=np.arange(ROWS) % 3), "label", "f")
    assert (numbers.target["dtype"], numbers.target["allowed"]) == ("int", [0, 1, 2])
    flags = draft(
        table(x=np.arange(ROWS) * 0.5).assign(label=np.arange(ROWS) % 2 == 0), "label", "f"
    )
    assert (flags.target["dtype"], flags.target["allowed"]) == ("bool", [False, True])


def test_a_continuous_target_is_regression_and_stops_with_the_task_named() -> None:
    frame = table(x=np.linspace(0, 1, ROWS)).assign(label=np.linspace(0.5, 99.5, ROWS))
    with pytest.raises(DataError, match=r"regression.*generated for classification"):
        draft(frame, "label", "data.csv")
{% else %}
def test_a_categorical_target_is_classification_and_stops_with_the_task_named() -> None:
    frame = table(x=np.linspace(0, 1, ROWS)).assign(label=["yes", "no"] * (ROWS // 2))
    with pytest.raises(DataError, match=r"classification.*generated for regression"):
        draft(frame, "label", "data.csv")
{% endif %}


def test_slices_come_from_the_category_with_fewest_values_else_a_median() -> None:
    by_category = drafted(table(x=np.linspace(0, 1, ROWS), side=["left", "right"] * (ROWS // 2)))
    assert [piece["query"] for piece in by_category["draft"].slices] == [
        '`side` == "left"',
        '`side` == "right"',
    ]
    by_median = drafted(table(**{"x (cm)": np.linspace(0, 1, ROWS)}))["draft"].slices
    assert [piece["name"] for piece in by_median] == ["x_cm_below_median", "x_cm_median_or_above"]
    assert by_median[0]["query"] == "`x (cm)` < 0.5"


def test_a_leaking_column_is_warned_about() -> None:
    frame = table(x=np.linspace(0, 1, ROWS))
    frame["copy"] = frame["label"]
    warnings = draft(frame, "label", "f").warnings
    assert any("'copy' alone predicts the target" in text for text in warnings)


def test_an_unknown_target_names_the_columns() -> None:
    with pytest.raises(DataError, match=r"no column 'price'.*label"):
        draft(table(x=np.linspace(0, 1, ROWS)), "price", "data.csv")


def test_an_existing_schema_is_kept_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    table(x=np.linspace(0, 1, ROWS)).to_csv(tmp_path / "data.csv", index=False)
    (tmp_path / "schema.yaml").write_text("# my edits\n")
    args = ["schema", "draft", str(tmp_path / "data.csv"), "--target", "label",
            "--output", str(tmp_path / "schema.yaml")]  # fmt: skip
    assert main(args) == 1
    assert "--force" in capsys.readouterr().err
    assert (tmp_path / "schema.yaml").read_text() == "# my edits\n"
    assert main([*args, "--force"]) == 0
    assert "drafted" in capsys.readouterr().out


def test_the_draft_of_the_projects_own_data_accepts_that_data(
    dataset: pd.DataFrame, schema
) -> None:
    result = draft(dataset, schema.target.name, "data")
    assert set(result.features) | set(result.ignored) == set(dataset.columns) - {schema.target.name}
{% if cookiecutter.__feast %}


def test_an_entity_key_and_an_event_time_in_the_data_go_to_the_feature_store(
    dataset: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from {{ cookiecutter.package_name }}.config import load_params
    from {{ cookiecutter.package_name }}.feature_store import tables

    # Given the project's data as a user's table with a key per row and the time of each row
    # (the rule a table without them gets: number the rows, time them an hour apart)
    target = load_schema(Path("schema.yaml")).target.name
    frame = dataset.assign(
        customer_id=[f"C{row:05d}" for row in range(len(dataset))],
        recorded_at=pd.date_range("2025-03-01", periods=len(dataset), freq="h").astype(str),
        batch_id=np.arange(len(dataset)) % 4,  # repeats: not a key
    )
    frame.to_csv(tmp_path / "data.csv", index=False)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(Path("params.yaml").read_text())
    monkeypatch.setenv("{{ cookiecutter.package_name | upper }}_PARAMS_FILE", str(params_file))
    # When its contract is drafted
    output = tmp_path / "schema.yaml"
    assert main(["schema", "draft", str(tmp_path / "data.csv"), "--target", target,
                 "--output", str(output)]) == 0  # fmt: skip
    # Then params.yaml names them for the feature store, its comments kept
    store = load_params(params_file).feature_store
    assert store.entity == "customer_id"
    assert store.entity_dtype == "str"
    assert store.timestamp == "recorded_at"
    assert "# Feast (feature_repo/)" in params_file.read_text()
    # And the feature store's tables keep the data's keys and times instead of the rule's
    features, labels = tables(pd.read_csv(tmp_path / "data.csv"), load_schema(output), store)
    assert features["customer_id"].tolist() == frame["customer_id"].tolist()
    assert features["recorded_at"].iloc[1] == pd.Timestamp("2025-03-01 01:00", tz="UTC")
    assert len(labels) == len(frame)


def test_without_a_key_or_a_time_params_yaml_is_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a table whose only identifier is not named like a key
    table(x=np.linspace(0, 1, ROWS), serial=np.arange(ROWS)).to_csv(tmp_path / "data.csv")
    params_file = tmp_path / "params.yaml"
    params_file.write_text(Path("params.yaml").read_text())
    monkeypatch.setenv("{{ cookiecutter.package_name | upper }}_PARAMS_FILE", str(params_file))
    # When it is drafted, then params.yaml is unchanged (the rule will key and time the rows)
    assert main(["schema", "draft", str(tmp_path / "data.csv"), "--target", "label",
                 "--output", str(tmp_path / "schema.yaml")]) == 0  # fmt: skip
    assert params_file.read_text() == Path("params.yaml").read_text()
{% endif %}
