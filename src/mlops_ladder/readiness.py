"""The readiness card: this project scored against the ML Test Score (Breck et al. 2017).

The paper's 28 tests, seven in each of four sections (data, model, ML infrastructure,
monitoring). A test scores 1 when it is automated (a check that runs routinely and fails when
the property breaks), 0.5 when it is done by hand with documented results, 0 else; a section
scores the sum of its tests and the final score is the lowest section.

Nothing here is declared: each test lists the checks that implement it in this project, and a
point counts only when every one of them exists and passed in the last recorded run: the tests
of `make test` (reports/junit.xml), the pipeline's reports (reports/*.json), the workflows in
.github/workflows/ and the files they rely on. A check that fails or is deleted loses its point.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_ladder import project
from mlops_ladder.config import Settings
from mlops_ladder.errors import ProjectError

SECTIONS = {
    "data": "Data",
    "model": "Model",
    "infrastructure": "ML infrastructure",
    "monitoring": "Monitoring",
}
JUNIT = Path("reports/junit.xml")
WORKFLOWS = Path(".github/workflows")


@dataclass
class Evidence:
    """What the card read: the test results, the reports and the workflows, each read once."""

    settings: Settings
    root: Path = field(default_factory=Path.cwd)

    def __post_init__(self) -> None:
        self.results = read_junit(self.root / JUNIT)
        self._workflows: dict[str, dict[str, Any] | None] = {}

    def report(self, path: Path) -> dict[str, Any] | None:
        file = self.root / path
        if not file.is_file():
            return None
        return json.loads(file.read_text())

    def workflow(self, name: str) -> dict[str, Any] | None:
        if name not in self._workflows:
            file = self.root / WORKFLOWS / name
            loaded = yaml.safe_load(file.read_text()) if file.is_file() else None
            self._workflows[name] = loaded if isinstance(loaded, dict) else None
        return self._workflows[name]


def read_junit(path: Path) -> dict[str, list[str]]:
    """Outcome of every test case of the last `make test`, by node id (file::name)."""
    cases: dict[str, list[str]] = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        module = case.get("classname", "").split(".")
        # classname is tests.test_file (tests.test_file.Class for a test in a class)
        file = "/".join(module[:2]) + ".py"
        name = ".".join([*module[2:], case.get("name", "").split("[")[0]])
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped" and outcome == "passed":
                outcome = "skipped"
        cases.setdefault(f"{file}::{name}", []).append(outcome)
    return cases


@dataclass(frozen=True)
class Check:
    """One piece of evidence: `verdict` says None when it holds, else what is wrong."""

    label: str
    verdict: Callable[[Evidence], str | None]


def test(node: str) -> Check:
    """A test of tests/ passed in the last `make test`: no case of it failed and at least one
    ran (a parametrized case may skip where the project has nothing to test, e.g. no category
    column; a test that only skipped backs nothing)."""

    def verdict(evidence: Evidence) -> str | None:
        outcomes = evidence.results.get(node)
        if outcomes is None:
            return f"{node} is not in {JUNIT} (deleted, or not run by the last `make test`)"
        if "failed" in outcomes:
            return f"{node} failed in the last `make test`"
        return None if "passed" in outcomes else f"{node} skipped in the last `make test`"

    return Check(node, verdict)


def job(workflow: str, name: str, trigger: str | None = None, from_level: int = 0) -> Check:
    """A job of a GitHub workflow, with the event that runs it routinely (None: any); below
    `from_level` the project has no such workflow and the check asks nothing."""
    label = f"{WORKFLOWS / workflow}: job {name}" + (f" on {trigger}" if trigger else "")

    def verdict(evidence: Evidence) -> str | None:
        if project.current().level < from_level:
            return None
        loaded = evidence.workflow(workflow)
        if loaded is None:
            return f"{WORKFLOWS / workflow} is missing"
        if name not in (loaded.get("jobs") or {}):
            return f"{WORKFLOWS / workflow} has no job {name}"
        events = loaded.get("on", loaded.get(True))  # YAML 1.1 reads the key `on` as true
        events = [events] if isinstance(events, str) else list(events or [])
        if trigger is not None and trigger not in events:
            return f"{WORKFLOWS / workflow} does not run on {trigger}"
        return None

    return Check(label, verdict)


def report(path: str, rule: str, holds: Callable[[dict[str, Any]], bool], run: str) -> Check:
    """A pipeline report exists and says the property holds."""

    def verdict(evidence: Evidence) -> str | None:
        loaded = evidence.report(Path(path))
        if loaded is None:
            return f"{path} is missing (run {run})"
        return None if holds(loaded) else f"{path}: not {rule}"

    return Check(f"{path}: {rule}", verdict)


def file(path: str) -> Check:
    """A file the project ships (its content is checked by a test listed beside it)."""

    def verdict(evidence: Evidence) -> str | None:
        return None if (evidence.root / path).is_file() else f"{path} is missing"

    return Check(path, verdict)


@dataclass(frozen=True)
class PaperTest:
    """A test of the paper; `automated` scores 1, `manual` 0.5 (checks done by hand, with
    documented results). No checks: this project does not implement it yet (`todo`)."""

    id: str
    name: str
    automated: tuple[Check, ...] = ()
    manual: tuple[Check, ...] = ()
    todo: str = ""


def passed(value: dict[str, Any]) -> bool:
    return bool(value.get("passed"))


def numerically_stable(value: dict[str, Any]) -> bool:
    return value.get("numerics", {}).get("passed") is True


def features_beneficial(value: dict[str, Any]) -> bool:
    importance = value.get("feature_importance", {})
    return bool(importance.get("features")) and importance.get("passed") is True


def within_budget(value: dict[str, Any]) -> bool:
    return "features" in value and not value.get("failures")


def groups_within_gap(value: dict[str, Any]) -> bool:
    groups = value.get("groups")
    return isinstance(groups, dict) and "features" in groups and not groups.get("failures")


def staleness_measured(value: dict[str, Any]) -> bool:
    stale = value.get("staleness", {})
    return bool(stale.get("score_by_age")) and stale.get("retrain_every_windows") is not None


def quality_passed(value: dict[str, Any]) -> bool:
    return value.get("quality", {}).get("passed") is True


def gate_decided(value: dict[str, Any]) -> bool:
    return "promoted" in value and "reasons" in value


MAKE_ALL = "`make all`"
T = test
PAPER: tuple[PaperTest, ...] = (
    PaperTest(
        "data-1",
        "Feature expectations are captured in a schema",
        (
            T("tests/test_data.py::test_dataset_meets_the_data_contract"),
            T("tests/test_data.py::test_only_nullable_columns_have_missing_values"),
            T("tests/test_data.py::test_validation_names_every_broken_rule"),
            report("reports/validation.json", "passed", passed, MAKE_ALL),
        ),
    ),
    PaperTest(
        "data-2",
        "All features are beneficial",
        (
            T("tests/test_model.py::test_every_feature_earns_its_place"),
            T("tests/test_model.py::test_a_harmful_feature_fails_the_quality_bar"),
            report(
                "reports/metrics.json",
                "every feature's permutation importance within its bound",
                features_beneficial,
                MAKE_ALL,
            ),
        ),
    ),
    PaperTest(
        "data-3",
        "No feature's cost is too much",
        (
            T("tests/test_features.py::test_every_derived_feature_is_within_its_cost_budget"),
            T("tests/test_features.py::test_a_costly_derived_feature_fails_its_budget"),
            report(
                "reports/feature_cost.json",
                "every derived feature within the budget of params.yaml featurize",
                within_budget,
                MAKE_ALL,
            ),
        ),
    ),
    PaperTest(
        "data-4",
        "Features adhere to meta-level requirements",
        (
            T("tests/test_data.py::test_every_column_is_in_the_contract"),
            T("tests/test_data.py::test_an_unlisted_column_is_refused_and_a_missing_one_named"),
            T("tests/test_data.py::test_no_single_column_gives_the_target_away"),
            T("tests/test_data.py::test_the_leakage_check_catches_a_planted_copy_of_the_target"),
        ),
    ),
    PaperTest(
        "data-5",
        "The data pipeline has appropriate privacy controls",
        (
            T("tests/test_model.py::test_a_restricted_column_can_never_be_a_model_input"),
            T(
                "tests/test_serving.py::test_a_pii_feature_is_logged_as_its_keyed_hash_never_in_clear"
            ),
            T("tests/test_serving.py::test_log_files_older_than_the_retention_are_deleted"),
            T(
                "tests/test_monitoring.py::"
                "test_pii_features_are_compared_as_hashes_and_never_reported_in_clear"
            ),
        ),
    ),
    PaperTest(
        "data-6",
        "New features can be added quickly",
        (
            T(
                "tests/test_features.py::test_a_derived_feature_added_to_features_py_reaches_the_model"
            ),
        ),
    ),
    PaperTest(
        "data-7",
        "All input feature code is tested",
        (
            T("tests/test_features.py::test_derived_features_leave_the_input_untouched"),
            T(
                "tests/test_features.py::test_a_derived_feature_whose_input_is_missing_is_one_clear_error"
            ),
            T("tests/test_features.py::test_the_pipeline_step_computes_what_the_function_does"),
            T("tests/test_features.py::test_preprocessing_fills_missing_values"),
        ),
    ),
    PaperTest(
        "model-1",
        "Model specs are reviewed and submitted",
        (
            T("tests/test_model.py::test_the_commit_and_uncommitted_model_spec_are_recorded"),
            T(
                "tests/test_registry.py::test_in_a_workflow_the_gate_refuses_a_model_of_uncommitted_code"
            ),
            T("tests/test_repository.py::test_code_owners_review_every_file_of_the_model_spec"),
            file(".github/CODEOWNERS"),
        ),
    ),
    PaperTest(
        "model-2",
        "Offline and online metrics correlate",
        (
            T(
                "tests/test_monitoring.py::test_labels_of_a_degraded_model_raise_a_performance_alert"
            ),
            T(
                "tests/test_monitoring.py::"
                "test_each_served_version_keeps_its_offline_score_beside_its_live_one"
            ),
        ),
    ),
    PaperTest(
        "model-3",
        "All hyperparameters have been tuned",
        (
            T("tests/test_model.py::test_the_study_is_reproducible_with_its_seed"),
            T("tests/test_model.py::test_a_deliberately_bad_configuration_fails_the_tuning_check"),
            T(
                "tests/test_cli.py::test_tune_fails_a_badly_configured_model_naming_the_values_to_copy"
            ),
            T(
                "tests/test_model.py::test_no_neighbour_of_the_hyperparameters_scores_clearly_better"
            ),
            report(
                "reports/tuning.json",
                "the configured hyperparameters within tune.tolerance of the best found",
                passed,
                MAKE_ALL,
            ),
        ),
    ),
    PaperTest(
        "model-4",
        "The impact of model staleness is known",
        (
            T("tests/test_model.py::test_the_backtest_scores_the_model_by_age"),
            T(
                "tests/test_model.py::test_a_relation_that_drifts_over_time_shortens_the_retraining_interval"
            ),
            report(
                "reports/metrics.json",
                "the score by model age measured, and a retraining interval",
                staleness_measured,
                MAKE_ALL,
            ),
        ),
    ),
    PaperTest(
        "model-5",
        "A simpler model is not better",
        (
            T("tests/test_model.py::test_model_beats_each_baseline_by_its_margin"),
            T("tests/test_model.py::test_model_meets_every_threshold"),
            report("reports/metrics.json", "the quality bar met", quality_passed, MAKE_ALL),
        ),
    ),
    PaperTest(
        "model-6",
        "Model quality is sufficient on important data slices",
        (
            T("tests/test_model_quality.py::test_every_slice_of_the_contract_is_evaluated"),
            T("tests/test_model_quality.py::test_every_scored_slice_clears_its_bar"),
        ),
    ),
    PaperTest(
        "model-7",
        "The model is tested for considerations of inclusion",
        (
            T("tests/test_model.py::test_each_sensitive_feature_is_reported_by_group"),
            T(
                "tests/test_model.py::test_a_sensitive_feature_served_unequally_fails_the_quality_bar"
            ),
            report(
                "reports/metrics.json",
                "every sensitive feature's groups within quality.max_group_gap",
                groups_within_gap,
                MAKE_ALL,
            ),
        ),
    ),
    PaperTest(
        "infrastructure-1",
        "Training is reproducible",
        (
            T("tests/test_model.py::test_same_data_params_and_seed_give_identical_metrics"),
            T("tests/test_splits.py::test_the_split_is_the_same_every_time"),
        ),
    ),
    PaperTest(
        "infrastructure-2",
        "Model specs are unit tested",
        (
            T("tests/test_model.py::test_saved_model_predicts_exactly_as_trained"),
            T("tests/test_model_quality.py::test_column_order_does_not_matter"),
            T("tests/test_model_quality.py::test_extra_columns_are_ignored"),
            T(
                "tests/test_model_quality.py::test_a_record_is_predicted_the_same_alone_or_in_any_batch"
            ),
        ),
    ),
    PaperTest(
        "infrastructure-3",
        "The ML pipeline is integration tested",
        (
            T("tests/test_pipeline.py::test_the_stages_register_a_champion"),
            T("tests/test_pipeline.py::test_bad_data_stops_at_validate_naming_each_problem"),
            job("ci.yml", "pipeline"),
        ),
    ),
    PaperTest(
        "infrastructure-4",
        "Model quality is validated before serving",
        (
            T("tests/test_registry.py::test_the_gate_refuses_a_deliberately_bad_model"),
            T(
                "tests/test_registry.py::test_the_gate_refuses_a_model_clearly_worse_than_the_champion"
            ),
            T("tests/test_pipeline.py::test_a_refusal_fails_the_stage_unless_params_say_warn"),
            report("reports/registration.json", "a gate decision", gate_decided, MAKE_ALL),
        ),
    ),
    PaperTest(
        "infrastructure-5",
        "The model is debuggable",
        (
            T("tests/test_cli.py::test_predict_adds_a_prediction_to_each_record"),
            T("tests/test_cli.py::test_explain_shows_each_step_of_one_prediction"),
            T("tests/test_cli.py::test_a_bad_record_is_one_clear_error"),
            T("tests/test_serving.py::test_a_client_request_id_is_kept"),
            T("tests/test_serving.py::test_every_prediction_is_logged_by_shutdown"),
        ),
    ),
    PaperTest(
        "infrastructure-6",
        "Models are canaried before serving",
        (
            T("tests/test_serving.py::test_a_challenger_gets_its_share_and_says_so"),
            T("tests/test_serving.py::test_routing_is_deterministic_and_follows_the_share"),
            job("cd.yml", "build"),
            job("cd.yml", "staging"),
        ),
    ),
    PaperTest(
        "infrastructure-7",
        "Serving models can be rolled back",
        (
            T("tests/test_registry.py::test_rollback_restores_the_previous_champion"),
            T("tests/test_registry.py::test_rollback_with_no_earlier_champion_is_a_clear_error"),
            job("rollback.yml", "rollback"),
        ),
        manual=(T("tests/test_registry.py::test_rollback_restores_the_previous_champion"),),
    ),
    PaperTest(
        "monitoring-1",
        "Dependency changes result in notification",
        (
            T("tests/test_repository.py::test_dependabot_watches_every_ecosystem"),
            file(".github/dependabot.yml"),
        ),
    ),
    PaperTest(
        "monitoring-2",
        "Data invariants hold for training and serving inputs",
        (
            report("reports/validation.json", "passed", passed, MAKE_ALL),
            T("tests/test_serving.py::test_a_bad_field_is_a_422_that_names_it"),
            T(
                "tests/test_monitoring.py::test_shifted_traffic_is_drift_naming_the_shifted_features"
            ),
        ),
    ),
    PaperTest(
        "monitoring-3",
        "Training and serving features compute the same values",
        (
            T("tests/test_serving.py::test_the_compiled_model_predicts_exactly_like_the_pipeline"),
            T("tests/test_serving.py::test_predictions_equal_the_registered_models"),
            T("tests/test_features.py::test_the_pipeline_step_computes_what_the_function_does"),
        ),
    ),
    PaperTest(
        "monitoring-4",
        "Models are not too stale",
        (
            T(
                "tests/test_monitoring.py::"
                "test_a_champion_older_than_the_bound_calls_for_retraining_naming_its_age"
            ),
            job("ct.yml", "train", trigger="schedule", from_level=2),
        ),
    ),
    PaperTest(
        "monitoring-5",
        "The model is numerically stable",
        (
            T("tests/test_model.py::test_non_finite_or_unnormalised_outputs_fail_the_quality_bar"),
            T("tests/test_serving.py::test_nan_and_infinity_are_refused"),
            report(
                "reports/metrics.json", "numerically stable outputs", numerically_stable, MAKE_ALL
            ),
        ),
    ),
    PaperTest(
        "monitoring-6",
        "The model has not experienced dramatic or slow-leak regressions in training speed, "
        "serving latency, throughput, or RAM usage",
        (
            T("tests/test_repository.py::test_the_alert_rules_fire_on_latency_errors_and_memory"),
            T("tests/test_serving.py::test_metrics_count_requests_and_predictions"),
            file("deploy/prometheus/alerts.yml"),
        ),
    ),
    PaperTest(
        "monitoring-7",
        "The model has not experienced a regression in prediction quality on served data",
        (
            T(
                "tests/test_monitoring.py::test_labels_of_a_degraded_model_raise_a_performance_alert"
            ),
            job("monitor.yml", "monitor", trigger="schedule"),
        ),
        manual=(
            T(
                "tests/test_monitoring.py::test_labels_of_a_degraded_model_raise_a_performance_alert"
            ),
            report("reports/monitoring/report.json", "written", bool, "`make monitor`"),
        ),
    ),
)


def score_test(paper: PaperTest, evidence: Evidence) -> dict[str, Any]:
    """A paper test's entry of the card: its score, the evidence behind it, what is missing."""
    entry: dict[str, Any] = {"id": paper.id, "name": paper.name, "score": 0, "evidence": []}
    if not paper.automated:
        return {**entry, "missing": paper.todo}
    # each problem once (two checks of one file both find it missing)
    problems = list(dict.fromkeys(p for p in (c.verdict(evidence) for c in paper.automated) if p))
    if not problems:
        return {**entry, "score": 1, "evidence": [c.label for c in paper.automated], "missing": ""}
    manual = [p for p in (check.verdict(evidence) for check in paper.manual) if p]
    if paper.manual and not manual:
        evidence_labels = [check.label for check in paper.manual]
        return {**entry, "score": 0.5, "evidence": evidence_labels, "missing": "; ".join(problems)}
    return {**entry, "missing": "; ".join(problems)}


