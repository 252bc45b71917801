"""Step outputs and summaries read from the files the pipeline and the monitoring job write.

Each function returns text a workflow appends to $GITHUB_OUTPUT or $GITHUB_STEP_SUMMARY.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


class ReportError(Exception):
    """A report is missing or does not say what a workflow needs."""


def read_json(path: Path) -> dict[str, Any]:
    try:
        content = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path} not found") from None
    except json.JSONDecodeError as error:
        raise ReportError(f"{path} is not valid JSON: {error}") from None
    if not isinstance(content, dict):
        raise ReportError(f"{path} must hold a JSON object")
    return content


def model_version(folder: Path) -> str:
    """`version=N` of the model `export-model` wrote to `folder` (registered_model.json): the
    version inside the image, whatever the registry's champion becomes a minute later."""
    described = read_json(folder / "registered_model.json")
    if described.get("version") in (None, ""):
        raise ReportError(f"{folder / 'registered_model.json'} names no version")
    return f"version={described['version']}\n"


def gate_decision(path: Path) -> str:
    """`promoted=true|false` and `version=N` of the registry gate (reports/registration.json):
    continuous training deploys only a model the gate promoted."""
    decision = read_json(path)
    if "promoted" not in decision:
        raise ReportError(f"{path} has no `promoted` decision")
    promoted = "true" if decision["promoted"] else "false"
    return f"promoted={promoted}\nversion={decision.get('version', '')}\n"


def monitoring_summary(report: dict[str, Any], run_url: str | None = None) -> str:
    """The monitoring report (report.json) in Markdown, for the job summary and the issue."""
    needed = bool(report.get("retrain_needed"))
    model = (report.get("model") or {}).get("name", "the model")
    lines = [
        f"## Monitoring: {'retraining needed' if needed else 'no action needed'}",
        "",
        f"Model `{model}`, report generated at {report.get('generated_at', 'an unknown time')}.",
    ]
    rows = [(part, (report.get(part) or {}).get("rows")) for part in ("reference", "current")]
    lines += [f"- {part} rows: {count}" for part, count in rows if count is not None]
    reasons = report.get("reasons") or []
    if reasons:
        lines += ["", "### Why", "", *(f"- {reason}" for reason in reasons)]
    features = report.get("features") or {}
    drifted = sorted(name for name, result in features.items() if (result or {}).get("drift"))
    if drifted:
        lines += ["", f"### Drifted features ({len(drifted)} of {len(features)})", ""]
        lines += [f"- `{name}`" for name in drifted]
    if run_url:
        lines += ["", f"Full report (report.html) in the artifacts of [this run]({run_url})."]
    return "\n".join(lines) + "\n"
