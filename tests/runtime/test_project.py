"""The project's identity (pyproject.toml `[tool.mlops-ladder]`), the owner's code the runtime
calls through its hooks (their own estimator and metric trained end to end), ejecting a runtime
module, and the message for an optional part that is not installed."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from harness import PACKAGE, ROOT, Made, inside, make_project, run

from mlops_ladder import eject as ejecting
from mlops_ladder import project
from mlops_ladder.errors import ConfigError, missing_extra
from mlops_ladder.metrics import compute_metrics, higher_is_better, known

TABLE = """\
[project]
name = "clinic-model"
description = "Who comes back."

[tool.mlops-ladder]
package = "clinic"
level = 1
features = "clinic.features:DERIVED"
"""


def identity_of(tmp_path: Path, text: str) -> project.Identity:
    (tmp_path / "pyproject.toml").write_text(text)
    return project.read_identity(tmp_path)


def own_package(made: Made, package: str) -> Made:
    """The made project with its package renamed to `package`: a project whose modules this
    test process has not imported yet (the others share the template's)."""
    src = made.root / "src"
    (src / PACKAGE).rename(src / package)
    pyproject = made.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(f'"{PACKAGE}', f'"{package}'))
    return made


# --- identity ----------------------------------------------------------------------------------


def test_the_identity_is_read_from_the_table(tmp_path: Path) -> None:
    identity = identity_of(tmp_path, TABLE)
    assert identity.package == "clinic"
    assert identity.distribution == "clinic-model"
    assert identity.description == "Who comes back."
    assert identity.level == 1
    assert identity.tracked
    assert identity.env_prefix == "CLINIC_"
    assert identity.hooks == {"features": "clinic.features:DERIVED"}
    assert identity.ejected == ()


def test_a_level_0_project_tracks_nothing_and_names_default_to_the_package(tmp_path: Path) -> None:
    identity = identity_of(tmp_path, '[tool.mlops-ladder]\npackage = "my_model"\n')
    assert (identity.level, identity.tracked) == (0, False)
    assert identity.distribution == "my-model"


@pytest.mark.parametrize(
    ("entry", "said"),
    [
        ("levle = 1", "[tool.mlops-ladder]: unknown key levle"),
        ('package = "clinic-model"', "[tool.mlops-ladder] package: give the import name"),
        ("package = 3", "[tool.mlops-ladder] package: give the import name"),
        ("level = 3", "[tool.mlops-ladder] level: 0, 1 or 2, not 3"),
        ('level = "1"', "[tool.mlops-ladder] level: 0, 1 or 2, not '1'"),
        ("level = true", "[tool.mlops-ladder] level: 0, 1 or 2, not True"),
        ('features = "clinic.features.DERIVED"', "features: write it as 'module:attribute'"),
        ('estimators = "a:b:c"', "estimators: write it as 'module:attribute'"),
        ("metrics = 42", "metrics: write it as 'module:attribute'"),
        ('ingest = ["clinic.ingest:ingest"]', "ingest: write it as 'module:attribute'"),
        ('ejected = "monitoring.drift"', "[tool.mlops-ladder] ejected: a list of module names"),
        ("ejected = [1]", "[tool.mlops-ladder] ejected: a list of module names"),
    ],
)
def test_each_malformed_entry_is_one_clear_error_naming_the_key(
    tmp_path: Path, entry: str, said: str
) -> None:
    key = entry.split(" =")[0]
    lines = [line for line in TABLE.splitlines() if not line.startswith(f"{key} =")]
    with pytest.raises(ConfigError) as raised:
        identity_of(tmp_path, "\n".join([*lines, entry, ""]))
    assert said in str(raised.value)
    assert str(raised.value).startswith(f"{tmp_path / 'pyproject.toml'} [tool.mlops-ladder]")
    assert "\n" not in str(raised.value)


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (None, "pyproject.toml not found: run the command from the project's root"),
        ("[tool.mlops-ladder\n", "is not valid TOML"),
        ('[project]\nname = "x"\n', "has no [tool.mlops-ladder] table: is this an mlops-ladder"),
        ("[tool]\nmlops-ladder = 1\n", "has no [tool.mlops-ladder] table"),
        ("[tool.mlops-ladder]\nlevel = 1\n", "package: give the import name of the package"),
    ],
)
def test_a_file_that_is_not_a_projects_is_one_clear_error(
    tmp_path: Path, text: str | None, said: str
) -> None:
    if text is not None:
        (tmp_path / "pyproject.toml").write_text(text)
    with pytest.raises(ConfigError) as raised:
        project.read_identity(tmp_path)
    assert said in str(raised.value)


