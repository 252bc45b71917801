"""The monitoring report: report.json for machines, report.html for people.

The HTML page is self-contained (inline CSS, plots as inline SVG, no script, no network), so it
opens from a CI artifact or an email attachment as it is. Both files are written to temporary
names first and then renamed: a failed run leaves the previous report in place.
"""

from __future__ import annotations

import json
import os
from html import escape
from pathlib import Path
from typing import Any

REFERENCE_COLOUR = "#4c78a8"
CURRENT_COLOUR = "#f58518"
WIDTH, HEIGHT, PAD = 340, 130, 4


def write_outputs(report: dict[str, Any], output_dir: Path) -> tuple[Path, Path]:
    output_dir.mkdir(parents=True, exist_ok=True)
    paths = output_dir / "report.json", output_dir / "report.html"
    texts = json.dumps(report, indent=2) + "\n", render_html(report)
    for path, text in zip(paths, texts, strict=True):
        partial = path.with_name(f".{path.name}.partial")
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, path)
    return paths


def _number(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def _bars(
    x: float, width: float, shares: list[float], top: float, colour: str, label: str
) -> list[str]:
    step = width / len(shares)
    out = []
    for index, share in enumerate(shares):
        height = (HEIGHT - 2 * PAD - 14) * share / top if top else 0
        out.append(
            f'<rect x="{x + index * step:.1f}" y="{HEIGHT - 14 - PAD - height:.1f}" '
            f'width="{max(step - 0.5, 0.5):.1f}" height="{height:.1f}" fill="{colour}" '
            f'fill-opacity="0.55"><title>{escape(label)} {share:.1%}</title></rect>'
        )
    return out


def svg_plot(plot: dict[str, Any]) -> str:
    """Reference and current shares as overlaid bars."""
    reference, current = plot["reference"], plot["current"]
    parts = []
    if plot["kind"] == "histogram":
        tails = [plot["current_below"], plot["current_above"]]
        top = max([*reference, *current, *tails, 1e-9])
        side = 16
        main = WIDTH - 2 * side - 2 * PAD
        parts += _bars(PAD + side, main, reference, top, REFERENCE_COLOUR, "reference")
        parts += _bars(PAD + side, main, current, top, CURRENT_COLOUR, "current")
        parts += _bars(PAD, side - 2, tails[:1], top, CURRENT_COLOUR, "current below range")
        parts += _bars(WIDTH - PAD - side + 2, side - 2, tails[1:], top, CURRENT_COLOUR,
                       "current above range")  # fmt: skip
        for edge in (PAD + side - 1, WIDTH - PAD - side + 1):
            parts.append(
                f'<line x1="{edge}" x2="{edge}" y1="{PAD}" y2="{HEIGHT - 14 - PAD}" stroke="#bbb" '
                'stroke-dasharray="2,2"/>'
            )
        low, high = _number(plot["edges"][0]), _number(plot["edges"][-1])
        labels: list[tuple[float, str, str]] = [
            (PAD + side, "start", low),
            (WIDTH - PAD - side, "end", high),
        ]
    else:
        top = max([*reference, *current, 1e-9])
        count = len(reference)
        main = WIDTH - 2 * PAD
        step = main / count
        parts += _bars(PAD, main, reference, top, REFERENCE_COLOUR, "reference")
        parts += _bars(PAD, main, current, top, CURRENT_COLOUR, "current")
        labels = [
            (PAD + (index + 0.5) * step, "middle", escape(str(name))[:8])
            for index, name in enumerate(plot["categories"])
        ]
    for x, anchor, text in labels:
        parts.append(
            f'<text x="{x:.1f}" y="{HEIGHT - 2}" font-size="10" '
            f'text-anchor="{anchor}">{text}</text>'
        )
    baseline = HEIGHT - 14 - PAD
    parts.append(f'<line x1="0" x2="{WIDTH}" y1="{baseline}" y2="{baseline}" stroke="#999"/>')
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img">{"".join(parts)}</svg>'
    )


STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1200px; }
h1 { font-size: 22px; } h2 { font-size: 18px; margin-top: 28px; }
.banner { padding: 12px 16px; border-radius: 6px; font-size: 18px; font-weight: 600; }
.ok { background: #e3f4e6; border: 1px solid #5aa469; }
.bad { background: #fbe4e4; border: 1px solid #d9534f; }
.muted { color: #666; font-size: 13px; }
table { border-collapse: collapse; font-size: 13px; }
td, th { border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: right; }
td:first-child, th:first-child { text-align: left; }
tr.drift td { background: #fdf0f0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px; width: 350px; }
.card.drift { border-color: #d9534f; }
.card h3 { font-size: 14px; margin: 0 0 4px 0; }
.key { display: inline-block; width: 10px; height: 10px; margin: 0 4px 0 12px; }
"""


def _legend() -> str:
    return (
        '<p class="muted">'
        f'<span class="key" style="background:{REFERENCE_COLOUR}"></span>reference'
        f'<span class="key" style="background:{CURRENT_COLOUR}"></span>current '
        "(shares of rows; the narrow bars at either end, beyond the dashed lines: current "
        "values below or above the reference's range)</p>"
    )


def _card(name: str, result: dict[str, Any]) -> str:
    test = result["test"] or "no values"
    detail = f"{test}: {_number(result['statistic'])}"
    if result["p_value"] is not None:
        detail += f", p = {_number(result['p_value'])}"
    flag = " drift" if result["drift"] else ""
    return (
        f'<div class="card{flag}"><h3>{escape(name)}{" - drift" if flag else ""}</h3>'
        f'<div class="muted">{escape(detail)} (threshold {_number(result["threshold"])})</div>'
        f"{svg_plot(result['plot'])}</div>"
    )


def _feature_table(features: dict[str, dict[str, Any]]) -> str:
    head = (
        "<tr><th>feature</th><th>type</th><th>test</th><th>statistic</th><th>p-value</th>"
        "<th>threshold</th><th>drift</th><th>missing</th><th>out of range</th>"
        "<th>new categories</th></tr>"
    )
    rows = []
    for name, result in features.items():
        current = result["current"]
        rows.append(
            f'<tr class="{"drift" if result["drift"] else ""}"><td>{escape(name)}</td>'
            f"<td>{result['type']}</td><td>{result['test'] or '-'}</td>"
            f"<td>{_number(result['statistic'])}</td><td>{_number(result['p_value'])}</td>"
            f"<td>{_number(result['threshold'])}</td><td>{_number(result['drift'])}</td>"
            f"<td>{current['missing_rate']:.1%}</td><td>{current['out_of_range_rate']:.1%}</td>"
            f"<td>{escape(', '.join(result.get('new_categories', [])[:5])) or '-'}</td></tr>"
        )
    return f"<table>{head}{''.join(rows)}</table>"


def _performance(performance: dict[str, Any] | None) -> str:
    if performance is None:
        return '<p class="muted">No labels given (--labels).</p>'
    champion = performance["champion"] or {}
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{_number(value)}</td>"
        f"<td>{_number(champion.get(name))}</td></tr>"
        for name, value in performance["metrics"].items()
    )
    note = performance["reason"] or "within its floor"
    return (
        f"<p>{performance['rows']:,} labelled predictions of {performance['labels']:,} labels. "
        f"{escape(performance['primary_metric'])} floor {_number(performance['floor'])}: "
        f"{escape(note)}</p><table><tr><th>metric</th><th>live</th><th>champion (test)</th></tr>"
        f"{rows}</table>"
    )


def render_html(report: dict[str, Any]) -> str:
    verdict = report["retrain_needed"]
    banner = "Retraining needed" if verdict else "No retraining needed"
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in report["reasons"])
    notes = "".join(f"<li>{escape(note)}</li>" for note in report["notes"])
    alerts = "".join(f"<li>{escape(alert)}</li>" for alert in report["alerts"])
    dataset = report["dataset"]
    ordered = sorted(report["features"].items(), key=lambda item: not item[1]["drift"])
    predictions = report["predictions"]
    prediction_cards = "".join(_card(name, result) for name, result in predictions.items())
    if predictions:
        prediction_section = f'{_legend()}<div class="cards">{prediction_cards}</div>'
    else:
        prediction_section = '<p class="muted">No predictions to compare.</p>'
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Monitoring report: {escape(report["model"]["name"])}</title>
<style>{STYLE}</style>
</head>
<body>
<h1>Monitoring report: {escape(report["model"]["name"])}</h1>
<p class="muted">Generated {escape(report["generated_at"])}.
Reference: {escape(report["reference"]["source"])} ({report["reference"]["rows"]:,} rows).
Current: {escape(report["current"]["source"])} ({report["current"]["rows"]:,} rows).</p>
<div class="banner {"bad" if verdict else "ok"}">{banner}</div>
<ul>{reasons}</ul>
<p>{dataset["drifted"]} of {dataset["features"]} features drifted ({dataset["share"]:.0%};
dataset drift from {dataset["drift_share"]:.0%}).</p>
{f"<h2>Alerts</h2><ul>{alerts}</ul>" if alerts else ""}
{f'<h2>Notes</h2><ul class="muted">{notes}</ul>' if notes else ""}
<h2>Live performance</h2>
{_performance(report["performance"])}
<h2>Prediction drift</h2>
{prediction_section}
<h2>Features</h2>
{_feature_table(dict(ordered))}
<h2>Distributions</h2>
{_legend()}
<div class="cards">{"".join(_card(name, result) for name, result in ordered)}</div>
</body>
</html>
"""
