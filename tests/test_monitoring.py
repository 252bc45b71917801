"""Monitoring, executed in a rendered level-1 project after `make setup` and `make pipeline`:
traffic like the test split is clean, shifted traffic is drift naming the shifted features,
labels of a model gone wrong raise a performance alert; the HTML report renders in headless
Chromium with its plots; the figures reach a real Prometheus Pushgateway; the project's own
monitoring tests pass for regression too (test_level1 runs `make test` for classification).

The traffic goes over real HTTP to the served champion (`python -m tabular_model serve`),
which writes the prediction log the monitoring job reads.
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from conftest import ROOT, Renderer, free_port, need, run

pytestmark = pytest.mark.slow

TRAFFIC = ROOT / "tests" / "monitoring_traffic.py"
# The plots' colours as drawn (opacity 0.55 on white): reference bars, current bars.
REFERENCE_RGB = (157, 181, 207)
CURRENT_RGB = (249, 188, 128)


@pytest.fixture(scope="module")
def project(renderer: Renderer, env: dict[str, str]) -> Path:
    path = renderer.fresh("copier", maturity_level="1")
    run(["make", "setup"], path, env, label="monitoring: make setup")
    run(["make", "pipeline"], path, env, label="monitoring: make pipeline")
    return path


def wait_for(url: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} did not answer 200 within {seconds} s")


def contract(project: Path) -> dict:
    return yaml.safe_load((project / "schema.yaml").read_text())


def traffic(project: Path, env: dict[str, str], log: str, labels: str, *options: str) -> int:
    """The test split (`options`: shifted) as prediction log in `log`, and its labels; returns
    the number of records sent."""
    requests = project / f"{log.replace('/', '-')}-requests.json"
    command = ["uv", "run", "--frozen", "python", TRAFFIC, requests, labels, *options]
    run(command, project, env, label="monitoring: traffic")
    sent = json.loads(requests.read_text())
    serve(project, env, project / log, sent)
    return sum(len(request["records"]) for request in sent)


def serve(project: Path, env: dict[str, str], log: Path, requests: list[dict]) -> None:
    """Serve the champion, logging to `log`; send it `requests` over HTTP; stop it cleanly
    (SIGTERM: the log is complete when the server has exited)."""
    port = free_port()
    server = subprocess.Popen(
        [project / ".venv" / "bin" / "python", "-m", "tabular_model", "serve",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=project,
        env=env | {"TABULAR_MODEL_PREDICTION_LOG_DIR": str(log)},
        stdout=subprocess.DEVNULL,
        stderr=(project / f"{log.name}.server.txt").open("w"),
    )  # fmt: skip
    try:
        wait_for(f"http://127.0.0.1:{port}/ready")
        for request in requests:
            sent = urllib.request.Request(
                f"http://127.0.0.1:{port}/predict",
                data=json.dumps({"records": request["records"]}).encode(),
                headers={"Content-Type": "application/json", "X-Request-ID": request["request_id"]},
            )
            with urllib.request.urlopen(sent, timeout=30) as answer:
                assert json.loads(answer.read())["request_id"] == request["request_id"]
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)


def report(project: Path, folder: str = "reports/monitoring") -> dict:
    return json.loads((project / folder / "report.json").read_text())


@pytest.fixture(scope="module")
def clean(project: Path, env: dict[str, str]) -> dict:
    sent = traffic(project, env, "logs/predictions", "labels.csv")
    run(["make", "monitor"], project, env, label="monitoring: make monitor (the test split)")
    return report(project) | {"sent": sent}


@pytest.fixture(scope="module")
def shifted(project: Path, env: dict[str, str]) -> tuple[list[str], int, dict]:
    features = contract(project)["features"]
    numeric = [name for name, spec in features.items() if spec["dtype"] in ("float", "int")]
    moved = numeric[: len(features) // 2 + 1]  # more than half of the features
    assert len(moved) > len(features) / 2, "the sample has enough numeric features"
    shifts = [part for name in moved for part in ("--shift", name)]
    traffic(project, env, "shifted-log", "shifted-labels.csv", *shifts)
    args = "--current shifted-log --output-dir reports/shifted --fail-on-drift"
    outcome = run(["make", "monitor", f"ARGS={args}"], project, env, check=False)
    return moved, outcome.code, report(project, "reports/shifted")


def test_traffic_like_the_test_split_needs_no_retraining(clean: dict) -> None:
    assert clean["retrain_needed"] is False
    assert clean["dataset"]["drift"] is False
    assert clean["current"]["rows"] == clean["sent"]
    assert clean["reference"]["source"] == "data/features/train.parquet"
    assert set(clean["predictions"]) == {"prediction", "probability"}
    # the registry's champion, registered by the pipeline moments ago: young enough
    champion = clean["model"]["champion"]
    assert clean["current"]["model_versions"] == {champion["version"]: clean["sent"]}
    assert 0 < champion["age_days"] < champion["max_age_days"]


def test_shifted_traffic_is_drift_naming_the_shifted_features(shifted: tuple) -> None:
    moved, code, result = shifted
    assert code != 0  # make reports the command's status 3 as a failure
    assert result["retrain_needed"] is True
    assert set(moved) <= set(result["dataset"]["drifted_features"])
    assert len(result["dataset"]["drifted_features"]) <= len(moved) + 2


def test_exit_status_3_says_retrain(project: Path, env: dict[str, str], shifted: tuple) -> None:
    command = ["uv", "run", "--frozen", "python", "-m", "tabular_model", "monitor",
               "--current", "shifted-log", "--output-dir", "reports/exit",
               "--fail-on-drift"]  # fmt: skip
    assert run(command, project, env, check=False).code == 3


def test_labels_of_a_model_gone_wrong_raise_a_performance_alert(
    project: Path, env: dict[str, str], clean: dict
) -> None:
    # The clean traffic's labels, shuffled
    # (the requests it writes again are not sent: the clean log stands)
    command = ["uv", "run", "--frozen", "python", TRAFFIC, "unused-requests.json",
               "wrong-labels.csv", "--shuffle-labels"]  # fmt: skip
    run(command, project, env)
    args = "--labels wrong-labels.csv --output-dir reports/labelled"
    run(["make", "monitor", f"ARGS={args}"], project, env)
    result = report(project, "reports/labelled")
    assert result["performance"]["rows"] == clean["sent"]
    assert result["performance"]["alert"] is True
    assert result["retrain_needed"] is True
    assert result["dataset"]["drift"] is False  # the inputs did not move: the world did
    # and the served version's offline score (its run's, from the registry) sits beside its
    # live one, the gap flagged
    (version, scores), *others = result["performance"]["versions"].items()
    assert not others
    assert version == result["model"]["champion"]["version"]
    primary = result["performance"]["primary_metric"]
    assert scores["offline"] == pytest.approx(result["performance"]["champion"][primary])
    assert scores["gap"] == pytest.approx(abs(scores["live"] - scores["offline"]), abs=1e-6)
    assert scores["gap"] > scores["max_gap"]
    assert scores["flagged"] is True
    assert any(alert.startswith(f"model v{version}: live ") for alert in result["alerts"])


def test_bad_input_is_one_clear_line_and_keeps_the_report(
    project: Path, env: dict[str, str], clean: dict
) -> None:
    before = (project / "reports" / "monitoring" / "report.json").read_bytes()
    first, second, third, *_ = contract(project)["features"]  # a file with two of them
    with (project / "broken.csv").open("w", newline="") as broken:
        csv.writer(broken).writerows([[first, second], [1, 2]])
    outcome = run(["make", "monitor", "ARGS=--current broken.csv"], project, env, check=False)
    assert outcome.code != 0
    assert f"error: current: broken.csv lacks columns the schema needs: {third}" in (outcome.stderr)
    assert "Traceback" not in outcome.stderr
    assert (project / "reports" / "monitoring" / "report.json").read_bytes() == before


def test_a_pii_feature_is_served_and_monitored_without_its_values(
    project: Path, env: dict[str, str], clean: dict
) -> None:
    # Given the contract tagging a feature pii, and this deployment's key
    schema_file = project / "schema.yaml"
    kept = schema_file.read_text()
    tagged = contract(project)
    name = next(iter(tagged["features"]))
    tagged["features"][name]["tags"] = ["pii"]
    keyed = env | {"TABULAR_MODEL_PII_KEY": "a key of this deployment"}
    try:
        schema_file.write_text(yaml.safe_dump(tagged, sort_keys=False))
        # When the test split is served over HTTP, and its log monitored
        traffic(project, keyed, "pii-log", "pii-labels.csv")
        args = "--current pii-log --output-dir reports/pii"
        run(["make", "monitor", f"ARGS={args}"], project, keyed, label="monitoring: pii")
    finally:
        schema_file.write_text(kept)
    # Then the log holds a keyed hash for each value, equal for equal values, never a value
    requests = json.loads((project / "pii-log-requests.json").read_text())
    sent = {
        (request["request_id"], index): record[name]
        for request in requests
        for index, record in enumerate(request["records"])
    }
    text = "".join(path.read_text() for path in (project / "pii-log").glob("predictions-*.jsonl"))
    lines = [json.loads(line) for line in text.splitlines()]
    assert len(lines) == len(sent)
    hashes: dict[float, str] = {}
    for line in lines:
        logged = line["inputs"][name]
        assert logged.startswith("hmac-sha256:")
        assert hashes.setdefault(sent[line["request_id"], line["record"]], logged) == logged
    assert len(set(hashes.values())) == len(hashes)
    for value in sent.values():
        assert f"{json.dumps(name)}: {json.dumps(value)}" not in text
    # and the report leaves the number out of drift, saying why
    result = report(project, "reports/pii")
    assert name not in result["features"]
    assert (
        f"{name}: tagged pii, logged as a keyed hash: a number is not compared" in result["notes"]
    )


def test_the_html_report_renders_in_chromium_with_its_plots(
    project: Path, env: dict[str, str], shifted: tuple, tmp_path: Path
) -> None:
    chromium = need("chromium")
    page = project / "reports" / "shifted" / "report.html"
    screenshot = tmp_path / "report.png"
    run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars",
         "--window-size=1280,3200", f"--screenshot={screenshot}", page.as_uri()],
        tmp_path, env, label="monitoring: chromium screenshot",
    )  # fmt: skip
    shutil.copy(screenshot, project / "reports" / "shifted" / "report.png")  # to look at
    # The plots are there: count the pixels of each colour (read with the project's matplotlib)
    count = (
        "import sys, numpy as np, matplotlib.image as image\n"
        "pixels = (image.imread(sys.argv[1])[..., :3] * 255).astype(int)\n"
        "for rgb in sys.argv[2:]:\n"
        "    target = np.array([int(part) for part in rgb.split(',')])\n"
        "    print(int((np.abs(pixels - target).max(axis=-1) <= 10).sum()))\n"
    )
    colours = [",".join(map(str, rgb)) for rgb in (REFERENCE_RGB, CURRENT_RGB)]
    shown = run(["uv", "run", "--frozen", "python", "-c", count, screenshot, *colours],
                project, env).stdout.split()  # fmt: skip
    reference_pixels, current_pixels = (int(value) for value in shown)
    assert reference_pixels > 3000, shown
    assert current_pixels > 3000, shown


def test_the_figures_reach_a_real_pushgateway(
    project: Path, env: dict[str, str], clean: dict, tmp_path: Path
) -> None:
    binary = need("prometheus-pushgateway")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    gateway = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", "--persistence.file="],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "pushgateway.log").open("w"),
    )
    try:
        for _ in range(100):
            try:
                with urllib.request.urlopen(f"{url}/-/ready", timeout=1):
                    break
            except OSError:
                time.sleep(0.1)
        run(["make", "monitor"], project, env | {"TABULAR_MODEL_PUSHGATEWAY_URL": url})
        with urllib.request.urlopen(f"{url}/metrics", timeout=5) as response:
            metrics = response.read().decode()
    finally:
        gateway.terminate()
        gateway.wait(timeout=10)
    group = 'instance="",job="model-monitoring",model="tabular-model"'
    first = next(iter(contract(project)["features"]))
    assert f"model_monitoring_retrain_needed{{{group}}} 0" in metrics
    assert f'model_monitoring_feature_drift{{feature="{first}",{group}}} 0' in metrics
    assert f"model_monitoring_current_rows{{{group}}} {clean['sent']}" in metrics


def test_the_projects_own_monitoring_tests_pass_for_regression(
    renderer: Renderer, env: dict[str, str]
) -> None:
    path = renderer.fresh("copier", maturity_level="2", task="regression")
    # The environment alone (no byte-compiling, git or hooks): these tests need nothing more.
    run(["uv", "sync", "--quiet"], path, env, label="monitoring: uv sync (regression)")
    command = ["uv", "run", "--frozen", "pytest", "-q", "tests/test_monitoring.py",
               "tests/test_monitoring_stats.py"]  # fmt: skip
    outcome = run(command, path, env, label="monitoring: project tests (regression)")
    assert " passed" in outcome.stdout