def test_the_current_project_is_the_working_folders_unless_one_is_activated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "pyproject.toml").write_text('[tool.mlops-ladder]\npackage = "first"\n')
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "pyproject.toml").write_text('[tool.mlops-ladder]\npackage = "second"\n')
    monkeypatch.setattr(project, "_active", None)
    monkeypatch.chdir(tmp_path / "a")
    assert project.current().package == "first"
    assert project.current() is project.current()  # read once
    with project.using(tmp_path / "b") as identity:
        assert project.current() is identity
        assert identity.package == "second"
    assert project.current().package == "first"
    # MLOPS_LADDER_PROJECT names a project elsewhere (a served model's folder, say)
    monkeypatch.setattr(project, "_active", None)
    monkeypatch.setenv("MLOPS_LADDER_PROJECT", str(tmp_path / "b"))
    assert project.current().package == "second"


def test_the_settings_are_read_with_the_projects_prefix(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlops_ladder.config import Settings

    (tmp_path / "pyproject.toml").write_text(TABLE)
    monkeypatch.setenv("CLINIC_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("TABULAR_MODEL_MODELS_DIR", "not this project's")
    with project.using(tmp_path):
        settings = Settings.load()
    assert settings.data_dir == tmp_path / "elsewhere"
    assert settings.models_dir == Path("models")
    assert settings.model_name == settings.experiment_name == "clinic-model"


# --- hooks ---------------------------------------------------------------------------------------


def test_a_hook_that_cannot_be_resolved_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mlops-ladder]\npackage = "nowhere"\n'
        'features = "nowhere.features:DERIVED"\nmetrics = "json:METRICS"\n'
    )
    with project.using(tmp_path):
        with pytest.raises(ConfigError, match=r"\[tool.mlops-ladder\]: cannot import nowhere"):
            project.hook("features")
        with pytest.raises(ConfigError, match=r"\[tool.mlops-ladder\]: json has no METRICS"):
            project.hook("metrics")
        assert project.hook("ingest", "the runtime's") == "the runtime's"


def test_a_project_without_hooks_runs_on_the_runtimes_defaults(new_project) -> None:
    # Given a project whose table names no hook of the owner's
    made = new_project(task="regression", level=0)
    pyproject = made.root / "pyproject.toml"
    kept = [line for line in pyproject.read_text().splitlines() if ' = "tabular_model.' not in line]
    pyproject.write_text("\n".join(kept) + "\n")
    # When the stages run, then the file is read, no feature is derived, and a model trained
    run(made.root, "ingest", "validate", "split", "featurize", "train")
    with inside(made.root):
        from mlops_ladder.features import declared
        from mlops_ladder.model import estimators

        assert declared() == []
        assert set(estimators("regression")) == {"random_forest", "gradient_boosting", "linear"}
    assert (made.root / "models" / "model.joblib").is_file()


def write_module(made: Made, package: str, name: str, source: str) -> None:
    (made.root / "src" / package / f"{name}.py").write_text(textwrap.dedent(source))


def test_hooks_of_the_wrong_shape_are_one_clear_error(new_project) -> None:
    made = own_package(new_project(level=0), "wrong_shapes")
    write_module(made, "wrong_shapes", "model", 'ESTIMATORS = ["extra_trees"]\n')
    write_module(made, "wrong_shapes", "metrics", "METRICS = {'f2': lambda *args: 0.0}\n")
    with inside(made.root):
        from mlops_ladder.metrics import own_metrics
        from mlops_ladder.model import estimators

        with pytest.raises(ConfigError, match="estimators: must name a dict"):
            estimators("classification")
        with pytest.raises(ConfigError, match=r"must name a dict of mlops_ladder\.metrics\.Metric"):
            own_metrics()


