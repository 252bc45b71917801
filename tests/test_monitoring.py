"""Monitoring, executed in a rendered level-2 project after `make setup` and `make pipeline` (the
one test_serving.py serves; level 1's `make monitor` is test_own_data.py's): what only a render
shows. Traffic goes over real HTTP to the served champion (`python -m
tabular_model serve`), which writes the prediction log `make monitor` reads: traffic like the
test split is clean, shifted traffic is drift naming the shifted features and exit status 3,
and the HTML report renders in headless Chromium with its plots.

The monitoring job's behaviour (labels and live performance, offline vs online per version, pii,
bad input, the Pushgateway, every log format) is tested in process by the runtime's own tests
(tests/runtime/test_monitoring.py, test_drift.py, test_privacy.py).
"""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest
import yaml
from harness import need
from rendering import ROOT, free_port, run

pytestmark = pytest.mark.slow

TRAFFIC = ROOT / "tests" / "monitoring_traffic.py"
# The plots' colours as drawn (opacity 0.55 on white): reference bars, current bars.
REFERENCE_RGB = (157, 181, 207)
CURRENT_RGB = (249, 188, 128)


@pytest.fixture(scope="module")
def project(served_project: Path) -> Path:
    """The level-2 project test_serving.py serves too (conftest.py)."""
    return served_project


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
