"""The readiness card: this project scored against the ML Test Score (Breck et al. 2017).

The paper's 28 tests, seven in each of four sections (data, model, ML infrastructure,
monitoring). A test scores 1 when it is automated (checks that run routinely and fail when the
property breaks), 0.5 when it is done by hand with documented results, 0 else; a section scores
the sum of its tests and the final score is the lowest section.

Nothing here is declared. Each paper test lists its checks, each with an id:

- `tests:<paper id>`: the project's tests marked `@pytest.mark.ml_test_score("<paper id>")`, as
  the last `make test` recorded them (reports/tests.json, written by the runtime's pytest
  plugin): every one of them ran and passed, and at least one exists. A test that failed,
  skipped (a tool missing, say) or did not run is shown as such and backs nothing.
- `report:<file>#<rule>`: a report of the pipeline's last run (`make all`) says the property
  holds.
- `file:<path>#<rule>`: a file of the project (a workflow, a deployment, params.yaml) holds
  what the property needs, read here (a cd.yml whose smoke test is removed loses its point).

A point needs every one of its checks to pass. Half a point needs every one of its manual
checks: a documented procedure whose command the project's tests run, or a report of a run by
hand (where either will do, `any_of`). A red `make test` (a test failed, or a module failed to
load) makes a red card: it says so, and no point rests on a module with a failure.

The card reads a project as it runs by itself: a workflow that waits for a repository variable
earns nothing until its run is recorded (monitor.yml's report, kept in reports/monitoring/).

One scorer: `make readiness` (commands.py) and `mlops-ladder assess` (checks.py) both call
`score`, the card's reading of a project's files.
"""

from __future__ import annotations

import json
import os
import re
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from mlops_ladder.errors import ProjectError

SECTIONS = {
    "data": "Data",
    "model": "Model",
    "infrastructure": "ML infrastructure",
    "monitoring": "Monitoring",
}
RESULTS = "tests.json"  # in the reports folder, as the pytest plugin writes it
METRICS = "reports/metrics.json"
WORKFLOWS = ".github/workflows"
# What specifies a model (train.py MODEL_SPEC): code owners must review every one of them.
MODEL_SPEC = ("src", "params.yaml", "schema.yaml", "dvc.yaml", "pyproject.toml", "uv.lock")
MAKE_ALL = "`make all`"
# The owner a project is generated with when none is given (copier.yml, cookiecutter.json
# github_owner): nobody reviews as it.
PLACEHOLDER_OWNERS = {"@example-org"}
MAKE_TEST = "`make test`"
# What evaluate.order_by must name for the staleness backtest to measure age (data.is_year's
# YEARS: this module reads metrics.json, and does not load the data libraries to say so).
TIME_COLUMN = "dates, or whole numbers of calendar years from 1800 to 2200"

Reader = Callable[[str], str | None]


def files_under(root: Path) -> Reader:
    """A reader of the files under `root` (None for a file that is not there)."""

    def read(path: str) -> str | None:
        try:
            return (root / path).read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError, UnicodeDecodeError):
            return None

    return read


# --------------------------------------------------------------------------------------------
# What the card reads
# --------------------------------------------------------------------------------------------
@dataclass
class Evidence:
    """The project's files as the card reads them, each parsed once: the recorded test run,
    the pipeline's reports, the workflows, params.yaml. `reports` is where the pipeline writes
    its reports (the project's `<PACKAGE>_REPORTS_DIR`), relative to the project's root."""

    read: Reader
    reports: str = "reports"
    params_file: str = "params.yaml"
    _parsed: dict[str, Any] = field(default_factory=dict)

    def text(self, path: str) -> str | None:
        return self.read(path)

    def yaml(self, path: str) -> Any:
        """A YAML file's content; None when it is missing or not YAML."""
        if path not in self._parsed:
            text = self.read(path)
            try:
                self._parsed[path] = yaml.safe_load(text) if text is not None else None
            except yaml.YAMLError:
                self._parsed[path] = None
        return self._parsed[path]

    def report(self, name: str) -> dict[str, Any] | None:
        """A JSON report of the pipeline (reports/<name>), None when missing or unreadable."""
        path = f"{self.reports}/{name}"
        if path not in self._parsed:
            text = self.read(path)
            try:
                loaded = json.loads(text) if text is not None else None
            except ValueError:
                loaded = None
            self._parsed[path] = loaded if isinstance(loaded, dict) else None
        return self._parsed[path]

    @cached_property
    def identity(self) -> dict[str, Any]:
        """pyproject.toml's [tool.mlops-ladder] (package, level) and project name."""
        try:
            content = tomllib.loads(self.read("pyproject.toml") or "")
        except tomllib.TOMLDecodeError:
            content = {}
        table = content.get("tool", {}).get("mlops-ladder", {})
        package = str(table.get("package", "model"))
        return {
            "package": package,
            "level": int(table.get("level", 0)) if str(table.get("level", 0)).isdigit() else 0,
            "prefix": f"{package.upper()}_",
        }

    @property
    def level(self) -> int:
        return self.identity["level"]

    @property
    def results_file(self) -> str:
        return f"{self.reports}/{RESULTS}"

    @cached_property
    def results(self) -> dict[str, Any] | None:
        """The last recorded test run (reports/tests.json), None when there is none."""
        text = self.read(self.results_file)
        try:
            loaded = json.loads(text) if text is not None else None
        except ValueError:
            return None
        return (
            loaded if isinstance(loaded, dict) and isinstance(loaded.get("tests"), list) else None
        )

    @cached_property
    def marked(self) -> dict[str, list[dict[str, Any]]]:
        """The recorded tests by the ML Test Score ids they are marked with."""
        found: dict[str, list[dict[str, Any]]] = {}
        for test in (self.results or {}).get("tests", []):
            for paper_id in test.get("ml_test_score") or []:
                found.setdefault(paper_id, []).append(test)
        return found

    @cached_property
    def failed_modules(self) -> dict[str, list[str]]:
        """Modules of tests/ with a failure in the last run, and the tests that failed."""
        found: dict[str, list[str]] = {}
        for test in (self.results or {}).get("tests", []):
            if test.get("outcome") in ("failed", "error"):
                found.setdefault(test.get("module", ""), []).append(test.get("nodeid", ""))
        for error in (self.results or {}).get("collection_errors", []):
            node = str(error.get("nodeid", ""))
            found.setdefault(node.split("::")[0], []).append(f"{node} (not collected)")
        return found

    def params(self) -> dict[str, Any]:
        loaded = self.yaml(self.params_file)
        return loaded if isinstance(loaded, dict) else {}


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """What a check found: `passed`, else `failed`, `skipped`, `not run` or `missing`, with
    what is wrong (or, passed, what backs it)."""

    status: str
    detail: str = ""
    tests: tuple[str, ...] = ()  # the recorded tests behind a `tests:` check
    modules: tuple[str, ...] = ()
    label: str = ""  # what backs a passed choice of `any_of` (its check's label)

    @property
    def passed(self) -> bool:
        return self.status == "passed"


