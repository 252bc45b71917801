"""feature_store=feast at level 2, executed on the project test_act.py's level-2 workflows run
on (conftest.py's feast_project: one render, one `make setup`, one pipeline run against the
team's registry): the pipeline's stages (feature table, `feast apply`, point-in-time retrieval,
train, gate, materialize), the project's own feature-store tests, and /predict over real HTTP
by entity key, which must answer exactly as for the same full record: from the project, from a
folder laid out by the Dockerfile's own COPY lines (the image's files, its command line), and
(MLOPS_LADDER_IMAGE_TESTS=1) from the image built with podman."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
import yaml
from acting import ActProject
from rendering import DEFAULT_PACKAGE, free_port, run

pytestmark = pytest.mark.slow

FEAST_STAGES = ["feature-table", "feast-apply", "split", "train", "register", "materialize"]


@pytest.fixture(scope="module")
def project(feast_project: ActProject) -> tuple[Path, str, float]:
    """The project, its first pipeline run's output and seconds."""
    assert feast_project.first_run is not None
    return feast_project.path, feast_project.first_run.stdout, feast_project.first_run.seconds


@pytest.fixture(scope="module")
def services(feast_project: ActProject) -> dict[str, str]:
    """Every command's environment here: it points at the team's registry, which holds the
    champion."""
    return feast_project.services


def post(port: int, body: dict) -> tuple[int, dict]:
    return post_to(f"http://127.0.0.1:{port}", body)


