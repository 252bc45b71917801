"""Batch prediction (`predict`) and the debugging of one prediction (`explain`), through the
command line on the samples' trained models: records checked against the contract first, one
clear line for every bad input."""

from __future__ import annotations

import json
from pathlib import Path

import jobs
import numpy as np
import pandas as pd
import pytest

from mlops_ladder.commands import main
from mlops_ladder.errors import DataError
from mlops_ladder.explain import explain, plain, record_frame, training_references
from mlops_ladder.features import derived_for
from mlops_ladder.model import predict
from mlops_ladder.predict import predict_table


def records(job: jobs.Job, rows: int) -> pd.DataFrame:
    """Records of the test split as a client sends them: the features, no target."""
    return job.splits[1][job.schema.feature_names].head(rows)


def one_record(job: jobs.Job) -> dict:
    return json.loads(records(job, 1).to_json(orient="records"))[0]


# --- predict -------------------------------------------------------------------------------


def test_predict_adds_a_prediction_to_each_record(here: jobs.Job, tmp_path: Path) -> None:
    given = here.splits[1].head(5)  # with the target too: extra columns are carried through
    given.to_csv(tmp_path / "records.csv", index=False)
    assert (
        main(["predict", str(tmp_path / "records.csv"), "--output", str(tmp_path / "out.csv")]) == 0
    )
    predicted = pd.read_csv(tmp_path / "out.csv")
    assert len(predicted) == 5
    assert predicted["prediction"].notna().all()
    pd.testing.assert_frame_equal(predicted[given.columns], given, check_dtype=False)
    expected = predict(here.model, given[here.schema.feature_names])[0]
    np.testing.assert_allclose(predicted["prediction"], expected)
    if here.task == "classification":
        # The predicted class's probability, and each class's
        shares = predicted.filter(like="probability_")
        assert list(shares.columns) == [f"probability_{c}" for c in here.schema.target.values]
        np.testing.assert_allclose(shares.sum(axis=1), 1.0)
        np.testing.assert_allclose(predicted["probability"], shares.max(axis=1))
    else:
        assert not predicted.filter(like="probability").columns.any()


