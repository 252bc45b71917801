"""`python -m mlops_ladder.ci <command>`: the steps of a project's workflows that are code.

Each command prints what the step needs (a step output, Markdown, a verdict) and ends 0, or
prints one line starting `error:` or `smoke test failed:` on stderr and ends 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from mlops_ladder.ci import github, reports, smoke, sources
from mlops_ladder.errors import ConfigError

Command = Callable[[argparse.Namespace], str]


def run_smoke_test(args: argparse.Namespace) -> str:
    from mlops_ladder.config import load_params
    from mlops_ladder.schema import load_schema

    base = args.url.rstrip("/")
    smoke.wait_until_ready(base, args.wait)
    records = smoke.sample_records(load_schema(args.schema))
    predictions = smoke.check_predict(base, records, args.model_version)
    lines = []
    if args.entity:
        store = load_params(args.params).feature_store
        if store is None:
            raise ConfigError(f"--entity: {args.params} has no feature_store section")
        entity = smoke.entity_key(args.entity, store.entity_dtype)
        answer = smoke.check_entity(base, entity, args.model_version)
        lines.append(f"entity-key prediction ok: {entity!r} -> {answer}")
    served = f"model version {args.model_version}" if args.model_version else "the model"
    lines.append(f"smoke test passed: {base} is ready, and {served} predicted {predictions}")
    return "\n".join(lines) + "\n"


def run_model_version(args: argparse.Namespace) -> str:
    return reports.model_version(args.folder)


def run_gate_decision(args: argparse.Namespace) -> str:
    return reports.gate_decision(args.report)


def run_monitoring_summary(args: argparse.Namespace) -> str:
    return reports.monitoring_summary(reports.read_json(args.report), args.run_url)


def run_dispatch(args: argparse.Namespace) -> str:
    inputs = github.parse_inputs(args.input)
    return github.dispatch(github.GitHub.from_environment(), args.workflow, args.ref, inputs) + "\n"


def run_issue(args: argparse.Namespace) -> str:
    body = args.body_file.read_text()
    client = github.GitHub.from_environment()
    return github.upsert_issue(client, args.label, args.title, body) + "\n"


def run_update_imports(args: argparse.Namespace) -> str:
    return sources.update_imports(args.folders)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mlops_ladder.ci", description="The steps of the project's workflows."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, run: Command, summary: str) -> argparse.ArgumentParser:
        command = commands.add_parser(name, help=summary, description=summary)
        command.set_defaults(run=run)
        return command

    test = add("smoke-test", run_smoke_test, "check a running service: ready, predicts, version")
    test.add_argument("url", help="the service's base URL, e.g. http://127.0.0.1:8000")
    test.add_argument("--model-version", help="the registered version it must serve")
    test.add_argument("--schema", type=Path, default=Path("schema.yaml"))
    test.add_argument("--params", type=Path, default=Path("params.yaml"))
    test.add_argument("--wait", type=float, default=120, help="seconds to wait for /ready")
    test.add_argument("--entity", help="an entity key the online store holds (feature store)")

    version = add("model-version", run_model_version, "`version=N` of an exported model")
    version.add_argument("folder", type=Path, nargs="?", default=Path("build/model"))

    gate = add("gate-decision", run_gate_decision, "`promoted=` and `version=` of the gate")
    gate.add_argument("report", type=Path, nargs="?", default=Path("reports/registration.json"))

    summary = add("monitoring-summary", run_monitoring_summary, "the monitoring report in Markdown")
    summary.add_argument("report", type=Path)
    summary.add_argument("--run-url", help="the workflow run whose artifacts hold report.html")

    start = add("dispatch", run_dispatch, "start a workflow (workflow_dispatch)")
    start.add_argument("workflow", help="workflow file name, e.g. ct.yml")
    start.add_argument("--ref", required=True, help="branch or tag to run it on")
    start.add_argument("--input", action="append", default=[], help="NAME=VALUE")

    update = add("update-imports", run_update_imports, "ask imported data's sources for news")
    update.add_argument("folders", type=Path, nargs="*", default=[Path("data")])

    issue = add("issue", run_issue, "open or update an issue under a label")
    issue.add_argument("--label", required=True)
    issue.add_argument("--title", required=True)
    issue.add_argument("--body-file", type=Path, required=True)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        output = args.run(args)
    except smoke.SmokeTestError as error:
        print(f"smoke test failed: {error}", file=sys.stderr)
        return 1
    except (
        github.GitHubError,
        reports.ReportError,
        sources.SourceError,
        ConfigError,
        OSError,
    ) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(output, end="")
    return 0
