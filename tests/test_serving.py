"""Serving, executed: what only a render shows. A rendered level-2 project runs its real
pipeline (DVC, MLflow, registry gate), then its server (`python -m tabular_model serve`, under
uvicorn) answers real HTTP requests on 127.0.0.1:

- /ready goes 503 -> 200; predictions equal the registered model's on the test split; /metrics
  counts; with two workers, after a clean shutdown the prediction log has every request;
- the rendered Dockerfile and manifests pass their linters;
- the image (opt-in: MLOPS_LADDER_IMAGE_TESTS=1, which .ci/run sets): built and run with podman
  from locally made base images, /health and /predict answered by the container.

The app's behaviour (every endpoint, bad requests, schemathesis, champion/challenger, privacy,
model loading, both tasks, odd column names) is tested in process by the runtime's own tests
(tests/runtime/test_serving.py, test_inference.py).
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import yaml
from rendering import BIN, DEFAULT_PACKAGE, free_port, run

pytestmark = pytest.mark.slow

MODEL_NAME = "tabular-model"
LOG_DIR_VARIABLE = f"{DEFAULT_PACKAGE.upper()}_PREDICTION_LOG_DIR"
IMAGE_TESTS = os.environ.get("MLOPS_LADDER_IMAGE_TESTS") == "1"
# The PATH of the official Python images, which the stand-in base image copies.
OFFICIAL_PATH = "/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin"


# ----------------------------------------------------------------------------------------------
# HTTP and server helpers
# ----------------------------------------------------------------------------------------------
def request(
    url: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
    timeout: float = 30,
) -> tuple[int, dict[str, str], bytes]:
    """One HTTP request; any status comes back (urllib raises on 4xx/5xx, we do not)."""
    prepared = urllib.request.Request(url, data=body, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(prepared, timeout=timeout) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def post_json(url: str, payload: Any, headers: dict[str, str] | None = None) -> tuple[int, Any]:
    data = json.dumps(payload).encode()
    status, _, body = request(
        url, data, {"Content-Type": "application/json", **(headers or {})}, "POST"
    )
    return status, json.loads(body)


def every_worker_ready(base: str, log: Callable[[], str], timeout: float = 180) -> list[int]:
    """Poll /ready until every worker is ready; the statuses seen, in order, without repeats.

    Each worker process loads its own model and answers /ready for itself: every worker is
    ready when 30 answers in a row, on new connections, were 200. `log` is called on each poll
    (it may fail the test if the server died) and shown on a timeout.
    """
    deadline = time.monotonic() + timeout
    seen: list[int] = []
    in_a_row = 0
    while time.monotonic() < deadline:
        log()
        try:
            status, _, _ = request(base + "/ready", timeout=5)
        except OSError:  # not listening yet
            time.sleep(0.05)
            continue
        if not seen or seen[-1] != status:
            seen.append(status)
        in_a_row = in_a_row + 1 if status == 200 else 0
        if in_a_row == 30:
            return seen
        time.sleep(0.02 if status != 200 else 0.005)
    pytest.fail(f"not ready after {timeout} s:\n{log()}")


class Server:
    """`python -m tabular_model serve` in the project, on a free port of 127.0.0.1."""

    def __init__(
        self, project: Path, env: dict[str, str], log: Path, workers: int = 1, **extra: str
    ) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [
            project / ".venv" / "bin" / "python", "-m", DEFAULT_PACKAGE, "serve",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
        ]  # fmt: skip
        with log.open("w") as output:
            self.process = subprocess.Popen(
                [str(part) for part in command],
                cwd=project,
                env={**env, **extra},
                stdout=output,
                stderr=subprocess.STDOUT,
            )
        self.ready_statuses: list[int] = []

    def url(self, path: str) -> str:
        return self.base + path

    def wait_until_ready(self) -> None:
        def log() -> str:
            assert self.process.poll() is None, f"the server died:\n{self.log.read_text()}"
            return self.log.read_text()[-3000:]

        self.ready_statuses = every_worker_ready(self.base, log)

    def stop(self) -> None:
        """SIGTERM, as an orchestrator stops it; fails unless the shutdown was clean.

        uvicorn finishes the requests in flight and runs the app's shutdown, then exits with 0
        (several workers) or re-raises the SIGTERM it caught (one worker).
        """
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=90)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"the server ignored SIGTERM:\n{self.log.read_text()[-3000:]}")
        log = self.log.read_text()
        assert code in (0, -signal.SIGTERM), f"exit {code}:\n{log[-3000:]}"
        assert "Application shutdown complete" in log, log[-3000:]


# ----------------------------------------------------------------------------------------------
# The project: rendered, set up, pipeline run once for the module
# ----------------------------------------------------------------------------------------------
EXPECTED = """
import json, sys
import mlflow
import numpy as np
import pandas as pd
from mlops_ladder.config import Settings
from mlops_ladder.model import predict
from mlops_ladder.schema import load_schema

