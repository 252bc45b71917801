"""The generated GitHub workflows, run for real by act in host mode: no Docker, offline.

Each run goes through the project's own `make ci-local`, as a user would type it. The only
things swapped in are test-side: remote actions become the stand-ins of tests/act_standins/
(act's --local-repository), and at level 2 GitHub's REST API becomes tests/fake_github.py (it
cannot be reached from here) and the shared MLflow registry and DVC remote are folders.

Level 1: ci.yml end to end on push; a test broken on purpose turns `make ci-local` red.
Level 2: ci.yml end to end on push; monitor.yml on a drifted prediction log opens the issue
and starts ct.yml; ct.yml, started with that dispatch's inputs, retrains, gates, promotes and
delivers through cd.yml; rollback.yml moves the champion back and delivers it again.
Level 2 with feature_store=feast: ci.yml's pipeline job runs the Feast stages (apply, point-in-time
retrieval, materialize) and exports the feature store for the image; ct.yml retrains, promotes,
materializes the online store, and cd.yml smoke-tests the champion by entity key.
"""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import DEFAULT_PACKAGE, Outcome, Renderer, free_port, run
from fake_github import TOKEN, serve_fake_github

pytestmark = pytest.mark.slow

STANDINS = Path(__file__).parent / "act_standins"
REMOTE_ACTION = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
REPOSITORY = "example-org/tabular-model"
ANSI = re.compile(r"\x1b\[[0-9;]*m")

# Run with the project's environment: writes predictions for records of the sample data whose
# numeric features are scaled by 1.6, in the prediction log's format (the serving contract).
DRIFTED_LOG = """
import json, sys
from datetime import UTC, datetime
from pathlib import Path

from {package}.data import ingest
from {package}.model import predict
from {package}.schema import load_schema
from {package}.train import load

schema = load_schema(Path("schema.yaml"))
records = ingest("data/sample/breast_cancer.csv")[schema.feature_names].head(300).copy()
records[schema.numeric] = records[schema.numeric] * 1.6
labels, probabilities = predict(load(Path("models/model.joblib")), records)
now = datetime.now(UTC).isoformat()
with open(sys.argv[1], "w") as log:
    shares = probabilities.to_dict("records")
    for index, (inputs, label, share) in enumerate(
        zip(records.to_dict("records"), labels, shares)
    ):
        line = {{
            "timestamp": now, "request_id": f"drift-{{index // 10}}", "record": index % 10,
            "model_name": "tabular-model", "model_version": "1", "variant": "champion",
            "inputs": inputs, "prediction": int(label), "probability": max(share.values()),
            "probabilities": {{str(key): value for key, value in share.items()}},
        }}
        log.write(json.dumps(line) + "\\n")
"""


@dataclass
class ActProject:
    """A rendered, set-up, committed project, and how to run its workflows with act."""

    path: Path
    env: dict[str, str]
    standins: list[str]
    state: Path
    level: str

    def ci_local(
        self,
        label: str,
        *,
        workflow: str = "ci",
        event: str = "push",
        job: str | None = None,
        extra: tuple[str, ...] = (),
        expect_success: bool = True,
    ) -> Outcome:
        act_args = [
            *self.standins,
            "--action-cache-path", self.state / "act-cache",
            "--env", f"ACT_STANDIN_ARTIFACTS={self.state / 'artifacts'}",
            # act's artifact server listens on 34567 unless told: the other level's act run,
            # on the other xdist worker, may hold it.
            "--artifact-server-port", free_port(),
            *extra,
        ]  # fmt: skip
        command = [
            "make", "ci-local", f"WORKFLOW={workflow}", f"EVENT={event}",
            f"ACT_ARGS={' '.join(str(arg) for arg in act_args)}",
            *([f"JOB={job}"] if job else []),
        ]  # fmt: skip
        label = f"L{self.level} act: {label}"
        outcome = run(command, self.path, self.env, label=label, check=False)
        # The whole act output, for a look at a failure or at each step's duration.
        log = self.state / f"{workflow}-{event}-{len(list(self.state.glob('*.log')))}.log"
        log.write_text(outcome.stdout + outcome.stderr)
        if (outcome.code == 0) != expect_success:
            expected = "success" if expect_success else "failure"
            failed = [line for line in outcome.stdout.splitlines() if "❌" in line][:20]
            pytest.fail(
                f"act exited {outcome.code}, expected {expected}; failed steps:\n"
                + "\n".join(failed)
                + f"\n...\n{outcome.tail(80)}\n(whole output: {log})",
                pytrace=False,
            )
        outcome.stdout = ANSI.sub("", outcome.stdout)
        return outcome

    def event(self, name: str, payload: dict) -> tuple[str, str]:
        path = self.state / f"{name}.json"
        path.write_text(json.dumps(payload))
        return ("--eventpath", str(path))

    def artifact(self, name: str) -> Path:
        return self.state / "artifacts" / name