def card(settings: Settings, root: Path | None = None) -> dict[str, Any]:
    """The whole card: every paper test scored, sections summed, the final score."""
    root = root or Path.cwd()
    required = {root / JUNIT: "`make test`", root / settings.metrics_file: MAKE_ALL}
    absent = [
        f"{path.relative_to(root)} is missing: run {run} first"
        for path, run in required.items()
        if not path.is_file()
    ]
    if absent:
        raise ProjectError("the card scores the last recorded run; " + "; ".join(absent))
    try:
        evidence = Evidence(settings, root)
    except ElementTree.ParseError as error:
        raise ProjectError(f"{JUNIT} is unreadable ({error}): run `make test` again") from None
    sections: dict[str, Any] = {}
    for section in SECTIONS:
        tests = [score_test(p, evidence) for p in PAPER if p.id.startswith(f"{section}-")]
        sections[section] = {"score": float(sum(entry["score"] for entry in tests)), "tests": tests}
    final = min(section["score"] for section in sections.values())
    return {"final": float(final), "sections": sections}


def render(result: dict[str, Any]) -> str:
    """The card as text: each section, each test with its score and evidence."""
    lines = ["ML Test Score (Breck et al. 2017): 1 automated, 0.5 by hand, 0 missing"]
    for section, title in SECTIONS.items():
        entry = result["sections"][section]
        lines.append(f"\n{title}: {entry['score']:g} / 7")
        for paper in entry["tests"]:
            lines.append(f"  {paper['score']:<3g} {paper['id']:<17} {paper['name']}")
            lines.extend(f"        + {label}" for label in paper["evidence"])
            if paper["missing"]:
                lines.append(f"        - {paper['missing']}")
    lines.append(f"\nFinal score (lowest section): {result['final']:g}")
    return "\n".join(lines)