settings = Settings.load()
schema = load_schema(settings.schema_file)
mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
model = mlflow.sklearn.load_model("models:/tabular-model@champion")
test = pd.read_parquet(settings.test_split)
features = test[schema.feature_names]
labels, scores = predict(model, features)


def plain(name, value):
    # JSON as a client sends it: null for a missing value, whole numbers for int columns
    if pd.isna(value):
        return None
    value = np.asarray(value).item()
    return int(value) if schema.features[name].dtype == "int" else value


json.dump(
    {
        "features": schema.feature_names,
        "target": schema.target.name,
        "records": [
            {name: plain(name, value) for name, value in row.items()}
            for row in features.to_dict("records")
        ],
        "labels": test[schema.target.name].tolist(),
        "predictions": labels.tolist(),
        "classes": scores.columns.tolist(),
        "probabilities": scores.to_numpy().tolist(),
        "test_metrics": json.loads(settings.metrics_file.read_text())["test"],
        "primary_metric": json.loads(settings.metrics_file.read_text())["primary_metric"],
        "numeric": schema.numeric,
        "floats": [n for n, spec in schema.features.items() if spec.dtype == "float"],
        "categories": {
            n: spec.values for n, spec in schema.features.items() if spec.dtype == "category"
        },
        "booleans": [n for n, spec in schema.features.items() if spec.dtype == "bool"],
        "minimums": {n: spec.min for n, spec in schema.features.items() if spec.min is not None},
    },
    open(sys.argv[1], "w"),
)
"""


# A second registered version of the champion's model, aliased `challenger`.
@pytest.fixture(scope="module")
def project(served_project: Path) -> Path:
    """The level-2 project test_monitoring.py monitors too (conftest.py)."""
    return served_project


@pytest.fixture(scope="module")
def expected(project: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The test split and what the registered champion predicts for it (in the project's env)."""
    out = tmp_path_factory.mktemp("expected") / "expected.json"
    run([project / ".venv" / "bin" / "python", "-c", EXPECTED, out], project, env)
    return json.loads(out.read_text())


@pytest.fixture(scope="module")
def server(
    project: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("server")
    running = Server(project, env, folder / "server.log", **{LOG_DIR_VARIABLE: str(folder)})
    running.wait_until_ready()
    yield running
    running.stop()


# ----------------------------------------------------------------------------------------------
# The server over HTTP
# ----------------------------------------------------------------------------------------------
def test_ready_goes_from_503_to_200_while_health_answers(server: Server) -> None:
    # Given a server that answered /ready while its model was loading
    # Then it said 503 first, 200 once the model was in
    assert server.ready_statuses[0] == 503, server.ready_statuses
    assert server.ready_statuses[-1] == 200
    assert request(server.url("/health"))[0] == 200


def test_predictions_equal_the_registered_models(server: Server, expected: Any) -> None:
    # Given the test split in one request
    status, body = post_json(server.url("/predict"), {"records": expected["records"]})
    # Then every label and probability is the registered model's, exactly
    assert status == 200, body
    assert body["predictions"] == expected["predictions"]
    assert body["classes"] == expected["classes"]
    assert body["probabilities"] == expected["probabilities"]  # every class's, in that order
    assert body["model_name"] == MODEL_NAME
    assert body["model_version"] == "1"
    # And one record at a time gives the same answers
    for index in range(0, len(expected["records"]), 10):
        status, one = post_json(server.url("/predict"), {"records": [expected["records"][index]]})
        assert one["probabilities"] == [expected["probabilities"][index]], index


def metric(text: str, prefix: str) -> float:
    """The sum of the samples of one series (all label sets that start with `prefix`)."""
    return sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line.startswith(prefix)
    )


