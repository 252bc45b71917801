"""Every command on an install without the runtime's optional parts: one line that names what to
install, never a traceback; a level-0 project's commands need only `training`.

A level-0 install is the runtime with the `training` extra. Another install is simulated in a
fresh interpreter whose imports of the missing extras' modules fail as they would if they were
not installed (an import hook: the development environment has them all, and uninstalling them
is not an option here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from harness import make_project

from mlops_ladder.errors import EXTRAS

# The start of a script run in the project's folder: the modules named by its first argument
# made missing.
BLOCK = r"""
import importlib.abc, sys

BLOCKED = set(sys.argv[1].split(","))


class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, Missing())
sys.path.insert(0, "src")
"""
# Then each command of its second argument: its exit status and what it printed on stderr (or
# what it raised), as JSON.
DRIVER = (
    BLOCK
    + r"""
import contextlib, io, json, logging
from mlops_ladder.commands import main

logging.disable(logging.INFO)  # the commands' progress: only errors matter here
results = {}
for command in json.loads(sys.argv[2]):
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        try:
            code = main(command)
        except SystemExit as exit:
            code = exit.code
        except BaseException as error:
            code = f"raised {type(error).__name__}: {error}"
    results[" ".join(command)] = [code, stderr.getvalue()]
print(json.dumps(results))
"""
)
OPTIONAL = sorted(set(EXTRAS) - {"scipy"})  # scipy comes with scikit-learn: always there
TRAINING = sorted(module for module, extra in EXTRAS.items() if extra == "training")


def run_without(root: Path, blocked: list[str], commands: list[list[str]]) -> dict[str, Any]:
    env = {key: value for key, value in os.environ.items() if key != "MLFLOW_TRACKING_URI"}
    done = subprocess.run(
        [sys.executable, "-c", DRIVER, ",".join(blocked), json.dumps(commands)],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


# What a level-1+ command imports first from the extras, and the extra that installs it.
LEVEL_2 = {
    "tune": "pipeline",
    "train": "pipeline",
    "evaluate": "pipeline",
    "register": "pipeline",
    "promote 1": "pipeline",
    "rollback": "pipeline",
    "serve": "serving",
    "export-model": "pipeline",
    "monitor": "pipeline",
    "score --input data.csv --output scored.csv": "pipeline",
    "users": "pipeline",
    "feature-table": "feast",
    "retrieve": "feast",
    "materialize": "feast",
}


def test_each_level_2_command_without_its_extra_is_one_line_naming_it(tmp_path: Path) -> None:
    # Given a level-2 project with the feature store, on an install without any of the
    # runtime's extras
    made = make_project(tmp_path, level=2, feature_store=True)
    commands = [command.split() for command in LEVEL_2]
    # When each command that needs one runs
    results = run_without(made.root, OPTIONAL, commands)
    # Then each stops at once with one line naming the extra to add, and no traceback
    failures = []
    for command, extra in LEVEL_2.items():
        code, error = results[command]
        if (
            code != 1
            or error.count("\n") != 1
            or "which is not installed" not in error
            or f"mlops-ladder[{extra}]" not in error
        ):
            failures.append(f"{command}: {code} {error!r}")
    assert not failures, "\n".join(failures)
    assert not (made.root / "reports").exists()  # stopped before any work


def test_the_spark_engine_without_pyspark_names_the_group_to_install(tmp_path: Path) -> None:
    made = make_project(tmp_path, level=1)
    command = "score --input data.csv --output scored.csv --engine spark"
    code, error = run_without(made.root, ["pyspark"], [command.split()])[command]
    assert code == 1
    assert error == (
        "error: this command needs pyspark, which is not installed: run `make setup "
        "GROUPS=spark` (the project's `spark` dependency group: mlops-ladder[spark])\n"
    )


@pytest.mark.parametrize("task", ["regression"])
def test_a_level_0_project_needs_only_training_and_says_what_level_1_adds(
    tmp_path: Path, task: str
) -> None:
    # Given a level-0 project (light parameters) on an install with no extra but `training`
    made = make_project(tmp_path, task=task, level=0)
    forest = made.params()["train"]["random_forest"]
    made.set_params(
        tune={
            "n_trials": 2,
            "cv_folds": 2,
            "space": {"random_forest": {"n_estimators": {"low": 5, "high": 10}}},
        },
        train={"random_forest": {**forest, "n_estimators": 10}},
        evaluate={"importance_repeats": 1, "backtest_windows": 3},
    )
    record = json.dumps(
        {"age": 50, "sex": 1, "bmi": 25, "bp": 90, "tc": 190, "ldl": 110}
        | {"hdl": 50, "tch": 4, "ltg": 4.6, "glu": 90}
    )
    stages = ["ingest", "validate", "split", "featurize", "tune", "train", "evaluate"]
    level_1 = [
        *("register", "promote", "rollback", "serve", "export-model", "monitor", "score"),
        "users",
    ]
    commands = [
        *([stage] for stage in stages),
        ["predict", "data/processed/test.parquet", "--output", "predicted.csv"],
        ["explain", record, "--json"],
        ["readiness"],
        ["eject", "--list"],
        *([command] for command in level_1),
    ]
    # When every command runs
    results = run_without(made.root, sorted(set(OPTIONAL) - set(TRAINING)), commands)
    # Then the level's own commands all work without another extra (readiness scores the last
    # `make test`, which did not run here: its own one-line error, about that)
    for command in [*stages, "predict", "explain", "eject"]:
        code, error = next(value for key, value in results.items() if key.startswith(command))
        assert code == 0, (command, error)
    assert (made.root / "predicted.csv").is_file()
    code, error = results["readiness"]
    assert (code, error.count("\n")) == (1, 1), error
    assert "reports/tests.json is missing" in error
    # and each command of level 1 is one line saying how to get there
    for command in level_1:
        code, error = results[command]
        assert code == 1, (command, error)
        assert error == (
            f"error: `{command}` needs the model registry of level 1, and this project is "
            "level 0: climb with `copier update --data maturity_level=1` (docs: upgrading), "
            "which adds it and its extras\n"
        ), command


def test_the_accounts_command_without_mlflows_login_names_the_team_group(tmp_path: Path) -> None:
    made = make_project(tmp_path, level=1)
    code, error = run_without(made.root, ["flask_wtf"], [["users"]])["users"]
    assert code == 1
    assert error == (
        "error: this command needs flask_wtf, which is not installed: run `make setup "
        "GROUPS=team` (the project's `team` dependency group: mlops-ladder[team])\n"
    )


def test_without_the_training_extra_a_stage_names_it_and_serving_needs_it_not(
    tmp_path: Path,
) -> None:
    # Given a level-1 project on an install without `training` (Optuna, matplotlib, pyarrow:
    # what the serving image leaves out)
    made = make_project(tmp_path, level=1)
    stages = ["ingest", "validate", "split", "featurize", "tune", "train"]
    # When the stages that read or write the pipeline's Parquet files, or tune, run
    results = run_without(made.root, TRAINING, [[stage] for stage in stages])
    # Then each stops with one line: `make setup` installs the pipeline group's packages
    for stage in stages:
        code, error = results[stage]
        assert (code, error.count("\n")) == (1, 1), (stage, error)
        assert "which is not installed here: run `make setup`" in error, (stage, error)
        assert "mlops-ladder[training]" in error, (stage, error)
    assert not (made.root / "data" / "raw").exists()  # stopped before writing
    # And the serving app, its model loading and its compiled engine import none of them
    serving = (
        "import mlops_ladder.serving.loading, mlops_ladder.serving.inference\n"
        "from mlops_ladder.serving.app import create_app\n"
        "create_app()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", BLOCK + serving, ",".join(TRAINING)],
        cwd=made.root,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
