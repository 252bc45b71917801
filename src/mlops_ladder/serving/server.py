"""Run the app with uvicorn: `python -m mlops_ladder serve`, in the image too.

Workers are processes, one model each: use about one per core (WEB_CONCURRENCY or --workers).
With more than one, Prometheus metrics go through a shared folder so that /metrics counts the
whole server (telemetry.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import uvicorn

APP = "mlops_ladder.serving.app:create_app"
# Seconds a stopping server waits for requests in flight before it closes their connections.
GRACEFUL_SHUTDOWN = 30


def default_workers() -> int:
    value = os.environ.get("WEB_CONCURRENCY", "1")
    return int(value) if value.isdigit() and int(value) > 0 else 1


def run(host: str, port: int, workers: int, access_log: bool = False) -> None:
    """Serve until SIGINT/SIGTERM; then finish requests in flight and flush the prediction log."""
    created = None
    if workers > 1 or os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        created = prepare_metrics_dir()
    try:
        uvicorn.run(
            APP,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=access_log,
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN,
        )
    finally:
        if created is not None:
            shutil.rmtree(created, ignore_errors=True)


def prepare_metrics_dir() -> Path | None:
    """An empty folder for the workers' metric files (left-overs would count twice).

    Returns the folder if it was made here (removed after the run), None if it was given.
    """
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    folder = Path(given) if given else Path(tempfile.mkdtemp(prefix="prometheus-"))
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink()
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return None if given else folder