PASSED = Verdict("passed")


@dataclass(frozen=True)
class Check:
    id: str
    label: str
    judge: Callable[[Evidence], Verdict]


def marked(paper_id: str) -> Check:
    """The project's tests marked with `paper_id`: at least one, each run and passed."""

    def judge(evidence: Evidence) -> Verdict:
        if evidence.results is None:
            return Verdict("not run", f"no recorded test run: run {MAKE_TEST}")
        tests = evidence.marked.get(paper_id, [])
        nodes = tuple(str(test.get("nodeid")) for test in tests)
        modules = tuple(dict.fromkeys(str(test.get("module")) for test in tests))
        if not tests:
            return Verdict(
                "not run",
                f'no test of the last run is marked ml_test_score("{paper_id}")'
                + ("" if evidence.results.get("complete") else " (the run was partial)"),
            )
        for status in ("failed", "error", "skipped", "xfailed"):
            found = [test for test in tests if test.get("outcome") == status]
            if found:
                shown = "; ".join(
                    str(test["nodeid"]) + (f" ({test['reason']})" if test.get("reason") else "")
                    for test in found
                )
                word = {"error": "failed", "xfailed": "skipped"}.get(status, status)
                return Verdict(word, f"{word} in the last run: {shown}", nodes, modules)
        return Verdict("passed", "", nodes, modules)

    return Check(f"tests:{paper_id}", f'tests marked ml_test_score("{paper_id}")', judge)


def report(
    name: str,
    rule: str,
    holds: Callable[[dict[str, Any]], str | None],
    run: str | Callable[[Evidence], str] = MAKE_ALL,
) -> Check:
    """A pipeline report (reports/<name>) says the property holds: `holds` returns None when
    it does, else what is wrong. `run` says what writes the report (by level, a function)."""

    def judge(evidence: Evidence) -> Verdict:
        loaded = evidence.report(name)
        needed = REPORTS_FROM_LEVEL.get(name, 0)
        if loaded is None and evidence.level < needed:
            return Verdict(
                "missing",
                f"reports/{name}: level {needed} adds it (this is level {evidence.level})",
            )
        if loaded is None:
            what = run(evidence) if callable(run) else run
            return Verdict("missing", f"reports/{name} is missing (run {what})")
        problem = holds(loaded)
        return PASSED if problem is None else Verdict("failed", f"reports/{name}: {problem}")

    return Check(f"report:{name}#{slug(rule)}", f"reports/{name}: {rule}", judge)


def rule(path: str, what: str, holds: Callable[[Evidence], str | None], level: int = 0) -> Check:
    """A file of the project holds `what`: `holds` returns None when it does, else what is
    wrong. Below `level` the project has no such file: the check says which level adds it."""

    def judge(evidence: Evidence) -> Verdict:
        if evidence.level < level:
            return Verdict(
                "missing", f"{path}: level {level} adds it (this is level {evidence.level})"
            )
        problem = holds(evidence)
        return PASSED if problem is None else Verdict("failed", problem)

    return Check(f"file:{path}#{slug(what)}", f"{path}: {what}", judge)


def all_of(label: str, *checks: Check) -> Check:
    """Every one of `checks` passes (the tests behind them travel with the verdict)."""

    def judge(evidence: Evidence) -> Verdict:
        verdicts = [check.judge(evidence) for check in checks]
        tests = tuple(node for verdict in verdicts for node in verdict.tests)
        modules = tuple(dict.fromkeys(m for verdict in verdicts for m in verdict.modules))
        failed = [verdict for verdict in verdicts if not verdict.passed]
        if not failed:
            return Verdict("passed", "", tests, modules)
        detail = "; ".join(verdict.detail for verdict in failed)
        return Verdict(failed[0].status, detail, tests, modules)

    return Check("all:" + "+".join(check.id for check in checks), label, judge)


def any_of(label: str, *choices: Check) -> Check:
    """One of `choices` passes: the first that does backs the point."""

    def judge(evidence: Evidence) -> Verdict:
        verdicts = [choice.judge(evidence) for choice in choices]
        for choice, verdict in zip(choices, verdicts, strict=True):
            if verdict.passed:
                return Verdict("passed", "", verdict.tests, verdict.modules, choice.label)
        detail = "; or ".join(verdict.detail for verdict in verdicts)
        modules = tuple(dict.fromkeys(m for verdict in verdicts for m in verdict.modules))
        return Verdict(verdicts[0].status, detail, (), modules)

    return Check("any:" + "|".join(choice.id for choice in choices), label, judge)


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:48]


# --------------------------------------------------------------------------------------------
# What the reports must say
# --------------------------------------------------------------------------------------------
def passed(value: dict[str, Any]) -> str | None:
    return None if value.get("passed") is True else "not passed"


def leakage_checked(value: dict[str, Any]) -> str | None:
    leakage = [c for c in value.get("checks", []) if str(c.get("name", "")).endswith(".leakage")]
    if not leakage:
        return "no column was checked for leakage"
    failed = [str(c["name"]) for c in leakage if not c.get("passed")]
    return f"leakage: {', '.join(failed)}" if failed else None


def features_beneficial(value: dict[str, Any]) -> str | None:
    importance = value.get("feature_importance") or {}
    if "useless" not in importance:
        return "features that never help are not measured (an older evaluate?)"
    if importance.get("passed") is not True:
        return "; ".join(importance.get("failures") or ["feature importance not passed"])
    return None


def within_budget(value: dict[str, Any]) -> str | None:
    if "features" not in value:
        return "no cost measured"
    return "; ".join(value["failures"]) if value.get("failures") else None


def quality_passed(value: dict[str, Any]) -> str | None:
    quality = value.get("quality") or {}
    if quality.get("passed") is True:
        return None
    return "the quality bar is missed: " + "; ".join(quality.get("failures") or ["?"])


def linear_beaten(value: dict[str, Any]) -> str | None:
    if "linear" not in (value.get("baselines") or {}):
        return "no linear baseline scored"
    return quality_passed(value)


def slices_scored(value: dict[str, Any]) -> str | None:
    scored = [name for name, entry in (value.get("slices") or {}).items() if "metrics" in entry]
    if not scored:
        return "no slice of schema.yaml scored (add slices to the contract)"
    return quality_passed(value)


