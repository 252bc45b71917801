"""Pipeline tests: the job of dvc.yaml, run stage by stage on your data through the command line,
ends with a champion; the gate refuses a model clearly worse than it; a rollback moves the
champion back.

`workspace` (mlops-ladder's pytest plugin) runs the stages in a temporary folder with your
params.yaml and schema.yaml; `registered` is the gate's decision on its model;
`rollback_drill` registers versions of it under a name of their own for the rollback.
"""

import json

import pytest
import yaml
from mlops_ladder.commands import main


@pytest.mark.ml_test_score("infrastructure-3")
def test_the_job_ends_with_a_champion(registered) -> None:
    assert registered["promoted"], registered["reasons"]


@pytest.mark.ml_test_score("infrastructure-4", "monitoring-6")
def test_the_gate_refuses_a_crippled_model_and_keeps_the_champion(
    registered, workspace, ml_project, tmp_path, monkeypatch
) -> None:
    # Given params.yaml training a single, one-split tree of the built-in forest
    params = yaml.safe_load((ml_project.root / "params.yaml").read_text())
    params["train"]["estimator"] = "random_forest"
    params["train"]["random_forest"] = {"n_estimators": 1, "max_depth": 1}
    crippled = tmp_path / "params.yaml"
    crippled.write_text(yaml.safe_dump(params))
    monkeypatch.setenv(f"{ml_project.env_prefix}PARAMS_FILE", str(crippled))
    monkeypatch.setenv(f"{ml_project.env_prefix}REPORTS_DIR", str(tmp_path / "reports"))
    # When it is trained, evaluated and put to the gate
    assert main(["train"]) == 0
    assert main(["evaluate"]) == 0
    assert main(["register"]) == 1
    # Then the gate says why, and the champion is the one before
    decision = json.loads((tmp_path / "reports" / "registration.json").read_text())
    assert not decision["promoted"]
    assert decision["reasons"]
    assert decision["champion_after"] == registered["version"]
    # And it timed both models on the same records: latency, throughput, size, training time
    ratios = decision["costs"]["ratios"]
    assert set(ratios) == {"latency_ms", "rows_per_second", "model_bytes", "training_seconds"}


@pytest.mark.ml_test_score("infrastructure-7")
def test_rollback_moves_the_champion_back_and_promote_restores_it(rollback_drill) -> None:
    # Given two versions of the job's model, the second made champion after the first
    first, second = rollback_drill.register(), rollback_drill.register()
    assert rollback_drill.command("promote", first) == 0
    assert rollback_drill.command("promote", second) == 0
    assert rollback_drill.champion() == second
    # When the project's rollback command runs (make rollback, rollback.yml)
    assert rollback_drill.command("rollback") == 0
    # Then the first is the champion again, and promote brings the second back
    assert rollback_drill.champion() == first
    assert rollback_drill.command("promote", second) == 0
    assert rollback_drill.champion() == second
