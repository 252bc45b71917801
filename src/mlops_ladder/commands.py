"""A project's command line, `python -m <package> <command>`: one command per pipeline stage.

The project's Makefile, its pipeline (dvc.yaml), its tests and its owner all call these commands,
so a step behaves the same on a laptop, in CI and in a container. Each command's `--help` says
what it reads and writes; locations come from environment variables (see config.py). The
project is the one whose pyproject.toml is in the working folder (project.py).
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import sys
import time
from collections.abc import Callable, Sequence
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlops_ladder import project as projects
from mlops_ladder.config import Params, Settings, load_params
from mlops_ladder.errors import (
    OTHER_TASK,
    ConfigError,
    DataError,
    ProjectError,
    missing_extra,
)
from mlops_ladder.schema import Schema, load_schema

if TYPE_CHECKING:  # for type hints only: the registry loads MLflow, which is slow to import
    from mlops_ladder.registry import Decision

log = logging.getLogger("mlops_ladder")


class OnFirstUse:
    """A module imported when a command first uses it: `serve` (its supervisor process, and
    each worker) then carries none of the training libraries it never calls (~200 MB each)."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __getattr__(self, attribute: str) -> Any:
        return getattr(importlib.import_module(self.name), attribute)


backtest = OnFirstUse("mlops_ladder.backtest")
data = OnFirstUse("mlops_ladder.data")
evaluate = OnFirstUse("mlops_ladder.evaluate")
features = OnFirstUse("mlops_ladder.features")
predict = OnFirstUse("mlops_ladder.predict")
train = OnFirstUse("mlops_ladder.train")
checks = OnFirstUse("mlops_ladder.validate")


class Project:
    """Identity, settings, params and schema, each read once and only when a command needs it."""

    def __init__(self) -> None:
        self.identity = projects.current()
        self.settings = Settings.load()

    @cached_property
    def params(self) -> Params:
        return load_params(self.settings.params_file)

    @cached_property
    def schema(self) -> Schema:
        schema = load_schema(self.settings.schema_file)
        task = self.params.task
        if schema.task != task:
            raise ConfigError(
                f"params.yaml task is {task}, but {self.settings.schema_file}'s target "
                f"'{schema.target.name}' is a {schema.task} target: draft the contract of a "
                f"{task} target, or for this one " + OTHER_TASK.format(task=schema.task)
            )
        return schema

    @property
    def tracked(self) -> bool:
        """Runs go to MLflow from level 1 on."""
        return self.identity.tracked


def cmd_ingest(project: Project, args: argparse.Namespace) -> int:
    ingest = projects.hook("ingest", data.ingest)  # the project's own, else read the file
    frame = ingest(project.params.ingest.source)
    data.write_table(frame, project.settings.raw_data)
    log.info("ingested %d rows x %d columns -> %s", *frame.shape, project.settings.raw_data)
    return 0


def cmd_validate(project: Project, args: argparse.Namespace) -> int:
    source = args.input or project.settings.raw_data
    report = checks.validate(data.read_table(source), project.schema)
    out = project.settings.validation_report
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    if not report.passed:
        print(f"{source}: {report.summary()}\n(full report: {out})", file=sys.stderr)
        return 1
    log.info("%s: %s", source, report.summary())
    return 0


def split_as_params_say(project: Project, source: Path) -> tuple[Any, Any]:
    """Train and test splits of the table at `source` by params.yaml `split` and `seed` (read
    first: a mistake in params.yaml is the error, whatever the data)."""
    params = project.params
    return data.split(
        data.read_table(source),
        target=project.schema.target,
        test_size=params.split.test_size,
        seed=params.seed,
        stratify=params.split.stratify,
    )


def cmd_split(project: Project, args: argparse.Namespace) -> int:
    settings = project.settings
    train_split, test_split = split_as_params_say(project, settings.raw_data)
    data.write_table(train_split, settings.train_split)
    data.write_table(test_split, settings.test_split)
    log.info("split %d train / %d test rows", len(train_split), len(test_split))
    return 0