def test_metrics_count_requests_predictions_and_name_the_model(
    server: Server, expected: Any
) -> None:
    before = request(server.url("/metrics"))[2].decode()
    for record in expected["records"][:5]:
        post_json(server.url("/predict"), {"records": [record]})
    post_json(server.url("/predict"), {"records": []})
    status, headers, body = request(server.url("/metrics"))
    after = body.decode()
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    ok = 'http_requests_total{endpoint="/predict",method="POST",status="200"}'
    refused = 'http_requests_total{endpoint="/predict",method="POST",status="422"}'
    assert metric(after, ok) == metric(before, ok) + 5
    assert metric(after, refused) == metric(before, refused) + 1
    latency = 'http_request_duration_seconds_count{endpoint="/predict",method="POST",status="200"}'
    assert metric(after, latency) == metric(before, latency) + 5
    assert metric(after, "predictions_total") == metric(before, "predictions_total") + 5
    assert (
        'model_info{alias="champion",model_name="tabular-model",model_version="1",'
        'variant="champion"} 1.0' in after
    )


# ----------------------------------------------------------------------------------------------
# Prediction log and shutdown, with two workers
# ----------------------------------------------------------------------------------------------
def test_the_prediction_log_has_every_request_after_a_clean_shutdown(
    project: Path, env: dict[str, str], expected: Any, tmp_path: Path
) -> None:
    # Given a server with two worker processes, logging to a folder of its own
    logs = tmp_path / "predictions"
    server = Server(
        project, env, tmp_path / "server.log", workers=2, **{LOG_DIR_VARIABLE: str(logs)}
    )
    try:
        server.wait_until_ready()
        records = expected["records"][:3]

        def send(number: int) -> int:
            headers = {"X-Request-ID": f"req-{number}"}
            return post_json(server.url("/predict"), {"records": records}, headers)[0]

        # When 60 requests arrive from 8 clients at once
        with ThreadPoolExecutor(max_workers=8) as clients:
            statuses = list(clients.map(send, range(60)))
        assert statuses == [200] * 60
        # Then /metrics counts all of them, whichever worker answered
        text = request(server.url("/metrics"))[2].decode()
        assert metric(text, "predict_requests_total") == 60
    finally:
        # And after SIGTERM, the server shuts down cleanly
        server.stop()
    # With every record of every request on disk, in the agreed format
    lines = [json.loads(line) for path in logs.glob("predictions-*.jsonl") for line in path.open()]
    assert len(lines) == 180
    assert {line["request_id"] for line in lines} == {f"req-{number}" for number in range(60)}
    assert len(list(logs.glob("predictions-*.jsonl"))) >= 1
    first = lines[0]
    assert first["inputs"] == records[first["record"]]
    assert first["prediction"] == expected["predictions"][first["record"]]
    # the predicted class's probability, and every class's, keyed by the class as text
    probabilities = expected["probabilities"][first["record"]]
    assert first["probability"] == max(probabilities)
    assert first["probabilities"] == dict(
        zip(map(str, expected["classes"]), probabilities, strict=True)
    )
    assert (first["model_name"], first["model_version"], first["variant"]) == (
        MODEL_NAME,
        "1",
        "champion",
    )
    assert first["timestamp"].endswith("+00:00")


# ----------------------------------------------------------------------------------------------
# The image (podman, opt-in)
# ----------------------------------------------------------------------------------------------
def test_the_rendered_dockerfile_and_manifests_pass_their_linters(
    project: Path, env: dict[str, str]
) -> None:
    for dockerfile in ("Dockerfile", "deploy/mlflow.Dockerfile"):
        run([BIN / "hadolint", "--config", ".hadolint.yaml", dockerfile], project, env)
    for manifest in sorted((project / "deploy" / "k8s").glob("*.yaml")):
        run([BIN / "kubernetes-validate", "--strict", "-k", "1.30.0", manifest], project, env)


def dockerfile_base(dockerfile: Path) -> str:
    """The Python base image the Dockerfile names (ARGs resolved)."""
    args, images = {}, []
    for line in dockerfile.read_text().splitlines():
        if line.startswith("ARG ") and "=" in line:
            name, value = line[4:].split("=", 1)
            args[name] = value
        if line.startswith("FROM "):
            image = line.split()[1]
            for name, value in args.items():
                image = image.replace("${" + name + "}", value)
            images.append(image)
    assert all(image.startswith("python:") for image in images), images
    return images[0]