def groups_within_gap(value: dict[str, Any]) -> str | None:
    groups = value.get("groups") or {}
    if not groups.get("features"):
        return (
            "no feature of schema.yaml is tagged sensitive: tag the columns that describe "
            "people (age, sex, region...) so that the model is tested on each of their groups"
        )
    if groups.get("failures"):
        return "; ".join(groups["failures"])
    # A feature with fewer than two groups scored compared nothing: no inclusion was tested
    metric = groups.get("metric")
    compared = [
        name
        for name, found in groups["features"].items()
        if sum(entry.get(metric) is not None for entry in (found.get("groups") or {}).values()) > 1
    ]
    if not compared:
        return (
            "no sensitive feature had two groups scored (each needs params.yaml "
            "evaluate.min_slice_rows rows of the test split, and the metric defined on it): "
            "nothing was compared"
        )
    return None


def staleness_measured(value: dict[str, Any]) -> str | None:
    """The score by model age, measured in the order of time (a column of dates, or of whole
    calendar years: backtest.py): rows in the order they were ingested say nothing of age (a
    shuffled sample's scores even rise with it), nor does any other column's order."""
    stale = value.get("staleness") or {}
    if stale.get("not_measured"):
        return f"the score by model age is not measured: {stale['not_measured']}"
    if not stale.get("score_by_age") or stale.get("retrain_every_windows") is None:
        return "the score by model age is not measured"
    if stale.get("order") in (None, "row order"):
        return (
            "the backtest cut the rows as ingested, not in the order of time: set params.yaml "
            f"evaluate.order_by to the data's time column ({TIME_COLUMN})"
        )
    if not stale.get("in_time"):
        return (
            f"params.yaml evaluate.order_by: '{stale['order']}' holds no dates, so the score "
            "by model age is not an age in time: set it to the data's time column "
            f"({TIME_COLUMN})"
        )
    return None


def numerically_stable(value: dict[str, Any]) -> str | None:
    numerics = value.get("numerics") or {}
    return None if numerics.get("passed") is True else "outputs not numerically sound"


def costs_measured(value: dict[str, Any]) -> str | None:
    costs = value.get("costs") or {}
    wanted = ("latency_ms", "rows_per_second", "training_seconds", "model_bytes")
    missing = [name for name in wanted if costs.get(name) is None]
    return f"not measured: {', '.join(missing)}" if missing else None


def gate_decided(value: dict[str, Any]) -> str | None:
    return None if "promoted" in value and "reasons" in value else "no gate decision"


def costs_within_bounds(value: dict[str, Any]) -> str | None:
    """The gate compared the model's computing costs with the champion's, and they held."""
    costs = value.get("costs")
    if not isinstance(costs, dict):
        return "the gate did not compare computing costs with the champion's"
    if costs.get("failures"):
        return "; ".join(costs["failures"])
    if costs.get("compared") is not True:
        return (
            f"the gate compared no costs ({costs.get('note') or 'no champion to compare with'}): "
            "a model registered where a champion exists is compared (CT, or `make all` again "
            "after a change, against the same registry)"
        )
    return None


def no_cost_regression(value: dict[str, Any]) -> str | None:
    """The gate's last decision found no cost regression (whether or not it could compare)."""
    failures = (value.get("costs") or {}).get("failures")
    return "; ".join(failures) if failures else None


def champion_age_read(value: dict[str, Any]) -> str | None:
    champion = (value.get("model") or {}).get("champion") or {}
    if champion.get("age_days") is None:
        notes = [n for n in value.get("notes", []) if "registry" in n]
        return "the champion's age is not in the report" + (f" ({notes[0]})" if notes else "")
    return None


def against_champion(
    holds: Callable[[dict[str, Any]], str | None],
) -> Callable[[dict[str, Any]], str | None]:
    """`holds`, in a monitoring report that read the champion from the registry."""

    def check(value: dict[str, Any]) -> str | None:
        return champion_age_read(value) or holds(value)

    return check


def offline_beside_online(value: dict[str, Any]) -> str | None:
    versions = (value.get("performance") or {}).get("versions") or {}
    if not any(entry.get("offline") is not None for entry in versions.values()):
        return "no served version's offline score beside its live one (labels? the registry?)"
    return None


def live_performance(value: dict[str, Any]) -> str | None:
    performance = value.get("performance") or {}
    if not performance.get("metrics"):
        return "no live performance (no labels given)"
    return performance.get("reason") if performance.get("alert") else None


# --------------------------------------------------------------------------------------------
# What the project's files must hold
# --------------------------------------------------------------------------------------------
def workflow(evidence: Evidence, name: str) -> dict[str, Any] | None:
    loaded = evidence.yaml(f"{WORKFLOWS}/{name}")
    return loaded if isinstance(loaded, dict) else None


def triggers(loaded: dict[Any, Any]) -> dict[str, Any]:
    events = loaded.get("on", loaded.get(True))  # YAML 1.1 reads the key `on` as true
    if isinstance(events, str):
        return {events: None}
    if isinstance(events, list):
        return dict.fromkeys(event for event in events if isinstance(event, str))
    return events if isinstance(events, dict) else {}


def jobs(loaded: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = loaded.get("jobs")
    return (
        {k: v for k, v in found.items() if isinstance(v, dict)} if isinstance(found, dict) else {}
    )


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for step in job.get("steps") or [] if isinstance(step, dict)]


def needs(job: dict[str, Any]) -> list[str]:
    """The names of the jobs `job` waits for (whatever else a file holds there is no name)."""
    value = job.get("needs")
    listed = value if isinstance(value, list) else [value]
    return [name for name in listed if isinstance(name, str)]


# A line of a step's script that is text, not a command: a comment, or what echo or printf print.
TEXT_LINE = re.compile(r"\s*(?:#|echo\b|printf\b)")


def runs(step: dict[str, Any], pattern: str) -> bool:
    """Whether the step's script has a command matching `pattern` (a line that only says it,
    as an issue's text does, is not one)."""
    script = str(step.get("run", "")).splitlines()
    commands = "\n".join(line for line in script if not TEXT_LINE.match(line))
    return re.search(pattern, commands) is not None


def step_index(job: dict[str, Any], pattern: str) -> int | None:
    """The first step whose command matches `pattern` and that always runs (no
    continue-on-error, no `if: false`)."""
    for index, step in enumerate(steps(job)):
        if (
            runs(step, pattern)
            and not step.get("continue-on-error")
            and step.get("if") is not False
        ):
            return index
    return None


