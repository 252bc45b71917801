"""Smoke-test a running service: it is alive (/health) and ready (/ready), /predict scores valid
records, and the model that answers is the version CD meant to ship.

CD runs it against the container it has just built (before pushing the image) and against each
environment after a rollout. The records are built from schema.yaml, so the test follows the
data contract when the project brings its own data. With an entity key (projects with the
feature store), it also predicts for that key, whose features the service reads from its online
store.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from typing import Any

from mlops_ladder.schema import Feature, Schema

QUANTILES = (0.25, 0.5, 0.75)


class SmokeTestError(Exception):
    """The service is not healthy or answers wrongly."""


def sample_value(feature: Feature, quantile: float) -> Any:
    """A value inside the feature's contract: a point between its bounds, or an allowed one."""
    values = feature.values  # a category's allowed values, or a boolean's
    if values:
        return values[int(quantile * len(values)) % len(values)]
    low = feature.min if feature.min is not None else 0.0
    high = feature.max if feature.max is not None else low + 1.0
    value = low + quantile * (high - low)
    return round(value) if feature.dtype == "int" else value


def sample_records(schema: Schema) -> list[dict[str, Any]]:
    return [
        {name: sample_value(feature, quantile) for name, feature in schema.features.items()}
        for quantile in QUANTILES
    ]


def headers() -> dict[str, str]:
    """JSON, and the service's API key when SMOKE_TEST_API_KEY holds one (a service deployed with
    <PACKAGE>_API_KEY answers /predict and /model only with it)."""
    sent = {"Content-Type": "application/json"}
    key = os.environ.get("SMOKE_TEST_API_KEY", "")
    if key:
        sent["Authorization"] = f"Bearer {key}"
    return sent


def call(url: str, payload: Any = None, timeout: float = 10) -> tuple[int, Any]:
    """One request; an HTTP error is an answer (its status and text), not an exception."""
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, headers=headers())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def wait_until_ready(base: str, seconds: float, interval: float = 1.0) -> None:
    """Wait for /ready (the model is loaded); a service that is not even alive fails."""
    deadline = time.monotonic() + seconds
    last = "no answer"
    while True:
        try:
            status, body = call(f"{base}/ready", timeout=5)
            if status == 200:
                break
            last = f"HTTP {status}: {body}"
        except (OSError, ValueError) as error:
            last = str(error)
        if time.monotonic() >= deadline:
            raise SmokeTestError(f"{base}/ready did not answer 200 within {seconds:g} s ({last})")
        time.sleep(interval)
    status, body = call(f"{base}/health")
    if status != 200:
        raise SmokeTestError(f"GET /health answered HTTP {status}: {body}")


def check_version(body: dict[str, Any], version: str | None, what: str) -> None:
    if version is not None and str(body.get("model_version")) != version:
        raise SmokeTestError(
            f"{what} was answered by model version {body.get('model_version')}, expected {version}"
        )


def check_predict(base: str, records: list[dict[str, Any]], version: str | None) -> list[Any]:
    status, body = call(f"{base}/predict", {"records": records}, timeout=30)
    if status != 200 or not isinstance(body, dict):
        raise SmokeTestError(f"POST /predict answered HTTP {status}: {body}")
    predictions = body.get("predictions")
    if not isinstance(predictions, list) or len(predictions) != len(records):
        raise SmokeTestError(f"POST /predict: expected {len(records)} predictions, got {body}")
    check_version(body, version, "POST /predict")
    return predictions


def check_entity(base: str, entity: int | str, version: str | None) -> Any:
    """One prediction for one entity key, its features read from the online store."""
    status, body = call(f"{base}/predict", {"entities": [entity]}, timeout=30)
    if status != 200 or not isinstance(body, dict) or len(body.get("predictions") or []) != 1:
        raise SmokeTestError(f"POST /predict for entity {entity!r} answered HTTP {status}: {body}")
    check_version(body, version, f"entity {entity!r}")
    return body["predictions"][0]


def entity_key(key: str, dtype: str) -> int | str:
    """The key as the online store holds it (params.yaml feature_store.entity_dtype)."""
    if dtype != "int":
        return key
    try:
        return int(key)
    except ValueError:
        raise SmokeTestError(
            f"entity key {key!r} is not an int (feature_store.entity_dtype)"
        ) from None
