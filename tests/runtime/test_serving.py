"""Serving: the API checks every request against the contract, answers like the registered
model (classes and probabilities for a classifier, values for a regressor), logs and counts each
prediction; an exported model serves without the registry; champion/challenger.

The projects ran their stages once (trained.py): their champion `tabular-model` v1 is served.
Most tests run the app in process with FastAPI's TestClient (lifespan included); one runs the
`serve` command (uvicorn) on 127.0.0.1 and talks HTTP to it; schemathesis fuzzes the API from
its own OpenAPI document.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import schemathesis
import yaml
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from pydantic import SecretStr
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance
from trained import MODEL_NAME, Trained, own_tracking_uri, records_of, shared

from mlops_ladder import registry, tracking
from mlops_ladder.config import Settings
from mlops_ladder.model import make_baselines
from mlops_ladder.model import predict as model_predict
from mlops_ladder.monitoring.profile import category_keys
from mlops_ladder.serving.app import create_app
from mlops_ladder.serving.loading import export_model, load_model, read_mlmodel
from mlops_ladder.serving.loading import input_example as read_input_example
from mlops_ladder.serving.routing import bucket, choose_variant
from mlops_ladder.serving.settings import ServingSettings
from mlops_ladder.serving.telemetry import value_buckets
from mlops_ladder.train import describe, fit

KINDS = ["classification", "regression", "penguins"]
CHAMPION = f"models:/{MODEL_NAME}@champion"
ENV = "TABULAR_MODEL_"


@pytest.fixture(autouse=True)
def _tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    own_tracking_uri(monkeypatch)


@pytest.fixture(scope="module", params=KINDS)
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return shared(request.param, tmp_path_factory)


@pytest.fixture
def job(built: Trained) -> Iterator[Trained]:
    with built.inside():
        yield built


def wait_until_ready(client: TestClient, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = client.get("/ready")
        if answer.status_code == 200:
            return
        assert "failed" not in answer.json()["status"], answer.json()
        time.sleep(0.05)
    pytest.fail("the model did not load in time")


@contextmanager
def serving(
    job: Trained, settings: Settings | None = None, uri: str = CHAMPION, **options: Any
) -> Iterator[TestClient]:
    """The app of `job` (settings: the project's), loaded and ready, until the block ends."""
    with job.inside():
        app = create_app(ServingSettings(model_uri=uri, **options), settings or job.settings)
    with TestClient(app) as client:
        wait_until_ready(client)
        yield client


@pytest.fixture(scope="module")
def client(built: Trained, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The champion of each project, served for the module's tests."""
    log = tmp_path_factory.mktemp("predictions")
    with serving(built, built.settings_for(MODEL_NAME, prediction_log_dir=log)) as running:
        yield running


def expected(job: Trained, frame: pd.DataFrame) -> tuple[list[Any], pd.DataFrame | None]:
    """The registered model's labels (or values), and every class's probability."""
    labels, scores = model_predict(job.model, frame[job.schema.feature_names])
    return labels.tolist(), scores


# ----------------------------------------------------------------------------------------------
# Predictions
# ----------------------------------------------------------------------------------------------
def test_predictions_equal_the_registered_models(client: TestClient, built: Trained) -> None:
    # Given the whole test split, in one request
    records = records_of(built.test_split, built.schema)
    answer = client.post("/predict", json={"records": records})
    # Then every prediction is the registered model's, and the model is named
    assert answer.status_code == 200, answer.text
    body = answer.json()
    labels, scores = expected(built, built.test_split)
    assert body["predictions"] == labels
    assert (body["model_name"], body["model_version"], body["variant"]) == (
        MODEL_NAME,
        "1",
        "champion",
    )
    assert answer.headers["x-request-id"] == body["request_id"]
    if built.classification:
        # every class's probability, in the order of `classes`, exactly the model's
        assert body["classes"] == built.model.classes_.tolist() == scores.columns.tolist()
        probabilities = np.array(body["probabilities"])
        assert probabilities.shape == scores.shape
        for index, label in enumerate(body["classes"]):
            assert np.array_equal(probabilities[:, index], scores[label].to_numpy()), label
    else:  # values, and nothing of classes
        assert set(body) == {"request_id", "model_name", "model_version", "variant", "predictions"}
        assert all(isinstance(value, float) for value in body["predictions"])
    # And one record at a time gives the same answers (the compiled model, row by row)
    for index in range(0, len(records), 17):
        one = client.post("/predict", json={"records": [records[index]]}).json()
        assert one["predictions"] == [labels[index]], index
        if built.classification:
            assert one["probabilities"] == [body["probabilities"][index]], index


def test_a_client_request_id_is_kept_and_a_bad_one_refused(
    client: TestClient, built: Trained
) -> None:
    records = records_of(built.test_split.head(1), built.schema)
    answer = client.post("/predict", json={"records": records}, headers={"X-Request-ID": "abc-1"})
    assert answer.json()["request_id"] == "abc-1"
    assert answer.headers["x-request-id"] == "abc-1"
    refused = client.post(
        "/predict", json={"records": records}, headers={"X-Request-ID": "x" * 500}
    )
    assert refused.status_code == 422
    assert "x-request-id" in refused.json()["message"]


LEFT_OUT = object()  # a field taken out of the record


def bad_fields(built: Trained) -> dict[str, tuple[dict[str, Any], str]]:
    """What is wrong -> (the change to a good record, the column the error must name), for
    every kind of column the contract has."""
    features = built.schema.features
    first = built.schema.feature_names[0]
    cases: dict[str, tuple[dict[str, Any], str]] = {
        "missing": ({first: LEFT_OUT}, first),  # nullable or not: every feature is required
        "unknown": ({"not a feature (x/y)": 1}, "not a feature (x/y)"),
    }
    numbers = [name for name, spec in features.items() if spec.dtype in ("float", "int")]
    if numbers:
        cases["type"] = ({numbers[0]: "a lot"}, numbers[0])
    bounded = [n for n in numbers if features[n].max is not None and not features[n].allowed]
    if bounded:
        cases["above the maximum"] = (
            {bounded[0]: abs(features[bounded[0]].max) * 10 + 1},
            bounded[0],
        )
    floored = [n for n in numbers if features[n].min is not None and not features[n].allowed]
    if floored:
        minimum = features[floored[-1]].min
        cases["below the minimum"] = ({floored[-1]: minimum - abs(minimum) - 1}, floored[-1])
    categories = [name for name, spec in features.items() if spec.dtype == "category"]
    if categories:
        name = categories[0]
        cases["category"] = ({name: "not one of them"}, name)
        allowed = features[name].allowed or []
        other = 1 if all(isinstance(value, str) for value in allowed) else "1"
        cases["category of another type"] = ({name: other}, name)
    booleans = [name for name, spec in features.items() if spec.dtype == "bool"]
    if booleans:
        cases["text for a boolean"] = ({booleans[0]: "yes"}, booleans[0])
        cases["number for a boolean"] = ({booleans[0]: 1}, booleans[0])
    required = [name for name, spec in features.items() if not spec.nullable]
    if required:
        cases["null"] = ({required[-1]: None}, required[-1])
    return cases


# The kinds of column each contract has: the cases above must cover them.
CASES = {
    "classification": {"type", "above the maximum", "below the minimum", "null"},
    "regression": {"type", "above the maximum", "category", "category of another type", "null"},
    "penguins": {"category", "category of another type", "text for a boolean", "null"},
}


def test_a_bad_field_is_a_422_that_names_it(client: TestClient, built: Trained) -> None:
    cases = bad_fields(built)
    assert CASES[built.kind] | {"missing", "unknown"} <= set(cases)
    good = records_of(built.test_split.head(1), built.schema)[0]
    failures = []
    for case, (change, field) in cases.items():
        # Given a good record with one field broken
        record = {k: v for k, v in (good | change).items() if v is not LEFT_OUT}
        # When it is sent, then the answer is a 422 naming the field by its column name
        answer = client.post("/predict", json={"records": [record]})
        message = answer.json().get("message", "") if answer.status_code == 422 else answer.text
        if answer.status_code != 422 or f"records[0].{field}" not in message:
            failures.append(f"{case}: {answer.status_code} {message[:300]}")
    assert not failures, "\n".join(failures)
    assert client.post("/predict", json={"records": [good]}).status_code == 200


@pytest.mark.parametrize("built", ["penguins"], indirect=True)
def test_a_nullable_feature_takes_null(client: TestClient, built: Trained) -> None:
    nullable = [name for name, spec in built.schema.features.items() if spec.nullable]
    assert len(nullable) == 5  # its numbers and sex: every kind of nullable column
    record = records_of(built.test_split.head(1), built.schema)[0] | dict.fromkeys(nullable)
    answer = client.post("/predict", json={"records": [record]})
    assert answer.status_code == 200, answer.text
    # answered as the model answers a table with those holes
    frame = pd.DataFrame([record]).astype({name: "float64" for name in built.schema.numeric})
    frame = frame.astype({name: object for name in nullable if name not in built.schema.numeric})
    assert answer.json()["predictions"] == expected(built, frame)[0]


@pytest.mark.parametrize("token", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_refused(client: TestClient, built: Trained, token: str) -> None:
    numeric = next(name for name, spec in built.schema.features.items() if spec.dtype == "float")
    record = records_of(built.test_split.head(1), built.schema)[0] | {numeric: 0.123456}
    body = json.dumps({"records": [record]}).replace("0.123456", token, 1)
    answer = client.post("/predict", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 422
    assert f"records[0].{numeric}" in answer.json()["message"]


def test_malformed_bodies_are_4xx_that_name_the_problem(client: TestClient, built: Trained) -> None:
    good = records_of(built.test_split.head(1), built.schema)[0]
    as_json = {"Content-Type": "application/json"}
    cases: list[tuple[str, bytes, dict[str, str], int, str]] = [
        ("empty list", b'{"records": []}', as_json, 422, "records"),
        ("no records key", b'{"rows": []}', as_json, 422, "records"),
        ("a list, not an object", b"[1, 2]", as_json, 422, "body"),
        ("empty body", b"", as_json, 422, "body"),
        ("malformed JSON", b'{"records": [', as_json, 422, "not valid JSON"),
        ("not UTF-8", b'{"records": "\xff\xfe"}', as_json, 422, "body"),
        (
            "too many records",
            json.dumps({"records": [good] * 1001}).encode(),
            as_json,
            422,
            "records",
        ),
        ("wrong content type", b"a=1", {"Content-Type": "text/plain"}, 415, "application/json"),
        ("no content type", json.dumps({"records": [good]}).encode(), {}, 415, "Content-Type"),
        ("3 MB body", b" " * 3_000_000, as_json, 413, "larger than the limit"),
    ]
    failures = []
    for case, body, headers, status, word in cases:
        answer = client.post("/predict", content=body, headers=headers)
        if answer.status_code != status or word.lower() not in answer.text.lower():
            failures.append(f"{case}: {answer.status_code} {answer.text[:300]}")
    assert not failures, "\n".join(failures)
    # And the server is still well
    assert client.get("/health").status_code == 200
    assert client.post("/predict", json={"records": [good]}).status_code == 200


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_unknown_paths_and_methods_are_4xx(client: TestClient) -> None:
    assert client.get("/nope").status_code == 404
    assert client.get("/predict").status_code == 405
    assert client.post("/health", json={}).status_code == 405


def test_the_model_endpoint_names_the_champion(client: TestClient, built: Trained) -> None:
    described = client.get("/model").json()
    champion = described["champion"]
    assert (champion["name"], champion["version"], champion["alias"]) == (
        MODEL_NAME,
        "1",
        "champion",
    )
    assert champion["run_id"] == built.metadata["mlflow"]["run_id"]
    primary = built.params.quality.primary_metric
    assert f"train_{primary}" in champion["metrics"]
    assert champion["metrics"][f"test_{primary}"] == pytest.approx(built.report["test"][primary])
    # answered by the compiled model: categories, a boolean and holes compile too
    assert any("ColumnTransformer: compiled" in step for step in champion["inference"])
    assert any("Forest" in step and "compiled" in step for step in champion["inference"])
    assert described["challenger_share"] == 0.0
    assert "challenger" not in described


def metric(text: str, series: str) -> float:
    """The sum of the samples of one series (every label set that starts with `series`)."""
    lines = [line for line in text.splitlines() if line.startswith(series)]
    return sum(float(line.rsplit(" ", 1)[1]) for line in lines)


def test_metrics_count_requests_and_predictions(client: TestClient, built: Trained) -> None:
    before = client.get("/metrics").text
    answer = client.post(
        "/predict", json={"records": records_of(built.test_split.head(3), built.schema)}
    )
    client.post("/predict", json={"records": []})
    response = client.get("/metrics")
    after = response.text
    assert response.headers["content-type"].startswith("text/plain")
    ok = 'http_requests_total{endpoint="/predict",method="POST",status="200"}'
    refused = 'http_requests_total{endpoint="/predict",method="POST",status="422"}'
    assert metric(after, ok) == metric(before, ok) + 1
    assert metric(after, refused) == metric(before, refused) + 1
    latency = 'http_request_duration_seconds_count{endpoint="/predict",method="POST",status="200"}'
    assert metric(after, latency) == metric(before, latency) + 1
    assert metric(after, "predict_requests_total") == metric(before, "predict_requests_total") + 1
    assert (
        f'model_info{{alias="champion",model_name="{MODEL_NAME}",model_version="1",'
        'variant="champion"} 1.0' in after
    )
    predictions = answer.json()["predictions"]
    if built.classification:
        assert metric(after, "predictions_total") == metric(before, "predictions_total") + 3
        for label in set(predictions):
            series = f'predictions_total{{label="{label}",model_version="1",variant="champion"}}'
            assert metric(after, series) == metric(before, series) + predictions.count(label)
        # the probability histogram observes each record's predicted class's probability
        observed = metric(after, "predicted_probability_sum") - metric(
            before, "predicted_probability_sum"
        )
        assert observed == pytest.approx(sum(max(row) for row in answer.json()["probabilities"]))
        assert "prediction_value" not in after
    else:
        count = "prediction_value_count"
        assert metric(after, count) == metric(before, count) + 3
        added = metric(after, "prediction_value_sum") - metric(before, "prediction_value_sum")
        assert added == pytest.approx(sum(predictions))
        # ten buckets over the target's range in the contract: 0 to 1000, every 100
        assert value_buckets(built.schema) == tuple(float(step) for step in range(100, 1001, 100))
        assert 'prediction_value_bucket{le="500.0",model_version="1",variant="champion"}' in after
        assert "predictions_total" not in after


# ----------------------------------------------------------------------------------------------
# The prediction log
# ----------------------------------------------------------------------------------------------
def logged(folder: Path) -> tuple[str, list[dict[str, Any]]]:
    text = "".join(path.read_text() for path in sorted(folder.glob("predictions-*.jsonl")))
    return text, [json.loads(line) for line in text.splitlines()]


def test_every_prediction_is_logged_by_shutdown(job: Trained, tmp_path: Path) -> None:
    # Given a server logging to a folder of its own
    records = records_of(job.test_split.head(4), job.schema)
    # When it answers 25 requests of 4 records, then stops
    with serving(job, job.settings_for(MODEL_NAME, prediction_log_dir=tmp_path)) as client:
        ids = [
            client.post("/predict", json={"records": records}).json()["request_id"]
            for _ in range(25)
        ]
    # Then the log has every record of every request, in the agreed format
    lines = logged(tmp_path)[1]
    assert len(lines) == 100
    assert {line["request_id"] for line in lines} == set(ids)
    labels, scores = expected(job, job.test_split.head(4))
    for line in lines[:4]:
        assert set(line) >= {"timestamp", "request_id", "record", "model_name", "model_version"}
        assert (line["model_name"], line["model_version"], line["variant"]) == (
            MODEL_NAME,
            "1",
            "champion",
        )
        assert line["timestamp"].endswith("+00:00")
        assert line["inputs"] == records[line["record"]]  # by column name, values as sent
        assert line["prediction"] == labels[line["record"]]
        if job.classification:
            # the predicted class's probability, and every class's, keyed by the class as text
            row = scores.iloc[line["record"]]
            assert line["probabilities"] == {str(label): row[label] for label in scores.columns}
            assert line["probability"] == row[line["prediction"]] == row.max()
        else:
            assert "probability" not in line
            assert "probabilities" not in line


@pytest.mark.parametrize("built", ["regression"], indirect=True)
def test_a_pii_feature_is_logged_as_its_keyed_hash_never_in_clear(
    job: Trained, tmp_path: Path
) -> None:
    # Given a contract that tags a feature pii (the diabetes data's `age`: with sex and a few
    # measurements it singles patients out), and this deployment's key
    name = "age"
    contract = yaml.safe_load(job.settings.schema_file.read_text())
    contract["features"][name]["tags"] = ["pii"]
    schema_file = tmp_path / "schema.yaml"
    schema_file.write_text(yaml.safe_dump(contract, sort_keys=False))
    key = "the key of this deployment"
    settings = job.settings_for(
        MODEL_NAME,
        schema_file=schema_file,
        prediction_log_dir=tmp_path / "log",
        pii_key=SecretStr(key),
    )
    records = records_of(job.test_split.head(20), job.schema)
    # When the server answers them, then the first record again, and stops
    with serving(job, settings) as client:
        assert client.post("/predict", json={"records": records}).status_code == 200
        assert client.post("/predict", json={"records": records[:1]}).status_code == 200
    # Then each logged value is the HMAC-SHA256 of its text under the key, never the value
    text, lines = logged(tmp_path / "log")
    assert len(lines) == len(records) + 1
    for line in lines:
        sent = records[line["record"]]
        value_text = category_keys(pd.Series([sent[name]], dtype=object))[0]
        digest = hmac.new(key.encode(), value_text.encode(), hashlib.sha256).hexdigest()
        assert line["inputs"][name] == f"hmac-sha256:{digest}"
        others = {column: value for column, value in sent.items() if column != name}
        assert {k: v for k, v in line["inputs"].items() if k != name} == others
    for record in records:
        assert f"{json.dumps(name)}: {json.dumps(record[name])}" not in text
    # and an equal value hashes equal (the monitoring job compares hashes)
    assert lines[-1]["inputs"][name] == lines[0]["inputs"][name]


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_log_files_older_than_the_retention_are_deleted(job: Trained, tmp_path: Path) -> None:
    # Given a log folder with a file last written 40 days ago and one of 10 days ago
    old, recent = tmp_path / "predictions-old.jsonl", tmp_path / "predictions-recent.jsonl"
    for path, days in ((old, 40), (recent, 10)):
        path.write_text('{"inputs": {}}\n')
        written = time.time() - days * 86_400
        os.utime(path, (written, written))
    settings = job.settings_for(
        MODEL_NAME, prediction_log_dir=tmp_path, prediction_log_retention_days=30
    )
    # When a server keeping 30 days starts and answers
    records = records_of(job.test_split.head(2), job.schema)
    with serving(job, settings) as client:
        assert client.post("/predict", json={"records": records}).status_code == 200
    # Then the old file is gone, the recent one kept, and today's predictions are logged
    assert not old.exists()
    assert recent.read_text() == '{"inputs": {}}\n'
    assert len(logged(tmp_path)[1]) == 1 + len(records)


# ----------------------------------------------------------------------------------------------
# Loading: readiness, exported folders
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_ready_is_503_with_the_reason_when_the_model_cannot_load(job: Trained) -> None:
    app = create_app(ServingSettings(model_uri="models:/no-such-model@champion"), job.settings)
    with TestClient(app) as client:
        deadline = time.monotonic() + 120
        while "failed" not in client.get("/ready").json()["status"]:
            assert time.monotonic() < deadline, "the failure was never reported"
            time.sleep(0.05)
        ready = client.get("/ready")
        assert ready.status_code == 503
        assert "no-such-model" in ready.json()["status"]
        assert client.get("/health").status_code == 200
        assert client.get("/model").status_code == 503
        good = records_of(job.test_split.head(1), job.schema)
        answer = client.post("/predict", json={"records": good})
        assert answer.status_code == 503
        assert answer.headers["retry-after"] == "5"


@pytest.mark.parametrize("built", ["classification", "regression"], indirect=True)
def test_an_exported_model_serves_without_the_registry(job: Trained, tmp_path: Path) -> None:
    # Given the champion exported to a folder (the command the image build runs)
    folder = tmp_path / "model"
    from mlops_ladder.commands import main

    assert main(["export-model", "--output", str(folder)]) == 0
    assert (folder / "MLmodel").is_file()
    exported = json.loads((folder / "registered_model.json").read_text())
    assert (exported["name"], exported["version"], exported["alias"]) == (
        MODEL_NAME,
        "1",
        "champion",
    )
    # When a server loads the folder, its registry out of reach
    unreachable = job.settings_for(MODEL_NAME, mlflow_tracking_uri="http://127.0.0.1:9")
    with serving(job, unreachable, uri=str(folder)) as client:
        answer = client.post("/predict", json={"records": records_of(job.test_split, job.schema)})
        # Then it answers as the registered model, under the same name and version
        assert answer.json()["predictions"] == expected(job, job.test_split)[0]
        assert client.get("/model").json()["champion"]["version"] == "1"


@pytest.mark.parametrize("built", ["classification", "penguins"], indirect=True)
def test_a_folder_loads_the_model_mlflow_loads(job: Trained, tmp_path: Path) -> None:
    import mlflow.sklearn
    from mlflow.models import Model

    # Given the champion exported to a folder, loaded by serving (which reads MLflow's format)
    folder = tmp_path / "model"
    export_model(CHAMPION, job.settings, folder)
    loaded = load_model(str(folder), job.settings, job.schema)
    # When MLflow loads the same folder
    theirs = mlflow.sklearn.load_model(str(folder))
    # Then both models give exactly the same outputs on the test split
    test = job.test_records
    assert np.array_equal(loaded.pipeline.predict_proba(test), theirs.predict_proba(test))
    assert np.array_equal(loaded.predictor.predict_proba(test), theirs.predict_proba(test))
    # and the input example (the compiled copy is checked on it) is MLflow's, dtypes too
    ours = read_input_example(read_mlmodel(folder), folder, job.schema)
    assert ours is not None
    pd.testing.assert_frame_equal(ours, Model.load(str(folder)).load_input_example(str(folder)))


WORKER = """
import json, sys, time
from fastapi.testclient import TestClient
from mlops_ladder.serving.app import create_app

with TestClient(create_app()) as client:
    while client.get("/ready").status_code != 200:
        assert "failed" not in client.get("/ready").json()["status"], client.get("/ready").text
        time.sleep(0.05)
    answer = client.post("/predict", json={"records": json.load(open(sys.argv[1]))})
    assert answer.status_code == 200, answer.text
    assert client.get("/model").status_code == client.get("/metrics").status_code == 200
print(json.dumps(answer.json()["predictions"]))
print(json.dumps(sorted(name for name in sys.modules if name.split(".")[0] == "mlflow")))
"""


def project_env(job: Trained, **variables: str) -> dict[str, str]:
    """The environment of a process of the project: its package importable, no tracking URI
    of another project."""
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    paths = [str(job.root / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]
    return {**env, "PYTHONPATH": os.pathsep.join(paths), **variables}


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_a_worker_serving_a_folder_never_imports_mlflow(job: Trained, tmp_path: Path) -> None:
    # Given a fresh process serving an exported folder, as the image's workers do
    folder = tmp_path / "model"
    export_model(CHAMPION, job.settings, folder)
    records = tmp_path / "records.json"
    sent = records_of(job.test_split.head(5), job.schema)
    records.write_text(json.dumps(sent))
    env = project_env(job, MODEL_URI=str(folder), **{f"{ENV}PREDICTION_LOG_DIR": str(tmp_path)})
    # When it starts, loads the model and answers /predict, /model and /metrics
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(records)],
        cwd=job.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    predictions, imported = map(json.loads, done.stdout.splitlines()[-2:])
    assert predictions == expected(job, job.test_split.head(5))[0]
    # Then MLflow was never imported (it costs each worker seconds of start-up and 150 MB)
    assert imported == []


# ----------------------------------------------------------------------------------------------
# Champion/challenger (level 2)
# ----------------------------------------------------------------------------------------------
def test_routing_is_deterministic_and_follows_the_share() -> None:
    keys = [f"user-{number}" for number in range(20000)]
    assert [choose_variant(key, 0.1) for key in keys[:50]] == [
        choose_variant(key, 0.1) for key in keys[:50]
    ]
    share = sum(choose_variant(key, 0.1) == "challenger" for key in keys) / len(keys)
    assert 0.09 < share < 0.11
    assert all(choose_variant(key, 0.0) == "champion" for key in keys[:1000])
    assert all(choose_variant(key, 1.0) == "challenger" for key in keys[:1000])
    assert all(0 <= bucket(key) < 1 for key in keys[:1000])


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_a_challenger_gets_its_share_and_says_so(job: Trained, tmp_path: Path) -> None:
    # Given the champion and a weaker model, registered as challenger under a name of their own
    settings = job.settings_for(prediction_log_dir=tmp_path)
    for model, alias in [(job.model, "champion"), (weaker(job), "challenger")]:
        metadata = describe(model, *job.data_files, job.schema, job.params)
        run = tracking.log_training(
            settings, model, metadata, job.train_features, job.schema, job.params
        )
        client_mlflow = registry.client_for(settings)
        version = registry.ensure_version(client_mlflow, settings.model_name, run)
        client_mlflow.set_registered_model_alias(settings.model_name, alias, version)
    # When half of the traffic goes to it
    records = records_of(job.test_split.head(2), job.schema)
    uri = f"models:/{settings.model_name}@champion"
    with serving(job, settings, uri=uri, challenger_share=0.5) as client:
        answers = [
            client.post(
                "/predict", json={"records": records}, headers={"X-Routing-Key": f"u{n}"}
            ).json()
            for n in range(40)
        ]
        again = client.post("/predict", json={"records": records}, headers={"X-Routing-Key": "u0"})
        metrics = client.get("/metrics").text
        described = client.get("/model").json()
    # Then both answer, each says which it is, the same key gets the same model, all is counted
    by_variant = {answer["variant"]: answer["model_version"] for answer in answers}
    assert by_variant == {"champion": "1", "challenger": "2"}
    assert 0.2 <= sum(a["variant"] == "challenger" for a in answers) / len(answers) <= 0.8
    assert again.json()["variant"] == answers[0]["variant"]
    assert described["challenger"]["version"] == "2"
    assert described["challenger_share"] == 0.5
    for variant, version in by_variant.items():
        series = f'predict_requests_total{{model_version="{version}",variant="{variant}"}}'
        count = sum(a["variant"] == variant for a in answers) + (again.json()["variant"] == variant)
        assert metric(metrics, series) == count
    lines = logged(tmp_path)[1]
    assert {line["variant"] for line in lines} == {"champion", "challenger"}
    assert len(lines) == 2 * 41


def weaker(job: Trained) -> Any:
    """A model that only ever predicts the class prior."""
    return fit(job.train_features, job.schema, make_baselines(job.params.seed, job.task)["dummy"])


# ----------------------------------------------------------------------------------------------
# A real server: `serve` (uvicorn) on 127.0.0.1, over HTTP
# ----------------------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def http(
    url: str, body: Any = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], Any]:
    """One request; any status comes back, the body as JSON where it is."""
    data = None if body is None else json.dumps(body).encode()
    sent = {"Content-Type": "application/json", **(headers or {})} if data else headers or {}
    request = urllib.request.Request(url, data=data, headers=sent)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:
            status, received, raw = answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        status, received, raw = error.code, dict(error.headers), error.read()
    try:
        return status, received, json.loads(raw)
    except ValueError:
        return status, received, raw.decode()


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_the_serve_command_answers_over_http_and_flushes_its_log_on_shutdown(
    job: Trained, tmp_path: Path
) -> None:
    # Given the project's `serve` command on a free port of 127.0.0.1, logging to a folder,
    # with an API key (as the Kubernetes manifest sets one)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    logs = tmp_path / "predictions"
    output = (tmp_path / "server.log").open("w")
    key = {"Authorization": f"Bearer {KEYS[0]}"}
    env = project_env(job, **{f"{ENV}PREDICTION_LOG_DIR": str(logs), f"{ENV}API_KEY": KEYS[0]})
    command = [sys.executable, "-m", "tabular_model", "serve", "--port", str(port)]
    server = subprocess.Popen(command, cwd=job.root, env=env, stdout=output, stderr=output)
    try:
        # When it starts, /ready says 503 while the model loads, then 200; /health answers
        statuses = []
        deadline = time.monotonic() + 240
        while not statuses or statuses[-1] != 200:
            assert server.poll() is None, (tmp_path / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "the server was never ready"
            try:
                statuses.append(http(f"{base}/ready")[0])
            except (ConnectionError, urllib.error.URLError):
                time.sleep(0.1)  # not listening yet
        assert statuses[0] == 503, statuses
        assert http(f"{base}/health")[0] == 200
        # Then it answers the test split as the registered model, in requests of 3 records
        records = records_of(job.test_split, job.schema)
        labels, scores = expected(job, job.test_split)
        answered = []
        for start in range(0, len(records), 3):
            batch = {"records": records[start : start + 3]}
            request_id = {"X-Request-ID": f"r{start}"}
            status, headers, body = http(f"{base}/predict", batch, {**key, **request_id})
            assert status == 200, body
            assert headers["x-request-id"] == f"r{start}"
            answered.append(body)
        assert [label for body in answered for label in body["predictions"]] == labels
        probabilities = [row for body in answered for row in body["probabilities"]]
        assert probabilities == scores.to_numpy().tolist()
        odd = records[0] | {"no such column": 1}
        status, _, refused = http(f"{base}/predict", {"records": [odd]}, key)
        assert status == 422
        assert "records[0].no such column" in refused["message"]
        # And without the key: a 401, also for a body near the size limit (read and dropped,
        # not a connection reset), and a 413 for one over it
        assert http(f"{base}/model")[0] == 401
        near = {"records": [records[0]], "padding": "x" * 1_900_000}
        status, answer_headers, _ = http(f"{base}/predict", near)
        assert (status, answer_headers["www-authenticate"]) == (401, "Bearer")
        assert http(f"{base}/predict", {"padding": "x" * 5_000_000})[0] == 413
        assert http(f"{base}/model", headers=key)[0] == 200
    finally:
        # And after SIGTERM it shuts down cleanly
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=60)
        output.close()
    log = (tmp_path / "server.log").read_text()
    assert code in (0, -signal.SIGTERM), log[-3000:]  # uvicorn re-raises the signal once done
    assert "Application shutdown complete" in log
    # with every predicted record in the log
    lines = logged(logs)[1]
    assert len(lines) == len(records)
    assert {line["request_id"] for line in lines} == {
        f"r{start}" for start in range(0, len(records), 3)
    }
    by_key = {(line["request_id"], line["record"]): line for line in lines}
    assert by_key[("r0", 1)]["inputs"] == records[1]
    assert by_key[("r0", 1)]["prediction"] == labels[1]


# ----------------------------------------------------------------------------------------------
# Fuzzing: schemathesis from the API's own OpenAPI document
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", list(GenerationMode), ids=str)
def test_schemathesis_finds_no_server_error(
    tmp_path_factory: pytest.TempPathFactory, mode: GenerationMode
) -> None:
    # Given the penguins' champion served (its contract has every kind of column), and the
    # API's own OpenAPI document, read by schemathesis from the app in process
    found = shared("penguins", tmp_path_factory)
    log = tmp_path_factory.mktemp("fuzzed")
    with serving(found, found.settings_for(MODEL_NAME, prediction_log_dir=log)) as client:
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert {f"{op.method.upper()} {op.path}" for op in operations} >= {
            "POST /predict",
            "GET /ready",
            "GET /model",
        }
        # When each operation gets requests generated from it, valid or invalid (`mode`: only
        # /predict takes any input to break)
        for operation in operations:
            if mode is GenerationMode.NEGATIVE and operation.path != "/predict":
                continue

            @given(case=operation.as_strategy(generation_mode=mode))
            @settings(
                max_examples=25,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                # Then no answer is a 5xx, each has a documented status, type and schema. (Values
                # inside the contract's ranges can still be unusable for a model: 422s by design,
                # so valid data may be refused.)
                response = case.call()
                case.validate_response(response, excluded_checks=[positive_data_acceptance])

            call()
        assert client.get("/health").status_code == 200


# ----------------------------------------------------------------------------------------------
# Access: the API key, /metrics and the docs, the rate limit (access.py)
# ----------------------------------------------------------------------------------------------
KEYS = ("a-key-of-this-deployment-0001", "the-next-key-while-rotating-02")
GUARDED = [
    ("POST", "/predict"),
    ("GET", "/model"),
    ("GET", "/metrics"),
    ("GET", "/docs"),
    ("GET", "/redoc"),
    ("GET", "/openapi.json"),
    ("GET", "/nope"),  # deny by default: a path not listed needs the key too
]
# Headers that must not open the API: none, wrong keys and near misses, other schemes, noise.
REFUSED_HEADERS: dict[str, list[tuple[str, str | bytes]]] = {
    "none": [],
    "wrong key": [("Authorization", "Bearer not-the-key-of-this-deployment")],
    "a key's prefix": [("Authorization", f"Bearer {KEYS[0][:-1]}")],
    "a key and more": [("X-API-Key", KEYS[0] + "x")],
    "both keys as one": [("X-API-Key", ",".join(KEYS))],
    "empty bearer": [("Authorization", "Bearer ")],
    "scheme alone": [("Authorization", "Bearer")],
    "the key as the scheme": [("Authorization", KEYS[0])],
    "basic scheme": [("Authorization", f"Basic {KEYS[0]}")],
    "other header": [("X-Api-Token", KEYS[0])],
    "10 KB key": [("X-API-Key", "k" * 10_000)],
    "not ASCII": [("X-API-Key", "clé-de-ce-déploiement-0001".encode("latin-1"))],
    "many wrong keys": [("X-API-Key", f"wrong-key-number-{n:04d}") for n in range(200)],
}


def call(
    client: TestClient,
    method: str,
    path: str,
    headers: list[tuple[str, str | bytes]],
    records: list[dict[str, Any]],
) -> Any:
    body = {"json": {"records": records}} if method == "POST" else {}
    return client.request(method, path, headers=headers, **body)


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_with_an_api_key_only_the_probes_answer_without_it(job: Trained, tmp_path: Path) -> None:
    # Given a server with two keys (one being rotated in), /metrics and the docs behind them
    records = records_of(job.test_split.head(2), job.schema)
    settings = job.settings_for(MODEL_NAME, prediction_log_dir=tmp_path)
    options = {"api_key": SecretStr(",".join(KEYS)), "metrics_access": "key", "docs_access": "key"}
    with serving(job, settings, **options) as client:
        # When every guarded path is called with every refused header
        failures, refused_predictions = [], 0
        for case, headers in REFUSED_HEADERS.items():
            for method, path in GUARDED:
                answer = call(client, method, path, headers, records)
                refused_predictions += path == "/predict"
                if (
                    answer.status_code != 401
                    or answer.headers.get("www-authenticate") != "Bearer"
                    or "needs the API key" not in answer.json()["detail"]
                ):
                    failures.append(f"{case} {method} {path}: {answer.status_code} {answer.text}")
        # Then each is a 401 that says how to send the key, and the probes answer without one
        assert not failures, "\n".join(failures[:10])
        assert client.get("/health").status_code == 200
        assert client.get("/ready").status_code == 200
        # And either key, as a bearer token (any case of the scheme) or X-API-Key, opens it all
        good = [
            [("Authorization", f"Bearer {KEYS[0]}")],
            [("authorization", f"bearer {KEYS[1]}")],
            [("X-API-Key", KEYS[1])],
            [("X-API-Key", "wrong-key-of-some-length"), ("X-API-Key", KEYS[0])],
        ]
        for headers in good:
            for method, path in GUARDED:
                expected = 404 if path == "/nope" else 200
                answer = call(client, method, path, headers, records)
                assert answer.status_code == expected, (headers, path, answer.text)
        key = [("X-API-Key", KEYS[0])]
        metrics = client.get("/metrics", headers=key).text
        document = client.get("/openapi.json", headers=key).json()
    # The refusals are counted, and nothing refused reached the model or the log
    series = 'http_requests_total{endpoint="/predict",method="POST",status="401"}'
    assert metric(metrics, series) == refused_predictions
    assert len(logged(tmp_path)[1]) == len(good) * len(records)
    # and the OpenAPI document says which operations need the key, and how to send it
    assert set(document["components"]["securitySchemes"]) == {"bearer", "apiKey"}
    assert "401" in document["paths"]["/predict"]["post"]["responses"]
    assert document["paths"]["/model"]["get"]["security"] == [{"bearer": []}, {"apiKey": []}]
    assert "security" not in document["paths"]["/health"]["get"]


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_metrics_and_docs_can_be_off_or_open_beside_a_key(job: Trained, tmp_path: Path) -> None:
    records = records_of(job.test_split.head(1), job.schema)
    settings = job.settings_for(MODEL_NAME, prediction_log_dir=tmp_path)
    # Off: no key at all (local use), but neither /metrics nor the docs
    with serving(job, settings, metrics_access="off", docs_access="off") as client:
        for path in ("/metrics", "/docs", "/redoc", "/openapi.json"):
            assert client.get(path).status_code == 404, path
        assert client.post("/predict", json={"records": records}).status_code == 200
    # Open beside a key: Prometheus scrapes without one, the rest needs it
    key = SecretStr(KEYS[0])
    with serving(job, settings, api_key=key, metrics_access="open") as client:
        assert client.get("/metrics").status_code == 200
        assert client.get("/docs").status_code == 200
        assert client.get("/model").status_code == 401
        assert client.post("/predict", json={"records": records}).status_code == 401


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_bad_access_settings_stop_serve_with_one_line(
    job: Trained, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_ladder.commands import main
    from mlops_ladder.serving import server

    def never(*args: Any, **kwargs: Any) -> None:
        pytest.fail("serve started with a bad setting")

    monkeypatch.setattr(server, "run", never)
    cases = {
        "API_KEY=short": "TABULAR_MODEL_API_KEY: an API key needs at least 16 characters",
        f"API_KEY={KEYS[0]},short": "TABULAR_MODEL_API_KEY: an API key needs at least 16",
        "METRICS_ACCESS=key": "TABULAR_MODEL_METRICS_ACCESS = key, but no API key is set "
        "(TABULAR_MODEL_API_KEY)",
        "DOCS_ACCESS=maybe": "TABULAR_MODEL_DOCS_ACCESS: Input should be 'open', 'key' or 'off'",
        "RATE_LIMIT=-1": "TABULAR_MODEL_RATE_LIMIT",
        "PREDICTION_LOG_MAX_MB=lots": "TABULAR_MODEL_PREDICTION_LOG_MAX_MB",
    }
    for assignment, expected in cases.items():
        name, value = assignment.split("=", 1)
        capsys.readouterr()
        with monkeypatch.context() as patch:
            patch.setenv(f"{ENV}{name}", value)
            assert main(["serve", "--port", "9"]) == 1, assignment
        error = capsys.readouterr().err
        assert error.startswith("error: invalid serving setting: "), error
        assert expected in error, error
        assert error.count("\n") == 1, error


def test_the_rate_limit_is_a_bucket_per_client_that_forgets_the_least_recent() -> None:
    from mlops_ladder.serving.access import RateLimit

    limit = RateLimit(60, max_clients=3)  # one a second, a minute's worth at once
    assert [limit.wait("a", now=0.0) for _ in range(60)] == [0.0] * 60
    assert limit.wait("a", now=0.0) == pytest.approx(1.0)
    assert limit.wait("a", now=0.5) == pytest.approx(0.5)
    assert limit.wait("a", now=1.0) == 0.0
    assert limit.wait("b", now=1.0) == 0.0  # another client has its own bucket
    for client in ("c", "d"):
        limit.wait(client, now=1.0)
    assert list(limit.buckets) == ["b", "c", "d"]  # at most 3 remembered: "a" forgotten


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_a_client_over_the_rate_limit_gets_429_and_the_others_do_not(
    job: Trained, tmp_path: Path
) -> None:
    # Given a server allowing 10 requests a minute per client (a refill every 6 s)
    records = records_of(job.test_split.head(1), job.schema)
    settings = job.settings_for(MODEL_NAME, prediction_log_dir=tmp_path)
    with serving(job, settings, rate_limit=10) as client:
        # When one client sends 15 at once
        answers = [client.post("/predict", json={"records": records}) for _ in range(15)]
        codes = [answer.status_code for answer in answers]
        # Then the first 10 are answered, the rest refused with when to retry (a refill may
        # let one more through on a slow machine)
        assert codes[:10] == [200] * 10, codes
        assert set(codes[10:]) <= {200, 429}, codes
        assert codes[10:].count(429) >= 4, codes
        refused = next(answer for answer in answers if answer.status_code == 429)
        assert 1 <= int(refused.headers["retry-after"]) <= 6
        assert "10 requests a minute" in refused.json()["detail"]
        # the probes are never limited, and another client has its own allowance
        assert {client.get("/ready").status_code for _ in range(20)} == {200}
        other = TestClient(client.app, client=("10.0.0.2", 50000))
        assert other.post("/predict", json={"records": records}).status_code == 200
        assert "429" in other.get("/metrics").text
    assert len(logged(tmp_path)[1]) == codes.count(200) + 1  # nothing refused was logged


# ----------------------------------------------------------------------------------------------
# The prediction log's size, and pii values that look like hashes
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("built", ["regression"], indirect=True)
def test_the_prediction_log_stays_under_its_size_cap_in_a_flood(
    job: Trained, tmp_path: Path
) -> None:
    # Given a server whose log may take 32 KB (parts of 3.2 KB), and a flood of 150 requests
    # of 10 records, some 20 times that
    cap_mb = 1 / 32
    records = records_of(job.test_split.head(10), job.schema)
    settings = job.settings_for(MODEL_NAME, prediction_log_dir=tmp_path)
    with serving(job, settings, prediction_log_max_mb=cap_mb) as client:
        for number in range(150):
            headers = {"X-Request-ID": f"flood-{number}"}
            answer = client.post("/predict", json={"records": records}, headers=headers)
            assert answer.status_code == 200, answer.text
        writer = client.app.state.prediction_log
    # Then every request was answered and logged, but the oldest files were deleted to keep
    # the folder under the cap (give or take what was written since the last check)
    files = sorted(tmp_path.glob("predictions-*.jsonl"))
    cap = int(cap_mb * 2**20)
    text, lines = logged(tmp_path)
    one_request = len(text.encode()) // (len(lines) // len(records))
    assert writer.written == 150 * len(records)
    assert writer.deleted, "nothing was deleted"
    assert sum(path.stat().st_size for path in files) <= cap + cap // 20 + one_request
    assert len(files) > 1  # parts of the day's file
    # what is left is the newest requests, whole, with no gap, every line complete JSON
    kept = sorted({int(line["request_id"].removeprefix("flood-")) for line in lines})
    assert kept == list(range(kept[0], 150)), kept
    assert len(lines) == len(kept) * len(records)


@pytest.mark.parametrize("built", ["regression"], indirect=True)
def test_a_pii_value_sent_as_a_hash_is_hashed_like_any_other(job: Trained, tmp_path: Path) -> None:
    from mlops_ladder.privacy import pseudonymise
    from mlops_ladder.schema import load_schema
    from mlops_ladder.serving.payloads import record_model
    from mlops_ladder.serving.prediction_log import Batch, PredictionLog

    # Given a pii category whose values look like the log's hashes (a forged one, a short one)
    forged = "hmac-sha256:" + "0" * 64
    values = [forged, "hmac-sha256:jane", "plain"]
    contract = yaml.safe_load(job.settings.schema_file.read_text())
    contract["features"]["sex"] = {"dtype": "category", "allowed": values, "tags": ["pii"]}
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    schema = load_schema(tmp_path / "schema.yaml")
    record = record_model(schema)
    base = records_of(job.test_split.head(1), job.schema)[0]
    sent = [record.model_validate(base | {"sex": value}) for value in values]
    # When the server's writer logs them
    key = "the key of this deployment"
    writer = PredictionLog(tmp_path / "log", pii=("sex",), key=key)
    writer.start()
    writer.append(
        Batch(
            timestamp=pd.Timestamp.now(tz="UTC").to_pydatetime(),
            request_id="r",
            model_name=MODEL_NAME,
            model_version="1",
            variant="champion",
            records=sent,
            predictions=[100.0] * len(sent),
        )
    )
    writer.close()
    # Then each is the HMAC of its text, none is stored as sent
    text, lines = logged(tmp_path / "log")
    for value, line in zip(values, lines, strict=True):
        digest = hmac.new(key.encode(), value.encode(), hashlib.sha256).hexdigest()
        assert line["inputs"]["sex"] == f"hmac-sha256:{digest}"
        assert json.dumps(value) not in text
    # and the monitoring job keeps the log's hashes as they are (it hashes only clear values)
    logged_values = pd.Series([line["inputs"]["sex"] for line in lines], dtype=object)
    assert pseudonymise(logged_values, key).tolist() == logged_values.tolist()


@pytest.mark.parametrize("built", ["regression"], indirect=True)
def test_a_pii_feature_needs_a_key_of_the_deployment(
    job: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from mlops_ladder.commands import main
    from mlops_ladder.errors import ConfigError
    from mlops_ladder.serving import server

    # Given a contract tagging age pii
    contract = yaml.safe_load(job.settings.schema_file.read_text())
    contract["features"]["age"]["tags"] = ["pii"]
    (tmp_path / "schema.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    monkeypatch.setenv(f"{ENV}SCHEMA_FILE", str(tmp_path / "schema.yaml"))
    monkeypatch.setattr(server, "run", lambda *args, **kwargs: None)
    # When the server starts with the public default key or a short one, then it refuses in
    # one line naming the variable
    for key in (None, "short-key"):
        if key:
            monkeypatch.setenv(f"{ENV}PII_KEY", key)
        capsys.readouterr()
        assert main(["serve"]) == 1
        error = capsys.readouterr().err
        assert error.startswith("error: schema.yaml tags age as pii: set TABULAR_MODEL_PII_KEY")
        assert error.count("\n") == 1
        with pytest.raises(ConfigError, match="TABULAR_MODEL_PII_KEY"):
            create_app(ServingSettings(), Settings.load())
    # and with a key of its own it starts
    monkeypatch.setenv(f"{ENV}PII_KEY", "the key of this deployment")
    assert main(["serve"]) == 0


# ----------------------------------------------------------------------------------------------
# The Kubernetes manifest: the key from a Secret, the disk bounded
# ----------------------------------------------------------------------------------------------
def quantity(text: str) -> int:
    """A Kubernetes byte quantity (256Mi, 1Gi, 2G) in bytes."""
    units = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "K": 10**3, "M": 10**6, "G": 10**9}
    for unit, factor in units.items():
        if text.endswith(unit):
            return int(float(text.removesuffix(unit)) * factor)
    return int(text)


@pytest.mark.parametrize("built", ["classification"], indirect=True)
def test_the_k8s_manifest_needs_a_key_and_bounds_the_disk(
    job: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness import answers, render

    from mlops_ladder.serving.settings import load_serving_settings

    # Given the level-2 Deployment as a project gets it
    text = render("deploy/k8s/deployment.yaml", answers("classification", 2))
    pod = yaml.safe_load(text)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = {item["name"]: item for item in container["env"]}
    # Then the API key comes from a Secret the pod cannot start without, the pii key from the
    # same Secret when it has one
    assert env[f"{ENV}API_KEY"]["valueFrom"]["secretKeyRef"] == {
        "name": "tabular-model-serving",
        "key": "api-key",
    }
    pii = env[f"{ENV}PII_KEY"]["valueFrom"]["secretKeyRef"]
    assert (pii["name"], pii["key"], pii["optional"]) == ("tabular-model-serving", "pii-key", True)
    # and its plain values are serving settings the runtime accepts: docs off, /metrics open
    # to Prometheus, the prediction log capped
    for name, item in env.items():
        if "value" in item:
            monkeypatch.setenv(name, item["value"])
    monkeypatch.setenv(f"{ENV}API_KEY", "k" * 44)  # what `openssl rand -base64 32` gives
    settings = load_serving_settings()
    assert (settings.docs_access, settings.metrics_access) == ("off", "open")
    # Every volume has a size limit; the log's cap stays under its volume's (with the slack of
    # a twentieth between two checks), and the pod's ephemeral storage holds both volumes
    volumes = {volume["name"]: volume["emptyDir"] for volume in pod["volumes"]}
    limits = {name: quantity(volume["sizeLimit"]) for name, volume in volumes.items()}
    assert settings.prediction_log_max_bytes * 1.05 < limits["prediction-log"]
    storage = container["resources"]["limits"]["ephemeral-storage"]
    assert quantity(storage) > sum(limits.values())
    assert "ephemeral-storage" in container["resources"]["requests"]
    # and the manifest is valid Kubernetes (offline schemas)
    manifest = tmp_path / "deployment.yaml"
    manifest.write_text(text)
    validate = Path(sys.executable).parent / "kubernetes-validate"
    done = subprocess.run(
        [validate, "--strict", "-k", "1.30.0", manifest], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("built", ["penguins"], indirect=True)
def test_schemathesis_with_a_key_finds_no_server_error_and_no_way_around_it(
    job: Trained, tmp_path: Path
) -> None:
    # Given the penguins' champion behind a key, its document open (the key's schemes in it)
    logging = job.settings_for(MODEL_NAME, prediction_log_dir=tmp_path)
    options = {"api_key": SecretStr(KEYS[0]), "metrics_access": "key", "docs_access": "open"}
    with serving(job, logging, **options) as client:
        schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
        statuses: list[int] = []
        for operation in (result.ok() for result in schema.get_all_operations()):

            @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
            @settings(
                max_examples=15,
                deadline=None,
                derandomize=True,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                # When each generated request is sent with the key and without it
                for headers in ({"Authorization": f"Bearer {KEYS[0]}"}, {}):
                    response = case.call(headers=headers)
                    statuses.append(response.status_code)
                    # Then no answer is a 5xx, each is documented (the 401s too), and the
                    # operations that need the key refuse requests without it
                    case.validate_response(
                        response, excluded_checks=[positive_data_acceptance], headers=headers
                    )

            call()
    assert len(statuses) >= 50
    assert statuses.count(401) >= len(statuses) // 3  # without the key: most of them
    assert not [status for status in statuses if status >= 500]
