"""The monitoring job through the command line, on a trained, registered champion per table.

Each table gets one level-2 project whose stages ran once (ingest to register): the bundled
breast cancer (binary classification) and diabetes (regression) samples, and the penguins
(three text classes, categories, missing values). Traffic is the project's own test split
("clean") or that split with numeric features moved by one standard deviation ("shifted"),
written as the serving app writes it: its prediction log writer (serving/prediction_log.py)
with the model's own predictions, and once through the app itself.
"""

from __future__ import annotations

import json
import shutil
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from harness import Made, free_port, inside, make_project, need, run, server_process
from prometheus_client.parser import text_string_to_metric_families
from trained import records_of

from mlops_ladder import metrics
from mlops_ladder.commands import main
from mlops_ladder.errors import ProjectError
from mlops_ladder.model import predict
from mlops_ladder.monitoring import push, sources
from mlops_ladder.privacy import PREFIX
from mlops_ladder.schema import Schema, load_schema
from mlops_ladder.serving.payloads import record_model
from mlops_ladder.serving.prediction_log import Batch, PredictionLog
from mlops_ladder.train import load

ENV = "TABULAR_MODEL_"
MODEL_NAME = "tabular-model"
# `make all`'s stages but tune (training reads params.yaml, not the study: seconds saved)
STAGES = ["ingest", "validate", "split", "featurize", "train", "evaluate", "register"]
KEY = "the key of this deployment"
TABLES = ["breast_cancer", "diabetes", "penguins"]


@dataclass(frozen=True)
class Trained:
    """A project after its pipeline: the model, its data and its test scores."""

    made: Made
    schema: Schema
    model: Any
    test: pd.DataFrame  # the test split, target included
    train: pd.DataFrame  # the training features: the monitoring job's default reference
    scores: dict[str, float]  # evaluate's test scores (reports/metrics.json)

    @property
    def root(self) -> Path:
        return self.made.root

    @property
    def target(self) -> str:
        return self.schema.target.name


@pytest.fixture(scope="module")
def mlflow_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty MLflow store, its tables made once: creating them takes MLflow seconds, and
    every project here starts from a copy."""
    import mlflow

    path = tmp_path_factory.mktemp("mlflow") / "mlflow.db"
    mlflow.MlflowClient(f"sqlite:///{path}").search_experiments()
    return path


def fast(made: Made) -> None:
    """Params that train and evaluate in seconds: fewer trees, repeats and windows."""
    forest = made.params()["train"]["random_forest"]
    made.set_params(
        train={"random_forest": {**forest, "n_estimators": 30}},
        evaluate={"importance_repeats": 1, "backtest_windows": 3},
    )


def build(root: Path, table: str, store: Path) -> Made:
    if table == "penguins":
        from palmerpenguins import load_penguins

        made = make_project(
            root, task="classification", level=2, table=load_penguins(), target="species"
        )
    else:
        made = make_project(
            root, task="classification" if table == "breast_cancer" else "regression", level=2
        )
    shutil.copyfile(store, root / "mlflow.db")
    fast(made)
    return made


@pytest.fixture(scope="module", params=TABLES)
def trained(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, mlflow_store: Path
) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp(request.param)
    made = build(root, request.param, mlflow_store)
    with pytest.MonkeyPatch.context() as patch:
        # The store by its absolute path: MLflow keeps one store per URI in the process, and
        # every project's default (sqlite:///mlflow.db) would be the first project's.
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{root / 'mlflow.db'}")
        run(root, *STAGES)
        decision = json.loads((root / "reports" / "registration.json").read_text())
        assert decision["promoted"], decision
        assert decision["version"] == "1", decision
        yield Trained(
            made=made,
            schema=load_schema(root / "schema.yaml"),
            model=load(root / "models" / "model.joblib"),
            test=pd.read_parquet(root / "data" / "processed" / "test.parquet"),
            train=pd.read_parquet(root / "data" / "features" / "train.parquet"),
            scores=json.loads((root / "reports" / "metrics.json").read_text())["test"],
        )


def log_traffic(
    trained: Trained,
    frame: pd.DataFrame,
    folder: Path,
    variant: str = "champion",
    pii: tuple[str, ...] = (),
) -> pd.DataFrame:
    """Log the model's answers to `frame`, three records a request, with the serving app's
    writer; return each row's (request_id, record), the keys labels join on."""
    schema = trained.schema
    record = record_model(schema)
    labels, scores = predict(trained.model, frame[schema.feature_names])
    records = [record.model_validate(values) for values in records_of(frame, schema)]
    writer = PredictionLog(folder, pii=pii, key=KEY)
    writer.start()
    keys = []
    for start in range(0, len(frame), 3):
        request_id = f"{variant}-{start // 3}"
        part = slice(start, start + 3)
        outputs: dict[str, Any] = {}
        if scores is not None:  # the predicted class's probability, and every class's
            shares = scores.iloc[part]
            outputs = {
                "probability": shares.max(axis=1).tolist(),
                "probabilities": shares.to_numpy().tolist(),
                "classes": [np.asarray(label).item() for label in scores.columns],
            }
        writer.append(
            Batch(
                timestamp=datetime.now(UTC),
                request_id=request_id,
                model_name=MODEL_NAME,
                model_version="1",
                variant=variant,
                records=records[part],
                predictions=labels[part].tolist(),
                **outputs,
            )
        )
        keys += [(request_id, index) for index in range(len(records[part]))]
    writer.close()
    return pd.DataFrame(keys, columns=["request_id", "record"])


