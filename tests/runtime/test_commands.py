"""The project's command line, stage by stage, on the bundled samples: what `make all` runs; every
command documents itself, and every mistake is one clear line, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import jobs
import pytest
import yaml
from harness import inside, make_project, run

from mlops_ladder.commands import build_parser, main
from mlops_ladder.project import read_identity

STAGES = ["ingest", "validate", "split", "featurize", "tune", "train", "evaluate"]
LEVEL_0 = [
    "ingest",
    "validate",
    "schema",
    "split",
    "featurize",
    "tune",
    "train",
    "evaluate",
    "predict",
    "explain",
    "readiness",
    "eject",
]
LEVEL_1 = ["register", "promote", "rollback", "serve", "export-model", "monitor", "score", "users"]
LEVEL_2 = ["feature-table", "retrieve", "materialize"]


def test_level_0_stages_train_and_evaluate_without_tracking(job: jobs.Job) -> None:
    # The job ran STAGES at level 0 (jobs.py)
    assert list(jobs.STAGES) == STAGES
    report = job.report()
    assert report["task"] == job.task
    assert report["quality"]["passed"], report["quality"]["failures"]
    metadata = json.loads((job.root / "models" / "metadata.json").read_text())
    assert "mlflow" not in metadata  # level 0 tracks nothing
    assert not (job.root / "mlflow.db").exists()
    assert "mlflow" not in job.report("tuning")


def test_the_stages_produce_a_model_and_its_reports(job: jobs.Job) -> None:
    root = job.root
    for name in ("raw/dataset.parquet", "processed/train.parquet", "processed/test.parquet"):
        assert (root / "data" / name).is_file(), name
    for name in ("features/train.parquet", "features/test.parquet"):
        assert (root / "data" / name).is_file(), name
    assert (root / "models" / "model.joblib").is_file()
    for name in ("validation", "feature_cost", "tuning", "metrics"):
        assert (root / "reports" / f"{name}.json").is_file(), name
    assert any((root / "reports" / "figures").glob("*.png"))
    assert any((root / "reports" / "plots").glob("*.csv"))


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
    with inside(tmp_path):
        assert main(["train"]) == 1
    error = capsys.readouterr().err
    assert "params.yaml task is regression" in error
    assert "generate a classification project (copier copy -d task=classification" in error


@pytest.mark.parametrize("level", [0, 1, 2])
def test_each_level_has_its_commands(tmp_path: Path, level: int) -> None:
    make_project(tmp_path, level=level)
    parser = build_parser(read_identity(tmp_path))
    commands = set(parser._subparsers._group_actions[0].choices)
    expected = {*LEVEL_0, *(LEVEL_1 if level >= 1 else []), *(LEVEL_2 if level >= 2 else [])}
    assert commands == expected


@pytest.mark.parametrize("command", [*LEVEL_0, *LEVEL_1, *LEVEL_2, "schema draft"])
def test_every_command_has_help(
    tmp_path: Path, command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, level=2)
    with inside(tmp_path), pytest.raises(SystemExit) as exited:
        main([*command.split(), "--help"])
    assert exited.value.code == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"usage: python -m tabular_model {command}")
    assert len(shown.splitlines()) >= 3  # a sentence of what it does, beyond the usage line


def test_a_level_0_project_has_no_registry_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A level-1 command in a level-0 project: one line saying how to climb to it
    make_project(tmp_path, level=0)
    with inside(tmp_path):
        assert main(["register"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert "`register` needs the model registry of level 1" in error
    assert "copier update --data maturity_level=1" in error


@pytest.mark.parametrize("command", LEVEL_2)
def test_a_feature_store_command_without_the_store_says_how_to_add_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: str
) -> None:
    # A level-2 project generated without the feature store (the default): its params.yaml has
    # no feature_store section (whether or not Feast is installed: the dev environment has not)
    made = make_project(tmp_path, level=2)
    assert "feature_store" not in made.params()
    run(tmp_path, "ingest")
    capsys.readouterr()
    with inside(tmp_path):
        assert main([command]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert "params.yaml has no feature_store section" in error
    assert "copier update -d feature_store=feast" in error


def test_a_typo_in_params_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given params.yaml with a misspelt key
    made = make_project(tmp_path, level=0)
    made.params_file.write_text(made.params_file.read_text().replace("test_size:", "tset_size:"))
    # When a command reads it
    with inside(tmp_path):
        code = main(["split"])
    # Then it stops with a message naming the key, not a traceback
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("error: params.yaml is invalid:\n")
    assert "  split.tset_size: Extra inputs are not permitted" in error
    assert "  split.test_size: Field required" in error


def test_a_wrong_setting_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, level=0)
    monkeypatch.setenv("TABULAR_MODEL_PREDICTION_LOG_RETENTION_DAYS", "-1")
    with inside(tmp_path):
        assert main(["ingest"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: invalid setting: TABULAR_MODEL_PREDICTION_LOG_RETENTION_DAYS")


def test_outside_a_project_the_command_line_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlops_ladder import project

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "something-else"\n')
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(project, "_active", None)
    assert main(["train"]) == 1
    assert "has no [tool.mlops-ladder] table: is this an mlops-ladder project?" in (
        capsys.readouterr().err
    )


def test_a_stage_run_out_of_order_names_what_to_run_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_project(tmp_path, level=0)
    with inside(tmp_path):
        assert main(["evaluate"]) == 1
        assert "model.joblib not found: train a model first" in capsys.readouterr().err
        assert main(["split"]) == 1
        assert "data/raw/dataset.parquet not found" in capsys.readouterr().err


def test_validate_fails_on_broken_data_and_writes_its_report(
    job: jobs.Job, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the ingested data with an unlisted column, checked with its report elsewhere
    broken = job.dataset.assign(unlisted=1.0)
    broken.to_parquet(tmp_path / "broken.parquet")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TABULAR_MODEL_REPORTS_DIR", str(tmp_path / "reports"))
        with inside(job.root):
            assert main(["validate", "--input", str(tmp_path / "broken.parquet")]) == 1
    # Then the command fails naming the rule, and the report says the same
    assert "columns.unexpected: unexpected: unlisted" in capsys.readouterr().err
    report = json.loads((tmp_path / "reports" / "validation.json").read_text())
    assert report["failed"] == ["columns.unexpected"]


def test_tune_on_shortfall_error_fails_a_badly_configured_model_naming_the_values_to_copy(
    job: jobs.Job, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given params.yaml training a forest of one tree of one split, and a short study
    params = yaml.safe_load((job.root / "params.yaml").read_text())
    params["train"]["estimator"] = "random_forest"
    params["train"]["random_forest"].update(n_estimators=1, max_depth=1)
    params["tune"].update(n_trials=2, timeout=None, on_shortfall="error")
    # (the linear model out of the question: on the diabetes sample it beats any forest, and
    # the stage would advise it instead; test_own_data tests that advice)
    params["quality"]["beat_baselines"]["linear"] = -1.0
    params_file = tmp_path / "params.yaml"
    params_file.write_text(yaml.safe_dump(params))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TABULAR_MODEL_PARAMS_FILE", str(params_file))
        patch.setenv("TABULAR_MODEL_REPORTS_DIR", str(tmp_path / "reports"))
        # When the tune stage runs
        with inside(job.root):
            code = main(["tune"])
    # Then it fails with one message saying what to copy where, and reports the study
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("error: train.random_forest scores ")
    assert "copy these into params.yaml train.random_forest:\n" in error
    report = json.loads((tmp_path / "reports" / "tuning.json").read_text())
    assert f"\n    n_estimators: {report['best_params']['n_estimators']}\n" in error
    assert report["passed"] is False
    assert report["configured"]["n_estimators"] == 1
    assert len(report["trials"]) == 2
    assert report["shortfall"] > report["tolerance"]
    assert report["metric"] == {"classification": "roc_auc", "regression": "r2"}[job.task]


@pytest.mark.parametrize(
    ("section", "change", "said"),
    [
        ("split", {"test_size": 1.5}, "split.test_size: Input should be less than 1"),
        ("tune", {"space": {"linear": {"C": {"low": 5, "high": 1}}}}, "low 5 is above high 1"),
        ("tune", {"space": {"linear": {"C": {"low": 0, "high": 1, "log": True}}}}, "log scale"),
        ("tune", {"space": {"linear": {"C": {"log": True}}}}, "give choices, or low and high"),
        ("gate", {"on_fail": "ignore"}, "gate.on_fail: String should match pattern"),
        ("evaluate", {"backtest_windows": 2}, "evaluate.backtest_windows: Input should be"),
        ("task", "ranking", "task: Input should be 'classification' or 'regression'"),
    ],
)
def test_each_malformed_params_entry_is_named(
    tmp_path: Path, section: str, change: object, said: str
) -> None:
    from mlops_ladder.config import load_params
    from mlops_ladder.errors import ConfigError

    made = make_project(tmp_path, level=1)
    made.set_params(**{section: change})
    with pytest.raises(ConfigError) as raised:
        load_params(made.params_file)
    assert str(raised.value).startswith(f"{made.params_file} is invalid:\n  ")
    assert said in str(raised.value)


def test_an_owners_estimator_takes_its_hyperparameters_from_its_own_section(tmp_path: Path) -> None:
    from mlops_ladder.config import load_params

    made = make_project(tmp_path, level=0)
    made.set_params(train={"estimator": "extra_trees", "extra_trees": {"n_estimators": 20}})
    train = load_params(made.params_file).train
    assert train.hyperparameters == {"n_estimators": 20}
    assert set(train.sections) == {"random_forest", "gradient_boosting", "linear", "extra_trees"}
