"""A generated project's operational files, held to the runtime they serve: the Prometheus alert
rules watch the series the serving app exposes and fire when they should (promtool), code
owners review every file of what the runtime calls the model spec, Dependabot watches every
ecosystem. The files are the template's own, rendered as the engines render them.
"""

from __future__ import annotations

import inspect
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from harness import TEMPLATE, answers, need, render

from mlops_ladder.serving import telemetry as serving_telemetry
from mlops_ladder.train import MODEL_SPEC

TELEMETRY = (
    Path(__file__).resolve().parents[2] / "src" / "mlops_ladder" / "serving" / "telemetry.py"
)
# What each ecosystem reads: the project (uv.lock comes beside it at `make setup`), the
# workflows, the Dockerfile.
ECOSYSTEMS = {"uv": "pyproject.toml", "github-actions": ".github/workflows", "docker": "Dockerfile"}


def in_template(path: str) -> bool:
    """Whether a level-2 project gets this file or folder (plain, or rendered from .jinja)."""
    return (TEMPLATE / path).exists() or (TEMPLATE / f"{path}.jinja").exists()


@pytest.mark.parametrize("level", [1, 2])
def test_the_alert_rules_fire_on_latency_errors_and_memory(tmp_path: Path, level: int) -> None:
    promtool = need("promtool", package="prometheus")
    # Given the alert rules shipped for the serving app, rendered, beside their unit test
    rules_text = render("deploy/prometheus/alerts.yml", answers("classification", level))
    (tmp_path / "alerts.yml").write_text(rules_text)
    shutil.copyfile(
        TEMPLATE / "deploy" / "prometheus" / "alerts_test.yml", tmp_path / "alerts_test.yml"
    )
    rules = yaml.safe_load(rules_text)
    alerts = {rule["alert"]: rule["expr"] for group in rules["groups"] for rule in group["rules"]}
    assert set(alerts) >= {"ServingLatencyHigh", "ServingErrorRateHigh", "ServingMemoryHigh"}
    # Then the series they watch are the ones the app defines for /metrics
    telemetry = inspect.getsource(serving_telemetry)
    for alert, metric, series in [
        ("ServingLatencyHigh", "http_request_duration_seconds", "_bucket"),
        ("ServingErrorRateHigh", "http_requests", "_total"),
    ]:
        assert f'"{metric}"' in telemetry, f"the app no longer exposes {metric}"
        assert metric + series in alerts[alert], alert
    # And each fires on a series that breaks it and stays silent on a healthy one
    done = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout + done.stderr


def test_broken_alert_rules_fail_their_unit_test(tmp_path: Path) -> None:
    # The unit test can fail: rules that fire at twice the latency stay silent on its series
    promtool = need("promtool", package="prometheus")
    rules = render("deploy/prometheus/alerts.yml", answers("classification", 2))
    assert ") > 0.25" in rules
    (tmp_path / "alerts.yml").write_text(rules.replace(") > 0.25", ") > 0.6"))
    shutil.copyfile(
        TEMPLATE / "deploy" / "prometheus" / "alerts_test.yml", tmp_path / "alerts_test.yml"
    )
    done = subprocess.run(
        [promtool, "test", "rules", "alerts_test.yml"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert done.returncode != 0
    assert "ServingLatencyHigh" in done.stdout + done.stderr


def test_code_owners_review_every_file_of_the_model_spec() -> None:
    # Given CODEOWNERS (GitHub requires their review where branch protection says so)
    context = {**answers("classification", 2), "github_owner": "example-org"}
    rules = {}
    for line in render(".github/CODEOWNERS", context).splitlines():
        if line.strip() and not line.startswith("#"):
            pattern, *owners = line.split()
            rules[pattern.strip("/")] = owners
    # Then every part of what the runtime records as specifying a model has an owner
    for part in MODEL_SPEC:
        assert rules.get(part) == ["@example-org"], f"CODEOWNERS: no owner for {part}"


def test_dependabot_watches_every_ecosystem() -> None:
    # Given the Dependabot configuration
    config = yaml.safe_load((TEMPLATE / ".github" / "dependabot.yml").read_text())
    assert config["version"] == 2
    updates = {update["package-ecosystem"]: update for update in config["updates"]}
    # Then it watches the Python project, the workflows' actions and the base image
    assert set(updates) >= set(ECOSYSTEMS), sorted(updates)
    for ecosystem, watched in ECOSYSTEMS.items():
        update = updates[ecosystem]
        for folder in update.get("directories") or [update["directory"]]:
            folder = folder.strip("/")
            # the file itself, or one named after it (deploy/mlflow.Dockerfile)
            named = any(watched in path.name for path in (TEMPLATE / folder).iterdir())
            found = in_template(f"{folder}/{watched}" if folder else watched) or named
            assert found, f"{ecosystem}: no {watched} in {folder or 'the root'}"
        assert update["schedule"]["interval"] in {"daily", "weekly", "monthly"}
    # and the hashed requirements the images install
    pip = updates["pip"]["directory"].strip("/")
    assert sorted(path.name for path in (TEMPLATE / pip).glob("*.txt")) == [
        "mlflow-server.txt",
        "uv.txt",
    ]