def ci_runs_the_pipeline(evidence: Evidence) -> str | None:
    loaded = workflow(evidence, "ci.yml")
    if loaded is None:
        return f"{WORKFLOWS}/ci.yml is missing"
    if not {"push", "pull_request"} & set(triggers(loaded)):
        return "ci.yml runs neither on push nor on pull requests"
    pattern = r"\bmake\s+(pipeline|all)\b|\bdvc\s+repro\b"
    if not any(step_index(job, pattern) is not None for job in jobs(loaded).values()):
        return "no job of ci.yml runs the pipeline (make pipeline)"
    return None


def ci_checks_code_owner_review(evidence: Evidence) -> str | None:
    loaded = workflow(evidence, "ci.yml")
    if loaded is None:
        return f"{WORKFLOWS}/ci.yml is missing"
    pattern = r"readiness\s+--code-owner-review"
    if not any(step_index(job, pattern) is not None for job in jobs(loaded).values()):
        return "no step of ci.yml checks that the default branch requires code-owner review"
    return None


def codeowners_cover_the_spec(evidence: Evidence) -> str | None:
    text = evidence.text(".github/CODEOWNERS")
    if text is None:
        return ".github/CODEOWNERS is missing"
    rules = []
    for line in text.splitlines():
        parts = line.split("#", 1)[0].split()
        if parts:
            rules.append((parts[0], parts[1:]))
    unowned: list[str] = []
    named_owners: set[str] = set()
    for path in MODEL_SPEC:
        owners: list[str] = []
        for pattern, named in rules:  # the last matching pattern wins, as on GitHub
            if owner_pattern_matches(pattern, path):
                owners = named
        if not owners:
            unowned.append(path)
        named_owners.update(owner.lower() for owner in owners)
    if unowned:
        return f"no code owner reviews {', '.join(unowned)}"
    if named_owners <= PLACEHOLDER_OWNERS:
        return (
            f".github/CODEOWNERS names only {', '.join(sorted(named_owners))}, the generated "
            "project's placeholder (the answer github_owner): name the people or team who "
            "review the model spec there"
        )
    return None


def owner_pattern_matches(pattern: str, path: str) -> bool:
    """Whether a CODEOWNERS pattern covers `path` (a file, or a folder of the model spec)."""
    if pattern in ("*", "/*", "**", "/**"):
        return True
    anchored = pattern.startswith("/")
    bare = pattern.strip("/")
    if anchored:
        return path == bare or PurePosixPath(path).match(bare)
    return any(part == bare or PurePosixPath(part).match(bare) for part in path.split("/"))


def gate_requires_commits(evidence: Evidence) -> str | None:
    gate = evidence.params().get("gate") or {}
    rule_value = gate.get("require_committed", "ci")
    if rule_value not in ("ci", "always"):
        return (
            f"params.yaml gate.require_committed is {rule_value}: a model of unreviewed code "
            "may become champion"
        )
    return None


def linear_baseline_in_the_bar(evidence: Evidence) -> str | None:
    quality = evidence.params().get("quality") or {}
    margins = quality.get("beat_baselines") or {}
    if "linear" not in margins:
        return "params.yaml quality.beat_baselines does not name the linear baseline"
    return None


def useless_share_bounded(evidence: Evidence) -> str | None:
    share = (evidence.params().get("evaluate") or {}).get("max_useless_share", 0.3)
    if not isinstance(share, int | float) or share >= 1:
        return "params.yaml evaluate.max_useless_share lets every feature be useless"
    return None


