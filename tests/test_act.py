"""The generated GitHub workflows, run for real by act in host mode: no Docker, offline.

Each run goes through the project's own `make ci-local`, as a user would type it. The only
things swapped in are test-side: remote actions become the stand-ins of tests/act_standins/
(act's --local-repository), and at level 2 GitHub's REST API becomes tests/fake_github.py (it
cannot be reached from here) and the shared MLflow registry and DVC remote are folders.

What runs, each workflow once (what other tests already run is not run again here):
- Level 1: ci.yml, every job, with a generated test broken on purpose and a stand-in
  vulnerability database (tests/fake_osv.py) that knows one advisory: lint and the pipeline job
  (the pipeline, the gate, the reports kept, the model exported) pass, the dependencies job
  keeps the SBOM and its audit fails on that advisory, the test job fails on exactly that test,
  and `make ci-local` is red. ci.yml is the same file at every level
  (test_workflows.py checks it), and `make test` passing is test_level1's.
- Level 2, with the feature store (its workflows are the plain level 2's plus the store's
  steps): monitor.yml on a drifted prediction log opens the issue and starts ct.yml; ct.yml,
  started with that dispatch's inputs, retrains, gates, promotes, materializes the online store
  and delivers through cd.yml, whose smoke test predicts from records and for an entity key;
  rollback.yml's job moves the champion back (its redelivery is the same cd.yml call as CT's).
  The Feast pipeline stages and the exported store are test_feature_store.py's, on the same
  project (conftest.py's feast_project: its first pipeline run made the first champion).
"""

from __future__ import annotations

import json
import re

import pytest
from acting import ActProject, champion, job_ended, prepare
from fake_github import TOKEN, serve_fake_github
from fake_osv import ADVISORY, serve_fake_osv
from rendering import Renderer, run

pytestmark = pytest.mark.slow

# Run with the project's environment: writes predictions for records of the sample data whose
# numeric features are scaled by 1.6, in the prediction log's format (the serving contract).
DRIFTED_LOG = """
import json, sys
from datetime import UTC, datetime
from pathlib import Path

from mlops_ladder.data import ingest
from mlops_ladder.model import predict
from mlops_ladder.schema import load_schema
from mlops_ladder.train import load

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
        line = {
            "timestamp": now, "request_id": f"drift-{index // 10}", "record": index % 10,
            "model_name": "tabular-model", "model_version": "1", "variant": "champion",
            "inputs": inputs, "prediction": int(label), "probability": max(share.values()),
            "probabilities": {str(key): value for key, value in share.items()},
        }
        log.write(json.dumps(line) + "\\n")
"""


# --- level 1 ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def level1(
    renderer: Renderer, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> ActProject:
    return prepare(renderer, env, tmp_path_factory.mktemp("act-l1"), "1")


@pytest.mark.long
class TestLevel1:
    """ci.yml at level 1 (a class: pytest-xdist runs each level on its own worker)."""

    def test_level1_ci_lints_runs_the_pipeline_and_fails_on_a_broken_test(
        self, level1: ActProject
    ) -> None:
        # Given a generated test broken on purpose (act copies the work tree as it is)
        test_file = level1.path / "tests" / "test_features.py"
        original = test_file.read_text()
        broken = original.replace("pytest.approx(2.0)", "pytest.approx(3.0)", 1)
        assert broken != original
        test_file.write_text(broken)
        # and a vulnerability database (a stand-in: OSV is on the network) that knows an
        # advisory against one locked package
        try:
            with serve_fake_osv({"pyyaml"}) as (osv, database):
                # When CI runs locally, every job
                outcome = level1.ci_local(
                    "ci.yml on push (a broken test, an advisory)",
                    expect_success=False,
                    extra=("--env", f"PIP_AUDIT_OSV_URL={osv}"),
                )
        finally:
            test_file.write_text(original)
        # Then the audit asked about every locked package and failed on the advisory, after the
        # SBOM of the image's packages was kept
        assert job_ended(outcome, "CI", "Dependencies (SBOM, audit)", "failed")
        asked = {name for name, _ in database.queries}
        assert {"pyyaml", "scikit-learn", "mlflow", "pytest", "pip-audit"} <= asked
        assert re.search(rf"pyyaml +6\S* +{ADVISORY}", outcome.stdout)
        assert "Found 1 known vulnerability in 1 package" in outcome.stdout + outcome.stderr
        sbom = json.loads((level1.artifact("sbom") / "sbom.cdx.json").read_text())
        assert sbom["bomFormat"] == "CycloneDX"
        components = {component["name"] for component in sbom["components"]}
        assert {"mlops-ladder", "scikit-learn", "fastapi"} <= components
        # the image's packages: not the pipeline group's (training's among them), nor the
        # development tools
        assert not {"mlflow", "dvc", "optuna", "matplotlib", "pyarrow", "pytest"} & components
        # And lint and the pipeline job pass, the tests fail on that test alone, and so does make
        assert job_ended(outcome, "CI", "Lint", "succeeded")
        assert job_ended(outcome, "CI", "Pipeline and serving image", "succeeded")
        assert job_ended(outcome, "CI", "Tests", "failed")
        failed = "FAILED tests/test_features.py::test_the_sample_features_compute_their_formulas"
        assert failed in outcome.stdout
        assert re.search(r"\b1 failed, \d+ passed", outcome.stdout)
        assert "make: *** [Makefile" in outcome.stderr
        assert "passed the gate" in outcome.stdout
        metrics = json.loads((level1.artifact("reports") / "metrics.json").read_text())
        assert metrics["quality"]["passed"] is True


