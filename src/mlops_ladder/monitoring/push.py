"""Push the report's figures to a Prometheus Pushgateway, for dashboards and alerting rules.

Set `<PACKAGE>_PUSHGATEWAY_URL` (e.g. http://pushgateway:9091) and every
monitoring run replaces the gauges of the group job="model-monitoring", model=<model name>.
"""

from __future__ import annotations

import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from mlops_ladder.errors import ProjectError

PREFIX = "model_monitoring"


def _escape(value: str) -> str:
    """A label value as the exposition format writes it: any text (a column name with spaces,
    parentheses, quotes), with backslash, double quote and line feed escaped. Metric and label
    names never come from the data."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(values: dict[str, str]) -> str:
    if not values:
        return ""
    return "{" + ",".join(f'{key}="{_escape(str(value))}"' for key, value in values.items()) + "}"


def exposition(report: dict[str, Any], timestamp: float) -> str:
    """The report as Prometheus text exposition format (version 0.0.4), gauges only."""
    series: dict[str, list[tuple[dict[str, str], float]]] = {
        "retrain_needed": [({}, float(report["retrain_needed"]))],
        "dataset_drift": [({}, float(report["dataset"]["drift"]))],
        "drifted_feature_share": [({}, report["dataset"]["share"])],
        "current_rows": [({}, report["current"]["rows"])],
        "last_run_timestamp_seconds": [({}, timestamp)],
        "feature_drift": [],
        "feature_drift_statistic": [],
        "feature_missing_rate": [],
        "feature_out_of_range_rate": [],
    }
    for name, result in {**report["features"], **report["predictions"]}.items():
        series["feature_drift"].append(({"feature": name}, float(result["drift"])))
        if result["statistic"] is not None:
            labels = {"feature": name, "test": result["test"]}
            series["feature_drift_statistic"].append((labels, result["statistic"]))
        series["feature_missing_rate"].append(
            ({"feature": name}, result["current"]["missing_rate"])
        )
        series["feature_out_of_range_rate"].append(
            ({"feature": name}, result["current"]["out_of_range_rate"])
        )
    performance = report["performance"]
    if performance is not None:
        series["performance_alert"] = [({}, float(performance["alert"]))]
        series["live_metric"] = [
            ({"metric": metric}, value) for metric, value in performance["metrics"].items()
        ]
    lines = []
    for name, samples in series.items():
        if not samples:
            continue
        lines.append(f"# TYPE {PREFIX}_{name} gauge")
        lines += [f"{PREFIX}_{name}{_labels(labels)} {value!r}" for labels, value in samples]
    return "\n".join(lines) + "\n"


def push(url: str, model_name: str, report: dict[str, Any], timestamp: float) -> str:
    """PUT the gauges (replacing the group's previous ones); return the URL pushed to."""
    target = f"{url.rstrip('/')}/metrics/job/model-monitoring/model/{quote(model_name, safe='')}"
    request = urllib.request.Request(
        target,
        data=exposition(report, timestamp).encode(),
        method="PUT",
        headers={"Content-Type": "text/plain; version=0.0.4"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except (urllib.error.URLError, OSError, ValueError) as error:
        raise ProjectError(f"could not push metrics to the Pushgateway at {url}: {error}") from None
    return target