def test_an_owners_estimator_of_the_other_task_or_a_failing_metric_is_named(new_project) -> None:
    made = own_package(new_project(task="regression", level=0), "mixed_up")
    write_module(
        made,
        "mixed_up",
        "model",
        """
        from sklearn.linear_model import LogisticRegression, Ridge

        ESTIMATORS = {"logistic": LogisticRegression, "shrunk": lambda **hp: Ridge(**hp)}
        """,
    )
    write_module(
        made,
        "mixed_up",
        "metrics",
        """
        from mlops_ladder.metrics import Metric

        METRICS = {
            "broken": Metric(lambda y_true, y_pred, scores: 1 / 0, task="regression"),
            "f2": Metric(lambda y_true, y_pred, scores: 1.0, task="classification"),
        }
        """,
    )
    with inside(made.root):
        from mlops_ladder.model import make_estimator

        with pytest.raises(ConfigError, match="logistic is not a regression estimator"):
            make_estimator("logistic", {}, 0, "regression")
        # a factory function works as well as a class, seeded through **hyperparameters
        assert make_estimator("shrunk", {"alpha": 2.0}, 5, "regression").random_state == 5
        with pytest.raises(ConfigError, match=r"metrics\.py: metric 'broken' failed: division"):
            compute_metrics([1.0, 2.0], [1.0, 2.0])
        # a metric of one task is not a metric of the other
        assert "f2" in known("classification")
        assert "f2" not in known("regression")


def test_an_owners_classifier_without_probabilities_stops_tune_and_train_in_one_line(
    new_project, capsys
) -> None:
    # Given a classification project whose owner trains a real classifier that gives labels
    # but no probabilities (scikit-learn's LinearSVC)
    made = own_package(new_project(level=0), "no_proba")
    write_module(
        made,
        "no_proba",
        "model",
        "from sklearn.svm import LinearSVC\nESTIMATORS = {'svc': LinearSVC}\n",
    )
    made.set_params(
        train={"estimator": "svc"},
        tune={"n_trials": 2, "space": {"svc": {"C": {"low": 0.01, "high": 10.0}}}},
    )
    run(made.root, "ingest", "validate", "split", "featurize")
    capsys.readouterr()
    with inside(made.root):
        from mlops_ladder.commands import main

        # When tune and train run, then each stops with one line naming the key and the cure
        for stage in ("tune", "train"):
            assert main([stage]) == 1
            error = capsys.readouterr().err.strip().splitlines()[-1]
            assert error.startswith("error: params.yaml train.estimator: svc (LinearSVC)"), error
            assert "predict_proba" in error
            assert "CalibratedClassifierCV" in error
    assert not (made.root / "models" / "model.joblib").exists()


def test_another_tasks_hyperparameter_stops_tune_in_one_line_before_any_trial(
    new_project, capsys
) -> None:
    # Given a regression project whose forest keeps a classification project's class_weight
    made = new_project(task="regression", level=0)
    forest = {**made.params()["train"]["random_forest"], "class_weight": "balanced"}
    made.set_params(train={"random_forest": forest})
    run(made.root, "ingest", "validate", "split", "featurize")
    capsys.readouterr()
    with inside(made.root):
        from mlops_ladder.commands import main

        # When tune runs, then it stops with one line naming the key, and no trial ran
        assert main(["tune"]) == 1
    output = capsys.readouterr()
    error = output.err.strip().splitlines()
    assert error[-1].startswith("error: params.yaml train.random_forest: "), error
    assert "class_weight" in error[-1]
    assert "Trial 0" not in output.out + output.err
    assert "Traceback" not in output.out + output.err


OWN_MODEL = """
import numpy as np
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge


class BaggedRidge(RegressorMixin, BaseEstimator):
    \"\"\"Ridge regressions fitted on bootstrap samples of the rows, averaged.\"\"\"

    def __init__(self, alpha=1.0, n_models=5, random_state=None):
        self.alpha, self.n_models, self.random_state = alpha, n_models, random_state

    def fit(self, X, y):
        rng = np.random.default_rng(self.random_state)
        X, y = np.asarray(X), np.asarray(y)
        self.models_ = []
        for _ in range(self.n_models):
            rows = rng.integers(0, len(X), len(X))
            self.models_.append(Ridge(alpha=self.alpha).fit(X[rows], y[rows]))
        return self

    def predict(self, X):
        return np.mean([model.predict(np.asarray(X)) for model in self.models_], axis=0)


ESTIMATORS = {"bagged_ridge": BaggedRidge}
"""