class Podman:
    """podman as TOOLS.md describes: chroot builds, runc, locally made base images."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        conf = root / "containers.conf"
        conf.write_text(
            "[containers]\n"
            'default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]\n'
            "[engine]\n"
            'runtime = "runc"\n'
        )
        self.root = root
        self.env = {**env, "CONTAINERS_CONF": str(conf), "BUILDAH_ISOLATION": "chroot"}

    def __call__(self, *args: str | Path, label: str | None = None, check: bool = True) -> Any:
        return run(["podman", *args], self.root, self.env, label=label, check=check, timeout=1800)

    def has(self, image: str) -> bool:
        return self("image", "exists", image, check=False).code == 0

    def make_python_base(self, tag: str) -> None:
        """A stand-in for the official Python image: Debian bookworm (debootstrap) with python3,
        pip (installing as the official image's does: not marked externally managed) and the
        user tools, and this machine's CA bundle so that builds can reach PyPI."""
        rootfs = self.root / "rootfs"
        run(
            [
                "debootstrap", "--variant=minbase",
                "--include=python3,python3-pip,ca-certificates,passwd",
                "bookworm", rootfs, "http://deb.debian.org/debian",
            ],
            self.root,
            self.env,
            label="serving image: debootstrap",
            timeout=1800,
        )  # fmt: skip
        shutil.copy("/etc/ssl/certs/ca-certificates.crt", rootfs / "etc/ssl/certs/")
        for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
            marker.unlink()
        (rootfs / "usr/local/bin/python").symlink_to("/usr/bin/python3")
        archive = self.root / "rootfs.tar"
        run(["tar", "-C", rootfs, "-cf", archive, "."], self.root, self.env)
        self(
            "import",
            "--change", f"ENV PATH={OFFICIAL_PATH}",
            "--change", "ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt",
            archive, tag,
        )  # fmt: skip


BASE_IMAGE_LOCK = Path(tempfile.gettempdir()) / "mlops-ladder-python-base.lock"


def podman_for(dockerfile: Path, folder: Path, env: dict[str, str]) -> Podman:
    """Podman with the base images `dockerfile` builds on, made here when missing (no registry)."""
    for tool in ("podman", "runc", "debootstrap"):
        assert shutil.which(tool), f"{tool} is missing: .ci/run installs it"
    podman = Podman(folder, env)
    # The base images made here cannot carry the upstream digests the Dockerfile pins (podman
    # would look for that digest): this test's copy names them by tag.
    text = dockerfile.read_text()
    dockerfile.write_text(re.sub(r"^(FROM \S+?)@sha256:[0-9a-f]{64}", r"\1", text, flags=re.M))
    python_image = dockerfile_base(dockerfile)
    # One test makes it, the others wait: on a fresh machine, two xdist workers would each
    # debootstrap the same image at once (podman's storage is the machine's).
    with BASE_IMAGE_LOCK.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not podman.has(python_image):
            podman.make_python_base(python_image)
    return podman


@pytest.mark.skipif(
    not IMAGE_TESTS, reason="set MLOPS_LADDER_IMAGE_TESTS=1 (needs podman, runc, debootstrap)"
)
def test_the_image_builds_and_serves(
    project: Path, env: dict[str, str], expected: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    podman = podman_for(project / "Dockerfile", tmp_path_factory.mktemp("podman"), env)
    # Given the champion exported into build/model (no tracking server in the image)
    run(["make", "export-model"], project, env, label="serving image: make export-model")
    assert (project / "build" / "model" / "MLmodel").is_file()
    # When the image is built with the project's own Makefile target, podman standing in for
    # docker
    tag = "localhost/serving-test:latest"
    flags = (
        "--pull=never --format docker --network host --isolation chroot"
        " --volume /etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro"
    )
    run(
        ["make", "docker-build", f"IMAGE={tag}", "DOCKER=podman", f"DOCKER_BUILD_FLAGS={flags}"],
        project,
        podman.env,
        label="serving image: build",
        timeout=1800,
    )  # fmt: skip
    # And run as built (its own command, user and workers), published on a port of 127.0.0.1
    port = free_port()
    name = f"serving-test-{port}"
    podman("run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:8000", tag)
    try:
        base = f"http://127.0.0.1:{port}"
        every_worker_ready(base, lambda: podman("logs", name, check=False).stdout)
        # Then the container answers /health and /predict, from the model baked into it
        assert request(base + "/health")[0] == 200, podman("logs", name, check=False).stdout
        status, body = post_json(base + "/predict", {"records": expected["records"][:20]})
        assert status == 200, body
        assert body["predictions"] == expected["predictions"][:20]
        assert body["model_version"] == "1"
        # And its HEALTHCHECK passes inside the container (podman runs it on demand here: no
        # systemd timers), as a non-root user
        assert podman("healthcheck", "run", name, check=False).code == 0
        image = json.loads(podman("image", "inspect", tag).stdout)[0]
        assert image["Config"]["User"] == "10001:10001"
        assert "/health" in " ".join(image["Healthcheck"]["Test"])
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        # And it carries what serving needs, not the pipeline group (pyproject.toml) nor the
        # runtime's `training` extra (Optuna, matplotlib, pyarrow)
        modules = "('mlflow', 'dvc', 'optuna', 'matplotlib', 'pyarrow', 'fastapi')"
        find = f"import importlib.util as u; print([m for m in {modules} if u.find_spec(m)])"
        assert podman("exec", name, "python", "-c", find).stdout.strip() == "['fastapi']"
    finally:
        podman("rm", "--force", name, check=False)


@pytest.mark.skipif(
    not IMAGE_TESTS, reason="set MLOPS_LADDER_IMAGE_TESTS=1 (needs podman, runc, debootstrap)"
)
def test_the_mlflow_server_image_builds_and_asks_for_a_login(
    project: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given the team platform's MLflow image, built as compose builds it (context deploy/):
    # Python's base and the hashed requirements, installed with --require-hashes
    deploy = project / "deploy"
    podman = podman_for(deploy / "mlflow.Dockerfile", tmp_path_factory.mktemp("podman"), env)
    tag = "localhost/mlflow-server-test:latest"
    podman(
        "build", "--pull=never", "--format", "docker", "--network", "host",
        "--isolation", "chroot", "--volume",
        "/etc/ssl/certs/ca-certificates.crt:/etc/ssl/certs/ca-certificates.crt:ro",
        "--file", deploy / "mlflow.Dockerfile", "--tag", tag, deploy,
        label="mlflow image: build",
    )  # fmt: skip
    # When it runs the compose service's command, environment and auth config (its backend
    # store and artifacts local here: PostgreSQL and S3 are tests/test_team.py's)
    service = yaml.safe_load((deploy / "compose.yaml").read_text())["services"]["mlflow"]
    port = free_port()
    command = []
    for argument in service["command"]:
        if argument.startswith("--backend-store-uri="):
            argument = "--backend-store-uri=sqlite:////tmp/mlflow.db"
        elif argument.startswith("--artifacts-destination="):
            argument = "--artifacts-destination=/tmp/artifacts"
        elif argument.startswith("--allowed-hosts="):
            argument = f"--allowed-hosts=127.0.0.1:{port}"
        command.append(argument)
    admin = secrets.token_urlsafe(18)
    settings = {
        **{key: str(value) for key, value in service["environment"].items()},
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
    }
    mount = next(volume for volume in service["volumes"] if volume.endswith(":ro"))
    source, target, _ = mount.split(":")
    name = f"mlflow-server-test-{port}"
    podman(
        "run", "--detach", "--name", name, "--publish", f"127.0.0.1:{port}:5000",
        "--volume", f"{deploy / source}:{target}:ro",
        *(f"--env={key}={value}" for key, value in settings.items()), tag, *command,
    )  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            with contextlib.suppress(OSError):  # not listening yet
                if request(base + "/health", timeout=5)[0] == 200:
                    break
            assert time.monotonic() < deadline, podman("logs", name, check=False).stdout
            time.sleep(1)
        # Then it answers only those who sign in, as a user of its own, not root
        search = f"{base}/api/2.0/mlflow/experiments/search?max_results=1"
        assert request(search)[0] == 401
        token = base64.b64encode(f"admin:{admin}".encode()).decode()
        assert request(search, headers={"Authorization": f"Basic {token}"})[0] == 200
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        assert podman("exec", name, "test", "-s", "/var/lib/mlflow-auth/basic_auth.db").code == 0
    finally:
        podman("rm", "--force", name, check=False)
