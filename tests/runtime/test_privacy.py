"""Privacy of the prediction log (privacy.py): values of features tagged pii are written as
their keyed hashes, never in clear, and log files older than the retention are deleted.

The log is written by the serving app's writer (serving/prediction_log.py) from records of the
diabetes sample (its `age` and `sex` single patients out), validated as the app validates
them. How the monitoring job compares those hashes is tested in test_monitoring.py.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml
from harness import inside, make_project

from mlops_ladder.config import Settings
from mlops_ladder.errors import ConfigError
from mlops_ladder.monitoring.profile import category_keys
from mlops_ladder.privacy import PREFIX, delete_old_logs, pseudonym, pseudonymise
from mlops_ladder.schema import Schema, load_schema
from mlops_ladder.serving.payloads import record_model
from mlops_ladder.serving.prediction_log import Batch, PredictionLog

KEY = "the key of this deployment"
DAY = 86_400
PII = ("age", "sex")


def digest(key: str, text: str) -> str:
    return PREFIX + hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def test_a_value_is_the_hmac_of_its_text_the_same_however_it_was_spelled() -> None:
    values = pd.Series([1, 1.0, "1", 2, None, np.nan, "female"], dtype=object)
    hashed = pseudonymise(values, KEY)
    # 1, 1.0 and "1" are one value (a CSV, a Parquet file and JSON give each of them)
    assert hashed[0] == hashed[1] == hashed[2] == digest(KEY, "1") == pseudonym(KEY, "1")
    assert hashed[3] == digest(KEY, "2")
    assert hashed[6] == digest(KEY, "female")
    # a missing value stays missing: it says nothing about anyone
    assert hashed[4:6].isna().all()
    # the same value under another key is another hash; a hash is kept as it is
    assert pseudonymise(values, "another key")[0] != hashed[0]
    assert pseudonymise(hashed, "another key").equals(hashed)


@pytest.fixture(scope="module")
def diabetes(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Schema, pd.DataFrame]:
    """A regression project on the diabetes sample, its contract tagging age and sex pii."""
    root = tmp_path_factory.mktemp("privacy")
    made = make_project(root, task="regression", level=1)
    contract = yaml.safe_load((root / "schema.yaml").read_text())
    for name in PII:
        contract["features"][name]["tags"] = ["pii"]
    (root / "schema.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    schema = load_schema(root / "schema.yaml")
    assert tuple(schema.tagged("pii")) == PII
    table = pd.read_csv(root / "data" / "sample" / "diabetes.csv").head(40)
    return made.root, schema, table


def records_of(frame: pd.DataFrame, schema: Schema) -> list[Any]:
    """The rows as the app holds them once validated (its record model, by column name)."""
    record = record_model(schema)
    rows = frame[schema.feature_names].astype(object).to_dict("records")
    return [
        record.model_validate({name: np.asarray(value).item() for name, value in row.items()})
        for row in rows
    ]


def batch(records: list[Any], at: datetime, request_id: str = "request-0") -> Batch:
    return Batch(
        timestamp=at,
        request_id=request_id,
        model_name="tabular-model",
        model_version="1",
        variant="champion",
        records=records,
        predictions=[150.0] * len(records),
    )


def logged(folder: Path) -> tuple[str, list[dict[str, Any]]]:
    text = "".join(path.read_text() for path in sorted(folder.glob("predictions-*.jsonl")))
    return text, [json.loads(line) for line in text.splitlines()]


def test_a_pii_feature_is_logged_as_its_keyed_hash_never_in_clear(
    diabetes: tuple[Path, Schema, pd.DataFrame], tmp_path: Path
) -> None:
    # Given a writer of the contract's pii features under this deployment's key
    _, schema, table = diabetes
    records = records_of(table, schema)
    writer = PredictionLog(tmp_path, pii=PII, key=KEY)
    writer.start()
    # When it logs the records, then the first one again
    writer.append(batch(records, datetime.now(UTC)))
    writer.append(batch(records[:1], datetime.now(UTC), "request-1"))
    writer.close()
    # Then each pii value is the HMAC-SHA256 of its text under the key, never the value, and
    # every other input is as sent
    text, lines = logged(tmp_path)
    assert len(lines) == len(records) + 1
    for line in lines:
        sent = table.iloc[line["record"]]
        for name in PII:
            value_text = category_keys(pd.Series([sent[name]], dtype=object))[0]
            assert line["inputs"][name] == digest(KEY, value_text)
        others = {name: line["inputs"][name] for name in schema.feature_names if name not in PII}
        assert others == pytest.approx(sent[list(others)].to_dict())
    for name in PII:
        for value in table[name].unique():
            assert f"{json.dumps(name)}:{json.dumps(np.asarray(value).item())}" not in text
    # and an equal value hashes equal (the monitoring job compares hashes)
    assert lines[-1]["inputs"] == lines[0]["inputs"]


def test_without_pii_the_inputs_are_logged_as_sent(
    diabetes: tuple[Path, Schema, pd.DataFrame], tmp_path: Path
) -> None:
    _, schema, table = diabetes
    writer = PredictionLog(tmp_path)
    writer.start()
    writer.append(batch(records_of(table.head(3), schema), datetime.now(UTC)))
    writer.close()
    text, lines = logged(tmp_path)
    assert PREFIX not in text
    assert [line["inputs"]["age"] for line in lines] == table["age"].head(3).tolist()


def test_the_key_and_the_retention_are_settings_of_the_deployment(
    diabetes: tuple[Path, Schema, pd.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _, _ = diabetes
    with inside(root):
        # the default key is the project's (the same for every deployment: set one)
        default = Settings.load()
        assert default.pii_key.get_secret_value() == "tabular-model-pii"
        assert default.prediction_log_retention_days == 90
        monkeypatch.setenv("TABULAR_MODEL_PII_KEY", KEY)
        monkeypatch.setenv("TABULAR_MODEL_PREDICTION_LOG_RETENTION_DAYS", "7")
        settings = Settings.load()
        assert settings.pii_key.get_secret_value() == KEY
        assert KEY not in repr(settings)  # a secret: never printed
        assert settings.prediction_log_retention_days == 7
        monkeypatch.setenv("TABULAR_MODEL_PREDICTION_LOG_RETENTION_DAYS", "-1")
        with pytest.raises(ConfigError, match="TABULAR_MODEL_PREDICTION_LOG_RETENTION_DAYS"):
            Settings.load()


def aged(folder: Path, name: str, days: float) -> Path:
    """A log file last written `days` ago."""
    path = folder / name
    path.write_text('{"inputs": {}}\n')
    written = time.time() - days * DAY
    os.utime(path, (written, written))
    return path


def test_log_files_older_than_the_retention_are_deleted(tmp_path: Path) -> None:
    old, recent = (
        aged(tmp_path, "predictions-old.jsonl", 40),
        aged(tmp_path, "predictions-recent.jsonl", 10),
    )
    writing = aged(tmp_path, "predictions-writing.jsonl", 40)
    other = aged(tmp_path, "notes.txt", 400)  # not a log file: not the writer's to delete
    assert delete_old_logs(tmp_path, 30, keep=writing) == [old]
    assert not old.exists()
    assert recent.exists()
    assert writing.exists()  # the file being written is kept, however old
    assert other.exists()
    # 0 keeps every file; a folder not made yet has none to delete
    assert delete_old_logs(tmp_path, 0) == []
    assert writing.exists()
    assert delete_old_logs(tmp_path / "absent", 30) == []


def test_the_writer_deletes_old_files_when_it_starts_and_at_each_new_day(
    diabetes: tuple[Path, Schema, pd.DataFrame], tmp_path: Path
) -> None:
    _, schema, table = diabetes
    records = records_of(table.head(2), schema)
    # Given a log folder with a file last written 40 days ago and one of 10 days ago
    old, recent = (
        aged(tmp_path, "predictions-old.jsonl", 40),
        aged(tmp_path, "predictions-recent.jsonl", 10),
    )
    # When a writer keeping 30 days starts
    writer = PredictionLog(tmp_path, retention_days=30)
    writer.start()
    # Then the old file is gone and the recent one kept
    assert not old.exists()
    assert recent.read_text() == '{"inputs": {}}\n'
    # And when a file ages past the retention while the server runs, the next day's first
    # predictions delete it, and keep the file of the day before
    today = datetime.now(UTC)
    writer.append(batch(records, today))
    deadline = time.monotonic() + 10
    while not writer.path_for(today).exists():
        assert time.monotonic() < deadline, "today's predictions were never written"
        time.sleep(0.01)
    stale = aged(tmp_path, "predictions-stale.jsonl", 31)
    writer.append(batch(records, today + timedelta(days=1), "request-1"))
    writer.close()
    assert not stale.exists()
    assert recent.exists()
    assert writer.path_for(today).exists()
    assert writer.path_for(today + timedelta(days=1)).exists()
    assert len(logged(tmp_path)[1]) == 1 + 2 * len(records)  # the recent file's line, and ours
