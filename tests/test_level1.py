"""Level 1 (and 2), executed: in rendered projects, `make setup`, `dvc repro` from scratch, a
second `dvc repro` that does nothing, `make test`, then the readiness card of that run
(readiness_checks.py); the pipeline against a real MLflow server over HTTP; bad data stopped at
validate; a crippled model refused by the gate."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import server_process
from readiness_checks import Level1Card, Level2Card
from rendering import Renderer, free_port, run

pytestmark = pytest.mark.slow

STAGES = ["ingest", "validate", "split", "featurize", "tune", "train", "evaluate", "register"]

# Asks the project's own MLflow (through its locked environment) what the registry holds.
REGISTRY_QUERY = """
import json, sys
from mlflow import MlflowClient
client = MlflowClient()
name = sys.argv[1]
versions = client.search_model_versions(f"name = '{name}'")
champion = client.get_model_version_by_alias(name, "champion")
run = client.get_run(champion.run_id)
print(json.dumps({
    "versions": sorted(int(v.version) for v in versions),
    "champion": int(champion.version),
    "aliases": {a: str(v) for a, v in client.get_registered_model(name).aliases.items()},
    "run_status": run.info.status,
    "run_metrics": sorted(run.data.metrics),
    "run_tags": run.data.tags,
}))
"""


def dvc(project: Path, env: dict[str, str], *args: str, label: str | None = None, check=True):
    return run(["uv", "run", "--frozen", "dvc", *args], project, env, label=label, check=check)


def registry_state(project: Path, env: dict[str, str]) -> dict:
    outcome = run(
        ["uv", "run", "--frozen", "python", "-c", REGISTRY_QUERY, "tabular-model"], project, env
    )
    return json.loads(outcome.stdout.strip().splitlines()[-1])


class ProjectChecks:
    """What every level-1+ project must do. A subclass per (engine, level): under
    `pytest -n N --dist loadscope` each class runs on one worker, sharing its project."""

    ENGINE = "copier"
    LEVEL = 1
    TEST_WORKERS = "0"  # the suite's own workers keep the cores busy (conftest.py's env)

    @pytest.fixture(scope="class")
    @classmethod
    def project(cls, renderer: Renderer, env: dict[str, str]) -> Path:
        path = renderer.fresh(cls.ENGINE, maturity_level=str(cls.LEVEL))
        run(["make", "setup"], path, env, label=f"L{cls.LEVEL} {cls.ENGINE}: make setup")
        return path

    def test_dvc_repro_from_scratch_runs_every_stage_and_crowns_a_champion(
        self, project: Path, env: dict[str, str]
    ) -> None:
        outcome = dvc(project, env, "repro", label="dvc repro from scratch")
        for stage in STAGES:
            assert f"Running stage '{stage}'" in outcome.stdout, stage
        decision = json.loads((project / "reports" / "registration.json").read_text())
        assert decision["promoted"], decision
        state = registry_state(project, env)
        assert state["champion"] == int(decision["version"])
        assert state["aliases"] == {
            "champion": decision["version"],
            "challenger": decision["version"],
        }

    def test_a_second_dvc_repro_does_nothing(self, project: Path, env: dict[str, str]) -> None:
        outcome = dvc(project, env, "repro", label="dvc repro, nothing changed")
        assert "Running stage" not in outcome.stdout
        assert "Data and pipelines are up to date." in outcome.stdout

    def test_dvc_shows_metrics_and_draws_plots(self, project: Path, env: dict[str, str]) -> None:
        metrics = json.dumps(json.loads(dvc(project, env, "metrics", "show", "--json").stdout))
        assert '"roc_auc"' in metrics
        assert '"baselines"' in metrics
        dvc(project, env, "plots", "show", "--out", "dvc_plots")
        assert (project / "dvc_plots" / "index.html").is_file()

    def test_make_test_passes(self, project: Path, env: dict[str, str]) -> None:
        workers = f"TEST_WORKERS={self.TEST_WORKERS}"
        outcome = run(["make", "test", workers], project, env, label="L1/L2: make test")
        assert " passed" in outcome.stdout
        assert " failed" not in outcome.stdout
        if self.TEST_WORKERS == "auto":  # pytest-xdist, as a user's `make test` runs
            assert "created: " in outcome.stdout


# -- a level-1 project exercised the way a team uses it ---------------------------------------


class TeamChecks:
    """The level-1 copier project after ProjectChecks: a tracking server, bad data, a crippled
    model, the DVC remote."""

    @pytest.fixture(scope="class")
    @classmethod
    def team_project(cls, project: Path, env: dict[str, str]) -> Path:
        """The level-1 copier project of the tests above (its pipeline run), committed: DVC
        experiments need a commit."""
        dvc(project, env, "repro")
        run(["git", "add", "-A"], project, env)
        run(["git", "commit", "--quiet", "--no-verify", "-m", "Generated project"], project, env)
        return project

    @pytest.fixture(scope="class")
    @classmethod
    def mlflow_server(
        cls, team_project: Path, tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[str]:
        """A real `mlflow server` (sqlite backend, served artifacts) on 127.0.0.1."""
        folder = tmp_path_factory.mktemp("mlflow-server")
        port = free_port()
        command = [
            team_project / ".venv" / "bin" / "mlflow", "server",
            "--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}",
            "--artifacts-destination", str(folder / "artifacts"),
            "--host", "127.0.0.1", "--port", str(port), "--workers", "1",
        ]  # fmt: skip
        url = f"http://127.0.0.1:{port}"
        # Without MLflow's job runner, as deploy/compose.yaml runs the team's server.
        environment = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
        log = folder / "server.log"
        with server_process(command, f"{url}/health", log, 120, env=environment):
            yield url

    def test_params_diff_shows_an_edited_hyperparameter(
        self, team_project: Path, env: dict[str, str]
    ) -> None:
        params = team_project / "params.yaml"
        original = params.read_text()
        params.write_text(original.replace("n_estimators: 100", "n_estimators: 250"))
        try:
            diff = json.loads(dvc(team_project, env, "params", "diff", "--json").stdout)
            status = dvc(team_project, env, "status").stdout
        finally:
            params.write_text(original)
        change = diff["params.yaml"]["train.random_forest.n_estimators"]
        assert (change["old"], change["new"]) == (100, 250)
        assert "train:" in status

    def test_the_pipeline_tracks_and_registers_on_a_real_mlflow_server(
        self, team_project: Path, mlflow_server: str, env: dict[str, str]
    ) -> None:
        # Given the tracking URI of a running server, and nothing else changed
        remote = {**env, "MLFLOW_TRACKING_URI": mlflow_server}
        # When the training part of the pipeline runs again
        outcome = dvc(
            team_project,
            remote,
            "repro",
            "--force",
            "--downstream",
            "train",
            label="dvc repro on a server",
        )
        assert "Running stage 'register'" in outcome.stdout
        # Then the server holds the run, the registered version and the champion alias
        state = registry_state(team_project, remote)
        assert state["versions"] == [1]
        assert state["champion"] == 1
        assert state["run_status"] == "FINISHED"
        assert "test_roc_auc" in state["run_metrics"]
        assert state["run_tags"]["data.raw_md5"]
        assert state["run_tags"]["git.commit"] != "none"

    def test_bad_data_stops_the_pipeline_at_validate_and_keeps_the_champion(
        self, team_project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given the user points ingest at a file with missing values, text in a number column and a
        # column shifted far out of range
        corrupt = tmp_path / "corrupt.csv"
        script = (
            "import pandas as pd, sys;"
            "f = pd.read_parquet('data/raw/dataset.parquet');"
            "f.loc[:9, 'mean_radius'] = None; f['mean_texture'] = 'unknown';"
            "f['mean_area'] = f['mean_area'] * 100; f.to_csv(sys.argv[1], index=False)"
        )
        run(["uv", "run", "--frozen", "python", "-c", script, corrupt], team_project, env)
        params = team_project / "params.yaml"
        original = params.read_text()
        model = (team_project / "models" / "model.joblib").read_bytes()
        champion = registry_state(team_project, env)["champion"]
        sample = "source: data/sample/breast_cancer.csv"
        assert sample in original
        params.write_text(original.replace(sample, f"source: {corrupt}"))
        try:
            # When the pipeline runs
            outcome = dvc(team_project, env, "repro", check=False, label="dvc repro, bad data")
        finally:
            params.write_text(original)
        # Then it fails at validate, naming every problem, and nothing downstream ran
        output = outcome.stdout + outcome.stderr
        assert outcome.code != 0
        assert "failed to reproduce 'validate'" in output
        for check in ("mean_radius.nulls", "mean_texture.dtype", "mean_area.max"):
            assert check in output, check
        assert "Running stage 'split'" not in output
        assert (team_project / "models" / "model.joblib").read_bytes() == model
        assert registry_state(team_project, env)["champion"] == champion
        report = json.loads((team_project / "reports" / "validation.json").read_text())
        assert report["passed"] is False
        dvc(team_project, env, "repro")  # back to the good data for the tests that follow

    def test_the_gate_refuses_a_crippled_model_and_keeps_the_champion(
        self, team_project: Path, env: dict[str, str]
    ) -> None:
        champion = registry_state(team_project, env)["champion"]
        # When an experiment trains a single one-split tree (let through the tuning check, which
        # would stop it first or train the linear model instead: readiness_checks.py tests
        # that, here the gate is under test)
        outcome = dvc(
            team_project, env, "exp", "run",
            "-S", "train.random_forest.n_estimators=1", "-S", "train.random_forest.max_depth=1",
            "-S", "tune.n_trials=1", "-S", "tune.tolerance=1",
            "-S", "quality.beat_baselines.linear=-1",
            check=False, label="dvc exp run, crippled model",
        )  # fmt: skip
        run(["git", "checkout", "--", "params.yaml"], team_project, env)
        # Then the register stage refuses it and fails the experiment; the champion stays
        output = outcome.stdout + outcome.stderr
        assert outcome.code != 0
        assert "refused by the gate" in output
        assert "worse than the champion" in output
        decision = json.loads((team_project / "reports" / "registration.json").read_text())
        assert decision["promoted"] is False
        state = registry_state(team_project, env)
        assert state["champion"] == champion
        assert state["aliases"]["challenger"] == decision["version"] != str(champion)

    def test_dvc_push_and_pull_work_with_the_local_remote(
        self, team_project: Path, env: dict[str, str]
    ) -> None:
        dvc(team_project, env, "push")
        shutil.rmtree(team_project / "data" / "raw")
        dvc(team_project, env, "pull")
        assert (team_project / "data" / "raw" / "dataset.parquet").is_file()


# Copier renders: the engines' trees are identical byte for byte (test_render), so the same
# checks on a cookiecutter render would run the same files again (test_own_data runs cookiecutter
# renders end to end). The readiness card is scored once the pipeline and `make test` ran
# (readiness_checks.py), before the team checks commit and change the project; pytest collects
# the bases last-first.
class TestLevel1Copier(TeamChecks, Level1Card, ProjectChecks):
    ENGINE, LEVEL = "copier", 1


class TestLevel2Copier(Level2Card, ProjectChecks):
    ENGINE, LEVEL = "copier", 2
    TEST_WORKERS = "auto"  # as a user's `make test`: one worker per core
