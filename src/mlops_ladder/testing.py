"""The pytest plugin a project's tests stand on (loaded by pytest through the `pytest11` entry
point of mlops-ladder): fixtures of the project's own data and model, and the marker that ties a
test to the ML Test Score.

In a project (a pyproject.toml with `[tool.mlops-ladder]` at pytest's root) the fixtures are,
each built once per session, read-only (copy before you change one):

    params, schema       params.yaml and schema.yaml, checked
    dataset              the table the ingest stage reads (the project's ingest hook)
    splits               (train, test), cut as the split stage cuts them
    train_features       the training split with the derived features (features.py)
    tuning_report        the project's reports/tuning.json where train fits the study's best
                         (or the linear model, clearly better than it)
    workspace            every stage of the job run once through the command line, its outputs
                         in a temporary folder (the project's own files untouched)
    model                the workspace's model, trained as the pipeline trains it: params.yaml's
                         hyperparameters, or the study's best, or the linear model
                         (tune.on_shortfall use_best)
    report               its evaluation as the evaluate stage wrote it: test metrics, baselines,
                         slices, the quality bar
    retrained            the model trained again in process (the reproducibility test's)
    scheduled_monitor    (level 2) monitor.yml's monitoring step, run as the schedule runs it
    privacy              (level 1 and up) the data's columns against schema.yaml's pii tags, and
                         the prediction log of the champion served with features tagged pii
    rollback_drill       (level 1 and up) the project's promote and rollback commands on
                         versions of the job's model registered under a name of their own

Runs of a tracked project (level 1 and up) go to a temporary MLflow store, never the project's.

Every run of a project's tests is recorded in reports/tests.json at the session's end: each
test's outcome and the ML Test Score ids of its `ml_test_score` marker, which `make readiness`
scores (readiness.py). Outside a project the plugin does nothing.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from mlops_ladder import project

# Every stage up to evaluation, in the order `make all` runs them (level 1 adds the gate).
STAGES = ["ingest", "validate", "split", "featurize", "train", "evaluate"]
MARKER = "ml_test_score"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(*ids): the ML Test Score tests (Breck et al. 2017) this test backs, e.g. "
        '"data-1": `make readiness` counts a point only where its tests ran and passed',
    )
    root = Path(config.rootpath)
    if _is_project(root):
        project.activate(project.read_identity(root))
        if not hasattr(config, "workerinput"):  # pytest-xdist: the controller records the run
            config.pluginmanager.register(
                Results(config, results_file(root)), "mlops-ladder-results"
            )
        # One thread per OpenMP/BLAS pool: on test-sized data a pool costs more than it gives,
        # and its threads spin for seconds when the cores are shared (a CI runner, xdist).
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Each test's ML Test Score ids travel with its report (user_properties: pytest-xdist
    sends them from the workers); an id that is not one of the paper's 28 is an error."""
    from mlops_ladder.readiness import IDS

    for item in items:
        ids = [str(arg) for mark in item.iter_markers(MARKER) for arg in mark.args]
        unknown = [paper_id for paper_id in ids if paper_id not in IDS]
        if unknown:
            raise pytest.UsageError(
                f"{item.nodeid}: ml_test_score({', '.join(map(repr, unknown))}) is no test of "
                "the ML Test Score: data-1..7, model-1..7, infrastructure-1..7, monitoring-1..7"
            )
        if ids:
            item.user_properties.append((MARKER, " ".join(dict.fromkeys(ids))))


def results_file(root: Path) -> Path:
    """reports/tests.json of the project (its <PACKAGE>_REPORTS_DIR, read before any fixture
    points it elsewhere)."""
    prefix = project.read_identity(root).env_prefix
    reports = Path(os.environ.get(f"{prefix}REPORTS_DIR", "reports"))
    return (reports if reports.is_absolute() else root / reports) / "tests.json"