def post_to(base: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(
        f"{base}/predict",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def wait_until_ready(base: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(1)
    pytest.fail("the server never became ready")


@contextmanager
def serving(command: list[str], cwd: Path, env: dict[str, str], log: Path) -> Iterator[None]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=out, stderr=out, start_new_session=True
        )
    try:
        yield
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


@pytest.fixture(scope="module")
def server(
    project: tuple[Path, str, float],
    services: dict[str, str],
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[int]:
    path, _, _ = project
    port = free_port()
    log = tmp_path_factory.mktemp("serve") / "serve.log"
    with serving(["make", "serve", f"PORT={port}"], path, services, log):
        wait_until_ready(f"http://127.0.0.1:{port}")
        yield port


def sample_records(path: Path, keys: list[int]) -> list[dict]:
    """The full records of these keys (the rule: the key is the row number in the file)."""
    schema_features = list(yaml.safe_load((path / "schema.yaml").read_text())["features"])
    sample = pd.read_csv(path / "data" / "sample" / "breast_cancer.csv")
    return [{name: sample.iloc[key - 1][name].item() for name in schema_features} for key in keys]


def runtime_copies(dockerfile: Path) -> list[tuple[str, str]]:
    """(source, destination) of each COPY from the build context into the image's last stage."""
    stage = dockerfile.read_text().rsplit("\nFROM ", 1)[1]
    copies = []
    for line in stage.splitlines():
        words = line.split()
        if words[:1] == ["COPY"] and not any(word.startswith("--from") for word in words):
            *sources, destination = words[1:]
            copies += [(source, destination) for source in sources]
    return copies


def test_make_all_applies_retrieves_trains_gates_and_materializes(project) -> None:
    path, stdout, seconds = project
    for stage in FEAST_STAGES:
        assert f"Running stage '{stage}'" in stdout, stage
    assert json.loads((path / "reports" / "registration.json").read_text())["promoted"]
    assert (path / "data" / "feast" / "registry.db").is_file()
    assert (path / "data" / "feast" / "online.db").is_file()
    print(f"feast pipeline: {seconds:.0f} s")


def test_the_pipeline_is_up_to_date_after_a_run(feast_project: ActProject) -> None:
    # `dvc status` right after the run (test_act.py's workflows import a file since)
    status = feast_project.status_after_first_run
    assert "Data and pipelines are up to date." in status, status


def test_the_projects_own_point_in_time_tests_pass(project, services: dict[str, str]) -> None:
    path, _, _ = project
    command = ["uv", "run", "--frozen", "pytest", "-q", "tests/test_feature_store.py"]
    run(command, path, services, label="feast: its own tests")


def test_entity_keys_predict_as_their_full_records(project, server: int) -> None:
    path, _, _ = project
    keys = [1, 2, 300]
    records = sample_records(path, keys)
    by_key = post(server, {"entities": keys})
    by_record = post(server, {"records": records})
    assert by_key[0] == by_record[0] == 200, (by_key, by_record)
    assert by_key[1]["predictions"] == by_record[1]["predictions"]
    assert by_key[1]["probabilities"] == by_record[1]["probabilities"]


def test_an_unknown_entity_is_a_404_that_names_it(server: int) -> None:
    status, body = post(server, {"entities": [1, 987654]})
    assert status == 404
    assert "987654" in body["detail"]


def test_the_images_files_and_command_line_serve_entity_keys(
    project, services: dict[str, str], tmp_path: Path
) -> None:
    # Given the champion and the feature store exported as the image carries them
    path, _, _ = project
    run(["make", "export-model"], path, services, label="feast: make export-model")
    # And a folder holding only what the Dockerfile's COPY lines put into the image's /app
    app = tmp_path / "app"
    for source, destination in runtime_copies(path / "Dockerfile"):
        target = app / destination
        if (path / source).is_dir():
            shutil.copytree(path / source, target)
        else:
            target.mkdir(parents=True, exist_ok=True)
            shutil.copy(path / source, target)
    assert (app / "data" / "feast" / "online.db").is_file()
    # When the image's command line runs there (the project's environment, the image's MODEL_URI)
    dockerfile = (path / "Dockerfile").read_text()
    assert "MODEL_URI=/app/model" in dockerfile
    command = json.loads(dockerfile.split("\nCMD ", 1)[1].splitlines()[0])
    port = free_port()
    command = [
        str(path / ".venv" / "bin" / "python") if word == "python" else word for word in command
    ]
    command[command.index("0.0.0.0")] = "127.0.0.1"
    command[command.index("8000")] = str(port)
    serve_env = {
        **services,
        "MODEL_URI": str(app / "model"),
        f"{DEFAULT_PACKAGE.upper()}_PREDICTION_LOG_DIR": str(tmp_path / "predictions"),
        "WEB_CONCURRENCY": "1",
    }
    base = f"http://127.0.0.1:{port}"
    with serving(command, app, serve_env, tmp_path / "serve.log"):
        wait_until_ready(base)
        # Then entity keys are read from the online store the image carries
        by_key = post_to(base, {"entities": [5, 6]})
        by_record = post_to(base, {"records": sample_records(path, [5, 6])})
    assert by_key[0] == 200, (by_key, (tmp_path / "serve.log").read_text()[-3000:])
    assert by_key[1]["predictions"] == by_record[1]["predictions"]


@pytest.mark.skipif(
    os.environ.get("MLOPS_LADDER_IMAGE_TESTS") != "1",
    reason="set MLOPS_LADDER_IMAGE_TESTS=1 (needs podman, runc, debootstrap)",
)
def test_the_image_serves_entity_keys(
    project, services: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    from test_serving import every_worker_ready, podman_for

    path, _, _ = project
    podman = podman_for(path / "Dockerfile", tmp_path_factory.mktemp("podman"), services)
    # Given the image built by the project's own target (the champion and the feature store)
    tag = "localhost/feast-serving-test:latest"
    flags = (
        "--pull=never --format docker --network host --isolation chroot"
        " --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro"
    )
    build = ["make", "docker-build", f"IMAGE={tag}", "DOCKER=podman", f"DOCKER_BUILD_FLAGS={flags}"]
    run(build, path, podman.env, label="feast image: build", timeout=1800)
    # When it runs as built
    port = free_port()
    name = f"feast-serving-test-{port}"
    podman("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000", tag)
    try:
        base = f"http://127.0.0.1:{port}"
        every_worker_ready(base, lambda: podman("logs", name, check=False).stdout)
        # Then an entity key is answered from the online store inside the image, as its record
        by_key = post_to(base, {"entities": [7]})
        assert by_key[0] == 200, (by_key, podman("logs", name, check=False).stdout[-3000:])
        by_record = post_to(base, {"records": sample_records(path, [7])})
        assert by_key[1]["predictions"] == by_record[1]["predictions"]
        assert post_to(base, {"entities": [987654]})[0] == 404
    finally:
        podman("rm", "--force", name, check=False)
