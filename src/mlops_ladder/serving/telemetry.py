"""Prometheus metrics: requests and latency by endpoint and status, predictions by model.

    http_requests_total, http_request_duration_seconds  {endpoint, method, status}
    predict_requests_total, predict_duration_seconds    {variant, model_version}
    predictions_total (classification)                  {variant, model_version, label}
    predicted_probability (of the predicted class)      {variant, model_version}
    prediction_value (regression)                       {variant, model_version}
    model_info (1 per loaded model)                     {variant, model_name, model_version, alias}

With several worker processes, `serve` sets PROMETHEUS_MULTIPROC_DIR and every worker writes its
values there, so /metrics reports the whole server whichever worker answers.
"""

from __future__ import annotations

import os
import time
from collections import Counter as Tally
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_ladder.schema import Schema

# No `_created` series: a timestamp per label set that nobody graphs, doubling the output.
disable_created_metrics()

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
PROBABILITY_BUCKETS = tuple(step / 10 for step in range(1, 11))
MODEL_LABELS = ("variant", "model_version")
METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


def value_buckets(schema: Schema) -> tuple[float, ...]:
    """Ten equal buckets over the target's range in schema.yaml (Prometheus adds +Inf)."""
    low, high = schema.target.min, schema.target.max
    if low is None or high is None or high <= low:
        return Histogram.DEFAULT_BUCKETS
    step = (high - low) / 10
    return tuple(low + step * index for index in range(1, 11))


def multiprocess_mode() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


class Telemetry:
    """The server's metrics, in a registry of their own (several apps can share a process).
    `value_buckets` (regression): the histogram of predicted values; without them, predictions
    are counted by label with the predicted class's probability."""

    def __init__(self, value_buckets: tuple[float, ...] | None = None) -> None:
        self.registry = CollectorRegistry()
        metric: dict[str, Any] = {"registry": self.registry}
        http = ("endpoint", "method", "status")
        self.requests = Counter("http_requests", "HTTP requests", http, **metric)
        self.latency = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            http,
            buckets=LATENCY_BUCKETS,
            **metric,
        )
        self.predict_requests = Counter(
            "predict_requests", "Prediction requests answered", MODEL_LABELS, **metric
        )
        self.predict_latency = Histogram(
            "predict_duration_seconds",
            "Time to validate, predict and answer one /predict request",
            MODEL_LABELS,
            buckets=LATENCY_BUCKETS,
            **metric,
        )
        self.predictions: Counter | None = None
        self.probability: Histogram | None = None
        self.values: Histogram | None = None
        if value_buckets is None:
            self.predictions = Counter(
                "predictions", "Predicted records by label", (*MODEL_LABELS, "label"), **metric
            )
            self.probability = Histogram(
                "predicted_probability",
                "Probability of the predicted class",
                MODEL_LABELS,
                buckets=PROBABILITY_BUCKETS,
                **metric,
            )
        else:
            self.values = Histogram(
                "prediction_value",
                "Predicted values",
                MODEL_LABELS,
                buckets=value_buckets,
                **metric,
            )
        self.model_info = Gauge(
            "model_info",
            "The loaded models (value 1)",
            ("variant", "model_name", "model_version", "alias"),
            multiprocess_mode="livemax",
            **metric,
        )

    def model_loaded(self, variant: str, name: str, version: str, alias: str | None) -> None:
        self.model_info.labels(variant, name, version, alias or "").set(1)

    def predicted(
        self,
        variant: str,
        version: str,
        seconds: float,
        predictions: list[Any],
        probabilities: list[float] | None,
    ) -> None:
        self.predict_requests.labels(variant, version).inc()
        self.predict_latency.labels(variant, version).observe(seconds)
        if self.values is not None:
            values = self.values.labels(variant, version)
            for value in predictions:
                values.observe(value)
        if self.predictions is not None and self.probability is not None:
            for label, count in Tally(predictions).items():
                self.predictions.labels(variant, version, str(label)).inc(count)
            for probability in probabilities or ():
                self.probability.labels(variant, version).observe(probability)

    def exposition(self) -> tuple[bytes, str]:
        """The /metrics body: this process's registry, or every worker's in multiprocess mode."""
        if multiprocess_mode():
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)
            return generate_latest(registry), CONTENT_TYPE_LATEST
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


class MetricsMiddleware:
    """Counts and times every HTTP request (a plain ASGI wrapper: no per-request task)."""

    def __init__(self, app: ASGIApp, telemetry: Telemetry, endpoints: set[str]) -> None:
        self.app = app
        self.telemetry = telemetry
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, record_status)
        finally:
            # Unknown paths share one label: a scanner must not create a series per URL.
            path = scope["path"]
            endpoint = path if path in self.endpoints else "other"
            method = scope["method"] if scope["method"] in METHODS else "other"
            labels = (endpoint, method, str(status))
            self.telemetry.requests.labels(*labels).inc()
            self.telemetry.latency.labels(*labels).observe(time.perf_counter() - started)
