"""The pytest plugin (mlops_ladder.testing, loaded through its pytest11 entry point) as a
project's own tests use it: `python -m pytest` in a made project, in a process of its own, with
tests on the fixtures `dataset`, `schema`, `splits`, `model`, `report`, `workspace` and the
`ml_test_score` marker under --strict-markers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest
from harness import make_project, run

pytest_plugins = ["pytester"]

SPEC_TESTS = """
import json

import pytest

from mlops_ladder.model import predict
from mlops_ladder.validate import validate


@pytest.mark.ml_test_score("data-1")
def test_the_data_meets_its_contract(dataset, schema):
    assert validate(dataset, schema).passed


@pytest.mark.ml_test_score("model-4", "model-6")
def test_the_model_clears_the_bar(report, params):
    assert report["primary_metric"] == params.quality.primary_metric
    assert report["quality"]["passed"], report["quality"]["failures"]


def test_the_model_predicts_the_test_split(model, splits, schema):
    predicted, scores = predict(model, splits[1][schema.feature_names])
    assert len(predicted) == len(splits[1])
    assert scores is None  # regression


@pytest.mark.ml_test_score("infrastructure-3")
def test_the_job_ran_in_its_workspace(workspace, ml_project):
    assert ml_project.level == 0
    assert (workspace / "models" / "model.joblib").is_file()
    assert (workspace / "reports" / "metrics.json").is_file()
    metadata = json.loads((workspace / "models" / "metadata.json").read_text())
    assert "mlflow" not in metadata  # level 0: nothing tracked


@pytest.mark.ml_test_score("data-1")
def test_a_broken_copy_of_the_data_fails_its_contract(dataset, schema):
    # fails on purpose: the fixtures' tests can fail
    assert validate(dataset.assign(unlisted=1.0), schema).passed
"""


def pytest_in(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """`python -m pytest` in `root`, as the project's `make test` runs it; each test's outcome
    from the JUnit report."""
    env = {**os.environ, "PYTHONPATH": str(root / "src")}
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)  # bytecode cached, as on a user's machine: seconds per start
    junit = root / "junit.xml"
    command = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", f"--junitxml={junit}"]
    # Plugins of this environment a generated project does not have: seconds of start-up each
    for plugin in ("schemathesis", "hypothesispytest", "hydra_pytest", "anyio"):
        command += ["-p", f"no:{plugin}"]
    done = subprocess.run(
        [*command, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    outcomes = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in ("failure", "error", "skipped")]
        outcomes[case.get("name")] = kinds[0] if kinds else "passed"
    return done, outcomes


def test_a_projects_own_tests_run_on_the_plugins_fixtures(tmp_path: Path) -> None:
    # Given a level-0 project whose tests use the plugin's fixtures and marker, and the pytest
    # settings a generated project has (unknown markers are errors)
    root = tmp_path / "project"
    made = make_project(root, task="regression", level=0)
    # a lighter model and evaluation than the template's: the plugin is the point, not the model
    made.set_params(
        train={"random_forest": {"n_estimators": 30, "min_samples_leaf": 5}},
        evaluate={"importance_repeats": 2, "backtest_windows": 3},
    )
    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
        pyproject.write('addopts = ["-ra", "--strict-markers"]\n')
    (root / "tests").mkdir()
    (root / "tests" / "test_spec.py").write_text(textwrap.dedent(SPEC_TESTS))
    # When its tests run
    done, outcomes = pytest_in(root)
    # Then each ran on the project's data and model: the planted failure fails, the rest pass
    assert outcomes == {
        "test_the_data_meets_its_contract": "passed",
        "test_the_model_clears_the_bar": "passed",
        "test_the_model_predicts_the_test_split": "passed",
        "test_the_job_ran_in_its_workspace": "passed",
        "test_a_broken_copy_of_the_data_fails_its_contract": "failure",
    }, done.stdout[-3000:]
    assert done.returncode == 1
    # And the project's own folders are untouched: outputs and runs went to temporary ones,
    # but for the run's record, which the readiness card scores (reports/tests.json)
    for name in ("models", "mlflow.db", "mlartifacts", "data/raw"):
        assert not (root / name).exists(), name
    assert [path.name for path in (root / "reports").iterdir()] == ["tests.json"]


TRACKED_TESTS = """
import os