def cmd_feature_table(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import feature_store as store

    params = project.params.require_feature_store()
    features, labels = store.tables(
        data.read_table(project.settings.raw_data), project.schema, params
    )
    data.write_table(features, store.OFFLINE_TABLE)
    data.write_table(labels, store.LABELS_TABLE)
    log.info(
        "feature store: %d feature rows, %d labels -> %s",
        len(features),
        len(labels),
        store.OFFLINE_TABLE.parent,
    )
    return 0


def cmd_retrieve(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import feature_store as store

    settings, params = project.settings, project.params
    train_labels, test_labels = split_as_params_say(project, store.LABELS_TABLE)
    fs, store_params = store.store(), params.require_feature_store()
    for labels, out in [(train_labels, settings.train_split), (test_labels, settings.test_split)]:
        table = store.training_set(fs, labels, project.schema, store_params)
        data.write_table(table, out)
    log.info(
        "retrieved %d train / %d test rows from the feature store (point in time)",
        len(train_labels),
        len(test_labels),
    )
    return 0


def cmd_materialize(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import feature_store as store

    report = project.settings.registration_report
    if not args.force and not json.loads(report.read_text()).get("promoted"):
        log.info("no new champion (%s): the online store stays as it is", report)
        return 0
    store.materialize(store.store())
    log.info("materialized the latest feature values into the online store")
    return 0


def cmd_featurize(project: Project, args: argparse.Namespace) -> int:
    settings = project.settings
    derived = features.derived_for(project.schema.feature_names)
    train_split = data.read_table(settings.train_split)
    for split, target in [
        (train_split, settings.train_features),
        (data.read_table(settings.test_split), settings.test_features),
    ]:
        data.write_table(features.add_derived_features(split, derived), target)
    names = ", ".join(feature.name for feature in derived) or "none"
    log.info("features (derived: %s) -> %s", names, settings.train_features.parent)
    costs = features.feature_costs(train_split, derived, project.params.featurize)
    settings.feature_cost_file.parent.mkdir(parents=True, exist_ok=True)
    settings.feature_cost_file.write_text(json.dumps(costs, indent=2) + "\n")
    if costs["failures"]:
        raise DataError("features over budget: " + "; ".join(costs["failures"]))
    return 0


def cmd_schema_draft(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder.draft import draft

    output = args.output or project.settings.schema_file
    if output.exists() and not args.force and not sample_contract(output):
        raise ProjectError(
            f"{output} exists: add --force (make schema ... FORCE=1) to replace it (edits in "
            "it are lost)"
        )
    params = project.params
    result = draft(
        data.read_table(args.path),
        args.target,
        str(args.path),
        params.task,
        feature_store=params.feature_store is not None,
        test_size=params.split.test_size,
    )
    time_column, year_column = result.time_column(), result.year_column()
    if time_column is not None and params.evaluate.order_by is None:
        result.warnings.append(
            f"'{time_column}' holds dates: set params.yaml evaluate.order_by: {time_column} so "
            "that the staleness backtest measures a model's age in time (readiness model-4)"
        )
    elif year_column is not None and params.evaluate.order_by is None:
        result.warnings.append(
            f"'{year_column}' holds calendar years: set params.yaml evaluate.order_by: "
            f"{year_column} so that the staleness backtest measures a model's age in years "
            "(readiness model-4)"
        )
    output.write_text(result.to_yaml())
    load_schema(output)  # what was written reads back as a valid contract
    if result.store_keys:
        from mlops_ladder.draft import write_store_keys

        write_store_keys(project.settings.params_file, result.store_keys)
    print(result.summary(str(output)))
    return 0


# The first line of the contract a new project carries (the bundled sample's): `schema draft`
# replaces that one without --force, as long as it is unchanged; a drafted one has no marker.
SAMPLE_MARKER = "# mlops-ladder: the bundled sample's contract"


def sample_contract(path: Path) -> bool:
    """Whether `path` is the sample's contract as generated: it carries SAMPLE_MARKER and git
    (where the project is a repository that tracks it) sees no change to it since the last
    commit. A contract of your own, or the sample's edited, is kept unless --force."""
    import subprocess

    with path.open(encoding="utf-8", errors="replace") as handle:
        if not handle.readline().startswith(SAMPLE_MARKER):
            return False
    try:
        done = subprocess.run(
            ["git", "status", "--porcelain", "--", path.name],
            cwd=path.resolve().parent,
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.SubprocessError):
        return True  # no git: the marker says it is the sample's
    # untracked (??) or unknown to git: as generated; any other status: changed since
    changed = done.returncode == 0 and bool(done.stdout.strip()) and done.stdout[:2] != "??"
    return not changed


def cmd_tune(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import tuning

    settings, params = project.settings, project.params
    train_features = data.read_table(settings.train_features)
    result = tuning.tune(train_features, project.schema, params)
    report = result.to_dict()
    if project.tracked:
        from mlops_ladder import tracking

        report["mlflow"] = {"run_id": tracking.log_tuning(settings, report)}
    settings.tuning_report.parent.mkdir(parents=True, exist_ok=True)
    settings.tuning_report.write_text(json.dumps(report, indent=2) + "\n")
    log.info(
        "tuned %s: %d trials in %.1f s%s on %d rows%s, best %s %.4f, configured %.4f -> %s",
        result.estimator,
        len(result.trials),
        result.seconds,
        " (stopped by tune.timeout)" if result.stopped_early else "",
        result.rows,
        " (a sample of the training split)" if result.sampled else "",
        result.metric,
        result.best_score,
        result.configured_score,
        settings.tuning_report,
    )
    if result.linear is not None:
        linear = result.linear
        log.info(
            "tuned the linear model alike: %d trials, best %s, train.linear %s%s",
            len(linear["trials"]),
            _score(linear["best_score"]),
            _score(linear["configured_score"]),
            ": clearly better" if result.linear_is_better else "",
        )
    if result.use_best:
        instead = "the linear model" if result.use_estimator else "the study's best"
        log.warning(
            "%s\ntrain fits %s until then (tune.on_shortfall: use_best)",
            result.failure(),
            instead,
        )
    elif not result.passed:
        raise ConfigError(result.failure())
    return 0


def _score(value: float | None) -> str:
    return "(did not converge)" if value is None else f"{value:.4f}"


def cmd_train(project: Project, args: argparse.Namespace) -> int:
    settings, params, schema = project.settings, project.params, project.schema
    tuned = train.tuned_model(settings.tuning_report, params)
    values = ", ".join(f"{k}: {v}" for k, v in tuned.hyperparameters.items()) if tuned else ""
    if tuned is not None and tuned.estimator != params.train.estimator:
        log.warning(
            "training %s (%s) instead of train.%s: %s says it is clearly better; set "
            "params.yaml train.estimator: %s%s to make it the spec",
            tuned.estimator,
            values,
            params.train.estimator,
            settings.tuning_report,
            tuned.estimator,
            ""
            if tuned.hyperparameters_from == "params.yaml"
            else f" (and these hyperparameters into train.{tuned.estimator})",
        )
    elif tuned is not None:
        log.warning(
            "training the study's best hyperparameters of %s (%s): params.yaml's scored "
            "clearly below them; copy them into params.yaml train.%s to make them the spec",
            settings.tuning_report,
            values,
            params.train.estimator,
        )
    started = time.perf_counter()
    model = train.train(data.read_table(settings.train_features), schema, params, tuned)
    seconds = time.perf_counter() - started
    metadata = train.describe(
        model, settings.raw_data, settings.train_features, schema, params, tuned
    )
    # What training cost (monitoring-6: the gate compares it with the champion's).
    metadata["training_seconds"] = round(seconds, 3)
    if project.tracked:
        from mlops_ladder import tracking  # MLflow takes seconds to import: only here

        metadata["mlflow"] = tracking.log_training(
            settings, model, metadata, data.read_table(settings.train_features), schema, params
        )
    train.save(model, metadata, settings.model_file, settings.metadata_file)
    log.info("trained %s -> %s", metadata["estimator"], settings.model_file)
    return 0


def cmd_evaluate(project: Project, args: argparse.Namespace) -> int:
    settings, params, schema = project.settings, project.params, project.schema
    model = train.load(settings.model_file)
    test_split = data.read_table(settings.test_split)
    report = evaluate.evaluate(
        model, test_split, data.read_table(settings.train_features), schema, params
    )
    # The backtest's models are the one train fitted: the tune stage's choice where it made one
    tuned = train.tuned_model(settings.tuning_report, params)
    report["staleness"] = backtest.staleness(
        data.read_table(settings.raw_data), schema, params, tuned
    )
    if settings.metadata_file.is_file():  # what training cost, as the train stage measured it
        trained = json.loads(settings.metadata_file.read_text())
        report["costs"]["training_seconds"] = trained.get("training_seconds")
    evaluate.write_outputs(
        report,
        model,
        test_split,
        schema.target.name,
        settings.metrics_file,
        settings.plots_dir,
        settings.figures_dir,
    )
    if project.tracked:
        from mlops_ladder import tracking

        run = tracking.read_metadata(settings.metadata_file)["mlflow"]
        tracking.log_evaluation(settings, run["run_id"], report)
    primary = params.quality.primary_metric
    # undefined on a test split that lacks a class: the quality bar says so below
    log.info("test %s = %s -> %s", primary, report["test"].get(primary), settings.metrics_file)
    stale = report["staleness"]
    by_age = ", ".join(f"{age}: {value:.4f}" for age, value in stale["score_by_age"].items())
    if stale.get("not_measured"):
        log.info("staleness: not measured: %s", stale["not_measured"])
    elif span := backtest.SPANS.get(stale.get("time_unit") or ""):
        in_span = ", ".join(f"{age}: {value:g}" for age, value in stale[f"{span}_by_age"].items())
        log.info(
            "staleness: %s by model age (windows of %d rows) %s; ages in %s %s -> retrain "
            "every %s windows (%s %s)",
            primary,
            stale["rows_per_window"],
            by_age or "not measured",
            span,
            in_span or "not measured",
            stale["retrain_every_windows"],
            stale[f"retrain_every_{span}"],
            span,
        )
    else:
        log.info(
            "staleness: %s by model age (windows of %d rows) %s -> retrain every %s windows",
            primary,
            stale["rows_per_window"],
            by_age or "not measured",
            stale["retrain_every_windows"],
        )
    useless = report["feature_importance"]["useless"]
    if useless:
        log.info("features that never help: %s", ", ".join(useless))
    if report["quality"]["passed"]:
        log.info("quality bar: met")
    else:
        log.warning("quality bar: missed\n  - %s", "\n  - ".join(report["quality"]["failures"]))
    return 0


def cmd_predict(project: Project, args: argparse.Namespace) -> int:
    model = train.load(args.model or project.settings.model_file)
    records = data.read_table(args.input)
    predicted = predict.predict_table(model, records, project.schema)
    if args.output is None:
        predicted.to_csv(sys.stdout, index=False)
        return 0
    if args.output.suffix == ".parquet":
        data.write_table(predicted, args.output)
    else:
        predicted.to_csv(args.output, index=False)
    log.info("%d predictions -> %s", len(predicted), args.output)
    return 0


def cmd_explain(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import explain

    schema = project.schema
    frame = explain.record_frame(explain.read_record(args.record), schema)
    model = train.load(args.model or project.settings.model_file)
    explained = explain.explain(model, frame, schema)
    print(json.dumps(explained, indent=2) if args.json else explain.render(explained))
    return 0


def cmd_readiness(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import readiness

    if args.code_owner_review:
        return code_owner_review()
    card = readiness.card(project.settings.reports_dir, project.settings.params_file)
    out = project.settings.reports_dir / "readiness.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(card, indent=2) + "\n")
    print(readiness.render(card))
    log.info("card -> %s", out)
    return 1 if args.fail_on_red and card["run"]["status"] == "red" else 0


def code_owner_review() -> int:
    """model-1 in CI: the default branch requires code-owner review (GitHub's API); where that
    cannot be told (no token, act, GitHub Enterprise without the API), a warning says why."""
    import os

    from mlops_ladder import readiness

    if os.environ.get("ACT") == "true":  # act runs the workflow here: GitHub is not asked
        print("::warning title=Code-owner review not checked::not on GitHub (act)")
        return 0
    required, message = readiness.code_owner_review(
        os.environ.get("GITHUB_API_URL", "https://api.github.com"),
        os.environ.get("GITHUB_REPOSITORY", ""),
        os.environ.get("GITHUB_TOKEN", ""),
        os.environ.get("BRANCH_PROTECTION_TOKEN", ""),
    )
    if required is None:
        print(f"::warning title=Code-owner review not checked::{message}")
        return 0
    if not required:
        print(f"::error title=No code-owner review::{message}")
        return 1
    log.info("%s", message)
    return 0


def cmd_register(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import registry, tracking

    settings, params = project.settings, project.params
    metadata = tracking.read_metadata(settings.metadata_file)
    decision = registry.register(
        settings,
        params,
        project.schema,
        run=metadata["mlflow"],
        report=json.loads(settings.metrics_file.read_text()),
        test_split=data.read_table(settings.test_split),
        model_metadata=metadata,
    )
    return report_decision(decision, settings.registration_report, params.gate.on_fail)


def cmd_promote(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import registry

    decision = registry.promote(project.settings, args.version)
    log.info(
        "%s: champion v%s (was v%s)", decision.model_name, args.version, decision.champion_before
    )
    return 0


def cmd_rollback(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import registry

    decision = registry.rollback(project.settings)
    log.info(
        "%s: champion back to v%s (was v%s)",
        decision.model_name,
        decision.champion_after,
        decision.champion_before,
    )
    return 0


def cmd_serve(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import privacy
    from mlops_ladder.serving import server
    from mlops_ladder.serving.settings import load_serving_settings

    # A wrong variable (or the public pii key) is one clear error here, not one per worker.
    load_serving_settings()
    privacy.require_key(project.settings, project.schema)
    server.run(args.host, args.port, args.workers or server.default_workers(), args.access_log)
    return 0


def cmd_export_model(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder.serving.loading import export_model
    from mlops_ladder.serving.settings import load_serving_settings

    uri = args.uri or load_serving_settings().champion_uri(project.settings)
    described = export_model(uri, project.settings, args.output)
    log.info("exported %s v%s (%s) -> %s", described.name, described.version, uri, args.output)
    return 0


def cmd_monitor(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder.monitoring import job

    settings, params, schema = project.settings, project.params, project.schema
    result = job.run(
        settings, params, schema, args.reference, args.current, args.labels, args.output_dir
    )
    return 3 if args.fail_on_drift and result["retrain_needed"] else 0


def cmd_score(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import scoring

    done = scoring.score(
        project.settings,
        project.schema,
        args.input,
        args.output,
        engine=args.engine,
        model_uri=args.model,
        chunk_rows=args.chunk_rows,
    )
    log.info("scored %d rows with %s (%s) -> %s", done.rows, done.model, args.engine, done.output)
    return 0


def cmd_users(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import users

    for line in users.make_accounts(project.settings, args.env_file, args.admin):
        log.info("%s", line)
    return 0


def add_score_command(commands: argparse._SubParsersAction) -> None:
    summary = (
        "Score a CSV/Parquet file or folder with the registry's champion (or --model), after "
        "checking it against schema.yaml: in chunks with pandas, or on Spark."
    )
    command = commands.add_parser("score", help=summary, description=summary)
    command.set_defaults(run=cmd_score)
    command.add_argument(
        "--input", required=True, help="CSV/Parquet file or folder (Spark: or s3a://, hdfs://...)"
    )
    command.add_argument(
        "--output", required=True, help=".csv or .parquet (Spark: a folder of part files)"
    )
    command.add_argument("--engine", choices=["pandas", "spark"], default="pandas")
    command.add_argument(
        "--model", help="models:/<name>@<alias>, models:/<name>/<version>, runs:/..., a folder"
    )
    command.add_argument(
        "--chunk-rows", type=int, default=100_000, help="pandas: rows in memory at once"
    )


def report_decision(decision: Decision, out: Path, on_fail: str) -> int:
    """Write the gate's decision; a refusal fails the command unless params say warn."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(decision.to_dict(), indent=2) + "\n")
    if decision.reasons and on_fail == "error":
        print(decision.summary(), file=sys.stderr)
        return 1
    (log.warning if decision.reasons else log.info)("%s", decision.summary())
    return 0


Command = Callable[[Project, argparse.Namespace], int]

# The optional modules (errors.EXTRAS) each command imports, checked before it runs: a missing
# extra is one line at once, not a traceback after minutes of work. Tracked stages need MLflow
# from level 1 on; `serve` needs it for a registry URI (not for a folder), `score` PySpark on
# Spark.
NEEDS: dict[str, tuple[str, ...]] = {
    "register": ("mlflow",),
    "promote": ("mlflow",),
    "rollback": ("mlflow",),
    "serve": ("fastapi", "uvicorn", "prometheus_client"),
    "export-model": ("mlflow",),
    "monitor": ("scipy", "mlflow"),
    "score": ("mlflow",),
    "users": ("mlflow", "flask_wtf"),
    "feature-table": ("feast",),
    "retrieve": ("feast",),
    "materialize": ("feast",),
}
TRACKED_STAGES = ("tune", "train", "evaluate")
# The commands a level-0 project does not have: they need the registry (level 1).
LEVEL_1_COMMANDS = (
    "register",
    "promote",
    "rollback",
    "serve",
    "export-model",
    "monitor",
    "score",
    "users",
    "feature-table",
    "retrieve",
    "materialize",
)


def needed_modules(args: argparse.Namespace, identity: projects.Identity) -> list[str]:
    """The optional modules the parsed command will import."""
    command = getattr(args, "command", None)
    needs = list(NEEDS.get(command, ())) if command is not None else []
    if command in TRACKED_STAGES and identity.tracked:
        needs.append("mlflow")
    if command == "score" and args.engine == "spark":
        needs.append("pyspark")
    if command == "serve":
        from mlops_ladder.serving.settings import load_serving_settings

        uri = load_serving_settings().model_uri
        if not (uri and Path(uri).is_dir()):  # a registry or run URI: MLflow fetches it
            needs.append("mlflow")
    return needs


def require_modules(names: list[str]) -> None:
    """ModuleNotFoundError (main says which extra installs it) for the first one missing."""
    for name in names:
        if importlib.util.find_spec(name) is None:
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)


def build_parser(identity: projects.Identity) -> argparse.ArgumentParser:
    """The commands of a project at `identity.level`: the pipeline's, serving's and
    monitoring's from level 1, the feature store's from level 2."""
    parser = argparse.ArgumentParser(
        prog=f"python -m {identity.package}", description=identity.description or None
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, run: Command, summary: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=summary, description=summary)
        command.set_defaults(run=run)
        return command

    add("ingest", cmd_ingest, "Load the data named by params.yaml ingest.source into data/raw/.")
    validate_cmd = add(
        "validate",
        cmd_validate,
        "Check data against schema.yaml; write reports/validation.json; fail on any broken rule.",
    )
    validate_cmd.add_argument("--input", type=Path, help="table to check (default: the raw data)")
    schema_cmd = commands.add_parser(
        "schema", help="The data contract (schema.yaml).", description="The data contract."
    ).add_subparsers(dest="schema_command", required=True, metavar="COMMAND")
    draft_cmd = schema_cmd.add_parser(
        "draft",
        help="Draft schema.yaml from a CSV/Parquet file: types, bounds, classes, ignored columns.",
    )
    draft_cmd.set_defaults(run=cmd_schema_draft)
    draft_cmd.add_argument("path", type=Path, help="the CSV or Parquet file of your data")
    draft_cmd.add_argument("--target", required=True, help="the column to predict")
    draft_cmd.add_argument("--output", type=Path, help="where to write (default: schema.yaml)")
    draft_cmd.add_argument("--force", action="store_true", help="replace an existing file")
    add("split", cmd_split, "Split the raw data into data/processed/{train,test}.parquet.")
    add("featurize", cmd_featurize, "Add derived features: data/features/{train,test}.parquet.")
    add(
        "tune",
        cmd_tune,
        "Search train.estimator's hyperparameters (Optuna, params.yaml tune); write "
        "reports/tuning.json; fail if train's configuration scores clearly below the best.",
    )
    add("train", cmd_train, "Fit the model; write models/model.joblib and models/metadata.json.")
    add(
        "evaluate",
        cmd_evaluate,
        "Score the model on the test split, slices and baselines; write reports/.",
    )
    predict_cmd = add(
        "predict", cmd_predict, "Predict for a CSV/Parquet file of records (CSV to stdout)."
    )
    predict_cmd.add_argument("input", type=Path, help="CSV or Parquet file of records")
    predict_cmd.add_argument("--output", type=Path, help="write here (.csv or .parquet)")
    predict_cmd.add_argument("--model", type=Path, help="model file (default: models/model.joblib)")
    explain_cmd = add(
        "explain",
        cmd_explain,
        "Debug one prediction: the record, its derived features, the preprocessed vector, the "
        "prediction, and the inputs that moved it most.",
    )
    explain_cmd.add_argument(
        "record", help="one record: a JSON object, or the path of a file holding one"
    )
    explain_cmd.add_argument("--model", type=Path, help="model file (default: models/model.joblib)")
    explain_cmd.add_argument("--json", action="store_true", help="print JSON, for machines")
    readiness_cmd = add(
        "readiness",
        cmd_readiness,
        "Score the project on the ML Test Score from its last `make test` (reports/tests.json) "
        "and pipeline run; write reports/readiness.json.",
    )
    readiness_cmd.add_argument(
        "--fail-on-red", action="store_true", help="exit 1 when the last `make test` failed"
    )
    readiness_cmd.add_argument(
        "--code-owner-review",
        action="store_true",
        help="only check, through GitHub's API (in CI), that the default branch requires "
        "code-owner review (model-1)",
    )
    eject_cmd = add(
        "eject",
        cmd_eject,
        "Copy a runtime module into this project (src/<package>/ejected/) and use the copy in its "
        "place: for the rare change the runtime's settings cannot make.",
    )
    eject_cmd.add_argument("module", nargs="?", help="the module, e.g. monitoring.drift")
    eject_cmd.add_argument("--list", action="store_true", help="name every module to eject")
    if identity.level < 1:
        return parser
    add(
        "register",
        cmd_register,
        "Register the trained model (alias challenger); promote it to champion if it passes the "
        "gate. Writes reports/registration.json.",
    )
    promote_cmd = add("promote", cmd_promote, "Make a registered version the champion by hand.")
    promote_cmd.add_argument("version", help="registered model version, e.g. 3")
    add("rollback", cmd_rollback, "Move the champion back to the previous champion.")
    serve_cmd = add(
        "serve",
        cmd_serve,
        "Serve the model over HTTP (MODEL_URI, default: the registry's champion).",
    )
    serve_cmd.add_argument("--host", default="127.0.0.1", help="address (0.0.0.0: all)")
    serve_cmd.add_argument("--port", type=int, default=8000)
    serve_cmd.add_argument(
        "--workers", type=int, help="worker processes (default: WEB_CONCURRENCY, or 1)"
    )
    serve_cmd.add_argument("--access-log", action="store_true", help="log every request")
    export_cmd = add(
        "export-model",
        cmd_export_model,
        "Write the champion (or --uri) as a self-contained model folder, as the image carries.",
    )
    export_cmd.add_argument("--output", type=Path, default=Path("build/model"))
    export_cmd.add_argument("--uri", help="models:/<name>@<alias>, models:/<name>/<version>, ...")
    monitor_cmd = add(
        "monitor",
        cmd_monitor,
        "Compare current data (the prediction log) with the training data: drift per feature, "
        "prediction drift, live performance; write reports/monitoring/report.{json,html}.",
    )
    monitor_cmd.add_argument(
        "--reference", type=Path, help="reference data (default: the model's training data)"
    )
    monitor_cmd.add_argument(
        "--current",
        type=Path,
        help="prediction log folder, or a .parquet/.csv/.jsonl file (default: the log folder)",
    )
    monitor_cmd.add_argument(
        "--labels", type=Path, help="CSV/Parquet of request_id, record and the target"
    )
    monitor_cmd.add_argument(
        "--output-dir", type=Path, help="where to write (default: reports/monitoring)"
    )
    monitor_cmd.add_argument(
        "--fail-on-drift",
        action="store_true",
        help="exit with status 3 when retraining is needed",
    )
    add_score_command(commands)
    users_cmd = add(
        "users",
        cmd_users,
        "As the MLflow server's admin, make the team platform's accounts (ci: EDIT; serving, "
        "monitoring: READ) with the passwords of deploy/.env. Safe to run again.",
    )
    users_cmd.add_argument("--env-file", type=Path, default=Path("deploy/.env"))
    users_cmd.add_argument("--admin", default="admin", help="the admin's user name")
    if identity.level >= 2:  # the feature store (Feast) is an option of level 2
        add("feature-table", cmd_feature_table, "Write the feature store's tables: data/feast/.")
        add("retrieve", cmd_retrieve, "Split the labels; retrieve their features point in time.")
        materialize_cmd = add(
            "materialize", cmd_materialize, "Load the online store, after a new champion."
        )
        materialize_cmd.add_argument("--force", action="store_true", help="even without one")
    return parser


def cmd_eject(project: Project, args: argparse.Namespace) -> int:
    from mlops_ladder import eject

    if args.list:
        print("\n".join(eject.modules()))
        return 0
    if args.module is None:
        raise ConfigError("name the module to eject (`eject --list` names them)")
    written = eject.eject(project.identity, args.module)
    print(
        f"{args.module} ejected to {written}: the project now runs that copy in place of the "
        f"runtime's (pyproject.toml [tool.mlops-ladder] ejected). It is yours to change; a "
        "runtime upgrade no longer changes it (docs/architecture.md)."
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command in the project of the working folder; a user's mistake is one line on
    stderr and exit status 1, never a traceback."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        identity = projects.current()
    except ProjectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    given = list(sys.argv[1:] if argv is None else argv)
    if identity.level < 1 and given and given[0] in LEVEL_1_COMMANDS:
        print(
            f"error: `{given[0]}` needs the model registry of level 1, and this project is "
            f"level {identity.level}: climb with `copier update --data maturity_level=1` "
            "(docs: upgrading), which adds it and its extras",
            file=sys.stderr,
        )
        return 1
    args = build_parser(identity).parse_args(given)
    try:
        current = Project()
        if "feast" in NEEDS.get(getattr(args, "command", None) or "", ()):
            # Without the section, installing Feast would not help: say what would.
            current.params.require_feature_store()
        require_modules(needed_modules(args, identity))
        return args.run(current, args)
    except ProjectError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:
        message = missing_extra(error, identity.level)
        if message is None:
            raise
        print(f"error: {message}", file=sys.stderr)
        return 1
