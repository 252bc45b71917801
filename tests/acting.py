"""A rendered project whose GitHub workflows act runs in host mode (test_act.py), and the
level-2 feature-store project that test_act.py's workflows and test_feature_store.py share."""

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from rendering import DEFAULT_PACKAGE, Outcome, Renderer, free_port, run

STANDINS = Path(__file__).parent / "act_standins"
REMOTE_ACTION = re.compile(r"uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})")
REPOSITORY = "example-org/tabular-model"
# Terminal colours, and the hyperlinks (OSC 8) pip-audit's table puts around names and IDs.
ANSI = re.compile(r"\x1b\[[0-9;]*m|\x1b\]8;[^\x1b]*\x1b\\")


@dataclass
class ActProject:
    """A rendered, set-up, committed project, and how to run its workflows with act."""

    path: Path
    env: dict[str, str]
    standins: list[str]
    state: Path
    level: str
    # With the team's services (`prepare(registry=True)`): the environment that points at them,
    # and the first pipeline run's output and `dvc status` right after it.
    services: dict[str, str] = field(default_factory=dict)
    first_run: Outcome | None = None
    status_after_first_run: str = ""

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
    project = renderer.fresh("copier", maturity_level=level, light=True, **answers)
    act_env = dict(env)
    for name in ("MLFLOW_TRACKING_URI", "ACT", "GITHUB_TOKEN"):
        act_env.pop(name, None)
    run(["make", "setup"], project, act_env, label=f"L{level} act: make setup")
    git = ["git", "-C", project]
    run([*git, "remote", "add", "origin", f"https://github.com/{REPOSITORY}.git"], project, env)
    services, first_run, status = {}, None, ""
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
        first_run = run(["make", "all"], project, services, label=f"L{level}: first champion")
        status = run([*dvc, "status"], project, env).stdout
        run([*dvc, "push"], project, env)
    # The first commit, as a user makes it: the pre-commit hooks run, and if they fix files
    # (they strip the notebook, for one), the fixed files are added and committed.
    commit = [*git, "commit", "--quiet", "-m", "Generated project"]
    run([*git, "add", "--all"], project, act_env)
    if run(commit, project, act_env, check=False).code != 0:
        run([*git, "add", "--all"], project, act_env)
        run(commit, project, act_env, label=f"L{level} act: first commit, again")
    arguments = standin_arguments(project)
    return ActProject(project, act_env, arguments, state, level, services, first_run, status)


def champion(project: ActProject) -> str:
    with sqlite3.connect(project.state / "registry.db") as db:
        (version,) = db.execute(
            "SELECT version FROM registered_model_aliases WHERE alias = 'champion'"
        ).fetchone()
    return str(version)
