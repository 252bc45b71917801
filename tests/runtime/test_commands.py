"""The project's command line, stage by stage, on the bundled samples: what `make all` runs."""

from __future__ import annotations

import json

import pytest
from conftest import inside, make_project, run

STAGES = ["ingest", "validate", "split", "featurize", "tune", "train", "evaluate"]


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_level_0_stages_train_and_evaluate_without_tracking(tmp_path, task) -> None:
    made = make_project(tmp_path, task=task, level=0)
    made.set_params(tune={"n_trials": 2})
    run(tmp_path, *STAGES)
    report = json.loads((tmp_path / "reports" / "metrics.json").read_text())
    assert report["task"] == task
    assert report["quality"]["passed"], report["quality"]["failures"]
    metadata = json.loads((tmp_path / "models" / "metadata.json").read_text())
    assert "mlflow" not in metadata  # level 0 tracks nothing
    assert not (tmp_path / "mlflow.db").exists()


def test_level_1_stages_track_and_register_a_champion(tmp_path) -> None:
    made = make_project(tmp_path, level=1)
    made.set_params(tune={"n_trials": 2})
    run(tmp_path, *STAGES, "register")
    decision = json.loads((tmp_path / "reports" / "registration.json").read_text())
    assert decision["promoted"], decision["reasons"]
    with inside(tmp_path):
        from mlflow import MlflowClient

        client = MlflowClient()
        champion = client.get_model_version_by_alias("tabular-model", "champion")
    assert str(champion.version) == decision["version"]


def test_a_task_that_disagrees_with_the_contract_is_one_clear_error(tmp_path, capsys) -> None:
    made = make_project(tmp_path, task="classification", level=0)
    made.set_params(task="regression")
    from mlops_ladder.commands import main

    with inside(tmp_path):
        assert main(["train"]) == 1
    error = capsys.readouterr().err
    assert "params.yaml task is regression" in error
    assert "set task: classification" in error