def test_runs_go_to_a_store_of_the_session(ml_project):
    assert ml_project.tracked
    store = os.environ["MLFLOW_TRACKING_URI"]
    assert store.startswith("sqlite:///")
    assert str(ml_project.root) not in store
    artifacts = os.environ[ml_project.env_prefix + "ARTIFACTS_DIR"]
    assert str(ml_project.root) not in artifacts
"""


def test_a_tracked_projects_tests_track_to_a_store_of_their_own(tmp_path: Path) -> None:
    root = tmp_path / "project"
    make_project(root, task="classification", level=1)
    (root / "tests").mkdir()
    (root / "tests" / "test_store.py").write_text(TRACKED_TESTS)
    done, outcomes = pytest_in(root, "tests")
    assert outcomes == {"test_runs_go_to_a_store_of_the_session": "passed"}, done.stdout


def test_outside_a_project_the_plugin_skips_its_fixtures_and_keeps_its_marker(
    pytester: pytest.Pytester,
) -> None:
    # In process: outside a project the plugin activates nothing
    pytester.makepyprojecttoml(
        '[project]\nname = "not-a-model"\n\n[tool.pytest.ini_options]\n'
        'addopts = ["--strict-markers"]\n'
    )
    pytester.makepyfile(
        test_other="""
        import pytest


        @pytest.mark.ml_test_score("data-1")
        def test_needs_data(dataset):
            pass


        def test_plain():
            pass
        """
    )
    result = pytester.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, skipped=1)
    assert "is not an mlops-ladder project (no [tool.mlops-ladder])" in result.stdout.str()


TUNED_TESTS = """
import json


def test_the_model_is_the_one_the_pipeline_trains(model, tuning_report, workspace):
    best = json.loads(tuning_report.read_text())["best_params"]
    estimator = model.named_steps["predictor"].named_steps["estimator"]
    assert {name: getattr(estimator, name) for name in best} == best
    metadata = json.loads((workspace / "models" / "metadata.json").read_text())
    assert metadata["hyperparameters"] == best
    assert metadata["hyperparameters_from"] == "tuning"
"""


def test_where_tuning_picks_the_studys_best_the_tests_judge_that_model(tmp_path: Path) -> None:
    # Given a project whose params.yaml trains a crippled forest, and its tune stage's report
    # saying train fits the study's best instead (tune.on_shortfall use_best)
    root = tmp_path / "project"
    made = make_project(root, task="classification", level=0)
    made.set_params(
        train={"random_forest": {"n_estimators": 1, "max_depth": 1}},
        tune={"n_trials": 3, "timeout": None, "on_shortfall": "use_best"},
    )
    run(root, "ingest", "validate", "split", "featurize", "tune")
    assert json.loads((root / "reports" / "tuning.json").read_text())["use_best"]
    # When its tests run, then `model` and the workspace's train are the study's best
    (root / "tests").mkdir()
    (root / "tests" / "test_tuned.py").write_text(TUNED_TESTS)
    done, outcomes = pytest_in(root, "tests")
    assert outcomes == {"test_the_model_is_the_one_the_pipeline_trains": "passed"}, done.stdout


def test_the_tests_write_outputs_and_served_predictions_in_their_workspace(
    tmp_path: Path,
) -> None:
    # Given a level-1 project and the workspace its tests' stages run in
    from harness import inside

    from mlops_ladder.config import Settings
    from mlops_ladder.testing import point_outputs_at

    root, folder = tmp_path / "project", tmp_path / "workspace"
    make_project(root, level=1)
    with inside(root) as identity, pytest.MonkeyPatch.context() as patch:
        # When the plugin points the project's outputs there
        point_outputs_at(root, folder, identity.env_prefix, patch)
        settings = Settings.load()
    # Then every output, and the log of the requests the tests' served app answers, is in the
    # workspace: none is taken for the project's live traffic by `make monitor`
    for path in (
        settings.data_dir,
        settings.models_dir,
        settings.reports_dir,
        settings.prediction_log_dir,
    ):
        assert path.is_relative_to(folder), path
