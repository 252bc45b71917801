"""mlops-ladder's command line: `mlops-ladder assess PATH`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable

from mlops_ladder import __version__, report
from mlops_ladder.adopt import plan, template_source
from mlops_ladder.checks import Findings, assess
from mlops_ladder.scan import AssessError, printable, read_repository

DEPLOYMENT = {
    "m": ("by hand", True),
    "a": ("by an automated pipeline", False),
    "n": ("not deployed yet", None),
}
FREQUENCY = {
    "1": "not deployed yet",
    "2": "a few times a year or less",
    "3": "about monthly",
    "4": "weekly or more often",
}


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(
        prog="mlops-ladder", description="The mlops-ladder template's own commands."
    )
    main.add_argument("--version", action="version", version=f"mlops-ladder {__version__}")
    commands = main.add_subparsers(dest="command", required=True)
    assess_cmd = commands.add_parser(
        "assess",
        help="find a repository's MLOps maturity level from its files, and how to adopt the next",
        description="Read a repository's files (nothing is run) and report, with evidence, where "
        "it stands on the maturity checklist and the ML Test Score, its level, and the copier "
        "command that adopts the next level there.",
    )
    assess_cmd.add_argument("path", help="the repository's top folder")
    form = assess_cmd.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print JSON for machines")
    form.add_argument("--html", action="store_true", help="print a self-contained HTML page")
    assess_cmd.add_argument("-o", "--output", help="write the report to this file, not stdout")
    assess_cmd.add_argument(
        "--interactive",
        action="store_true",
        help="ask what files cannot tell (how models are deployed, and how often)",
    )
    assess_cmd.add_argument(
        "--template",
        help="the template's path or git URL for the adoption command (default: the template "
        "this command runs from)",
    )
    assess_cmd.add_argument("--vcs-ref", help="the template's git ref for the adoption command")
    return main


def ask(question: str, choices: dict[str, str], read: Callable[[], str]) -> str | None:
    options = ", ".join(f"[{k}] {v}" for k, v in choices.items())
    while True:
        print(f"{question}\n  {options}, [s] skip: ", end="", file=sys.stderr, flush=True)
        line = read()
        if line == "":
            print(file=sys.stderr)
            raise AssessError(
                "--interactive: standard input ended before every question was answered"
            )
        answer = line.strip().lower()
        if answer in choices:
            return answer
        if answer in {"s", "skip", ""}:
            return None
        print(f"  '{answer}' is not one of the choices", file=sys.stderr)


def interview(findings: Findings, read: Callable[[], str]) -> dict[str, str]:
    """Questions files cannot answer; the answers go into the same report."""
    answers: dict[str, str] = {}
    item = findings.item("manual_deployment")
    if item.met is None:
        choice = ask(
            "How does a new model reach production?",
            {k: v for k, (v, _) in DEPLOYMENT.items()},
            read,
        )
        if choice:
            answers["deployment"] = DEPLOYMENT[choice][0]
            item.met = DEPLOYMENT[choice][1]
            item.note = f"answered: deployed {DEPLOYMENT[choice][0]} (not visible in files)"
    choice = ask("How often is a new model deployed?", FREQUENCY, read)
    if choice:
        answers["deployment_frequency"] = FREQUENCY[choice]
        item.note += f"{'; ' if item.note else ''}answered: new models deployed {FREQUENCY[choice]}"
    return answers


def run_assess(args: argparse.Namespace) -> int:
    repo = read_repository(args.path)
    findings = assess(repo)
    answers = interview(findings, sys.stdin.readline) if args.interactive else {}
    template = template_source(args.template)
    adoption = plan(repo, findings, template, args.path, args.vcs_ref)
    notes, limits = repo.notes, repo.limits
    if args.json:
        output = report.dumps(report.as_json(findings, adoption, args.path, notes, answers, limits))
    elif args.html:
        output = report.page(findings, adoption, args.path, notes, limits)
    else:
        output = report.text(findings, adoption, args.path, notes, limits)
    if args.output:
        try:
            with open(args.output, "w", encoding="utf-8", errors="backslashreplace") as handle:
                handle.write(output)
        except OSError as error:
            raise AssessError(
                f"{args.output}: cannot write the report ({error.strerror})"
            ) from error
        print(
            f"level {findings.level}: report written to {printable(args.output)}", file=sys.stderr
        )
    else:
        write(output)
    return 0


def write(output: str) -> None:
    """The report on standard output, whatever its encoding (a latin-1 terminal, say)."""
    try:
        sys.stdout.write(output)
    except UnicodeEncodeError:
        encoding = sys.stdout.encoding or "utf-8"
        sys.stdout.write(output.encode(encoding, "backslashreplace").decode(encoding))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run_assess(args)
    except AssessError as error:
        print(f"mlops-ladder: error: {printable(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("mlops-ladder: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # one line, never a traceback; MLOPS_LADDER_DEBUG=1 shows it
        if os.environ.get("MLOPS_LADDER_DEBUG"):
            raise
        print(
            f"mlops-ladder: error: {type(error).__name__}: {printable(str(error))} "
            "(MLOPS_LADDER_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return 1
