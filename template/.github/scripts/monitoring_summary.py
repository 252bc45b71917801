"""Summarise the monitoring report (report.json) in Markdown, for the job summary and the issue.

    python3 monitoring_summary.py reports/monitoring/report.json [--run-url URL]

Standard library only: the alerting job runs it without installing the project.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def summarise(report: dict[str, Any], run_url: str | None = None) -> str:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", type=Path)
    parser.add_argument("--run-url")
    args = parser.parse_args(argv)
    print(summarise(json.loads(args.report.read_text()), args.run_url), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
