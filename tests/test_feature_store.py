"""feature_store=feast at level 2, executed: one render, one `make setup`, one pipeline run
(feature table, `feast apply`, point-in-time retrieval, train, gate, materialize), the
project's own feature-store tests, and /predict over real HTTP by entity key, which must answer
exactly as for the same full record."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import Renderer, free_port, run

pytestmark = pytest.mark.slow

FEAST_STAGES = ["feature-table", "feast-apply", "split", "train", "register", "materialize"]


@pytest.fixture(scope="module")
def project(renderer: Renderer, env: dict[str, str]) -> tuple[Path, str, float]:
    path = renderer.fresh("copier", maturity_level="2", feature_store="feast")
    run(["make", "setup"], path, env, label="feast: make setup")
    started = time.perf_counter()
    outcome = run(["make", "all"], path, env, label="feast: make all")
    return path, outcome.stdout, time.perf_counter() - started


def post(port: int, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/predict",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.fixture(scope="module")
def server(project: tuple[Path, str, float], env: dict[str, str]) -> Iterator[int]:
    path, _, _ = project
    port = free_port()
    process = subprocess.Popen(
        ["make", "serve", f"PORT={port}"],
        cwd=path,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/ready", timeout=5) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                time.sleep(1)
        else:
            pytest.fail("the server never became ready")
        yield port
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def test_make_all_applies_retrieves_trains_gates_and_materializes(project) -> None:
    path, stdout, seconds = project
    for stage in FEAST_STAGES:
        assert f"Running stage '{stage}'" in stdout, stage
    assert json.loads((path / "reports" / "registration.json").read_text())["promoted"]
    assert (path / "data" / "feast" / "registry.db").is_file()
    assert (path / "data" / "feast" / "online.db").is_file()
    print(f"feast pipeline: {seconds:.0f} s")


def test_the_pipeline_is_up_to_date_after_a_run(project, env: dict[str, str]) -> None:
    path, _, _ = project
    outcome = run(["uv", "run", "--frozen", "dvc", "status"], path, env)
    assert "up to date" in outcome.stdout, outcome.stdout


def test_the_projects_own_point_in_time_tests_pass(project, env: dict[str, str]) -> None:
    path, _, _ = project
    command = ["uv", "run", "--frozen", "pytest", "-q", "tests/test_feature_store.py"]
    run(command, path, env, label="feast: its own tests")


def test_entity_keys_predict_as_their_full_records(project, server: int) -> None:
    path, _, _ = project
    schema_features = list(yaml.safe_load((path / "schema.yaml").read_text())["features"])
    sample = pd.read_csv(path / "data" / "sample" / "breast_cancer.csv")
    keys = [1, 2, 300]  # the rule: the key is the row number in the file
    records = [
        {name: sample.iloc[key - 1][name].item() for name in schema_features} for key in keys
    ]
    by_key = post(server, {"entities": keys})
    by_record = post(server, {"records": records})
    assert by_key[0] == by_record[0] == 200, (by_key, by_record)
    assert by_key[1]["predictions"] == by_record[1]["predictions"]
    assert by_key[1]["probabilities"] == by_record[1]["probabilities"]


def test_an_unknown_entity_is_a_404_that_names_it(server: int) -> None:
    status, body = post(server, {"entities": [1, 987654]})
    assert status == 404
    assert "987654" in body["detail"]