OWN_METRIC = """
import numpy as np

from mlops_ladder.metrics import Metric


def relative_error(y_true, y_pred, scores):
    \"\"\"The mean error as a share of the actual value.\"\"\"
    y_true, y_pred = np.asarray(y_true, dtype=float), np.asarray(y_pred, dtype=float)
    return float(np.mean(np.abs(y_pred - y_true) / np.abs(y_true)))


METRICS = {"relative_error": Metric(relative_error, greater_is_better=False, task="regression")}
"""


@pytest.fixture(scope="module")
def own_model(tmp_path_factory: pytest.TempPathFactory) -> Made:
    """A regression project with its own estimator class (model.py) and its own metric
    (metrics.py, lower is better) as the primary one: every stage up to evaluate."""
    made = own_package(
        make_project(tmp_path_factory.mktemp("own-model"), "regression", 0), "clinic"
    )
    write_module(made, "clinic", "model", OWN_MODEL)
    write_module(made, "clinic", "metrics", OWN_METRIC)
    params = made.params()
    made.set_params(
        train={"estimator": "bagged_ridge", "bagged_ridge": {"alpha": 1.0, "n_models": 5}},
        tune={
            "n_trials": 3,
            "timeout": None,
            "space": {
                **params["tune"]["space"],
                "bagged_ridge": {"alpha": {"low": 0.1, "high": 10.0, "log": True}},
            },
        },
        quality={
            "primary_metric": "relative_error",
            "thresholds": {"relative_error": 0.6, "r2": 0.2},
            "beat_baselines": {"dummy": 0.05},
            "slice_beat_baselines": {"dummy": 0.0},
        },
    )
    run(made.root, "ingest", "validate", "split", "featurize", "tune", "train", "evaluate")
    return made


def test_the_owners_estimator_and_metric_are_trained_and_judged_end_to_end(own_model) -> None:
    report = json.loads((own_model.root / "reports" / "metrics.json").read_text())
    # The primary metric is the owner's, computed for the model, the baselines and the slices
    assert report["primary_metric"] == "relative_error"
    assert "relative_error" in report["test"]
    assert all("relative_error" in scores for scores in report["baselines"].values())
    scored = [result for result in report["slices"].values() if "metrics" in result]
    assert scored
    assert all("relative_error" in result["metrics"] for result in scored)
    # judged in its direction: lower beats the baselines
    assert report["test"]["relative_error"] < report["baselines"]["dummy"]["relative_error"] - 0.05
    assert report["quality"] == {"passed": True, "failures": []}
    # The model is the owner's class, saved and loaded back with the project's code
    with inside(own_model.root):
        from mlops_ladder.train import load

        model = load(own_model.root / "models" / "model.joblib")
        assert higher_is_better("relative_error") is False
    estimator = model.named_steps["predictor"].named_steps["estimator"]
    assert type(estimator).__module__ == "clinic.model"
    assert type(estimator).__name__ == "BaggedRidge"
    assert estimator.random_state == own_model.params()["seed"]  # seeded by the runtime


def test_the_study_tunes_the_owners_estimator_on_the_owners_metric(own_model) -> None:
    tuning = json.loads((own_model.root / "reports" / "tuning.json").read_text())
    assert tuning["estimator"] == "bagged_ridge"
    assert tuning["metric"] == "relative_error"
    assert tuning["greater_is_better"] is False
    assert tuning["passed"] is True
    assert len(tuning["trials"]) == 3
    # minimised: the best found is the lowest score of its trials
    assert tuning["best_score"] == min(trial["score"] for trial in tuning["trials"])
    assert tuning["configured"] == {"alpha": 1.0, "n_models": 5}