def shifted(frame: pd.DataFrame, names: list[str]) -> pd.DataFrame:
    """The same rows with `names` moved up by one standard deviation."""
    moved = frame.copy()
    for name in names:
        moved[name] = moved[name] + moved[name].std()
    return moved


def monitor(trained: Trained, output: str, *args: str | Path) -> tuple[int, dict[str, Any]]:
    """`monitor` in the project, its report written to runs/<output>."""
    folder = trained.root / "runs" / output
    with inside(trained.root):
        code = main(["monitor", "--output-dir", str(folder), *(str(arg) for arg in args)])
    report = folder / "report.json"
    return code, json.loads(report.read_text()) if report.is_file() else {}


def copy_params(trained: Trained, name: str, **monitor_params: Any) -> Path:
    """params.yaml with other `monitor` values, beside the project's own."""
    params = trained.made.params()
    params["monitor"] = {**params["monitor"], **monitor_params}
    path = trained.root / name
    path.write_text(yaml.safe_dump(params, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def clean(trained: Trained) -> dict[str, Any]:
    """The default run: the prediction log (its default folder) of test-split traffic against
    the training data, the report in reports/monitoring."""
    log_traffic(trained, trained.test, trained.root / "logs" / "predictions")
    with inside(trained.root):
        assert main(["monitor"]) == 0
    return json.loads((trained.root / "reports" / "monitoring" / "report.json").read_text())


def test_traffic_like_the_test_split_is_clean(clean: dict[str, Any], trained: Trained) -> None:
    schema = trained.schema
    assert clean["schema_version"] == 1
    assert clean["retrain_needed"] is False, clean["reasons"]
    assert clean["dataset"]["drift"] is False
    assert clean["dataset"]["share"] < clean["dataset"]["drift_share"]
    assert set(clean["features"]) == set(schema.feature_names)
    assert clean["reference"]["source"].endswith("train.parquet")
    assert clean["reference"]["rows"] == len(trained.train)
    # the model's outputs are compared with its outputs on the held-out test split
    assert clean["reference"]["predictions_source"].endswith("test.parquet")
    assert clean["current"]["rows"] == len(trained.test)
    assert clean["current"]["variants"] == {"champion": len(trained.test)}
    assert clean["current"]["model_versions"] == {"1": len(trained.test)}
    assert clean["model"]["task"] == schema.task
    assert not any(result["drift"] for result in clean["predictions"].values())

    # no alert, but for categories of the test split that training never saw (rare ones)
    def seen(frame: pd.DataFrame, name: str) -> set[str]:
        return set(frame[name].dropna().astype(str))

    unseen = {
        name for name in schema.categorical if seen(trained.test, name) - seen(trained.train, name)
    }
    explained = tuple(f"{name}: new categories" for name in unseen)
    assert [alert for alert in clean["alerts"] if not alert.startswith(explained)] == []


def test_predictions_drift_as_classes_or_as_values_by_the_task(
    clean: dict[str, Any], trained: Trained
) -> None:
    predictions = clean["predictions"]
    if trained.schema.task == "classification":
        # the predicted class is a category, the predicted class's probability a number in [0, 1]
        assert set(predictions) == {"prediction", "probability"}
        assert predictions["prediction"]["type"] == "categorical"
        assert predictions["prediction"]["test"] == "chi_squared"
        classes = {str(label) for label in trained.schema.target.values or []}
        assert set(predictions["prediction"]["plot"]["categories"]) <= classes
        assert predictions["probability"]["type"] == "numeric"
        assert predictions["probability"]["current"]["out_of_range_rate"] == 0
    else:
        # the predicted value is a number, compared as one
        assert set(predictions) == {"prediction"}
        assert predictions["prediction"]["type"] == "numeric"
        assert predictions["prediction"]["test"] == "ks"
        expected = trained.model.predict(trained.test[trained.schema.feature_names])
        assert predictions["prediction"]["current"]["mean"] == pytest.approx(
            expected.mean(), rel=1e-6
        )


def test_the_html_report_is_self_contained_with_a_plot_per_column(
    clean: dict[str, Any], trained: Trained
) -> None:
    html = (trained.root / "reports" / "monitoring" / "report.html").read_text()
    columns = len(clean["features"]) + len(clean["predictions"])
    assert html.count("<svg") == columns
    assert "No retraining needed" in html
    # nothing to fetch: no scripts, stylesheets or images from elsewhere
    for fetch in ("<script", "<link", "<img", "http://", "https://"):
        assert fetch not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_shifted_traffic_is_drift_naming_the_shifted_features(trained: Trained) -> None:
    # Given traffic where more than half the features (numeric ones) moved by one standard
    # deviation
    schema = trained.schema
    moved = schema.numeric[: len(schema.features) // 2 + 1]
    assert len(moved) > len(schema.features) / 2, "every table here has enough numbers"
    log = trained.root / "shifted-log"
    log_traffic(trained, shifted(trained.test, moved), log)
    # When it is monitored with --fail-on-drift
    code, result = monitor(trained, "shifted", "--current", log, "--fail-on-drift")
    # Then retraining is needed, exit status 3, and the report names every shifted feature
    assert code == 3
    assert result["retrain_needed"] is True
    assert set(moved) <= set(result["dataset"]["drifted_features"])
    assert all(name in result["reasons"][0] for name in moved)
    for name in moved:
        assert result["features"][name]["test"] == "ks"
        assert result["features"][name]["p_value"] < 0.05


def test_a_drifting_key_feature_alone_calls_for_retraining(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given one shifted feature, named a key feature in params.yaml
    key = trained.schema.numeric[0]
    params = copy_params(trained, "params-key.yaml", key_features=[key])
    monkeypatch.setenv(f"{ENV}PARAMS_FILE", str(params))
    log = trained.root / "key-log"
    log_traffic(trained, shifted(trained.test, [key]), log)
    # When monitored
    code, result = monitor(trained, "key", "--current", log)
    # Then that feature alone calls for retraining (exit 0 without --fail-on-drift)
    assert code == 0
    assert result["retrain_needed"] is True
    assert result["dataset"]["key_features_drifted"] == [key]
    assert result["dataset"]["share"] < result["dataset"]["drift_share"]
    assert result["reasons"] == [f"key features drifted: {key}"]


def test_an_unknown_key_feature_is_a_clear_error(
    trained: Trained, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    params = copy_params(trained, "params-unknown-key.yaml", key_features=["no_such_column"])
    monkeypatch.setenv(f"{ENV}PARAMS_FILE", str(params))
    code, _ = monitor(trained, "unknown-key", "--current", "data/processed/test.parquet")
    assert code == 1
    assert "monitor.key_features: not in schema.yaml: no_such_column" in capsys.readouterr().err


def labelled(trained: Trained, folder: str) -> tuple[Path, pd.DataFrame]:
    """The log of test-split traffic, and each logged row's keys."""
    log = trained.root / folder
    return log, log_traffic(trained, trained.test, log)


def shuffled_labels(trained: Trained, seed: int) -> np.ndarray:
    """Labels the model now gets wrong: the true ones shuffled (the world changed, the inputs
    did not)."""
    return np.random.default_rng(seed).permutation(trained.test[trained.target].to_numpy())


def test_labels_of_a_degraded_model_raise_a_performance_alert(trained: Trained) -> None:
    # Given the log of test-split traffic, its true labels (CSV), and shuffled ones (Parquet)
    log, keys = labelled(trained, "labelled-log")
    target = trained.target
    keys.assign(**{target: trained.test[target].to_numpy()}).to_csv(
        trained.root / "labels.csv", index=False
    )
    degraded_labels = trained.root / "labels-degraded.parquet"
    keys.assign(**{target: shuffled_labels(trained, 0)}).to_parquet(degraded_labels)
    # When monitored with each
    _, fine = monitor(trained, "labelled", "--current", log, "--labels", "labels.csv")
    code, degraded = monitor(
        trained, "degraded", "--current", log, "--labels", degraded_labels, "--fail-on-drift"
    )
    # Then the true labels score as on the test split, and the shuffled ones raise the alert
    primary = fine["performance"]["primary_metric"]
    assert fine["performance"]["rows"] == len(trained.test)
    assert fine["performance"]["champion"] == pytest.approx(trained.scores)
    assert fine["performance"]["metrics"][primary] == pytest.approx(
        trained.scores[primary], abs=1e-6
    )
    assert fine["performance"]["reason"] is None  # every class's probability was logged
    assert fine["performance"]["alert"] is False
    assert fine["retrain_needed"] is False
    assert degraded["performance"]["alert"] is True
    assert degraded["retrain_needed"] is True
    assert degraded["dataset"]["drift"] is False
    assert primary in degraded["reasons"][0]
    assert code == 3


def test_challenger_traffic_counts_for_input_drift_only(trained: Trained) -> None:
    # Given a log where a challenger answered shifted traffic beside the champion
    log, keys = labelled(trained, "ab-log")
    moved = shifted(trained.test, trained.schema.numeric)
    log_traffic(trained, moved, log, variant="challenger")
    target = trained.target
    keys.assign(**{target: trained.test[target].to_numpy()}).to_csv(trained.root / "ab.csv")
    # When monitored with the champion's labels
    _, result = monitor(trained, "ab", "--current", log, "--labels", "ab.csv")
    # Then both variants count, but the champion's outputs and scores are its own
    rows = len(trained.test)
    assert result["current"]["variants"] == {"champion": rows, "challenger": rows}
    assert result["current"]["rows"] == 2 * rows
    assert not any(output["drift"] for output in result["predictions"].values())
    assert all(output["current"]["rows"] == rows for output in result["predictions"].values())
    assert result["performance"]["rows"] == rows
    assert result["performance"]["alert"] is False


def test_every_format_and_any_chunk_size_give_the_same_statistics(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the test split's features as Parquet, CSV and a prediction log file
    root = trained.root
    batch = trained.test[trained.schema.feature_names]
    batch.to_csv(root / "batch.csv", index=False)
    batch.to_parquet(root / "batch.parquet", index=False)
    log_traffic(trained, trained.test, root / "batch-log")
    (logged,) = (root / "batch-log").glob("predictions-*.jsonl")
    logged.rename(root / "batch.jsonl")

    def statistics(current: str, folder: str) -> dict[str, Any]:
        _, result = monitor(trained, folder, "--current", current)
        columns = {**result["features"], **result["predictions"]}
        return {name: (item["statistic"], item["current"]) for name, item in columns.items()}

    # Then each gives the same figures, the model's outputs included (the files without them
    # are scored by the model in models/)
    whole = statistics("batch.parquet", "whole")
    assert statistics("batch.csv", "csv") == whole
    assert statistics("batch.jsonl", "jsonl") == whole
    # and reading a few rows at a time (the reference too) changes nothing
    monkeypatch.setattr(sources, "CHUNK_ROWS", 50)
    monkeypatch.setattr(sources, "BLOCK_BYTES", 1 << 12)
    assert statistics("batch.parquet", "chunked-parquet") == whole
    assert statistics("batch.csv", "chunked-csv") == whole
    assert statistics("batch.jsonl", "chunked-jsonl") == whole


def test_a_line_the_server_is_still_writing_is_left_for_the_next_run(trained: Trained) -> None:
    # Given a log whose last line is cut short, as when the server is appending to it
    log, _ = labelled(trained, "live-log")
    (file,) = log.glob("predictions-*.jsonl")
    file.write_text(file.read_text() + '{"timestamp": "2026-11-26T12:00:01+00:00", "requ')
    # When it is monitored
    code, result = monitor(trained, "live", "--current", log)
    # Then every complete line counts and the partial one waits
    assert code == 0
    assert result["current"]["rows"] == len(trained.test)


def bad_inputs(trained: Trained, folder: Path) -> dict[str, tuple[Path, str]]:
    """Broken inputs, each with what the error must say."""
    frame, schema = trained.test, trained.schema
    first = schema.numeric[0]
    cases: dict[str, tuple[Path, str]] = {}

    def case(name: str, file: str, expected: str) -> Path:
        cases[name] = (folder / file, expected)
        return folder / file

    folder.mkdir(exist_ok=True)
    frame.drop(columns=[first]).to_csv(
        case("missing column", "missing.csv", f"needs: {first}"), index=False
    )
    frame.assign(**{first: "high"}).to_csv(
        case("text in a number column (CSV)", "text.csv", f"column '{first}' should hold numbers"),
        index=False,
    )
    frame.assign(**{first: "high"}).to_parquet(
        case("text in a number column (Parquet)", "text.parquet", f"'{first}' should hold numbers")
    )
    line = {
        "request_id": "a",
        "record": 0,
        "inputs": {**dict.fromkeys(schema.feature_names, 1), first: "high"},
    }
    case(
        "text in a number input (log)", "text.jsonl", f"input '{first}' should hold numbers"
    ).write_text(json.dumps(line) + "\n")
    case("not JSON (log)", "broken.jsonl", "line 1 is not JSON").write_text("{not json\n")
    case("empty file", "empty.csv", "is empty").write_text("")
    frame.head(0).to_csv(case("header only", "header.csv", "has no rows"), index=False)
    frame.head(0).to_parquet(case("no rows", "none.parquet", "has no rows"))
    case("unreadable", "garbage.parquet", "could not be read").write_bytes(b"PAR1 not parquet")
    case("unsupported format", "data.txt", "unsupported format").write_text("x")
    case("missing file", "absent.parquet", "not found")
    (folder / "empty-log").mkdir(exist_ok=True)
    case("log folder without logs", "empty-log", "no prediction log files")
    return cases


BAD = [
    "missing column",
    "text in a number column (CSV)",
    "text in a number column (Parquet)",
    "text in a number input (log)",
    "not JSON (log)",
    "empty file",
    "header only",
    "no rows",
    "unreadable",
    "unsupported format",
    "missing file",
    "log folder without logs",
]


@pytest.mark.parametrize("side", ["--current", "--reference"])
def test_bad_input_is_one_clear_error_and_keeps_the_last_report(
    clean: dict[str, Any], trained: Trained, side: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the last good report and broken inputs
    cases = bad_inputs(trained, trained.root / "bad")
    assert sorted(cases) == sorted(BAD)
    out = trained.root / "reports" / "monitoring"
    before = {name: (out / name).read_bytes() for name in ("report.json", "report.html")}
    for problem in BAD:
        path, expected = cases[problem]
        capsys.readouterr()
        # When each is monitored
        with inside(trained.root):
            code = main(["monitor", side, str(path)])
        # Then one line names the problem, the status is 1, the last report is untouched
        error = capsys.readouterr().err
        assert code == 1, problem
        assert error.startswith("error: "), (problem, error)
        assert expected in error, (problem, error)
        assert "Traceback" not in error, problem
        assert before == {name: (out / name).read_bytes() for name in before}, problem


def test_labels_without_the_target_are_a_clear_error(
    clean: dict[str, Any], trained: Trained, capsys: pytest.CaptureFixture[str]
) -> None:
    labels = trained.root / "no-target.csv"
    pd.DataFrame({"request_id": ["request-0"]}).to_csv(labels, index=False)
    with inside(trained.root):
        code = main(["monitor", "--labels", str(labels)])
    assert code == 1
    assert f"lacks columns: {trained.target}" in capsys.readouterr().err


@pytest.mark.parametrize("trained", ["breast_cancer"], indirect=True)
def test_duplicate_labels_keep_the_last_and_reused_request_ids_are_left_out(
    trained: Trained,
) -> None:
    # Given the log of test-split traffic, where a client then reused the ids of its first two
    # requests (six records) for two other requests
    log, keys = labelled(trained, "reused-ids")
    log_traffic(trained, trained.test.iloc[20:26], log)  # ids champion-0 and champion-1 again
    # and labels where ten keys come twice: first wrong, then corrected
    target = trained.target
    truth = keys.assign(**{target: trained.test[target].to_numpy()})
    wrong = truth.iloc[10:20].assign(**{target: 1 - truth[target].iloc[10:20]})  # 0 <-> 1
    labels = pd.concat([wrong, truth], ignore_index=True)
    labels.to_csv(trained.root / "duplicated-labels.csv", index=False)
    # When monitored with them
    code, result = monitor(
        trained, "duplicates", "--current", log, "--labels", "duplicated-labels.csv"
    )
    # Then the job runs, the last label of each key counts, the six ambiguous predictions are
    # left out, and the report counts both
    assert code == 0
    performance = result["performance"]
    assert performance["duplicate_labels"] == 10
    assert performance["ambiguous_predictions"] == 6
    assert performance["labels"] == len(trained.test)
    assert performance["rows"] == len(trained.test) - 6
    kept = trained.test.iloc[6:]
    predicted, scores = predict(trained.model, kept[trained.schema.feature_names])
    with inside(trained.root):  # the project's own metrics count too
        expected = metrics.compute_metrics(kept[target], predicted, scores)
    primary = performance["primary_metric"]
    assert performance["metrics"][primary] == pytest.approx(expected[primary], abs=1e-6)
    assert performance["alert"] is False


@pytest.mark.parametrize("trained", ["diabetes"], indirect=True)
def test_pii_features_need_the_deployments_key_to_be_monitored(
    trained: Trained, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    contract = yaml.safe_load((trained.root / "schema.yaml").read_text())
    contract["features"]["age"]["tags"] = ["pii"]
    (trained.root / "schema-age-pii.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    monkeypatch.setenv(f"{ENV}SCHEMA_FILE", "schema-age-pii.yaml")
    for key in (None, "too short"):
        if key:
            monkeypatch.setenv(f"{ENV}PII_KEY", key)
        capsys.readouterr()
        code, _ = monitor(trained, "pii-no-key", "--current", "data/processed/test.parquet")
        error = capsys.readouterr().err
        assert code == 1
        assert error.startswith("error: schema.yaml tags age as pii: set TABULAR_MODEL_PII_KEY")
        assert error.count("\n") == 1
    monkeypatch.setenv(f"{ENV}PII_KEY", KEY)
    code, _ = monitor(trained, "pii-no-key", "--current", "data/processed/test.parquet")
    assert code == 0


def test_the_serving_apps_log_is_what_the_job_reads(trained: Trained) -> None:
    # Given the app serving the registry's champion, its log in a folder of its own, answering
    # the test split three records a request, each request with its own id
    from fastapi.testclient import TestClient

    from mlops_ladder.config import Settings
    from mlops_ladder.serving.app import create_app
    from mlops_ladder.serving.settings import ServingSettings

    log = trained.root / "app-log"
    records = records_of(trained.test, trained.schema)
    with inside(trained.root):
        settings = Settings.load().model_copy(update={"prediction_log_dir": log})
        app = create_app(ServingSettings(model_uri=f"models:/{MODEL_NAME}@champion"), settings)
        with TestClient(app) as client:
            deadline = time.monotonic() + 60
            while client.get("/ready").status_code != 200:
                assert time.monotonic() < deadline, client.get("/ready").json()
                time.sleep(0.05)
            for start in range(0, len(records), 3):
                answer = client.post(
                    "/predict",
                    json={"records": records[start : start + 3]},
                    headers={"X-Request-ID": f"request-{start // 3}"},
                )
                assert answer.status_code == 200, answer.text
    # and the labels of those requests, keyed as the app answered them
    target = trained.target
    pd.DataFrame(
        {
            "request_id": [f"request-{row // 3}" for row in range(len(records))],
            "record": [row % 3 for row in range(len(records))],
            target: trained.test[target].to_numpy(),
        }
    ).to_csv(trained.root / "app-labels.csv", index=False)
    # When the job reads the app's log
    code, result = monitor(trained, "app", "--current", log, "--labels", "app-labels.csv")
    # Then every answer counts, as the champion's (v1), and scores as on the test split
    assert code == 0
    rows = len(trained.test)
    assert result["current"]["variants"] == {"champion": rows}
    assert result["current"]["model_versions"] == {"1": rows}
    assert result["retrain_needed"] is False, result["reasons"]
    primary = result["performance"]["primary_metric"]
    assert result["performance"]["rows"] == rows
    assert result["performance"]["metrics"][primary] == pytest.approx(
        trained.scores[primary], abs=1e-6
    )
    assert result["performance"]["versions"]["1"]["flagged"] is False


# ----------------------------------------------------------------------------------------------
# Personal data, the champion's age, offline against online scores
# ----------------------------------------------------------------------------------------------
def test_pii_features_are_compared_as_hashes_and_never_reported_in_clear(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a contract tagging a number pii and, where there is one, a category (the diabetes
    # data's age and sex, the penguins' island), and test-split traffic logged by a server of
    # that contract and key (the values hashed), and the same logged in clear (an older log)
    schema = trained.schema
    number = "age" if "age" in schema.numeric else schema.numeric[0]
    category = next(iter(schema.categorical), None)
    tagged = tuple(name for name in (number, category) if name)
    contract = yaml.safe_load((trained.root / "schema.yaml").read_text())
    for name in tagged:
        contract["features"][name]["tags"] = ["pii"]
    (trained.root / "schema-pii.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    clear, hashed = trained.root / "pii-clear", trained.root / "pii-log"
    log_traffic(trained, trained.test, clear)
    log_traffic(trained, trained.test, hashed, pii=tagged)
    text = "".join(path.read_text() for path in hashed.glob("predictions-*.jsonl"))
    assert text.count(PREFIX) == len(tagged) * len(trained.test) - int(
        trained.test[list(tagged)].isna().sum().sum()
    )
    monkeypatch.setenv(f"{ENV}SCHEMA_FILE", "schema-pii.yaml")
    monkeypatch.setenv(f"{ENV}PII_KEY", KEY)
    # When each is monitored
    code, result = monitor(trained, "pii", "--current", hashed)
    _, from_clear = monitor(trained, "pii-from-clear", "--current", clear)
    # Then the number is left out of drift, with the reason
    assert code == 0
    assert number not in result["features"]
    reason = f"{number}: tagged pii, logged as a keyed hash: a number is not compared"
    assert reason in result["notes"]
    assert result["retrain_needed"] is False
    html = (trained.root / "runs" / "pii" / "report.html").read_text()
    if category is None:
        return
    # and the category is compared on hashes (the reference's hashed with the same key): no
    # drift, no value outside the contract, no value in clear, as if the log held the values
    report = result["features"][category]
    assert report["drift"] is False
    assert report["current"]["out_of_range_rate"] == 0
    assert report["new_categories"] == []
    assert all(shown.startswith(PREFIX) for shown in report["plot"]["categories"])
    assert report == from_clear["features"][category]
    shown = json.dumps(report)
    for value in schema.features[category].values or []:
        assert json.dumps(str(value)) not in shown
        if isinstance(value, str):  # a text value is nowhere in the page (a number may be)
            assert value not in html


def test_a_champion_older_than_the_bound_calls_for_retraining_naming_its_age(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the log of traffic like the test split answered by the registry's champion (v1)
    log, _ = labelled(trained, "age-log")
    # When it is monitored with params.yaml's bound (30 days), then with one it has outlived
    # (under a millisecond: it was registered seconds ago)
    _, young = monitor(trained, "young", "--current", log)
    assert trained.made.params()["monitor"]["max_model_age_days"] == 30
    params = copy_params(trained, "params-age.yaml", max_model_age_days=1.0e-8)
    monkeypatch.setenv(f"{ENV}PARAMS_FILE", str(params))
    code, old = monitor(trained, "old", "--current", log, "--fail-on-drift")
    # Then the young champion needs nothing; the old one needs retraining, its age named
    assert young["model"]["champion"]["version"] == "1"
    assert 0 < young["model"]["champion"]["age_days"] < 30
    assert young["retrain_needed"] is False
    age = old["model"]["champion"]["age_days"]
    assert age > 1e-8
    assert old["retrain_needed"] is True
    assert code == 3
    assert old["reasons"] == [
        f"the champion v1 was registered {age:.3g} days ago: older than "
        "monitor.max_model_age_days (1e-08)"
    ]


def test_without_a_registry_the_age_is_not_checked_and_that_is_said(
    trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = trained.root / "no-such-store.db"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{absent}")
    code, result = monitor(trained, "no-registry", "--current", "data/processed/test.parquet")
    assert code == 0
    assert result["model"]["champion"] is None
    assert f"registry not read: no registry at sqlite:///{absent}" in result["notes"][0]
    assert not absent.exists()  # looking did not create one


def test_each_served_version_keeps_its_offline_score_beside_its_live_one(
    trained: Trained,
) -> None:
    # Given the champion's log of the test split, its true labels and shuffled ones
    log, keys = labelled(trained, "versions-log")
    target = trained.target
    keys.assign(**{target: trained.test[target].to_numpy()}).to_csv(trained.root / "v.csv")
    keys.assign(**{target: shuffled_labels(trained, 1)}).to_csv(trained.root / "v-off.csv")
    # When it is monitored with each
    _, fine = monitor(trained, "v", "--current", log, "--labels", "v.csv")
    _, off = monitor(trained, "v-off", "--current", log, "--labels", "v-off.csv")
    # Then the served version's offline score (its run's test score, from the registry) sits
    # beside its live one: equal on the test split's labels, far apart on shuffled ones, and
    # that is flagged
    primary = fine["performance"]["primary_metric"]
    offline = trained.scores[primary]
    agreed, apart = fine["performance"]["versions"]["1"], off["performance"]["versions"]["1"]
    assert set(fine["performance"]["versions"]) == {"1"}
    assert agreed["rows"] == apart["rows"] == len(trained.test)
    assert agreed["offline"] == apart["offline"] == pytest.approx(offline)
    assert agreed["live"] == pytest.approx(offline, abs=1e-6)
    assert agreed["gap"] == pytest.approx(0, abs=1e-6)
    assert agreed["flagged"] is False
    assert not any(alert.startswith("model v1:") for alert in fine["alerts"])
    assert apart["gap"] == pytest.approx(abs(apart["live"] - offline), abs=1e-6)
    assert apart["gap"] > apart["max_gap"] == 0.05
    assert apart["flagged"] is True
    assert any(alert.startswith(f"model v1: live {primary} ") for alert in off["alerts"])


# ----------------------------------------------------------------------------------------------
# The Prometheus Pushgateway
# ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def pushgateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Prometheus Pushgateway on a free local port; its URL."""
    program = need("prometheus-pushgateway")
    url = f"http://127.0.0.1:{free_port()}"
    logs = tmp_path_factory.mktemp("pushgateway") / "output.log"
    command = [program, f"--web.listen-address={url.removeprefix('http://')}"]
    with server_process(command, f"{url}/-/ready", logs, 30):
        yield url


def scraped(url: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """The monitoring job's series as Prometheus scrapes them from the Pushgateway: by name
    and labels, the value."""
    with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("model_monitoring_")
    }


def test_the_figures_are_pushed_to_a_pushgateway_when_one_is_configured(
    clean: dict[str, Any],
    trained: Trained,
    pushgateway: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a Pushgateway, and labelled traffic (live metrics are pushed too)
    log, keys = labelled(trained, "pushed-log")
    target = trained.target
    keys.assign(**{target: trained.test[target].to_numpy()}).to_csv(trained.root / "pushed.csv")
    monkeypatch.setenv(f"{ENV}PUSHGATEWAY_URL", pushgateway)
    # When the job runs
    code, result = monitor(trained, "pushed", "--current", log, "--labels", "pushed.csv")
    assert code == 0
    # Then Prometheus would scrape the report's figures, in the group of this model's job
    series = scraped(pushgateway)
    group = {"instance": "", "job": "model-monitoring", "model": MODEL_NAME}

    def value(name: str, **labels: str) -> float:
        return series[(f"model_monitoring_{name}", frozenset({**group, **labels}.items()))]

    assert value("retrain_needed") == 0
    assert value("dataset_drift") == 0
    assert value("current_rows") == len(trained.test)
    assert value("drifted_feature_share") == result["dataset"]["share"]
    assert abs(value("last_run_timestamp_seconds") - time.time()) < 120
    for name, column in {**result["features"], **result["predictions"]}.items():
        assert value("feature_drift", feature=name) == 0
        assert value("feature_drift_statistic", feature=name, test=column["test"]) == pytest.approx(
            column["statistic"]
        )
        assert value("feature_missing_rate", feature=name) == pytest.approx(
            column["current"]["missing_rate"]
        )
    assert value("performance_alert") == 0
    primary = result["performance"]["primary_metric"]
    assert value("live_metric", metric=primary) == pytest.approx(
        result["performance"]["metrics"][primary]
    )


def test_an_unreachable_pushgateway_is_a_clear_error(
    clean: dict[str, Any],
    trained: Trained,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv(f"{ENV}PUSHGATEWAY_URL", url)
    code, _ = monitor(trained, "unpushed", "--current", "data/processed/test.parquet")
    assert code == 1
    assert f"could not push metrics to the Pushgateway at {url}" in capsys.readouterr().err


def test_any_column_and_model_name_arrive_as_they_are(pushgateway: str) -> None:
    # Given a report of columns named with spaces, quotes, a slash, a backslash and a line
    # break, for a model whose name has a slash
    names = ["width (cm)", 'say "hi"', "od280/od315", "back\\slash", "two\nlines"]
    column = {
        "drift": True,
        "test": "ks",
        "statistic": 0.5,
        "current": {"missing_rate": 0.25, "out_of_range_rate": 0.0},
    }
    report = {
        "retrain_needed": True,
        "dataset": {"drift": True, "share": 1.0},
        "current": {"rows": 40},
        "features": dict.fromkeys(names, column),
        "predictions": {},
        "performance": None,
    }
    # When it is pushed
    push.push(pushgateway, "team/model", report, timestamp=1.0e9)
    # Then every series arrives with its label exactly, in the model's group
    series = scraped(pushgateway)
    group = {"instance": "", "job": "model-monitoring", "model": "team/model"}
    for name in names:
        labels = frozenset({**group, "feature": name}.items())
        assert series[("model_monitoring_feature_drift", labels)] == 1
        assert series[("model_monitoring_feature_missing_rate", labels)] == 0.25
    assert series[("model_monitoring_last_run_timestamp_seconds", frozenset(group.items()))] == 1e9
    assert ("model_monitoring_performance_alert", frozenset(group.items())) not in series


def test_a_pushgateway_that_answers_with_an_error_is_a_clear_error(pushgateway: str) -> None:
    report = {
        "retrain_needed": False,
        "dataset": {"drift": False, "share": 0.0},
        "current": {"rows": 1},
        "features": {},
        "predictions": {},
        "performance": None,
    }
    with pytest.raises(ProjectError, match=r"could not push metrics to the Pushgateway at .*404"):
        push.push(f"{pushgateway}/not-a-pushgateway", "tabular-model", report, timestamp=0.0)