def pii_key_from_a_secret(evidence: Evidence) -> str | None:
    """The deployment takes the key of the pii hashes from a secret, never the default."""
    variable = f"{evidence.identity['prefix']}PII_KEY"
    if evidence.level >= 2:
        path = "deploy/k8s/deployment.yaml"
        loaded = evidence.yaml(path)
        if not isinstance(loaded, dict):
            return f"{path} is missing"
        containers = (((loaded.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
            "containers"
        ) or []
        for container in containers:
            for entry in container.get("env") or []:
                source = (entry.get("valueFrom") or {}).get("secretKeyRef")
                if entry.get("name") == variable and source:
                    return None
        return f"{path}: no container takes {variable} from a secret (valueFrom.secretKeyRef)"
    text = evidence.text("Makefile") or ""
    line = next(
        (row for row in text.splitlines() if "docker) run" in row.lower() or "(DOCKER) run" in row),
        "",
    )
    if variable not in line:
        return f"Makefile docker-run does not pass {variable} to the serving image"
    return None


def cd_canary(evidence: Evidence) -> str | None:
    """cd.yml starts the built service and smoke-tests it before it pushes the image, then
    deploys to staging before production."""
    loaded = workflow(evidence, "cd.yml")
    if loaded is None:
        return f"{WORKFLOWS}/cd.yml is missing"
    found = jobs(loaded)
    build = found.get("build")
    if build is None:
        return "cd.yml has no build job"
    start = step_index(build, r"service\.sh\s+start")
    smoke = step_index(build, r"mlops_ladder\.ci\s+smoke-test")
    push = step_index(build, r"\bdocker\s+push\b")
    if start is None:
        return "cd.yml build: no step starts the service (service.sh start)"
    if smoke is None or smoke < start:
        return "cd.yml build: no smoke test (mlops_ladder.ci smoke-test) of the started service"
    if push is not None and push < smoke:
        return "cd.yml build: the image is pushed before its smoke test"
    staging = found.get("staging")
    if staging is None or "build" not in needs(staging):
        return "cd.yml has no staging job after build"
    if not any(
        "deploy" in str(step.get("uses", ""))
        and (step.get("with") or {}).get("environment") == "staging"
        for step in steps(staging)
    ):
        return "cd.yml staging: no step deploys to the staging environment"
    production = found.get("production")
    if production is None or "staging" not in needs(production):
        return "cd.yml: production does not wait for staging"
    return None


def ci_smoke_tests_the_image(evidence: Evidence) -> str | None:
    """CI builds the serving image, starts it and smoke-tests it, on every push."""
    loaded = workflow(evidence, "ci.yml")
    if loaded is None:
        return f"{WORKFLOWS}/ci.yml is missing"
    for job in jobs(loaded).values():
        build = step_index(job, r"\bdocker-build\b")
        start = step_index(job, r"service\.sh\s+start")
        smoke = step_index(job, r"mlops_ladder\.ci\s+smoke-test")
        if build is None or start is None or smoke is None:
            continue
        if build < start < smoke:
            return None
    return (
        "ci.yml does not start the image it builds and smoke-test it (docker-build, then "
        ".github/scripts/service.sh start, then mlops_ladder.ci smoke-test)"
    )


def rollback_workflow(evidence: Evidence) -> str | None:
    loaded = workflow(evidence, "rollback.yml")
    if loaded is None:
        return f"{WORKFLOWS}/rollback.yml is missing"
    if "workflow_dispatch" not in triggers(loaded):
        return "rollback.yml cannot be started by hand (workflow_dispatch)"
    found = jobs(loaded)
    moving = [
        name
        for name, job in found.items()
        if step_index(job, r"\bmake\s+rollback\b|\srollback\b") is not None
    ]
    if not moving:
        return "no job of rollback.yml moves the champion back (make rollback)"
    if not any(
        "cd.yml" in str(job.get("uses", "")) and set(needs(job)) & set(moving)
        for job in found.values()
    ):
        return "rollback.yml does not redeploy through cd.yml after the rollback"
    return None


def make_rollback(evidence: Evidence) -> str | None:
    text = evidence.text("Makefile") or ""
    return (
        None if re.search(r"^rollback:", text, re.MULTILINE) else "Makefile has no rollback target"
    )


def dependabot_watches(evidence: Evidence) -> str | None:
    loaded = evidence.yaml(".github/dependabot.yml")
    if not isinstance(loaded, dict):
        return ".github/dependabot.yml is missing"
    updates = loaded.get("updates")
    watched = {
        str(entry.get("package-ecosystem"))
        for entry in (updates if isinstance(updates, list) else [])
        if isinstance(entry, dict)
    }
    wanted = {"github-actions"} | ({"docker"} if evidence.text("Dockerfile") is not None else set())
    missing = sorted(wanted - watched)
    if not watched & {"uv", "pip"}:
        missing.insert(0, "uv (the Python environment)")
    return f"dependabot.yml does not watch {', '.join(missing)}" if missing else None


UPSTREAM_ASKED = r"\bdvc\s+update\b|mlops_ladder\.ci\s+update-imports\b"


def upstream_data_watched(evidence: Evidence) -> str | None:
    """A scheduled workflow asks the data's upstream source whether it changed (`dvc update`
    of data imported with `dvc import-url`) and says so in an issue: retraining when a
    committed .dvc file changes is a reaction, and a retraining nobody hears of no
    notification."""
    asked = False
    for name in ("ct.yml", "monitor.yml"):
        loaded = workflow(evidence, name)
        if loaded is None or "schedule" not in triggers(loaded):
            continue
        every = jobs(loaded)
        asking = {key for key, job in every.items() if step_index(job, UPSTREAM_ASKED) is not None}
        asked = asked or bool(asking)
        for key, job in every.items():
            after = {key, *needs(job)}
            if after & asking and step_index(job, r"mlops_ladder\.ci\s+issue\b") is not None:
                return None
    if asked:
        return (
            "the scheduled workflow asks the data's upstream source for changes but no job "
            "after it tells anyone (python -m mlops_ladder.ci issue)"
        )
    return (
        "no scheduled workflow watches the data's upstream source (dvc update of an "
        "import-url, on a schedule): Dependabot watches code and images, not data"
    )


def ct_scheduled(evidence: Evidence) -> str | None:
    loaded = workflow(evidence, "ct.yml")
    if loaded is None:
        return f"{WORKFLOWS}/ct.yml is missing"
    if "schedule" not in triggers(loaded):
        return "ct.yml does not run on a schedule"
    if not any(
        step_index(job, r"\bmake\s+pipeline\b|\bdvc\s+repro\b") is not None
        for job in jobs(loaded).values()
    ):
        return "no job of ct.yml retrains (dvc repro)"
    return None


def monitor_step(evidence: Evidence) -> tuple[dict[str, Any] | None, dict[str, Any], str | None]:
    """monitor.yml's job and step that run the monitoring job on a schedule."""
    loaded = workflow(evidence, "monitor.yml")
    if loaded is None:
        return None, {}, f"{WORKFLOWS}/monitor.yml is missing"
    if "schedule" not in triggers(loaded):
        return None, {}, "monitor.yml does not run on a schedule"
    for job in jobs(loaded).values():
        index = step_index(job, r"\bmonitor\b.*--current")
        if index is not None:
            return job, steps(job)[index], None
    return None, {}, "no step of monitor.yml runs the monitoring job (monitor --current)"


def monitor_reads_the_registry(evidence: Evidence) -> str | None:
    """The scheduled monitoring step reads the registry (the champion's age, its offline
    scores) with read-only credentials: the job does not hold the registry's writer secrets."""
    job, step, problem = monitor_step(evidence)
    if job is None:
        return problem
    env = {**(job.get("env") or {}), **(step.get("env") or {})}
    uri = str(env.get("MLFLOW_TRACKING_URI", ""))
    if "vars.MLFLOW_TRACKING_URI" not in uri:
        return "monitor.yml: the monitoring step is not given the registry (MLFLOW_TRACKING_URI)"
    for name in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        value = str(env.get(name, ""))
        if "secrets." not in value or "READ" not in value.upper().split("SECRETS.", 1)[-1]:
            return f"monitor.yml: {name} is not a read-only user's secret (MLFLOW_READER_*)"
    if job.get("environment") == "registry":
        return "monitor.yml: the monitoring job holds the registry's writer secrets (registry)"
    return None


def monitor_gets_labels(evidence: Evidence) -> str | None:
    job, step, problem = monitor_step(evidence)
    if job is None:
        return problem
    return (
        None
        if "--labels" in str(step.get("run", ""))
        else "monitor.yml: the monitoring step never passes labels"
    )


def alert_rules_tested_in_ci(evidence: Evidence) -> str | None:
    rules = evidence.yaml("deploy/prometheus/alerts.yml")
    if not isinstance(rules, dict):
        return "deploy/prometheus/alerts.yml is missing"
    exprs = " ".join(
        str(entry.get("expr", ""))
        for group in rules.get("groups") or []
        for entry in group.get("rules") or []
        if entry.get("alert")
    )
    wanted = {"latency": r"duration|latency", "errors": r'status=~"5', "memory": r"memory"}
    missing = [name for name, pattern in wanted.items() if not re.search(pattern, exprs)]
    if missing:
        return f"deploy/prometheus/alerts.yml has no alert on {', '.join(missing)}"
    loaded = workflow(evidence, "ci.yml")
    if loaded is None or not any(
        step_index(job, r"promtool\s+test\s+rules") is not None for job in jobs(loaded).values()
    ):
        return "ci.yml does not test the alert rules (promtool test rules)"
    return None


def lock_file(evidence: Evidence) -> str | None:
    return None if evidence.text("uv.lock") is not None else "uv.lock is missing"


# --------------------------------------------------------------------------------------------
# The paper's 28 tests
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PaperTest:
    """A test of the paper; `automated` checks score 1, `manual` ones 0.5 (done by hand, with
    documented results)."""

    id: str
    name: str
    automated: tuple[Check, ...]
    manual: tuple[Check, ...] = ()


MONITORING_REPORT = "monitoring/report.json"
# Reports a level below writes no command for: the registry's gate and `make monitor` come
# with level 1 (a level-0 card says so, not "run make all").
REPORTS_FROM_LEVEL = {"registration.json": 1, MONITORING_REPORT: 1}
MAKE_MONITOR = '`make monitor ARGS="--labels <file>"`'
T = marked


def scheduled_monitoring(labels: bool) -> Callable[[Evidence], str]:
    """What records a monitoring report against the champion: at level 2 the scheduled
    monitor.yml, once the repository's variables are set (its artifact, monitoring-report, kept
    in reports/monitoring/); else `make monitor` against the registry by hand."""
    by_hand = MAKE_MONITOR if labels else "`make monitor`"

    def run(evidence: Evidence) -> str:
        if evidence.level < 2:
            return f"{by_hand} against the registry's champion"
        variables = (
            "MLFLOW_TRACKING_URI, PREDICTION_LOG_URI and PREDICTION_LABELS_URI"
            if labels
            else "MLFLOW_TRACKING_URI and PREDICTION_LOG_URI"
        )
        return (
            f"monitor.yml once the repository variables {variables} are set, and keep its "
            f"artifact monitoring-report in reports/monitoring/; or {by_hand}"
        )

    return run


READS_REGISTRY = rule(
    "monitor.yml", "the schedule reads the registry, read-only", monitor_reads_the_registry, 2
)
GETS_LABELS = rule("monitor.yml", "the schedule scores labelled traffic", monitor_gets_labels, 2)
CT_SCHEDULED = rule("ct.yml", "scheduled retraining", ct_scheduled, 2)
ALERTS_TESTED = rule(
    "deploy/prometheus/alerts.yml",
    "latency, error and memory alerts, tested in CI",
    alert_rules_tested_in_ci,
    1,
)
CD_CANARY = rule("cd.yml", "smoke test, then staging, then production", cd_canary, 2)
COSTS_MEASURED = report(
    "metrics.json", "training time, latency, throughput and size measured", costs_measured
)


def wired_or_by_hand(paper_id: str, wiring: tuple[Check, ...], by_hand: Check) -> Check:
    """Half a point: the scheduled step's code tested and its workflow wired (level 2), or a
    report of the monitoring run by hand (`by_hand`)."""
    wired = all_of("the scheduled step tested, its workflow wired", T(paper_id), *wiring)
    return any_of(f"{wired.label}; or {by_hand.label}, by hand", wired, by_hand)


PAPER: tuple[PaperTest, ...] = (
    PaperTest(
        "data-1",
        "Feature expectations are captured in a schema",
        (T("data-1"), report("validation.json", "the data meets schema.yaml", passed)),
    ),
    PaperTest(
        "data-2",
        "All features are beneficial",
        (
            T("data-2"),
            report(
                "metrics.json",
                "no feature harmful, few that never help",
                features_beneficial,
            ),
            rule("params.yaml", "a bound on the share of useless features", useless_share_bounded),
        ),
    ),
    PaperTest(
        "data-3",
        "No feature's cost is too much",
        (
            T("data-3"),
            report("feature_cost.json", "every derived feature within budget", within_budget),
        ),
    ),
    PaperTest(
        "data-4",
        "Features adhere to meta-level requirements",
        (
            T("data-4"),
            report("validation.json", "no column gives the target away", leakage_checked),
        ),
    ),
    PaperTest(
        "data-5",
        "The data pipeline has appropriate privacy controls",
        (
            T("data-5"),
            rule("deployment", "the pii key from a secret", pii_key_from_a_secret, level=1),
        ),
        manual=(rule("deployment", "the pii key from a secret", pii_key_from_a_secret, level=1),),
    ),
    PaperTest("data-6", "New features can be added quickly", (T("data-6"),)),
    PaperTest("data-7", "All input feature code is tested", (T("data-7"),)),
    PaperTest(
        "model-1",
        "Model specs are reviewed and submitted",
        (
            rule(".github/CODEOWNERS", "owners review the model spec", codeowners_cover_the_spec),
            rule(
                "ci.yml",
                "code-owner review required on the default branch",
                ci_checks_code_owner_review,
                1,
            ),
            rule("params.yaml", "only committed models become champion", gate_requires_commits, 1),
        ),
        manual=(
            rule("params.yaml", "only committed models become champion", gate_requires_commits, 1),
        ),
    ),
    PaperTest(
        "model-2",
        "Offline and online metrics correlate",
        (
            T("model-2"),
            READS_REGISTRY,
            GETS_LABELS,
            report(
                MONITORING_REPORT,
                "the champion's offline score beside its live one",
                against_champion(offline_beside_online),
                scheduled_monitoring(labels=True),
            ),
        ),
        manual=(
            wired_or_by_hand(
                "model-2",
                (READS_REGISTRY, GETS_LABELS),
                report(
                    MONITORING_REPORT,
                    "offline beside live scores",
                    offline_beside_online,
                    MAKE_MONITOR,
                ),
            ),
        ),
    ),
    PaperTest(
        "model-3",
        "All hyperparameters have been tuned",
        (
            report(
                "tuning.json", "train's hyperparameters within tolerance of the best found", passed
            ),
        ),
    ),
    PaperTest(
        "model-4",
        "The impact of model staleness is known",
        (
            report(
                "metrics.json",
                "the score by model age and a retraining interval",
                staleness_measured,
            ),
        ),
    ),
    PaperTest(
        "model-5",
        "A simpler model is not better",
        (
            T("model-5"),
            rule(
                "params.yaml",
                "the bar holds the model to the linear baseline",
                linear_baseline_in_the_bar,
            ),
            report("metrics.json", "not clearly worse than the linear baseline", linear_beaten),
        ),
    ),
    PaperTest(
        "model-6",
        "Model quality is sufficient on important data slices",
        (
            T("model-6"),
            report(
                "metrics.json", "every slice large enough to score clears the bar", slices_scored
            ),
        ),
    ),
    PaperTest(
        "model-7",
        "The model is tested for considerations of inclusion",
        (
            report(
                "metrics.json",
                "sensitive features' groups compared, within quality.max_group_gap or chance",
                groups_within_gap,
            ),
        ),
    ),
    PaperTest(
        "infrastructure-1",
        "Training is reproducible",
        (T("infrastructure-1"), rule("uv.lock", "locked dependencies", lock_file)),
    ),
    PaperTest("infrastructure-2", "Model specs are unit tested", (T("infrastructure-2"),)),
    PaperTest(
        "infrastructure-3",
        "The ML pipeline is integration tested",
        (T("infrastructure-3"), rule("ci.yml", "CI runs the pipeline", ci_runs_the_pipeline, 1)),
    ),
    PaperTest(
        "infrastructure-4",
        "Model quality is validated before serving",
        (T("infrastructure-4"), report("registration.json", "a gate decision", gate_decided)),
    ),
    PaperTest("infrastructure-5", "The model is debuggable", (T("infrastructure-5"),)),
    PaperTest(
        "infrastructure-6",
        "Models are canaried before serving",
        (
            CD_CANARY,
            rule("ci.yml", "the built image started and smoke-tested", ci_smoke_tests_the_image, 1),
        ),
        manual=(CD_CANARY,),
    ),
    PaperTest(
        "infrastructure-7",
        "Serving models can be rolled back",
        (
            T("infrastructure-7"),
            rule("rollback.yml", "roll back and redeploy", rollback_workflow, 2),
        ),
        manual=(T("infrastructure-7"), rule("Makefile", "make rollback", make_rollback, 1)),
    ),
    PaperTest(
        "monitoring-1",
        "Dependency changes result in notification",
        (
            rule(".github/dependabot.yml", "every ecosystem watched", dependabot_watches, 1),
            rule("workflows", "the data's upstream source watched", upstream_data_watched, 1),
        ),
        manual=(rule(".github/dependabot.yml", "every ecosystem watched", dependabot_watches, 1),),
    ),
    PaperTest(
        "monitoring-2",
        "Data invariants hold for training and serving inputs",
        (T("monitoring-2"), report("validation.json", "the data meets schema.yaml", passed)),
    ),
    PaperTest(
        "monitoring-3",
        "Training and serving features compute the same values",
        (T("monitoring-3"),),
    ),
    PaperTest(
        "monitoring-4",
        "Models are not too stale",
        (
            T("monitoring-4"),
            READS_REGISTRY,
            CT_SCHEDULED,
            report(
                MONITORING_REPORT,
                "the champion's age, read from the registry",
                champion_age_read,
                scheduled_monitoring(labels=False),
            ),
        ),
        manual=(
            wired_or_by_hand(
                "monitoring-4",
                (READS_REGISTRY, CT_SCHEDULED),
                report(
                    MONITORING_REPORT, "the champion's age", champion_age_read, "`make monitor`"
                ),
            ),
        ),
    ),
    PaperTest(
        "monitoring-5",
        "The model is numerically stable",
        (
            T("monitoring-5"),
            report("metrics.json", "numerically sound outputs", numerically_stable),
        ),
    ),
    PaperTest(
        "monitoring-6",
        "The model has not experienced dramatic or slow-leak regressions in training speed, "
        "serving latency, throughput, or RAM usage",
        (
            T("monitoring-6"),
            COSTS_MEASURED,
            report(
                "registration.json",
                "costs within the gate's bounds of the champion's",
                costs_within_bounds,
            ),
            ALERTS_TESTED,
        ),
        manual=(
            T("monitoring-6"),
            COSTS_MEASURED,
            report("registration.json", "no cost regression found", no_cost_regression),
            ALERTS_TESTED,
        ),
    ),
    PaperTest(
        "monitoring-7",
        "The model has not experienced a regression in prediction quality on served data",
        (
            T("monitoring-7"),
            GETS_LABELS,
            report(
                MONITORING_REPORT,
                "the champion's live performance on labelled traffic",
                against_champion(live_performance),
                scheduled_monitoring(labels=True),
            ),
        ),
        manual=(
            wired_or_by_hand(
                "monitoring-7",
                (GETS_LABELS,),
                report(MONITORING_REPORT, "live performance", live_performance, MAKE_MONITOR),
            ),
        ),
    ),
)
IDS = tuple(paper.id for paper in PAPER)


# --------------------------------------------------------------------------------------------
# The card
# --------------------------------------------------------------------------------------------
def judged(checks: tuple[Check, ...], evidence: Evidence) -> list[tuple[Check, Verdict]]:
    return [(check, check.judge(evidence)) for check in checks]


def entry_of(check: Check, verdict: Verdict) -> dict[str, Any]:
    return {
        "id": check.id,
        "label": check.label,
        "status": verdict.status,
        "detail": verdict.detail,
    }


def score_test(paper: PaperTest, evidence: Evidence) -> dict[str, Any]:
    """A paper test's entry of the card: its score, each check's verdict, what is missing."""
    automated = judged(paper.automated, evidence)
    manual = judged(paper.manual, evidence)
    # A module of tests/ with a failure backs no point: the run was red there.
    red = {
        module: evidence.failed_modules[module]
        for _, verdict in automated + manual
        for module in verdict.modules
        if module in evidence.failed_modules
    }
    problems = [verdict.detail for _, verdict in automated if not verdict.passed]
    named = {node for _, verdict in automated + manual for node in verdict.tests}
    problems += [
        f"{module} had failures in the last run: {', '.join(others)}"
        for module, nodes in red.items()
        if (others := [node for node in nodes if node not in named])
    ]
    score: float = 0
    backing = automated
    if not problems:
        score = 1
    elif manual and not red and all(verdict.passed for _, verdict in manual):
        score, backing = 0.5, manual
    elif manual:  # what half a point by hand would need, too, beyond what is said above
        said = set(problems)
        for _, verdict in manual:
            parts = re.split(r"; (?:or )?", verdict.detail) if not verdict.passed else []
            new = list(dict.fromkeys(part for part in parts if part not in said))
            if new:
                problems.append(f"by hand: {'; '.join(new)}")
            said.update(parts)
    evidence_lines = []
    if score:
        for check, verdict in backing:
            evidence_lines.append(verdict.label or check.label)
            evidence_lines += [f"  {node}" for node in verdict.tests]
    return {
        "id": paper.id,
        "name": paper.name,
        "score": score,
        "evidence": evidence_lines,
        "missing": "; ".join(dict.fromkeys(problems)) if score < 1 else "",
        "checks": [entry_of(c, v) for c, v in automated]
        + [{**entry_of(c, v), "manual": True} for c, v in manual],
    }


def run_status(evidence: Evidence) -> dict[str, Any]:
    """The last recorded run: green, red (a failure) or partial (a selection of the tests)."""
    results = evidence.results or {}
    tests = results.get("tests", [])
    counts: dict[str, int] = {}
    for test in tests:
        counts[str(test.get("outcome"))] = counts.get(str(test.get("outcome")), 0) + 1
    failed = [str(t["nodeid"]) for t in tests if t.get("outcome") in ("failed", "error")]
    failed += [f"{e.get('nodeid')} (not collected)" for e in results.get("collection_errors", [])]
    if failed or results.get("exit_status") not in (0, None):
        status = "red"
    elif not results.get("complete", False):
        status = "partial"
    else:
        status = "green"
    return {
        "status": status,
        "file": evidence.results_file,
        "finished": results.get("finished"),
        "counts": counts,
        "failed": failed,
        "selection": results.get("selection") or [],
    }


def score(
    read: Reader, reports: str = "reports", params_file: str = "params.yaml"
) -> dict[str, Any]:
    """The card of the project whose files `read` reads (paths relative to its root): every
    paper test scored, sections summed, the final score, and the recorded run it rests on."""
    evidence = Evidence(read, reports, params_file)
    if evidence.results is None:
        raise ProjectError(
            f"{evidence.results_file} is missing or unreadable: run {MAKE_TEST} first"
        )
    sections: dict[str, Any] = {}
    for section in SECTIONS:
        tests = [score_test(p, evidence) for p in PAPER if p.id.startswith(f"{section}-")]
        sections[section] = {"score": float(sum(entry["score"] for entry in tests)), "tests": tests}
    final = min(section["score"] for section in sections.values())
    return {
        "final": float(final),
        "level": evidence.level,
        "run": run_status(evidence),
        "sections": sections,
    }


def card(reports_dir: Path, params_file: Path, root: Path | None = None) -> dict[str, Any]:
    """The card of the project at `root` (the working folder) from the last `make test` and
    `make all`, its reports in `reports_dir` (settings); one clear error when either has not
    run."""
    root = (root or Path.cwd()).resolve()
    reports, params = (relative(root, path) for path in (reports_dir, params_file))
    absent = [
        f"{path} is missing: run {run} first"
        for path, run in (
            (f"{reports}/{RESULTS}", MAKE_TEST),
            (f"{reports}/metrics.json", MAKE_ALL),
        )
        if not (root / path).is_file()
    ]
    if absent:
        raise ProjectError("the card scores the last recorded run; " + "; ".join(absent))
    return score(files_under(root), reports, params)


def relative(root: Path, path: Path) -> str:
    """`path` relative to the project's root, as the card's reader takes it."""
    return Path(os.path.relpath(root / path, root)).as_posix()


def render(result: dict[str, Any]) -> str:
    """The card as text: the run it rests on, each section, each test with its score, the
    evidence of a point (+) and what a missing one lacks (-)."""
    run = result["run"]
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(run["counts"].items()))
    lines = [
        "ML Test Score (Breck et al. 2017): 1 automated, 0.5 by hand, 0 missing",
        f"Last recorded run ({run['file']}, {run['finished']}): {counts or 'no tests'}",
    ]
    if run["status"] == "red":
        lines.append(
            f"RED: the last `make test` failed: {'; '.join(run['failed']) or 'see its output'}"
        )
        lines.append("     no point rests on a module with a failure; fix them and run `make test`")
    elif run["status"] == "partial":
        lines.append(
            f"PARTIAL: the last run was a selection ({' '.join(run['selection'])}): only what it "
            "ran counts; `make test` runs every test"
        )
    for section, title in SECTIONS.items():
        entry = result["sections"][section]
        lines.append(f"\n{title}: {entry['score']:g} / 7")
        for paper in entry["tests"]:
            lines.append(f"  {paper['score']:<3g} {paper['id']:<17} {paper['name']}")
            lines.extend(f"        + {label}" for label in paper["evidence"])
            if paper["missing"]:
                lines.append(f"        - {paper['missing']}")
    state = {"red": " (RED run)", "partial": " (partial run)"}.get(run["status"], "")
    lines.append(f"\nFinal score (lowest section): {result['final']:g}{state}")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------
# model-1: the default branch requires code-owner review (CI asks GitHub)
# --------------------------------------------------------------------------------------------
HOW_TO_REVIEW = (
    'turn on "Require review from Code Owners" for the default branch (Settings > Rules > '
    "Rulesets, or Branches > branch protection)"
)


def code_owner_review(
    api: str, repository: str, token: str, admin_token: str = ""
) -> tuple[bool | None, str]:
    """Whether the repository's default branch requires code-owner review, asked through
    GitHub's REST API: a ruleset (readable with the workflow's own `token`), else the classic
    branch protection (which needs `admin_token`, one that may read the repository's
    administration). None: it could not be told (no token, no API), with why."""
    if not token or not repository:
        return None, (
            "not checked: no GITHUB_TOKEN or GITHUB_REPOSITORY (this runs in GitHub Actions; "
            "give the step a token: secrets.GITHUB_TOKEN reads rulesets)"
        )
    try:
        branch = _github(api, f"repos/{repository}", token).get("default_branch") or "main"
        rules = _github(api, f"repos/{repository}/rules/branches/{branch}", token)
    except OSError as error:
        return None, f"not checked: GitHub's API at {api} cannot be reached ({error})"
    for entry in rules if isinstance(rules, list) else []:
        parameters = entry.get("parameters") or {}
        if entry.get("type") == "pull_request" and parameters.get("require_code_owner_review"):
            return True, f"{branch}: a ruleset requires code-owner review"
    reviews = f"repos/{repository}/branches/{branch}/protection/required_pull_request_reviews"
    try:
        protection = _github(api, reviews, admin_token or token)
    except urllib.error.HTTPError as error:
        if error.code == 404 and admin_token:
            return False, f"{branch} requires no code-owner review: {HOW_TO_REVIEW}"
        return None, (
            f"not checked: no ruleset of {branch} requires code-owner review, and its branch "
            f"protection is not readable (HTTP {error.code}): give the step the secret "
            "BRANCH_PROTECTION_TOKEN, a token with Administration: read (README), or require "
            "the review in a ruleset, which the workflow's own token reads"
        )
    except OSError as error:
        return None, f"not checked: GitHub's API at {api} cannot be reached ({error})"
    if protection.get("require_code_owner_reviews"):
        return True, f"{branch}: branch protection requires code-owner review"
    return False, f"{branch} requires no code-owner review: {HOW_TO_REVIEW}"


def _github(api: str, path: str, token: str) -> Any:
    request = urllib.request.Request(
        f"{api.rstrip('/')}/{path}",
        headers={
            "Accept": "application/vnd.github+json",
            "Authorization": f"Bearer {token}",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read().decode())