# The outcome that wins when a test's phases differ (a passed call, a failed teardown: error).
RANK = {"passed": 0, "xpassed": 0, "skipped": 1, "xfailed": 1, "failed": 2, "error": 3}


class Results:
    """The run's record: every test's outcome and ML Test Score ids, whether the whole suite
    ran, written at the session's end (reports/tests.json)."""

    def __init__(self, config: pytest.Config, path: Path) -> None:
        self.config, self.path = config, path
        self.started = datetime.now(UTC)
        self.tests: dict[str, dict[str, Any]] = {}
        self.collection_errors: list[dict[str, str]] = []

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        ids = dict(report.user_properties).get(MARKER, "")
        entry = self.tests.setdefault(
            report.nodeid,
            {
                "nodeid": report.nodeid,
                "module": report.nodeid.split("::")[0],
                "outcome": "passed",
                "ml_test_score": str(ids).split(),
                "seconds": 0.0,
            },
        )
        entry["seconds"] = round(entry["seconds"] + report.duration, 3)
        outcome = phase_outcome(report)
        if outcome and RANK[outcome] > RANK[entry["outcome"]]:
            entry["outcome"] = outcome
            if outcome in ("skipped", "xfailed") and isinstance(report.longrepr, tuple):
                entry["reason"] = str(report.longrepr[2]).removeprefix("Skipped: ")

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            text = str(report.longrepr).strip().splitlines()
            self.collection_errors.append({"nodeid": report.nodeid, "error": " ".join(text[-1:])})

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        narrowed = selection(self.config)
        record = {
            "format": 1,
            "started": self.started.isoformat(timespec="seconds"),
            "finished": datetime.now(UTC).isoformat(timespec="seconds"),
            "exit_status": int(exitstatus),
            "complete": not narrowed and int(exitstatus) != pytest.ExitCode.INTERRUPTED,
            "selection": narrowed,
            "collection_errors": self.collection_errors,
            "tests": sorted(self.tests.values(), key=lambda test: test["nodeid"]),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text(json.dumps(record, indent=1) + "\n")


def phase_outcome(report: pytest.TestReport) -> str | None:
    """What one phase (setup, call, teardown) says of the test, None when it says nothing."""
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.failed:
        return "failed" if report.when == "call" else "error"
    if report.skipped:
        return "skipped"
    return "passed" if report.when == "call" else None


def selection(config: pytest.Config) -> list[str]:
    """How the run was narrowed to a part of the suite (no entry: every test ran)."""
    option = config.option
    narrowed = [
        f"{flag} {value}" if value is not True else flag
        for flag, value in (
            ("-k", getattr(option, "keyword", "")),
            ("-m", getattr(option, "markexpr", "")),
            ("--lf", getattr(option, "lf", False)),
            ("--sw", getattr(option, "stepwise", False)),
            ("--deselect", " ".join(getattr(option, "deselect", None) or [])),
            ("--ignore", " ".join(getattr(option, "ignore", None) or [])),
        )
        if value
    ]
    if config.args_source != pytest.Config.ArgsSource.TESTPATHS:
        root = Path(config.rootpath)
        whole = {(root / path).resolve() for path in config.getini("testpaths") or ["."]}
        parts = [arg for arg in config.args if Path(arg.split("::")[0]).resolve() not in whole]
        narrowed += parts
    return narrowed


def _is_project(root: Path) -> bool:
    try:
        project.read_identity(root)
    except project.ConfigError:
        return False
    return True


def _root(request: pytest.FixtureRequest) -> Path:
    root = Path(request.config.rootpath)
    if not _is_project(root):
        pytest.skip(f"{root} is not an mlops-ladder project (no [tool.mlops-ladder])")
    return root


@pytest.fixture(scope="session")
def ml_project(request: pytest.FixtureRequest) -> project.Identity:
    """The project under test (its pyproject.toml)."""
    _root(request)
    return project.current()


@pytest.fixture(scope="session", autouse=True)
def _private_mlflow_store(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Every run of a tracked project's tests goes to a temporary MLflow store."""
    root = Path(request.config.rootpath)
    if not _is_project(root) or not project.read_identity(root).tracked:
        yield
        return
    folder = tmp_path_factory.mktemp("mlflow")
    prefix = project.read_identity(root).env_prefix
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{folder / 'mlflow.db'}")
        patch.setenv(f"{prefix}ARTIFACTS_DIR", str(folder / "artifacts"))
        yield


@pytest.fixture(scope="session")
def params(ml_project: project.Identity) -> Any:
    from mlops_ladder.config import load_params

    return load_params(ml_project.root / "params.yaml")


@pytest.fixture(scope="session")
def schema(ml_project: project.Identity) -> Any:
    from mlops_ladder.schema import load_schema

    return load_schema(ml_project.root / "schema.yaml")


@pytest.fixture(scope="session")
def dataset(ml_project: project.Identity, params: Any) -> Any:
    from mlops_ladder import data

    ingest = project.hook("ingest", data.ingest)
    source = params.ingest.source
    return ingest(str(ml_project.root / source) if not Path(source).is_absolute() else source)


@pytest.fixture(scope="session")
def splits(dataset: Any, params: Any, schema: Any) -> tuple[Any, Any]:
    from mlops_ladder.data import split

    return split(dataset, schema.target, params.split.test_size, params.seed, params.split.stratify)


@pytest.fixture(scope="session")
def train_features(splits: tuple[Any, Any], schema: Any) -> Any:
    from mlops_ladder.features import add_derived_features, derived_for

    return add_derived_features(splits[0], derived_for(schema.feature_names))


@pytest.fixture(scope="session")
def tuning_report(ml_project: project.Identity, params: Any) -> Path | None:
    """The project's last tuning report (reports/tuning.json of `make tune` or the pipeline)
    when it has train fit the study's best hyperparameters or the linear model (tune.on_shortfall
    use_best, for params.yaml's estimator and configuration as they are now); else None:
    params.yaml's."""
    from mlops_ladder.config import Settings
    from mlops_ladder.train import tuned_model

    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ml_project.root)
        found = Settings.load().tuning_report.resolve()
    return found if tuned_model(found, params) is not None else None


@pytest.fixture(scope="session")
def model(workspace: Path, request: pytest.FixtureRequest) -> Any:
    """The model the pipeline's train stage fitted (the workspace's): params.yaml's
    hyperparameters, or the study's best (or the linear model) where the tuning report says so."""
    return request.config.stash[_STAGE_OUTPUTS][0]


@pytest.fixture(scope="session")
def report(workspace: Path, request: pytest.FixtureRequest) -> dict[str, Any]:
    """Its evaluation as the evaluate stage wrote it (reports/metrics.json of the workspace)."""
    return request.config.stash[_STAGE_OUTPUTS][1]


@pytest.fixture(scope="session")
def retrained(train_features: Any, schema: Any, params: Any, tuning_report: Path | None) -> Any:
    """The model trained again here, in process, from the same data, params and seed (and the
    same tuning choice): the reproducibility test compares it with `model`."""
    from mlops_ladder.train import train, tuned_model

    tuned = tuned_model(tuning_report, params) if tuning_report else None
    return train(train_features, schema, params, tuned)


# What the stages wrote, read as soon as they ran: a test may run a stage again on other params
# into the same folder (the gate's test trains a crippled model there).
_STAGE_OUTPUTS = pytest.StashKey[tuple[Any, dict[str, Any]]]()


def point_outputs_at(root: Path, folder: Path, prefix: str, patch: pytest.MonkeyPatch) -> None:
    """Read params and contract from the project; write every output under `folder`."""
    patch.setenv(f"{prefix}PARAMS_FILE", str(root / "params.yaml"))
    patch.setenv(f"{prefix}SCHEMA_FILE", str(root / "schema.yaml"))
    for name in ("data", "models", "reports"):
        patch.setenv(f"{prefix}{name.upper()}_DIR", str(folder / name))
    # The tests' requests are no traffic: the app they serve logs them here, not where `make
    # monitor` reads the project's live predictions.
    patch.setenv(f"{prefix}PREDICTION_LOG_DIR", str(folder / "logs" / "predictions"))


@pytest.fixture(scope="session")
def workspace(
    ml_project: project.Identity,
    tmp_path_factory: pytest.TempPathFactory,
    tuning_report: Path | None,
    request: pytest.FixtureRequest,
) -> Iterator[Path]:
    """Every stage of the job run once, in order, through the command line, its outputs in a
    temporary folder; the variables that point there stay set while tests read it. Train reads
    the project's tuning report where it picks the study's best (`tuning_report`)."""
    import shutil

    from mlops_ladder.commands import main
    from mlops_ladder.config import Settings
    from mlops_ladder.train import load

    folder = tmp_path_factory.mktemp("workspace")
    if tuning_report is not None:
        (folder / "reports").mkdir()
        shutil.copyfile(tuning_report, folder / "reports" / "tuning.json")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(ml_project.root)
        point_outputs_at(ml_project.root, folder, ml_project.env_prefix, patch)
        for stage in STAGES:
            assert main([stage]) == 0, f"the {stage} stage failed on the project's data"
        settings = Settings.load()
        request.config.stash[_STAGE_OUTPUTS] = (
            load(settings.model_file),
            json.loads(settings.metrics_file.read_text()),
        )
        yield folder


@pytest.fixture(scope="session")
def registered(workspace: Path, ml_project: project.Identity) -> dict[str, Any]:
    """The job's model through the registry gate (level 1 and up), as the register stage runs
    it: the gate's decision (reports/registration.json of the workspace)."""
    import json

    from mlops_ladder.commands import main

    if not ml_project.tracked:
        pytest.skip("level 0 has no registry")
    main(["register"])  # a refusal is the decision the tests read, not an error here
    return json.loads((workspace / "reports" / "registration.json").read_text())


@pytest.fixture(scope="session")
def served(registered: dict[str, Any]) -> Iterator[Any]:
    """The serving app (FastAPI's TestClient) answering with the registry's champion, ready."""
    from fastapi.testclient import TestClient

    from mlops_ladder.serving.app import create_app

    if not registered.get("promoted"):
        pytest.fail("the gate promoted no champion to serve: " + "; ".join(registered["reasons"]))
    with TestClient(create_app()) as client:
        wait_until_ready(client)
        yield client


def wait_until_ready(client: Any, seconds: float = 60) -> None:
    """Poll the app's /ready until it answers 200 (the model loads in the background); fail
    the test, with the app's reason, after `seconds`."""
    deadline = time.monotonic() + seconds
    while client.get("/ready").status_code != 200:
        if time.monotonic() > deadline:
            pytest.fail(f"the app never got ready: {client.get('/ready').json()}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def monitor(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """monitor(records) -> report: the monitoring job on `records` as the current data (the
    job's model predicts them), against the job's training data."""
    import json

    from mlops_ladder.commands import main

    def run(records: Any) -> dict[str, Any]:
        folder = tmp_path_factory.mktemp("monitoring")
        current = folder / "current.parquet"
        records.to_parquet(current, index=False)
        main(["monitor", "--current", str(current), "--output-dir", str(folder)])
        return json.loads((folder / "report.json").read_text())

    return run


# --------------------------------------------------------------------------------------------
# A workflow's step, run here as GitHub runs it
# --------------------------------------------------------------------------------------------
def workflow_step(root: Path, workflow: str, step_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The job and the step (by its `id`) of .github/workflows/<workflow>."""
    import yaml

    path = root / ".github" / "workflows" / workflow
    if not path.is_file():
        pytest.fail(f"{path.relative_to(root)} is missing")
    loaded = yaml.safe_load(path.read_text())
    for job in (loaded.get("jobs") or {}).values():
        for step in job.get("steps") or []:
            if step.get("id") == step_id:
                return job, step
    pytest.fail(f"{workflow} has no step with id {step_id}")


def expression(value: Any, context: dict[str, dict[str, str]]) -> str:
    """`${{ vars.X }}` and `${{ secrets.X }}` of a workflow's value, from `context` (what the
    repository would hold; anything else is empty, as on a runner without it)."""
    import re

    def one(match: re.Match[str]) -> str:
        scope, _, name = match.group(1).strip().partition(".")
        return context.get(scope, {}).get(name, "")

    return re.sub(r"\$\{\{(.*?)\}\}", one, str(value))


def run_step(
    root: Path,
    workflow: str,
    step_id: str,
    context: dict[str, dict[str, str]],
    runner: Path,
    environment: dict[str, str],
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run a step's `run:` with bash as GitHub does (-eo pipefail), its job's and its own `env:`
    resolved from `context`, in the project's folder, RUNNER_TEMP and GITHUB_OUTPUT in
    `runner`. Returns the process and the step's outputs."""
    job, step = workflow_step(root, workflow, step_id)
    runner.mkdir(parents=True, exist_ok=True)
    output = runner / "github_output"
    output.write_text("")
    env = {
        **environment,
        "CI": "true",
        "GITHUB_ACTIONS": "true",
        "RUNNER_TEMP": str(runner),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(runner / "summary.md"),
    }
    for scope in (job.get("env") or {}, step.get("env") or {}):
        env.update({name: expression(value, context) for name, value in scope.items()})
    done = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", str(step["run"])],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return done, outputs


def runner_path(folder: Path) -> str:
    """PATH of a runner whose `uv run --frozen` is this environment: the tests already run in
    the project's locked environment (`make test`), the one the workflow's setup installs."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "uv"
    shim.write_text('#!/bin/sh\n[ "$1" = run ] && shift\n[ "$1" = --frozen ] && shift\nexec "$@"\n')
    shim.chmod(0o755)
    return os.pathsep.join([str(folder), str(Path(sys.executable).parent), os.environ["PATH"]])


def prediction_log(model: Any, records: Any, schema: Any, version: str, name: str) -> list[str]:
    """The lines the serving app logs for `records` answered by `model` (serving/
    prediction_log.py's format), one request per record."""
    from mlops_ladder.model import predict

    labels, scores = predict(model, records[schema.feature_names])
    inputs = records[schema.feature_names].astype(object)
    inputs = inputs.where(inputs.notna(), None).to_dict("records")
    now = datetime.now(UTC).isoformat(timespec="milliseconds")
    lines = []
    for index, record in enumerate(inputs):
        line: dict[str, Any] = {
            "timestamp": now,
            "request_id": f"scheduled-{index}",
            "record": 0,
            "model_name": name,
            "model_version": version,
            "variant": "champion",
            "inputs": record,
            "prediction": labels[index],
        }
        if scores is not None:
            row = scores.iloc[index]
            line["probability"] = float(row.max())
            line["probabilities"] = {str(label): float(value) for label, value in row.items()}
        lines.append(json.dumps(line, default=lambda value: value.item()))
    return lines


@pytest.fixture
def scheduled_monitor(
    registered: dict[str, Any],
    workspace: Path,
    model: Any,
    schema: Any,
    ml_project: project.Identity,
    tmp_path: Path,
) -> Callable[[Any], dict[str, Any]]:
    """monitor(records) -> report: .github/workflows/monitor.yml's monitoring step (id
    `monitor`), run as the schedule runs it: `records` (with their target) as the prediction
    log and labels it fetched, the repository's variables and secrets standing for the
    registry of `registered`. A runner has no registry of its own: what the step is not given,
    it cannot read."""
    import pandas as pd

    from mlops_ladder.config import Settings

    registry = os.environ.get("MLFLOW_TRACKING_URI", "")

    def run(records: pd.DataFrame) -> dict[str, Any]:
        runner = tmp_path / "runner"
        (runner / "predictions").mkdir(parents=True, exist_ok=True)
        settings = Settings.load()
        lines = prediction_log(model, records, schema, registered["version"], settings.model_name)
        day = datetime.now(UTC).strftime("%Y-%m-%d")
        (runner / "predictions" / f"predictions-{day}-runner-1.jsonl").write_text(
            "\n".join(lines) + "\n"
        )
        target = schema.target.name
        labels = pd.DataFrame(
            {"request_id": [f"scheduled-{i}" for i in range(len(records))], "record": 0}
        )
        labels[target] = records[target].to_numpy()
        labels.to_csv(runner / "labels.csv", index=False)
        environment = {
            name: value for name, value in os.environ.items() if not name.startswith("MLFLOW_")
        }
        # The runner's own store: empty, as on a fresh checkout that never registered a model.
        environment["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'runner-mlflow.db'}"
        environment["PATH"] = runner_path(tmp_path / "bin")
        context = {"vars": {"MLFLOW_TRACKING_URI": registry}, "secrets": {}}
        done, outputs = run_step(
            ml_project.root, "monitor.yml", "monitor", context, runner, environment
        )
        if done.returncode != 0:
            pytest.fail(
                f"monitor.yml's step failed ({done.returncode}):\n{done.stdout[-3000:]}\n"
                f"{done.stderr[-3000:]}"
            )
        report_file = settings.reports_dir / "monitoring" / "report.json"
        report = json.loads(report_file.read_text())
        report["step_outputs"] = outputs
        return report

    return run


# --------------------------------------------------------------------------------------------
# Privacy (data-5) and rollback (infrastructure-7), exercised on the project's own model
# --------------------------------------------------------------------------------------------
# Column names that say personal data (after lower-casing, anything not a letter or digit as _).
PERSONAL = (
    r"e_?mail|phone|mobile|surname|^name$|^(first|last|full|given|family|middle|user|customer|"
    r"patient|client)_?name$|address|street|zip_?code|post_?code|postal|ssn|social_security|"
    r"passport|birth|^dob$|national_id|iban|credit_card|card_number|ip_?addr"
)


def untagged_personal_columns(schema: Any, columns: list[str]) -> list[str]:
    """Columns whose names look like personal data but that schema.yaml neither tags pii (a
    feature: hashed in the prediction log) nor lists under ignored (never a model input)."""
    import re

    tagged = set(schema.tagged("pii")) | set(schema.ignored) | {schema.target.name}
    return [
        column
        for column in columns
        if column not in tagged
        and re.search(PERSONAL, re.sub(r"[^a-z0-9]+", "_", str(column).lower()))
    ]


@dataclass
class PrivacyCheck:
    """What `privacy` found: the columns left untagged, and the prediction log of a served
    model whose contract tags features pii."""

    untagged: list[str]  # columns that look personal, neither tagged pii nor ignored
    tagged: list[str]  # the features tagged pii when serving (the contract's, else its first)
    sent: list[dict[str, Any]]  # the records sent to /predict
    logged: list[dict[str, Any]]  # their inputs as the prediction log holds them
    hashed: dict[str, list[Any]]  # each tagged feature's sent values, hashed under the key
    refused: str  # what serving said when started on the public default key ("": it started)


@pytest.fixture(scope="session")
def privacy(
    registered: dict[str, Any],
    dataset: Any,
    splits: tuple[Any, Any],
    schema: Any,
    ml_project: project.Identity,
    tmp_path_factory: pytest.TempPathFactory,
) -> PrivacyCheck:
    """The data's columns read against schema.yaml's pii tags, and the serving app run on the
    champion with features tagged pii (the contract's, else its first feature, in a copy of
    schema.yaml) and a key of its own: the records sent, the prediction log it wrote; and
    whether it refuses to start on the public default key."""
    import secrets

    import pandas as pd
    import yaml
    from fastapi.testclient import TestClient
    from pydantic import SecretStr

    from mlops_ladder.config import Settings
    from mlops_ladder.errors import ConfigError
    from mlops_ladder.privacy import pseudonymise
    from mlops_ladder.serving.app import create_app

    folder = tmp_path_factory.mktemp("privacy")
    tagged = schema.tagged("pii") or schema.feature_names[:1]
    contract = yaml.safe_load((ml_project.root / "schema.yaml").read_text())
    for name in tagged:
        spec = contract["features"][name]
        spec["tags"] = sorted({*(spec.get("tags") or []), "pii"})
    (folder / "schema.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    key = secrets.token_hex(16)
    settings = Settings.load().model_copy(
        update={
            "schema_file": folder / "schema.yaml",
            "pii_key": SecretStr(key),
            "prediction_log_dir": folder / "log",
        }
    )
    inputs = splits[1][schema.feature_names].head(20).astype(object)
    sent = inputs.where(inputs.notna(), None).to_dict("records")
    with TestClient(create_app(project=settings)) as client:
        wait_until_ready(client)
        answer = client.post("/predict", json={"records": sent})
        if answer.status_code != 200:
            pytest.fail(f"/predict answered HTTP {answer.status_code}: {answer.text}")
    logged = [
        json.loads(line)["inputs"]
        for path in sorted((folder / "log").glob("predictions-*.jsonl"))
        for line in path.read_text().splitlines()
    ]
    hashed = {
        name: [
            None if pd.isna(value) else value
            for value in pseudonymise(
                pd.Series([record[name] for record in sent], dtype=object), key, False
            )
        ]
        for name in tagged
    }
    public = settings.model_copy(
        update={"pii_key": Settings.model_fields["pii_key"].get_default(call_default_factory=True)}
    )
    try:
        create_app(project=public)
        refused = ""
    except ConfigError as error:
        refused = str(error)
    return PrivacyCheck(
        untagged_personal_columns(schema, list(dataset.columns)),
        tagged,
        sent,
        logged,
        hashed,
        refused,
    )


@dataclass
class RollbackDrill:
    """The project's registry commands on versions of the job's model registered under a
    name of their own, in the session's registry (the champion the other tests serve stays)."""

    name: str
    model_uri: str

    def register(self) -> str:
        """One more version of the job's model; its number."""
        import mlflow

        return str(mlflow.register_model(self.model_uri, self.name).version)

    def command(self, *args: str) -> int:
        """The project's command line (python -m <package> ...), its exit status."""
        from mlops_ladder.commands import main

        return main(list(args))

    def champion(self) -> str | None:
        from mlops_ladder import registry
        from mlops_ladder.config import Settings

        return registry.champion_version(registry.client_for(Settings.load()), self.name)


@pytest.fixture
def rollback_drill(
    registered: dict[str, Any], ml_project: project.Identity, monkeypatch: pytest.MonkeyPatch
) -> RollbackDrill:
    """A rollback rehearsed on the job's model (level 1 and up): `register()` adds a version,
    `command("promote", v)` and `command("rollback")` run the project's commands, `champion()`
    reads the alias, for a registered model of the drill's own name."""
    from mlops_ladder import tracking
    from mlops_ladder.config import Settings

    settings = Settings.load()
    run = tracking.read_metadata(settings.metadata_file)["mlflow"]
    name = f"{settings.model_name}-rollback-drill"
    monkeypatch.setenv(f"{ml_project.env_prefix}MODEL_NAME", name)
    return RollbackDrill(name, run["model_uri"])