def test_predict_writes_parquet_or_csv_to_stdout(
    here: jobs.Job, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records(here, 3).to_parquet(tmp_path / "records.parquet", index=False)
    assert (
        main(
            ["predict", str(tmp_path / "records.parquet"), "--output", str(tmp_path / "o.parquet")]
        )
        == 0
    )
    from_parquet = pd.read_parquet(tmp_path / "o.parquet")
    capsys.readouterr()
    assert main(["predict", str(tmp_path / "records.parquet")]) == 0
    from io import StringIO

    from_stdout = pd.read_csv(StringIO(capsys.readouterr().out))
    pd.testing.assert_frame_equal(from_stdout, from_parquet, check_dtype=False)


def test_records_missing_a_column_are_refused_with_its_name(
    here: jobs.Job, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    needed = here.schema.feature_names[0]
    records(here, 3).drop(columns=[needed]).to_csv(tmp_path / "bad.csv", index=False)
    assert main(["predict", str(tmp_path / "bad.csv")]) == 1
    error = capsys.readouterr().err
    assert error == f"error: input lacks columns the model needs: {needed}\n"


def test_records_breaking_the_contract_are_refused_naming_each_rule(here: jobs.Job) -> None:
    schema = here.schema
    bad = records(here, 4).astype({name: object for name in schema.feature_names})
    bounded = [name for name in schema.numeric if schema.features[name].max is not None]
    bad.loc[bad.index[0], bounded[0]] = schema.features[bounded[0]].max + 1
    bad[bounded[0]] = bad[bounded[0]].astype("float64")
    bad.loc[bad.index[1], schema.feature_names[-1]] = "not-a-value-of-the-contract"
    with pytest.raises(DataError) as raised:
        predict_table(here.model, bad, schema)
    message = str(raised.value)
    assert message.startswith("input breaks the data contract:\n  ")
    assert f"{bounded[0]}.max: 1 values above" in message
    rule = "dtype" if schema.feature_names[-1] in schema.numeric else "allowed"
    assert f"{schema.feature_names[-1]}.{rule}:" in message


def test_a_model_file_that_is_not_there_says_to_train(
    here: jobs.Job, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records(here, 1).to_csv(tmp_path / "records.csv", index=False)
    code = main(["predict", str(tmp_path / "records.csv"), "--model", str(tmp_path / "m.joblib")])
    assert code == 1
    assert "m.joblib not found: train a model first" in capsys.readouterr().err


# --- explain -------------------------------------------------------------------------------


def test_explain_shows_each_step_of_one_prediction(
    here: jobs.Job, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given one record of the test split, as a JSON file
    schema, model = here.schema, here.model
    record = one_record(here)
    (tmp_path / "record.json").write_text(json.dumps(record))
    # When explain runs on it, for machines
    assert main(["explain", str(tmp_path / "record.json"), "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    # Then every step is there: the record, its derived features, the named vector
    assert list(explained["record"]) == schema.feature_names
    assert list(explained["derived"]) == [f.name for f in derived_for(schema.feature_names)]
    preprocess = model.named_steps["predictor"].named_steps["preprocess"]
    assert list(explained["preprocessed"]) == list(preprocess.get_feature_names_out())
    # and the prediction is the model's
    predicted, scores = predict(model, record_frame(record, schema))
    assert explained["prediction"] == plain(predicted[0])
    if here.task == "classification":
        shares = explained["probabilities"]
        np.testing.assert_allclose(sum(shares.values()), 1.0)
        assert shares == {str(c): pytest.approx(float(scores[c].iloc[0])) for c in scores.columns}
        assert explained["influence"]["score"] == f"probability of {explained['prediction']}"
    else:
        assert explained["probabilities"] is None
        assert explained["influence"]["score"] == "predicted value"
    # And every input's influence is reported, largest first, and is what it says it is: the
    # change when that input is set to its training reference
    moved = explained["influence"]["features"]
    assert sorted(item["feature"] for item in moved) == sorted(schema.feature_names)
    changes = [abs(item["change"]) for item in moved]
    assert changes == sorted(changes, reverse=True)
    top = moved[0]
    assert top["reference"] == pytest.approx(plain(training_references(preprocess)[top["feature"]]))
    replaced = record_frame({**record, top["feature"]: top["reference"]}, schema)
    again = predict(model, replaced)
    if here.task == "classification":
        label = scores.columns[list(map(str, scores.columns)).index(str(explained["prediction"]))]
        expected = float(scores[label].iloc[0]) - float(again[1][label].iloc[0])
    else:
        expected = float(predicted[0]) - float(again[0][0])
    assert top["change"] == pytest.approx(expected, abs=1e-6)
    # and the text form shows the same steps
    assert main(["explain", json.dumps(record)]) == 0
    shown = capsys.readouterr().out
    for title in ("record (input):", "preprocessed", f"prediction: {explained['prediction']}"):
        assert title in shown
    assert "what moved it most" in shown
    assert ("probabilities:" in shown) is (here.task == "classification")


def test_a_missing_value_of_a_nullable_number_is_imputed(here: jobs.Job) -> None:
    # Given the contract with its first number nullable, and a record without that number
    schema = here.schema
    name = schema.numeric[0]
    spec = schema.features[name].model_copy(update={"nullable": True})
    nullable = schema.model_copy(update={"features": {**schema.features, name: spec}})
    frame = record_frame({**one_record(here), name: None}, nullable)
    # When it is explained, then the imputer's value stands in for it
    explained = explain(here.model, frame, nullable)
    assert explained["record"][name] is None
    preprocess = here.model.named_steps["predictor"].named_steps["preprocess"]
    median = training_references(preprocess)[name]
    assert median == pytest.approx(here.train_features[name].median())
    filled = explain(
        here.model, record_frame({**one_record(here), name: median}, nullable), nullable
    )
    # (its own column: a derived feature of it is missing too, and imputed in its turn)
    assert explained["preprocessed"][name] == filled["preprocessed"][name]


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("{not json", "the record is not valid JSON"),
        ("[1, 2]", "one record is one JSON object, not a list"),
        ("no-such-file.json", "no-such-file.json: neither a JSON object nor a file"),
        ("{}", "the record lacks features the model needs"),
    ],
)
def test_a_bad_record_is_one_clear_error(
    here: jobs.Job, given: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When explain gets something that is not a record of the contract
    code = main(["explain", given])
    # Then it stops with one line saying what is wrong, not a traceback
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("error: ")
    assert said in error


def test_a_record_breaking_the_contract_is_refused_naming_the_rule(
    here: jobs.Job, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a record whose first feature is text its rule refuses: in a number column, or a
    # category the contract does not allow
    schema = here.schema
    name = schema.feature_names[0]
    rule = "dtype" if name in schema.numeric else "allowed"
    record = {**one_record(here), name: "not-a-value-of-the-contract"}
    # When explain gets it
    code = main(["explain", json.dumps(record)])
    # Then the contract's rule is named
    error = capsys.readouterr().err
    assert code == 1
    assert f"{name}.{rule}" in error