def test_the_owners_metric_drives_the_backtest_in_its_direction(own_model) -> None:
    staleness = json.loads((own_model.root / "reports" / "metrics.json").read_text())["staleness"]
    assert staleness["metric"] == "relative_error"
    assert staleness["score_by_age"]
    assert staleness["retrain_every_windows"] is not None


# --- eject ---------------------------------------------------------------------------------------


def command_line(root: Path, package: str, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m <package> ...` in a new process, as the owner types it (the project's `src`
    importable, as its installed package would be)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), str(ROOT / "src")])}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # bytecode cached, as on a user's machine
    return subprocess.run(
        [sys.executable, "-m", package, *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_an_ejected_module_is_copied_listed_and_its_copy_is_what_runs(new_project) -> None:
    # Given a level-1 project with a trained model (trained at level 0: nothing tracked)
    made = own_package(new_project(task="regression", level=0), "ejecting")
    run(made.root, "ingest", "split", "featurize", "train")
    pyproject = made.root / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("level = 0", "level = 1"))
    # When the owner ejects the drift module
    done = command_line(made.root, "ejecting", "eject", "monitoring.drift")
    assert done.returncode == 0, done.stderr
    # Then it is copied under the package, listed in pyproject.toml, the rest of the file kept
    copy = made.root / "src" / "ejecting" / "ejected" / "monitoring" / "drift.py"
    original = ROOT / "src" / "mlops_ladder" / "monitoring" / "drift.py"
    assert copy.read_text() == original.read_text()
    assert f"monitoring.drift ejected to {copy}" in done.stdout
    assert project.read_identity(made.root).ejected == ("monitoring.drift",)
    assert 'ejected = ["monitoring.drift"]' in pyproject.read_text()
    assert '[project]\nname = "tabular-model"' in pyproject.read_text()
    # And a change to the copy is what the command line runs: the drift plots' bins
    assert "PLOT_BINS = 30\n" in copy.read_text()
    copy.write_text(copy.read_text().replace("PLOT_BINS = 30\n", "PLOT_BINS = 7\n"))
    test = made.root / "data" / "processed" / "test.parquet"
    train = made.root / "data" / "processed" / "train.parquet"
    out = made.root / "monitoring"
    args = ["--reference", str(train), "--current", str(test), "--output-dir", str(out)]
    done = command_line(made.root, "ejecting", "monitor", *args)
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    histograms = [
        column["plot"] for column in report["features"].values() if column["type"] == "numeric"
    ]
    assert histograms
    assert all(len(plot["edges"]) == 7 + 1 for plot in histograms)


def test_ejecting_twice_or_an_unknown_module_is_a_clear_error_and_changes_nothing(
    new_project, capsys: pytest.CaptureFixture[str]
) -> None:
    made = own_package(new_project(level=1), "twice")
    pyproject = made.root / "pyproject.toml"
    with inside(made.root):
        from mlops_ladder.commands import main

        assert main(["eject", "validate"]) == 0
    copy = made.root / "src" / "twice" / "ejected" / "validate.py"
    copy.write_text(copy.read_text() + "# the owner's change\n")
    before = {path: path.read_text() for path in [pyproject, copy]}
    for module, said in [
        ("validate", "validate is ejected already: "),
        ("monitoring.nothing", "'monitoring.nothing' is not a runtime module a project can eject"),
        ("config", "'config' is not a runtime module a project can eject"),
        ("checks", "'checks' is not a runtime module a project can eject"),
    ]:
        with inside(made.root):
            assert main(["eject", module]) == 1
        assert said in capsys.readouterr().err
        assert {path: path.read_text() for path in before} == before
    assert sorted(
        path.name for path in (made.root / "src" / "twice" / "ejected").rglob("*.py")
    ) == ["validate.py"]


def test_a_copy_in_the_way_is_not_overwritten(new_project) -> None:
    made = own_package(new_project(level=1), "in_the_way")
    target = made.root / "src" / "in_the_way" / "ejected" / "tuning.py"
    target.parent.mkdir(parents=True)
    target.write_text("# mine\n")
    with (
        inside(made.root) as identity,
        pytest.raises(ConfigError, match=r"tuning\.py exists: move it away first"),
    ):
        ejecting.eject(identity, "tuning")
    assert target.read_text() == "# mine\n"
    assert "ejected" not in (made.root / "pyproject.toml").read_text()


def test_the_list_names_every_module_a_project_may_eject(
    new_project, capsys: pytest.CaptureFixture[str]
) -> None:
    made = new_project(level=0)
    with inside(made.root):
        from mlops_ladder.commands import main

        assert main(["eject", "--list"]) == 0
    listed = capsys.readouterr().out.split()
    assert {"validate", "train", "monitoring.drift", "serving.app"} <= set(listed)
    assert not {"project", "eject", "config", "schema", "commands", "testing", "checks"} & set(
        listed
    )


def test_a_listed_copy_that_is_missing_is_one_clear_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.mlops-ladder]\npackage = "no_copy"\nejected = ["monitoring.drift"]\n'
    )
    with pytest.raises(ConfigError, match=r"ejected names monitoring.drift, but .*drift.py is"):
        project.activate(project.read_identity(tmp_path))


def test_the_ejected_list_is_written_into_the_table_it_belongs_to() -> None:
    text = '[project]\nname = "x"\n\n[tool.mlops-ladder]\npackage = "x"  # mine\n\n[tool.ruff]\n'
    once = ejecting.with_ejected(text, ["validate"])
    assert once == (
        '[project]\nname = "x"\n\n[tool.mlops-ladder]\npackage = "x"  # mine\n'
        'ejected = ["validate"]\n\n[tool.ruff]\n'
    )
    twice = ejecting.with_ejected(once, ["validate", "train"])
    assert 'ejected = ["validate", "train"]\n' in twice
    assert twice.count("ejected") == 1


# --- optional parts not installed ------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "extra"),
    [
        ("feast", "feast"),
        ("mlflow.tracking", "pipeline"),
        ("fastapi", "serving"),
        ("scipy.stats", "monitoring"),
    ],
)
def test_a_missing_optional_module_names_the_extra_that_installs_it(
    module: str, extra: str
) -> None:
    message = missing_extra(ModuleNotFoundError(f"No module named '{module}'", name=module))
    top = module.split(".")[0]
    assert message == (
        f"this command needs {top}, which is not installed: add the `{extra}` extra "
        f"(pyproject.toml: mlops-ladder[{extra}]) and run `make setup`"
    )


@pytest.mark.parametrize(("module", "extra"), [("mlflow", "pipeline"), ("scipy", "monitoring")])
def test_a_missing_module_of_the_pipeline_group_says_make_setup_from_level_1(
    module: str, extra: str
) -> None:
    # From level 1 the pipeline's extras are a default dependency group (pyproject.toml), which
    # `make setup` installs: a user does not add them, the serving image leaves them out
    error = ModuleNotFoundError(f"No module named '{module}'", name=module)
    assert missing_extra(error, level=1) == (
        f"this command needs {module}, which is not installed here: run `make setup` (the "
        f"project's `pipeline` dependency group: mlops-ladder[{extra}]; the serving image "
        "leaves it out)"
    )
    # serving stays an extra of the dependencies at every level
    fastapi = ModuleNotFoundError("No module named 'fastapi'", name="fastapi")
    assert "add the `serving` extra" in (missing_extra(fastapi, level=2) or "")


def test_a_missing_module_of_no_extra_is_left_to_show_as_the_bug_it_is() -> None:
    assert missing_extra(ModuleNotFoundError("No module named 'numpyy'", name="numpyy")) is None
    assert missing_extra(ModuleNotFoundError("no name")) is None


def test_a_command_whose_extra_is_not_installed_says_which_to_add(
    new_project, capsys: pytest.CaptureFixture[str]
) -> None:
    # Feast is not in this environment (a real absence, nothing mocked): the feature store's
    # command of a level-2 project says what to install, in one line
    if importlib.util.find_spec("feast") is not None:
        pytest.skip("feast is installed here: its absence cannot be shown")
    made = new_project(level=2, feature_store=True)
    with inside(made.root):
        from mlops_ladder.commands import main

        assert main(["feature-table"]) == 1
    assert capsys.readouterr().err == (
        "error: this command needs feast, which is not installed: add the `feast` extra "
        "(pyproject.toml: mlops-ladder[feast]) and run `make setup`\n"
    )