def job_ended(outcome: Outcome, workflow: str, job: str, result: str) -> bool:
    """Whether act reported the job as `result` (act pads job names to align its columns)."""
    pattern = rf"^\[{re.escape(workflow)}/{re.escape(job)}\s*\] 🏁  Job {result}$"
    return re.search(pattern, outcome.stdout, re.MULTILINE) is not None


def standin_arguments(project: Path) -> list[str]:
    """--local-repository for every remote action the workflows pin, by the pinned commit."""
    texts = [path.read_text() for path in (project / ".github").rglob("*.yml")]
    pinned = {match for text in texts for match in REMOTE_ACTION.findall(text)}
    arguments = []
    for repository, commit in sorted(pinned):
        if repository == "actions/checkout":
            continue  # act copies the repository itself
        folder = STANDINS / repository.split("/")[1]
        assert (folder / "action.yml").is_file(), f"no stand-in for {repository}"
        arguments += ["--local-repository", f"{repository}@{commit}={folder}"]
    return arguments


def prepare(
    renderer: Renderer,
    env: dict[str, str],
    state: Path,
    level: str,
    registry: bool = False,
    **answers: str,
) -> ActProject:
    project = renderer.fresh("copier", maturity_level=level, **answers)
    act_env = dict(env)
    for name in ("MLFLOW_TRACKING_URI", "ACT", "GITHUB_TOKEN"):
        act_env.pop(name, None)
    run(["make", "setup"], project, act_env, label=f"L{level} act: make setup")
    git = ["git", "-C", project]
    run([*git, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git"], project, env)
    if registry:
        # The team's shared services, as folders: an MLflow registry (MLFLOW_TRACKING_URI) and
        # a DVC remote, holding the first champion and its pipeline outputs.
        services = {
            **act_env,
            "MLFLOW_TRACKING_URI": f"sqlite:///{state / 'registry.db'}",
            f"{DEFAULT_PACKAGE.upper()}_ARTIFACTS_DIR": str(state / "mlartifacts"),
        }
        dvc = ["uv", "run", "--frozen", "dvc"]
        run([*dvc, "remote", "add", "--default", "team", state / "dvc-remote"], project, env)
        run(["make", "pipeline"], project, services, label=f"L{level} act: first champion")
        run([*dvc, "push"], project, env)
    # The first commit, as a user makes it: the pre-commit hooks run, and if they fix files
    # (they strip the notebook, for one), the fixed files are added and committed.
    commit = [*git, "commit", "--quiet", "-m", "Generated project"]
    run([*git, "add", "--all"], project, act_env)
    if run(commit, project, act_env, check=False).code != 0:
        run([*git, "add", "--all"], project, act_env)
        run(commit, project, act_env, label=f"L{level} act: first commit, again")
    return ActProject(project, act_env, standin_arguments(project), state, level)


def champion(project: ActProject) -> str:
    with sqlite3.connect(project.state / "registry.db") as db:
        (version,) = db.execute(
            "SELECT version FROM registered_model_aliases WHERE alias = 'champion'"
        ).fetchone()
    return str(version)


# --- level 1 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def level1(
    renderer: Renderer, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> ActProject:
    return prepare(renderer, env, tmp_path_factory.mktemp("act-l1"), "1")


@pytest.mark.long
class TestLevel1:
    """ci.yml at level 1 (a class: pytest-xdist runs each level on its own worker)."""

    def test_level1_ci_runs_green_end_to_end(self, level1: ActProject) -> None:
        outcome = level1.ci_local("ci.yml on push")
        for job in ("Lint", "Tests", "Pipeline and serving image"):
            assert job_ended(outcome, "CI", job, "succeeded"), job
        assert "passed the gate" in outcome.stdout
        metrics = json.loads((level1.artifact("reports") / "metrics.json").read_text())
        assert metrics["quality"]["passed"] is True

    def test_a_broken_test_turns_ci_local_red(self, level1: ActProject) -> None:
        # Given a generated test broken on purpose (the project's tests are copied as they are)
        test_file = level1.path / "tests" / "test_features.py"
        original = test_file.read_text()
        broken = original.replace("pytest.approx(2.0)", "pytest.approx(3.0)", 1)
        assert broken != original
        test_file.write_text(broken)
        try:
            # When CI's test job runs locally
            outcome = level1.ci_local("broken test (red)", job="test", expect_success=False)
        finally:
            test_file.write_text(original)
        # Then the job fails on that test, and so does make
        assert "FAILED tests/test_features.py::test_radius_ratio_is_worst_over_mean_radius" in (
            outcome.stdout
        )
        assert job_ended(outcome, "CI", "Tests", "failed")
        assert "make: *** [Makefile" in outcome.stderr


# --- level 2 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def level2(
    renderer: Renderer, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> ActProject:
    return prepare(renderer, env, tmp_path_factory.mktemp("act-l2"), "2", registry=True)


def registry_vars(project: ActProject) -> tuple[str, ...]:
    return ("--var", f"MLFLOW_TRACKING_URI=sqlite:///{project.state / 'registry.db'}")


DISPATCHES: list[dict] = []  # what monitor.yml asked GitHub to start, for the CT test


@pytest.mark.long
class TestLevel2:
    """Level 2, in order: CI, monitoring, continuous training, rollback (one registry)."""

    def test_level2_ci_runs_green_end_to_end(self, level2: ActProject) -> None:
        outcome = level2.ci_local("ci.yml on push")
        for job in ("Lint", "Tests", "Pipeline and serving image"):
            assert job_ended(outcome, "CI", job, "succeeded"), job
        # CI's pipeline used a registry of its own: the team's champion did not move.
        assert champion(level2) == "1"

    def test_monitor_detects_drift_opens_the_issue_and_starts_ct(self, level2: ActProject) -> None:
        # Given a prediction log whose inputs drifted far from the training data
        logs = level2.state / "prediction-log"
        logs.mkdir()
        script = DRIFTED_LOG.format(package=DEFAULT_PACKAGE)
        log_file = logs / "predictions-20260101.jsonl"
        run(
            [level2.path / ".venv" / "bin" / "python", "-c", script, log_file],
            level2.path,
            level2.env,
        )
        with serve_fake_github() as (api, github):
            # When the scheduled monitoring runs (started by hand here)
            outcome = level2.ci_local(
                "monitor.yml, drifted log",
                workflow="monitor",
                event="workflow_dispatch",
                extra=(
                    *level2.event("monitor", {"inputs": {}}),
                    "--var", f"PREDICTION_LOG_URI={logs}",
                    "--secret", f"GITHUB_TOKEN={TOKEN}",
                    "--env", f"GITHUB_API_URL={api}",
                ),
            )  # fmt: skip
        # Then it saw the drift, kept the report, opened one issue and started ct.yml
        report = json.loads((level2.artifact("monitoring-report") / "report.json").read_text())
        assert report["retrain_needed"] is True
        assert (level2.artifact("monitoring-report") / "report.html").is_file()
        assert "started ct.yml" in outcome.stdout
        assert len(github.issues) == 1
        assert github.issues[0]["labels"] == ["model-monitoring"]
        assert "retraining needed" in github.issues[0]["body"]
        dispatches = [
            body for method, path, body in github.calls if path.endswith("/ct.yml/dispatches")
        ]
        assert dispatches == [{"ref": "refs/heads/main", "inputs": {"reason": "drift"}}]
        DISPATCHES.extend(dispatches)

    def test_ct_retrains_gates_promotes_and_delivers(self, level2: ActProject) -> None:
        # Given the dispatch monitor.yml sent (or, run alone, the same one)
        dispatch = DISPATCHES[0] if DISPATCHES else {"inputs": {"reason": "drift"}}
        # The sample data never change, so nothing would be retrained: force it, as the workflow's
        # `force` input does for a new model on the same data.
        inputs = {**dispatch["inputs"], "force": "true"}
        assert champion(level2) == "1"
        # When ct.yml runs with it
        outcome = level2.ci_local(
            "ct.yml dispatch (+ cd.yml)",
            workflow="ct",
            event="workflow_dispatch",
            extra=(*level2.event("ct", {"inputs": inputs}), *registry_vars(level2)),
        )
        # Then a new model passed the gate, became champion, and CD smoke-tested it
        assert champion(level2) == "2"
        assert "passed the gate: it is the champion now" in outcome.stdout
        assert "smoke test passed" in outcome.stdout
        assert "staging: not deployed (no KUBE_CONFIG secret)" in outcome.stdout
        registration = json.loads((level2.artifact("ct-reports") / "registration.json").read_text())
        assert registration["promoted"] is True

    def test_rollback_moves_the_champion_back_and_redelivers(self, level2: ActProject) -> None:
        before = champion(level2)
        assert before != "1", "run after the CT test: it makes a second champion"
        outcome = level2.ci_local(
            "rollback.yml (+ cd.yml)",
            workflow="rollback",
            event="workflow_dispatch",
            extra=(
                *level2.event("rollback", {"inputs": {"reason": "test"}}),
                *registry_vars(level2),
            ),
        )
        assert champion(level2) == "1"
        assert "smoke test passed" in outcome.stdout


# --- level 2 with the feature store -----------------------------------------------------------


@pytest.fixture(scope="module")
def feast(
    renderer: Renderer, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> ActProject:
    state = tmp_path_factory.mktemp("act-feast")
    return prepare(renderer, env, state, "2", registry=True, feature_store="feast")


@pytest.mark.long
class TestFeast:
    """feature_store=feast: only the jobs the store changes (the lint and test jobs are the
    non-feast project's, and the project's own feature-store tests run in test_feature_store)."""

    def test_ci_pipeline_job_runs_the_feast_stages_and_exports_the_store(
        self, feast: ActProject
    ) -> None:
        outcome = feast.ci_local("feast: ci.yml pipeline job", job="pipeline")
        assert job_ended(outcome, "CI", "Pipeline and serving image", "succeeded")
        for stage in ("feature-table", "feast-apply", "split", "register", "materialize"):
            assert f"Running stage '{stage}'" in outcome.stdout, stage
        assert "from the feature store (point in time)" in outcome.stdout
        assert "materialized the latest feature values into the online store" in outcome.stdout
        # What the serving image carries (the job exported it; the build needs an engine)
        assert "cp data/feast/registry.db build/feast/" in outcome.stdout

    def test_ct_materializes_after_a_new_champion_and_cd_serves_entities(
        self, feast: ActProject
    ) -> None:
        assert champion(feast) == "1"
        outcome = feast.ci_local(
            "feast: ct.yml dispatch (+ cd.yml)",
            workflow="ct",
            event="workflow_dispatch",
            extra=(
                *feast.event("ct", {"inputs": {"reason": "test", "force": "true"}}),
                *registry_vars(feast),
            ),
        )
        assert champion(feast) == "2"
        train = outcome.stdout.split("passed the gate: it is the champion now", 1)
        assert len(train) == 2, "no new champion in CT"
        # The online store was loaded after the promotion, in CT's own pipeline run
        assert "materialized the latest feature values into the online store" in train[1]
        # And CD's smoke test asked the served champion for an entity by key
        assert "entity-key prediction ok" in outcome.stdout
        assert "smoke test passed" in outcome.stdout
