"""Command-line tests: every command documents itself, errors are one clear line, and the
commands run the whole job end to end."""

from __future__ import annotations

import json
from pathlib import Path

{% if cookiecutter.__classification %}
import numpy as np
{% endif %}
import pandas as pd
import pytest
import yaml

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.explain import plain, record_frame
from {{ cookiecutter.package_name }}.features import derived_for
from {{ cookiecutter.package_name }}.model import predict
from {{ cookiecutter.package_name }}.schema import load_schema
from {{ cookiecutter.package_name }}.train import load

COMMANDS = ["ingest", "validate", "split", "featurize", "train", "evaluate", "predict"]
ROOT = Path(__file__).resolve().parents[1]
ENV = "{{ cookiecutter.package_name | upper }}_"


@pytest.mark.parametrize("command", [*COMMANDS, "tune", "explain"])
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


def test_a_typo_in_params_is_one_clear_error(
    outputs_here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given params.yaml with a misspelt key
    params = outputs_here / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text().replace("test_size:", "tset_size:"))
    monkeypatch.setenv(f"{ENV}PARAMS_FILE", str(params))
    # When a command reads it
    code = main(["split"])
    # Then it stops with a message naming the key, not a traceback
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("error:")
    assert "tset_size" in error


def test_the_stages_produce_a_model_and_its_reports(job: Path) -> None:
    assert (job / "models" / "model.joblib").is_file()
    assert (job / "models" / "metadata.json").is_file()
    assert (job / "reports" / "metrics.json").is_file()
    assert any((job / "reports" / "figures").glob("*.png"))


def test_predict_adds_a_prediction_to_each_record(job: Path) -> None:
    records = pd.read_parquet(job / "data" / "processed" / "test.parquet").head(5)
    records.to_csv(job / "records.csv", index=False)
    assert main(["predict", str(job / "records.csv"), "--output", str(job / "out.csv")]) == 0
    predicted = pd.read_csv(job / "out.csv")
    assert len(predicted) == 5
    assert predicted["prediction"].notna().all()
{% if cookiecutter.__classification %}
    # The predicted class's probability, and each class's
    shares = predicted.filter(like="probability_")
    assert shares.shape[1] >= 2
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(predicted["probability"], shares.max(axis=1))
{% endif %}


def test_records_missing_a_column_are_refused_with_its_name(
    job: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = pd.read_parquet(job / "data" / "processed" / "test.parquet").head(3)
    needed = load_schema(ROOT / "schema.yaml").feature_names[0]
    records.drop(columns=[needed]).to_csv(job / "bad.csv", index=False)
    assert main(["predict", str(job / "bad.csv")]) == 1
    assert needed in capsys.readouterr().err


def test_tune_fails_a_badly_configured_model_naming_the_values_to_copy(
    job: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given params.yaml training a forest of one tree of one split, and a short study
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"]["estimator"] = "random_forest"
    params["train"]["random_forest"].update(n_estimators=1, max_depth=1)
    params["tune"].update(n_trials=2, timeout=None)
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    monkeypatch.setenv(f"{ENV}PARAMS_FILE", str(params_file))
    monkeypatch.setenv(f"{ENV}REPORTS_DIR", str(tmp_path / "reports"))
    # When the tune stage runs
    code = main(["tune"])
    # Then it fails with one message saying what to copy where, and reports the study
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("error: train.random_forest scores ")
    assert "copy these into params.yaml train.random_forest:\n" in error
    report = json.loads((tmp_path / "reports" / "tuning.json").read_text())
    assert f"\n    n_estimators: {report['best_params']['n_estimators']}\n" in error
    assert report["passed"] is False
    assert report["configured"]["n_estimators"] == 1
    assert len(report["trials"]) == 2
    assert report["shortfall"] > report["tolerance"]


def one_record(job: Path) -> dict:
    schema = load_schema(ROOT / "schema.yaml")
    row = pd.read_parquet(job / "data" / "processed" / "test.parquet").head(1)
    return json.loads(row[schema.feature_names].to_json(orient="records"))[0]


def test_explain_shows_each_step_of_one_prediction(
    job: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given one record of the test split, as a JSON file
    schema = load_schema(ROOT / "schema.yaml")
    record = one_record(job)
    (job / "record.json").write_text(json.dumps(record))
    # When explain runs on it, for machines
    assert main(["explain", str(job / "record.json"), "--json"]) == 0
    explained = json.loads(capsys.readouterr().out)
    # Then every step is there: the record, its derived features, the named vector
    assert list(explained["record"]) == schema.feature_names
    assert list(explained["derived"]) == [f.name for f in derived_for(schema.feature_names)]
    model = load(job / "models" / "model.joblib")
    preprocess = model.named_steps["predictor"].named_steps["preprocess"]
    assert list(explained["preprocessed"]) == list(preprocess.get_feature_names_out())
    # and the prediction is the model's
{% if cookiecutter.__classification %}
    predicted, scores = predict(model, record_frame(record, schema))
{% else %}
    predicted = predict(model, record_frame(record, schema))[0]
{% endif %}
    assert explained["prediction"] == plain(predicted[0])
{% if cookiecutter.__classification %}
    shares = explained["probabilities"]
    np.testing.assert_allclose(sum(shares.values()), 1.0)
    assert shares == {str(c): pytest.approx(float(scores[c].iloc[0])) for c in scores.columns}
{% endif %}
    # And every input's influence is reported, largest first, and is what it says it is: the
    # change when that input is set to its training reference
    moved = explained["influence"]["features"]
    assert sorted(item["feature"] for item in moved) == sorted(schema.feature_names)
    changes = [abs(item["change"]) for item in moved]
    assert changes == sorted(changes, reverse=True)
    top = moved[0]
    replaced = record_frame({**record, top["feature"]: top["reference"]}, schema)
    again = predict(model, replaced)
{% if cookiecutter.__classification %}
    label = scores.columns[list(map(str, scores.columns)).index(str(explained["prediction"]))]
    expected = float(scores[label].iloc[0]) - float(again[1][label].iloc[0])
{% else %}
    expected = float(predicted[0]) - float(again[0][0])
{% endif %}
    assert top["change"] == pytest.approx(expected, abs=1e-6)
    # and the text form shows the same steps
    assert main(["explain", json.dumps(record)]) == 0
    shown = capsys.readouterr().out
    for title in ("record (input):", "preprocessed", f"prediction: {explained['prediction']}"):
        assert title in shown
    assert "what moved it most" in shown


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "one record is one JSON object, not a list"),
        ("no-such-file.json", "neither a JSON object nor a file"),
        ("{}", "the record lacks features the model needs"),
    ],
)
def test_a_bad_record_is_one_clear_error(
    job: Path, given: str, said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # When explain gets something that is not a record of the contract
    code = main(["explain", given])
    # Then it stops with one line saying what is wrong, not a traceback
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("error: ")
    assert said in error


def test_a_record_breaking_the_contract_is_refused_naming_the_rule(
    job: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a record whose first feature is text its rule refuses: in a number column, or a
    # category the contract does not allow
    schema = load_schema(ROOT / "schema.yaml")
    name = schema.feature_names[0]
    rule = "dtype" if name in schema.numeric else "allowed"
    record = {**one_record(job), name: "not-a-value-of-the-contract"}
    # When explain gets it
    code = main(["explain", json.dumps(record)])
    # Then the contract's rule is named
    error = capsys.readouterr().err
    assert code == 1
    assert f"{name}.{rule}" in error
