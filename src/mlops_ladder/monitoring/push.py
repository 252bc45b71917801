"""Push the report's figures to a Prometheus Pushgateway, for dashboards and alerting rules.

Set `<PACKAGE>_PUSHGATEWAY_URL` (e.g. http://pushgateway:9091) and every
monitoring run replaces the gauges of the group job="model-monitoring", model=<model name>
(prometheus_client's push_to_gateway: a PUT of the group).
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Gauge, push_to_gateway

from mlops_ladder.errors import ProjectError

PREFIX = "model_monitoring"
JOB = "model-monitoring"


def gauges(report: dict[str, Any], timestamp: float) -> CollectorRegistry:
    """The report as gauges, in a registry of their own (nothing else of the process goes)."""
    registry = CollectorRegistry()

    def gauge(name: str, documentation: str, labels: tuple[str, ...] = ()) -> Gauge:
        return Gauge(f"{PREFIX}_{name}", documentation, labels, registry=registry)

    gauge("retrain_needed", "1 when retraining is needed").set(report["retrain_needed"])
    gauge("dataset_drift", "1 when the dataset drifted").set(report["dataset"]["drift"])
    gauge("drifted_feature_share", "Share of the features that drifted").set(
        report["dataset"]["share"]
    )
    gauge("current_rows", "Rows of the current data").set(report["current"]["rows"])
    gauge("last_run_timestamp_seconds", "When the job ran").set(timestamp)
    drift = gauge("feature_drift", "1 when the column drifted", ("feature",))
    statistic = gauge(
        "feature_drift_statistic", "The column's drift statistic", ("feature", "test")
    )
    missing = gauge("feature_missing_rate", "Share of missing values", ("feature",))
    outside = gauge("feature_out_of_range_rate", "Share outside schema.yaml", ("feature",))
    # Label values are any text (a column name with spaces, quotes, a newline): the client
    # escapes them; metric and label names never come from the data.
    for name, result in {**report["features"], **report["predictions"]}.items():
        drift.labels(name).set(result["drift"])
        if result["statistic"] is not None:
            statistic.labels(name, result["test"]).set(result["statistic"])
        missing.labels(name).set(result["current"]["missing_rate"])
        outside.labels(name).set(result["current"]["out_of_range_rate"])
    performance = report["performance"]
    if performance is not None:
        gauge("performance_alert", "1 when live performance fell").set(performance["alert"])
        live = gauge("live_metric", "Metrics of the labelled predictions", ("metric",))
        for metric, value in performance["metrics"].items():
            live.labels(metric).set(value)
    return registry


def push(url: str, model_name: str, report: dict[str, Any], timestamp: float) -> str:
    """Replace the group's gauges with the report's; return where they went."""
    try:
        push_to_gateway(
            url,
            job=JOB,
            registry=gauges(report, timestamp),
            grouping_key={"model": model_name},
            timeout=10,
        )
    except (OSError, ValueError) as error:  # refused, unreachable, or answered with an error
        raise ProjectError(f"could not push metrics to the Pushgateway at {url}: {error}") from None
    return f"{url.rstrip('/')} (job {JOB}, model {model_name})"
