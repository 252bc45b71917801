"""Tracking and the registry gate: what a run records, the gate promoting a good model and
refusing a bad one (the champion stays), promote and rollback, a model of a new contract (its
champion compared with on its own columns where the data has them, else not).

The projects ran their stages once (trained.py): the stages' own champion is only read here;
every test that registers does it under a model name of its own, in the project's MLflow store.
"""

from __future__ import annotations

import json
import math
import os
import pickle
import shutil
import tempfile
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import yaml
from harness import free_port
from mlflow import MlflowClient
from trained import MODEL_NAME, Trained, own_tracking_uri, records_of, shared

from mlops_ladder import features, integrity, metrics, registry, tracking
from mlops_ladder.commands import main, report_decision
from mlops_ladder.config import Settings
from mlops_ladder.evaluate import evaluate
from mlops_ladder.model import make_baselines
from mlops_ladder.schema import Schema
from mlops_ladder.train import describe, fit
from mlops_ladder.users import ACCOUNTS

ENV = "TABULAR_MODEL_"


@pytest.fixture(autouse=True)
def _tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    own_tracking_uri(monkeypatch)


# Both samples where the gate depends on the task (its metrics, its baselines: `job`); the
# classification sample alone for the rest (`sample`).
@pytest.fixture(scope="module", params=["classification", "regression"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return shared(request.param, tmp_path_factory)


@pytest.fixture
def job(built: Trained, monkeypatch: pytest.MonkeyPatch) -> Iterator[Trained]:
    """A sample project of each task, the test running in it (outside a workflow: where the
    commit rule applies, the test says so)."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    with built.inside():
        yield built


@pytest.fixture
def sample(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The classification sample only: for what does not depend on the task."""
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    found = shared("classification", tmp_path_factory)
    with found.inside():
        yield found


def client_of(settings: Settings) -> MlflowClient:
    return registry.client_for(settings)


def aliases(settings: Settings) -> dict[str, str]:
    found = client_of(settings).get_registered_model(settings.model_name).aliases
    return {alias: str(version) for alias, version in found.items()}


def track(
    job: Trained, settings: Settings, model: Any, schema: Schema | None = None
) -> tuple[dict[str, str], dict[str, Any]]:
    """Log a training run as the train stage does: its run, and the model's metadata."""
    schema = schema or job.schema
    metadata = describe(model, *job.data_files, schema, job.params)
    run = tracking.log_training(settings, model, metadata, job.train_features, schema, job.params)
    return run, metadata


def gate(
    job: Trained,
    settings: Settings,
    model: Any,
    report: dict[str, Any],
    schema: Schema | None = None,
    metadata_changes: dict[str, Any] | None = None,
    test_split: pd.DataFrame | None = None,
) -> registry.Decision:
    """Track `model` and take it through the gate, as the train and register stages do (on the
    project's test split, or `test_split`)."""
    run, metadata = track(job, settings, model, schema)
    metadata = {**metadata, **(metadata_changes or {})}
    split = job.test_split if test_split is None else test_split
    return registry.register(
        settings, job.params, schema or job.schema, run, report, split, metadata
    )


def register_champion(job: Trained) -> tuple[Settings, registry.Decision]:
    """The project's model under a new name, through the gate: its first champion."""
    settings = job.settings_for()
    decision = gate(job, settings, job.model, job.report)
    assert decision.promoted, decision.reasons
    return settings, decision


# ----------------------------------------------------------------------------------------------
# What the stages tracked
# ----------------------------------------------------------------------------------------------
def test_the_stages_track_the_run_and_register_a_champion(job: Trained) -> None:
    decision = json.loads(job.settings.registration_report.read_text())
    assert decision["promoted"], decision["reasons"]
    client = client_of(job.settings)
    champion = client.get_model_version_by_alias(MODEL_NAME, "champion")
    assert str(champion.version) == decision["version"] == "1"
    assert champion.run_id == job.metadata["mlflow"]["run_id"]
    run = client.get_run(champion.run_id)
    # The run records what it needs to be reproduced and explained: data versions, seed, params
    assert run.data.tags["data.raw_md5"] == job.metadata["data"]["raw"]["md5"]
    assert run.data.tags["data.train_md5"] == job.metadata["data"]["train"]["md5"]
    assert run.data.tags["git.commit"] == "none"  # a project folder outside git
    assert run.data.params["seed"] == str(job.params.seed)
    assert run.data.params["task"] == job.task
    assert run.data.params["train.estimator"] == job.params.train.estimator
    # the training and the test scores (evaluate's, added to the same run)
    primary = job.params.quality.primary_metric
    assert run.data.metrics[f"train_{primary}"] == pytest.approx(
        job.metadata["metrics"]["train"][primary]
    )
    assert run.data.metrics[f"test_{primary}"] == pytest.approx(job.report["test"][primary])
    assert run.data.tags["quality.passed"] == "True"
    # and the artifacts: the evaluation, the model's metadata, the contract, the model
    evaluation = {item.path for item in client.list_artifacts(run.info.run_id, "evaluation")}
    assert "evaluation/metrics.json" in evaluation
    top = {item.path for item in client.list_artifacts(run.info.run_id)}
    assert {"metadata.json", "schema.yaml"} <= top
    assert tracking.read_metadata_of_run(run.info.run_id)["inputs"] == job.schema.feature_names
    # The registered version is the model the stages trained
    import mlflow.sklearn

    served = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}@champion")
    records = job.test_records
    assert served.predict(records).tolist() == job.model.predict(records).tolist()


def test_the_study_is_tracked_in_one_run_with_its_trials(sample: Trained) -> None:
    # Given the tune stage's report, which names its MLflow run
    report = json.loads(sample.settings.tuning_report.read_text())
    client = client_of(sample.settings)
    study = client.get_run(report["mlflow"]["run_id"])
    metric = report["metric"]
    # Then the run holds the best and the configured scores and the best hyperparameters
    assert study.data.metrics[f"best_cv_{metric}"] == report["best_score"]
    assert study.data.metrics[f"configured_cv_{metric}"] == report["configured_score"]
    for name, value in report["best_params"].items():
        assert study.data.params[f"best.{name}"] == str(value)
    # and every trial: its score as the curve's step, its hyperparameters in the trials table
    assert len(report["trials"]) == sample.params.tune.n_trials == 3
    curve = client.get_metric_history(study.info.run_id, f"cv_{metric}")
    assert sorted((point.step, point.value) for point in curve) == sorted(
        (trial["number"], trial["score"]) for trial in report["trials"]
    )
    table = client.load_table(study.info.experiment_id, "trials.json", [study.info.run_id])
    reported = [
        {"trial": trial["number"], **trial["params"], f"cv_{metric}": trial["score"]}
        for trial in report["trials"]
    ]
    tracked = table.to_dict(orient="records")
    assert sorted(map(_canonical, tracked)) == sorted(map(_canonical, reported))
    # and no nested runs: the study is one run
    nested = client.search_runs(
        [study.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{study.info.run_id}'",
    )
    assert nested == []


def _canonical(row: dict[str, Any]) -> str:
    """A row as text, alike whether a value went through a table (numpy scalars, ints as floats
    beside a missing value, which is NaN there, floats to 10 digits) or not."""

    def plain(value: object) -> object:
        value = value.item() if hasattr(value, "item") else value  # numpy scalar -> Python
        if isinstance(value, float) and math.isnan(value):
            return None
        if isinstance(value, int | float) and not isinstance(value, bool):
            return round(float(value), 9)  # pandas writes the table's floats to 10 digits
        return value

    return json.dumps({key: plain(value) for key, value in row.items()}, sort_keys=True)


def test_bad_data_stops_at_validate_naming_each_problem(
    sample: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given a copy of the data with text in a number column and a shifted range
    monkeypatch.setenv(f"{ENV}REPORTS_DIR", str(tmp_path / "reports"))  # the project's untouched
    schema = sample.schema
    frame = pd.read_parquet(sample.settings.raw_data)
    bounded = [name for name in schema.numeric if schema.features[name].max is not None]
    first, second = schema.numeric[0], bounded[-1]
    frame[first] = "unknown"
    frame[second] = frame[second].astype("float64") + 1e9
    frame.to_csv(tmp_path / "corrupt.csv", index=False)
    champion = aliases(sample.settings)["champion"]
    # When it is validated
    code = main(["validate", "--input", str(tmp_path / "corrupt.csv")])
    # Then validation fails and names every problem; the champion is untouched
    error = capsys.readouterr().err
    assert code == 1
    for check in (f"{first}.dtype", f"{second}.max"):
        assert check in error
    written = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert written["passed"] is False
    assert aliases(sample.settings)["champion"] == champion


@pytest.mark.parametrize(("on_fail", "code"), [("error", 1), ("warn", 0)])
def test_a_refusal_fails_the_stage_unless_params_say_warn(
    tmp_path: Path,
    on_fail: str,
    code: int,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Given a model the gate refused
    refused = registry.Decision(
        "model", "2", False, "1", "1", ["test roc_auc 0.7 misses the bar 0.95"]
    )
    # When the decision is reported
    result = report_decision(refused, tmp_path / "registration.json", on_fail)
    # Then the stage fails (error) or only reports it (warn), and the decision is on disk
    assert result == code
    assert json.loads((tmp_path / "registration.json").read_text())["promoted"] is False
    assert "misses the bar" in capsys.readouterr().err + caplog.text


# ----------------------------------------------------------------------------------------------
# The gate
# ----------------------------------------------------------------------------------------------
def test_a_model_that_passes_the_gate_becomes_champion(sample: Trained) -> None:
    settings, decision = register_champion(sample)
    assert decision.champion_before is None
    assert decision.champion_after == decision.version == "1"
    assert aliases(settings) == {"champion": "1", "challenger": "1"}
    version = client_of(settings).get_model_version(settings.model_name, "1")
    assert version.tags["gate"] == "passed"
    assert version.tags["promoted_by"] == "gate"


def test_the_gate_refuses_a_crippled_model_and_keeps_the_champion(job: Trained) -> None:
    settings, champion = register_champion(job)
    # Given a model that only ever predicts the class prior (or the mean)
    dummy = make_baselines(job.params.seed, job.task)["dummy"]
    crippled = fit(job.train_features, job.schema, dummy)
    crippled_report = evaluate(crippled, job.test_split, job.train_features, job.schema, job.params)
    # When it goes through the gate
    decision = gate(job, settings, crippled, crippled_report)
    # Then it is registered as challenger, refused, and the champion stays
    assert not decision.promoted
    assert any("does not beat the dummy baseline" in reason for reason in decision.reasons)
    assert aliases(settings) == {"champion": champion.version, "challenger": decision.version}
    assert decision.champion_after == champion.version
    refused = client_of(settings).get_model_version(settings.model_name, decision.version)
    assert refused.tags["gate"] == "refused"
    assert "does not beat the dummy baseline" in refused.tags["gate.reasons"]
    assert f"refused by the gate (v{champion.version} stays)" in decision.summary()


def test_the_gate_refuses_a_model_clearly_worse_than_the_champion(sample: Trained) -> None:
    settings, champion = register_champion(sample)
    # Given a challenger that clears every bar but scores below the champion by more than the
    # allowed drop on the same test data
    primary = sample.params.quality.primary_metric
    step = sample.params.gate.max_drop_vs_champion + 0.01
    lower = step if metrics.higher_is_better(primary) else -step
    report = sample.report
    worse = {**report, "test": {**report["test"], primary: report["test"][primary] - lower}}
    # When it goes through the gate
    decision = gate(sample, settings, sample.model, worse)
    # Then it is refused for being worse than the champion, which stays
    assert not decision.promoted
    assert "worse than the champion" in " ".join(decision.reasons)
    assert aliases(settings)["champion"] == champion.version
    # and a challenger within the allowed drop is promoted
    close = {**report, "test": {**report["test"], primary: report["test"][primary]}}
    again = gate(sample, settings, sample.model, close)
    assert again.promoted, again.reasons
    assert aliases(settings)["champion"] == again.version != champion.version


def without(schema: Schema, column: str) -> Schema:
    """The contract with one input column fewer: moved to `ignored`, as a user would."""
    kept = {name: spec for name, spec in schema.features.items() if name != column}
    ignored = {**schema.ignored, column: "moved out of the features"}
    return schema.model_copy(update={"features": kept, "ignored": ignored})


def linear_on(job: Trained, schema: Schema) -> tuple[Any, dict[str, Any]]:
    """The linear baseline's model fitted on `schema`'s inputs, and its evaluation."""
    linear = make_baselines(job.params.seed, job.task)["linear"]
    model = fit(job.train_features, schema, linear)
    return model, evaluate(model, job.test_split, job.train_features, schema, job.params)


def test_a_champion_of_other_inputs_is_compared_on_its_own_columns(sample: Trained) -> None:
    settings, champion = register_champion(sample)
    # Given a model trained on one feature fewer than the champion (a weak one, moved to
    # ignored), as good as the champion on the test split
    needed = {column for feature in features.declared() for column in feature.inputs}
    schema = sample.schema
    dropped = next(name for name in reversed(schema.feature_names) if name not in needed)
    fewer = without(schema, dropped)
    other, other_report = linear_on(sample, fewer)
    assert other_report["quality"]["passed"], other_report["quality"]["failures"]
    # When it goes through the gate
    decision = gate(sample, settings, other, other_report, schema=fewer)
    # Then the contract change is recorded, and the champion was scored with its own columns
    # of the same test rows (the split keeps the ignored ones), costs included: it passes
    assert decision.champion_before == champion.version
    assert decision.new_contract == "inputs: 1 gone, 0 new"
    assert decision.champion_compared
    assert decision.not_compared is None
    assert decision.costs is not None
    assert decision.costs["compared"] is True
    assert decision.promoted, decision.reasons
    assert aliases(settings)["champion"] == decision.version
    assert "compared with the champion" in decision.summary()
    assert decision.to_dict()["new_contract"] == decision.new_contract
    assert decision.to_dict()["champion_compared"] is True
    tags = client_of(settings).get_model_version(settings.model_name, decision.version).tags
    assert tags["gate.new_contract"] == decision.new_contract
    assert tags["gate.champion_compared"] == "yes"


def test_a_model_worse_without_a_strong_input_is_refused(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the diabetes sample's champion, and a model trained without bmi (its strongest
    # input, moved to ignored): it clears the quality bar, its baselines lacking bmi as well,
    # but scores clearly below the champion
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    job = shared("regression", tmp_path_factory)
    with job.inside():
        settings, champion = register_champion(job)
        fewer = without(job.schema, "bmi")
        worse, worse_report = linear_on(job, fewer)
        assert worse_report["quality"]["passed"], worse_report["quality"]["failures"]
        # When it goes through the gate
        decision = gate(job, settings, worse, worse_report, schema=fewer)
    # Then the champion, scored with its own inputs on the same test rows, stays: the refusal
    # names the drop and the column this model lacks
    primary = job.params.quality.primary_metric
    assert decision.new_contract == "inputs: 1 gone, 0 new"
    assert decision.champion_compared
    assert not decision.promoted
    assert aliases(settings)["champion"] == champion.version == decision.champion_after
    [reason] = decision.reasons
    assert f"{primary} {worse_report['test'][primary]:.4f} is " in reason
    assert "worse than the champion's" in reason
    assert "which include bmi" in reason
    assert f"make promote VERSION={decision.version}" in reason
    refused = client_of(settings).get_model_version(settings.model_name, decision.version)
    assert refused.tags["gate"] == "refused"
    assert refused.tags["gate.champion_compared"] == "yes"
    assert f"refused by the gate (v{champion.version} stays)" in decision.summary()


@pytest.mark.parametrize("change", ["the target", "a column the data lacks"])
def test_a_champion_that_cannot_be_scored_is_not_compared_and_the_reason_is_recorded(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, change: str
) -> None:
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    job = shared("regression", tmp_path_factory)
    split = job.test_split
    with job.inside():
        settings, champion = register_champion(job)
        if change == "the target":
            # Given a model that predicts bmi from the other columns and the progression: a
            # champion predicting the progression has nothing to be compared on
            features_now = {
                **{name: spec for name, spec in job.schema.features.items() if name != "bmi"},
                "progression": job.schema.features["age"].model_copy(
                    update={"min": None, "max": None}
                ),
            }
            schema = job.schema.model_copy(
                update={
                    "target": job.schema.target.model_copy(
                        update={"name": "bmi", "min": None, "max": None}
                    ),
                    "features": features_now,
                }
            )
            expected = "it predicts another target (progression, this model bmi)"
        else:
            # Given data that no longer has the column ldl, and a model trained without it
            schema = without(job.schema, "ldl")
            split = split.drop(columns=["ldl"])
            expected = "the test split lacks its input ldl: keep it in the data"
        model, report = linear_on(job, schema)
        assert report["quality"]["passed"], report["quality"]["failures"]
        # When it goes through the gate
        decision = gate(job, settings, model, report, schema=schema, test_split=split)
    # Then it is judged on the bar alone, as the first of a new contract, and the decision says
    # that the champion was not compared, and why
    assert decision.new_contract
    assert not decision.champion_compared
    assert decision.promoted, decision.reasons
    assert (decision.not_compared or "").startswith(
        f"not compared with the champion v{champion.version}: "
    )
    assert expected in (decision.not_compared or "")
    assert decision.costs == {"compared": False, "note": decision.not_compared}
    assert f"first of a new contract: {decision.new_contract}; not compared" in decision.summary()
    assert "\n" not in decision.summary()
    written = decision.to_dict()
    assert written["champion_compared"] is False
    assert written["new_contract"] == decision.new_contract
    tags = client_of(settings).get_model_version(settings.model_name, decision.version).tags
    assert tags["gate.champion_compared"] == "no"
    assert expected in tags["gate.not_compared"]


@pytest.mark.parametrize(
    ("theirs", "feature_store", "expected"),
    [
        ({"inputs": ["a", "b"], "target": "y", "classes": [0, 1]}, False, None),
        ({"inputs": ["a", "c"], "target": "y", "classes": [0, 1]}, False, "lacks its input c:"),
        ({"inputs": ["a", "c", "d"], "target": "y", "classes": [0, 1]}, False, "inputs c, d:"),
        ({"inputs": ["a", "c"], "target": "y", "classes": [0, 1]}, True, "feature store"),
        ({"inputs": ["a"], "target": "z", "classes": [0, 1]}, False, "target back to z"),
        ({"inputs": ["a"], "target": "y", "classes": [0, 1, 2]}, False, "other classes"),
        ({"inputs": None, "target": "y", "classes": [0, 1]}, False, "not recorded"),
        (None, False, "metadata cannot be read"),
    ],
)
def test_what_keeps_a_champion_of_another_contract_from_being_compared(
    theirs: dict[str, Any] | None, feature_store: bool, expected: str | None
) -> None:
    # The challenger takes a (b moved to ignored: still in the test split), predicts y in 0/1
    ours = {"inputs": ["a"], "target": "y", "classes": [0, 1]}
    split = pd.DataFrame({"a": [1.0], "b": [2.0], "y": [0]})
    found = registry.comparison_obstacle(theirs, ours, split, feature_store)
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert expected in found
        assert "\n" not in found


@pytest.mark.parametrize(
    ("git", "refusal"),
    [
        ({"commit": "0" * 40, "dirty": True, "changed": ["params.yaml"]}, "(params.yaml)"),
        ({"commit": None, "dirty": None, "changed": []}, "outside a git commit"),
    ],
)
def test_in_a_workflow_the_gate_refuses_a_model_of_uncommitted_code(
    sample: Trained, monkeypatch: pytest.MonkeyPatch, git: dict[str, Any], refusal: str
) -> None:
    settings, champion = register_champion(sample)
    # When a good model trained from uncommitted changes, or outside any commit, goes through
    # the gate in a GitHub workflow (params.yaml require_committed: ci)
    assert sample.params.gate.require_committed == "ci"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    decision = gate(sample, settings, sample.model, sample.report, metadata_changes={"git": git})
    # Then it is refused, saying why, and the champion stays
    assert not decision.promoted
    assert any(refusal in reason for reason in decision.reasons), decision.reasons
    assert aliases(settings)["champion"] == champion.version
    # And `never` switches the rule off; `ci` applies in a workflow only
    lax = sample.params.model_copy(
        update={"gate": sample.params.gate.model_copy(update={"require_committed": "never"})}
    )
    assert registry.provenance_problems({"git": git}, lax) == []
    monkeypatch.delenv("GITHUB_ACTIONS")
    assert registry.provenance_problems({"git": git}, sample.params) == []


def test_registering_the_same_run_again_adds_no_version(sample: Trained) -> None:
    settings, champion = register_champion(sample)
    # Given the champion's own run, registered a second time
    client = client_of(settings)
    first = client.get_model_version(settings.model_name, champion.version)
    again = registry.register(
        settings,
        sample.params,
        sample.schema,
        {"run_id": first.run_id, "model_uri": first.source},
        sample.report,
        sample.test_split,
        tracking.read_metadata_of_run(first.run_id),
    )
    # Then it is the same version, nothing new is registered, nothing refused
    assert again.version == champion.version
    assert again.reasons == []
    assert not again.promoted
    assert "already the champion" in again.summary()
    assert len(client.search_model_versions(f"name = '{settings.model_name}'")) == 1


# ----------------------------------------------------------------------------------------------
# promote and rollback (the commands)
# ----------------------------------------------------------------------------------------------
def test_promote_and_rollback_move_the_champion(
    sample: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, champion = register_champion(sample)
    monkeypatch.setenv(f"{ENV}MODEL_NAME", settings.model_name)  # what the commands read
    # Given a second version, promoted by hand
    run, _ = track(sample, settings, sample.model)
    second = client_of(settings).create_model_version(settings.model_name, run["model_uri"])
    assert main(["promote", str(second.version)]) == 0
    assert aliases(settings)["champion"] == str(second.version)
    promoted = client_of(settings).get_model_version(settings.model_name, str(second.version))
    assert promoted.tags["promoted_by"] == "promote"
    # When the champion is rolled back
    assert main(["rollback"]) == 0
    # Then the first champion serves again, and the rolled back version says when it was
    assert aliases(settings)["champion"] == champion.version
    back = client_of(settings).get_model_version(settings.model_name, str(second.version))
    assert "rolled_back_at" in back.tags
    # and promoting the champion again changes nothing
    assert not registry.promote(settings, champion.version).promoted


def test_rollback_with_no_earlier_champion_is_a_clear_error(
    sample: Trained, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = register_champion(sample)
    monkeypatch.setenv(f"{ENV}MODEL_NAME", settings.model_name)
    assert main(["rollback"]) == 1
    assert "has no earlier champion to roll back to" in capsys.readouterr().err
    with pytest.raises(registry.RegistryError, match="no registered model named nothing-here"):
        registry.rollback(sample.settings_for("nothing-here"))


def test_promoting_an_unknown_version_is_a_clear_error(
    sample: Trained, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    settings, _ = register_champion(sample)
    monkeypatch.setenv(f"{ENV}MODEL_NAME", settings.model_name)
    assert main(["promote", "99"]) == 1
    assert f"{settings.model_name} has no version 99" in capsys.readouterr().err
    assert aliases(settings)["champion"] == "1"


# ----------------------------------------------------------------------------------------------
# Model trust: the digest recorded at registration, checked before anything is loaded
# ----------------------------------------------------------------------------------------------
class Planted:
    """A pickle that, once loaded, creates a file: the proof that it ran."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return open, (str(self.marker), "w")


def stored_files(settings: Settings, version: str) -> Path:
    """The folder where the (local) artifact store keeps a registered version's files."""
    import mlflow

    entry = client_of(settings).get_model_version(settings.model_name, version)
    model_id = entry.model_id or entry.source.removeprefix("models:/")  # the logged model
    location = mlflow.get_logged_model(model_id).artifact_location
    return Path(urllib.parse.urlparse(location).path)


def ready_status(client: Any, timeout: float = 120) -> dict[str, Any]:
    """/ready once the first attempt to load ended (ready, or failed and saying why)."""
    deadline = time.monotonic() + timeout
    while True:
        answer = client.get("/ready")
        if answer.status_code == 200 or "failed" in answer.json()["status"]:
            return {"code": answer.status_code, **answer.json()}
        assert time.monotonic() < deadline, answer.json()
        time.sleep(0.05)


def test_the_digest_is_recorded_on_the_run_the_version_and_the_report(sample: Trained) -> None:
    # The stages' own champion: registration.json, the version's tag and the run's agree
    client = client_of(sample.settings)
    report = json.loads(sample.settings.registration_report.read_text())
    version = client.get_model_version(MODEL_NAME, report["version"])
    run = client.get_run(version.run_id)
    assert report["model_sha256"].startswith("sha256:")
    assert version.tags[integrity.TAG] == run.data.tags[integrity.TAG] == report["model_sha256"]
    assert sample.metadata["mlflow"]["model_sha256"] == report["model_sha256"]
    # and it is the digest of the files the registry hands out
    with tempfile.TemporaryDirectory() as tmp:
        import mlflow

        uri = f"models:/{MODEL_NAME}/{report['version']}"
        folder = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        assert integrity.digest(Path(folder)) == report["model_sha256"]


def test_a_model_changed_in_the_store_after_registration_is_never_loaded(
    sample: Trained,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from fastapi.testclient import TestClient

    from mlops_ladder.serving.app import create_app
    from mlops_ladder.serving.settings import ServingSettings

    # Given a champion, whose pickle in the artifact store is then replaced by one that runs
    # code when it is loaded (what whoever holds the store's keys could do)
    settings, decision = register_champion(sample)
    assert (
        decision.model_sha256
        == client_of(settings)
        .get_model_version(settings.model_name, decision.version)
        .tags[integrity.TAG]
    )
    pickle_file = stored_files(settings, decision.version) / "model.pkl"
    original = pickle_file.read_bytes()
    marker = tmp_path / "the planted pickle ran"
    pickle_file.write_bytes(pickle.dumps(Planted(marker)))
    uri = f"models:/{settings.model_name}@champion"
    monkeypatch.setenv(f"{ENV}MODEL_NAME", settings.model_name)  # what the commands read
    statuses: list[int] = []
    try:
        # When the server loads it: /ready says why it is not ready, nothing is a 5xx but 503s
        app = create_app(
            ServingSettings(model_uri=uri),
            settings.model_copy(update={"prediction_log_dir": tmp_path}),
        )
        with TestClient(app) as client:
            ready = ready_status(client)
            record = records_of(sample.test_split.head(1), sample.schema)
            answers = [
                client.get("/health"),
                client.get("/model"),
                client.post("/predict", json={"records": record}),
            ]
            statuses = [ready["code"], *(answer.status_code for answer in answers)]
        assert statuses == [503, 200, 503, 503]
        assert "do not match the sha256 recorded at registration" in ready["status"]
        assert f"{settings.model_name} v{decision.version}" in ready["status"]
        # and the commands that load it each stop with one line
        for command in (
            ["export-model", "--output", str(tmp_path / "export"), "--uri", uri],
            [
                "score",
                "--input",
                str(sample.settings.test_split),
                "--output",
                str(tmp_path / "s.csv"),
            ],
            ["promote", decision.version],
        ):
            capsys.readouterr()
            assert main(command) == 1, command
            error = capsys.readouterr().err
            assert "do not match the sha256 recorded at registration" in error, command
            assert error.count("\n") == 1, error
        assert not (tmp_path / "export").exists()
        assert not (tmp_path / "s.csv").exists()
        # and the gate does not load it to compare a new model with: the champion stays
        with pytest.raises(
            integrity.ModelIntegrityError, match=f"the champion {settings.model_name}"
        ):
            gate(sample, settings, sample.model, sample.report)
        assert aliases(settings)["champion"] == decision.version
        # Then the planted code never ran
        assert not marker.exists()
    finally:
        pickle_file.write_bytes(original)
    # And once the file is restored, the same model serves again
    with TestClient(create_app(ServingSettings(model_uri=uri), settings)) as client:
        assert ready_status(client)["code"] == 200
        assert client.get("/model").json()["champion"]["sha256"] == decision.model_sha256


def test_a_version_with_no_recorded_digest_serves_only_once_promoted(sample: Trained) -> None:
    from mlops_ladder.serving.loading import load_model

    # Given a version whose digest was never recorded (registered by an older runtime)
    settings, decision = register_champion(sample)
    client = client_of(settings)
    name, version = settings.model_name, decision.version
    client.delete_model_version_tag(name, version, integrity.TAG)
    client.delete_tag(client.get_model_version(name, version).run_id, integrity.TAG)
    uri = f"models:/{name}/{version}"
    # Then it is not loaded, and the error says what to do
    with pytest.raises(integrity.ModelIntegrityError, match=r"has no recorded sha256.*promote"):
        load_model(uri, settings, sample.schema)
    # When someone promotes it, trusting its files as they are, its digest is recorded
    assert registry.promote(settings, version).model_sha256 == decision.model_sha256
    assert client.get_model_version(name, version).tags[integrity.TAG] == decision.model_sha256
    assert load_model(uri, settings, sample.schema).description.sha256 == decision.model_sha256


def test_an_exported_folder_is_checked_against_the_digest_it_carries(
    sample: Trained, tmp_path: Path
) -> None:
    from mlops_ladder.serving.loading import ModelSourceError, export_model, load_model

    # Given the champion exported, as the image carries it
    folder = tmp_path / "model"
    described = export_model(f"models:/{MODEL_NAME}@champion", sample.settings, folder)
    exported = json.loads((folder / "registered_model.json").read_text())
    assert exported["sha256"] == described.sha256 == integrity.digest(folder)
    assert load_model(str(folder), sample.settings, sample.schema).description.sha256
    # When a file of it changes, or one is added, then it is refused, with the reason
    example = folder / "input_example.json"
    original = example.read_bytes()
    for change in ("changed", "added", "no digest"):
        if change == "changed":
            example.write_bytes(original.replace(b"]", b" ]", 1))
        elif change == "added":
            (folder / "code").mkdir()
            (folder / "code" / "extra.py").write_text("import os\n")
        else:
            without = {key: value for key, value in exported.items() if key != "sha256"}
            (folder / "registered_model.json").write_text(json.dumps(without))
        with pytest.raises(integrity.ModelIntegrityError) as refused:
            load_model(str(folder), sample.settings, sample.schema)
        expected = "export the model again" if change == "no digest" else "do not match"
        assert expected in str(refused.value).lower(), change
        example.write_bytes(original)
        shutil.rmtree(folder / "code", ignore_errors=True)
    # and a model outside the registry has no digest to check: refused before any download
    with pytest.raises(integrity.ModelIntegrityError, match="outside the registry"):
        load_model("s3://bucket/model", sample.settings, sample.schema)
    with pytest.raises(ModelSourceError, match="no such folder"):
        load_model(str(tmp_path / "absent"), sample.settings, sample.schema)


# ----------------------------------------------------------------------------------------------
# Least privilege in the team platform (deploy/compose.yaml): no root keys outside MinIO's own
# services, a user per role on its bucket only
# ----------------------------------------------------------------------------------------------
def test_the_platform_gives_each_role_its_own_bucket_and_no_root_keys(tmp_path: Path) -> None:
    import re
    import subprocess

    from harness import TEMPLATE, answers, render

    text = render("deploy/compose.yaml", answers("classification", 1))
    services = yaml.safe_load(text)["services"]
    # The root keys are MinIO's and its setup job's, nobody else's
    root = {name for name, service in services.items() if "MINIO_ROOT_USER" in str(service)}
    assert root == {"minio", "buckets"}
    mlflow_env = services["mlflow"]["environment"]
    assert mlflow_env["AWS_ACCESS_KEY_ID"] == "mlflow-server"
    assert mlflow_env["AWS_SECRET_ACCESS_KEY"] == "${MLFLOW_BUCKET_PASSWORD:?set it in deploy/.env}"
    # Every password is a variable the example lists (and `make platform-up` checks), and the
    # example also lists the MLflow accounts' (`make platform-users`: test_users.py)
    example = (TEMPLATE / "deploy" / ".env.example").read_text()
    listed = set(re.findall(r"^([A-Z_]+)=", example, re.MULTILINE))
    accounts = {account.password_key for account in ACCOUNTS}
    assert set(re.findall(r"\$\{([A-Z_]+):\?", text)) | accounts == listed
    # When the setup job's script runs (here with an `mc` that only says what it was asked)
    script = services["buckets"]["command"][0].replace("$$", "$")
    passwords = {name: f"{name.lower()}-value" for name in listed}
    done = subprocess.run(
        ["sh", "-c", 'mc() { echo "mc $*"; }; ' + script.replace("/tmp/", f"{tmp_path}/")],
        env={"PATH": os.environ["PATH"], **passwords},
        capture_output=True,
        text=True,
        check=True,
    )
    calls = done.stdout.splitlines()
    # Then each user gets its own password and one policy, on its own bucket
    users = {  # user: (its policy, its bucket, its password's variable)
        "mlflow-server": ("mlflow-artifacts", "mlflow", "MLFLOW_BUCKET_PASSWORD"),
        "dvc-writer": ("dvc-readwrite", "dvc", "DVC_WRITER_PASSWORD"),
        "dvc-reader": ("dvc-readonly", "dvc", "DVC_READER_PASSWORD"),
    }
    for user, (policy, bucket, variable) in users.items():
        assert f"mc admin user add local {user} {passwords[variable]}" in calls
        assert f"mc admin policy attach local {policy} --user {user}" in calls
        document = json.loads((tmp_path / f"{policy}.json").read_text())
        statement = document["Statement"]
        assert [item["Resource"] for item in statement] == [
            [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
        ]
    # and the reader may only read
    readonly = json.loads((tmp_path / "dvc-readonly.json").read_text())["Statement"][0]
    assert all(action.startswith(("s3:Get", "s3:List")) for action in readonly["Action"])


def test_a_server_gone_in_the_middle_of_a_call_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    # MLflow wraps this connection failure in an error of its own ("Failed to get logged model
    # ..."): the tracking server killed while register tags the model (tests/test_team.py).
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    before = mlflow.get_tracking_uri()

    @tracking.server_errors
    def tag_the_model() -> None:
        MlflowClient().set_logged_model_tags("m-0", {"reviewed": "yes"})

    mlflow.set_tracking_uri(url)
    try:
        with pytest.raises(tracking.TrackingServerError) as gone:
            tag_the_model()
    finally:
        mlflow.set_tracking_uri(before)
    assert f"{url} did not answer (connection refused)" in str(gone.value)
    assert "run the command again" in str(gone.value)