# --- level 2, with the feature store -----------------------------------------------------------


@pytest.fixture(scope="module")
def level2(feast_project: ActProject) -> ActProject:
    """The level-2 feature-store project, its first champion in the team's registry
    (conftest.py: test_feature_store.py runs on it after these tests)."""
    return feast_project


def registry_vars(project: ActProject) -> tuple[str, ...]:
    """act's variable that points the workflows at the team's registry (`prepare`'s services)."""
    return ("--var", f"MLFLOW_TRACKING_URI={project.services['MLFLOW_TRACKING_URI']}")


def github_args(api: str) -> tuple[str, ...]:
    """act's arguments for the workflows' GitHub calls to go to the stand-in at `api`."""
    return ("--secret", f"GITHUB_TOKEN={TOKEN}", "--env", f"GITHUB_API_URL={api}")


DISPATCHES: list[dict] = []  # what monitor.yml asked GitHub to start, for the CT test


@pytest.mark.long
class TestLevel2:
    """Level 2 with the feature store, in order: monitoring, continuous training and delivery,
    rollback (one registry)."""

    def test_monitor_detects_drift_opens_the_issue_and_starts_ct(self, level2: ActProject) -> None:
        # Given a prediction log whose inputs drifted far from the training data
        logs = level2.state / "prediction-log"
        logs.mkdir()
        log_file = logs / "predictions-20260101.jsonl"
        run(
            [level2.path / ".venv" / "bin" / "python", "-c", DRIFTED_LOG, log_file],
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
                    *github_args(api),
                ),
            )  # fmt: skip
        # Then it saw the drift, kept the report, opened one issue and started ct.yml
        report = json.loads((level2.artifact("monitoring-report") / "report.json").read_text())
        assert report["retrain_needed"] is True
        assert (level2.artifact("monitoring-report") / "report.html").is_file()
        assert "## Monitoring: retraining needed" in outcome.stdout  # the job summary
        assert "started ct.yml" in outcome.stdout
        assert len(github.issues) == 1
        assert github.issues[0]["labels"] == ["model-monitoring"]
        assert "retraining needed" in github.issues[0]["body"]
        dispatches = [
            body for method, path, body in github.calls if path.endswith("/ct.yml/dispatches")
        ]
        assert dispatches == [{"ref": "refs/heads/main", "inputs": {"reason": "drift"}}]
        DISPATCHES.extend(dispatches)

    def test_ct_retrains_promotes_materializes_and_cd_serves_records_and_entities(
        self, level2: ActProject
    ) -> None:
        # Given the dispatch monitor.yml sent (or, run alone, the same one)
        dispatch = DISPATCHES[0] if DISPATCHES else {"inputs": {"reason": "drift"}}
        # The sample data never change, so nothing would be retrained: force it, as the workflow's
        # `force` input does for a new model on the same data.
        inputs = {**dispatch["inputs"], "force": "true"}
        assert champion(level2) == "1"
        # And a table imported with `dvc import-url` (a folder stands in for the team's bucket;
        # the pipeline does not read it), whose source gained a row since
        upstream = level2.state / "upstream" / "stations.csv"
        upstream.parent.mkdir()
        upstream.write_text("station,capacity\nnorth,3\n")
        dvc = ["uv", "run", "--frozen", "dvc"]
        run([*dvc, "import-url", upstream, "data/stations.csv"], level2.path, level2.env)
        upstream.write_text(upstream.read_text() + "south,5\n")
        # When ct.yml runs with it
        with serve_fake_github() as (api, github):
            outcome = level2.ci_local(
                "ct.yml dispatch (+ cd.yml)",
                workflow="ct",
                event="workflow_dispatch",
                extra=(
                    *level2.event("ct", {"inputs": inputs}),
                    *registry_vars(level2),
                    *github_args(api),
                ),
            )
        # Then it fetched the new version and said so in one issue, naming the import
        assert 'changed=["data/stations.csv.dvc"]' in outcome.stdout
        assert [issue["labels"] for issue in github.issues] == [["data-source"]]
        assert '`["data/stations.csv.dvc"]`' in github.issues[0]["body"]
        assert "Continuous training ran on it (success)" in github.issues[0]["body"]
        # And a new model passed the gate and became champion
        assert champion(level2) == "2"
        train = outcome.stdout.split("passed the gate: it is the champion now", 1)
        assert len(train) == 2, "no new champion in CT"
        registration = json.loads((level2.artifact("ct-reports") / "registration.json").read_text())
        assert registration["promoted"] is True
        # The online store was loaded after the promotion, in CT's own pipeline run
        assert "materialized the latest feature values into the online store" in train[1]
        # And CD smoke-tested the served champion, from records and for an entity by key
        assert "entity-key prediction ok" in outcome.stdout
        assert "smoke test passed" in outcome.stdout
        assert "and model version 2 predicted" in outcome.stdout
        assert "staging: not deployed (no KUBE_CONFIG secret)" in outcome.stdout

    def test_rollback_moves_the_champion_back(self, level2: ActProject) -> None:
        before = champion(level2)
        assert before != "1", "run after the CT test: it makes a second champion"
        # The rollback job alone: the redeploy job that follows it is the same cd.yml call
        # that CT's test ran.
        level2.ci_local(
            "rollback.yml, rollback job",
            workflow="rollback",
            event="workflow_dispatch",
            job="rollback",
            extra=(
                *level2.event("rollback", {"inputs": {"reason": "test"}}),
                *registry_vars(level2),
            ),
        )
        assert champion(level2) == "1"
