"""Feature-store benchmark: the online read behind `/predict` with entity keys.

In a level-2 project generated with `feature_store=feast`, after `make all` (which materializes
the online store), this times the runtime's `OnlineFeatures.read` (mlops_ladder.feature_store)
(Feast's `get_online_features` on the SQLite online store) for 1 and for 100 keys, and prints
p50 and p99 in milliseconds. It is the cost an entity-key request adds to a full-record one.
Then, over real HTTP (`make serve`, one client, one request at a time), it times `/predict` by
entity key against `/predict` with the same full records, so the lookup's share of a request is
visible.

    uv run python benchmarks/feature_store.py --project DIR [--repeats 300]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import pandas as pd
import yaml

PROBE = """
import json, statistics, sys, time
from mlops_ladder.config import Settings, load_params
from mlops_ladder.feature_store import OnlineFeatures
from mlops_ladder.schema import load_schema
settings = Settings.load()
params = load_params(settings.params_file).feature_store
store = OnlineFeatures(load_schema(settings.schema_file), params, settings.feature_repo)
repeats = int(sys.argv[1])
out = {}
for size in (1, 100):
    keys = list(range(1, size + 1))
    store.read(keys)  # warm: registry and connection
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        store.read(keys)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    out[size] = {"p50_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99) - 1]}
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    outcome = subprocess.run(
        ["uv", "run", "--frozen", "python", "-c", PROBE, str(args.repeats)],
        cwd=args.project,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(outcome.stdout.strip().splitlines()[-1])
    print("online read (OnlineFeatures.read, in process):")
    for size, stats in figures.items():
        print(f"{size:>4} keys: p50 {stats['p50_ms']:.2f} ms, p99 {stats['p99_ms']:.2f} ms")
    print("POST /predict over HTTP (make serve, sequential):")
    for size, (by_key, by_record) in over_http(args.project, args.repeats).items():
        print(
            f"{size:>4} rows: by entity p50 {by_key[0]:.2f} / p99 {by_key[1]:.2f} ms, "
            f"by full record p50 {by_record[0]:.2f} / p99 {by_record[1]:.2f} ms"
        )


def percentiles(times: list[float]) -> tuple[float, float]:
    times = sorted(times)
    return times[len(times) // 2], times[int(len(times) * 0.99) - 1]


def over_http(project: Path, repeats: int) -> dict[int, tuple[tuple[float, float], ...]]:
    """p50/p99 (ms) of /predict by entity keys and by the same full records, 1 and 100 rows."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        ["make", "serve", f"PORT={port}"],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(base)
        features = list(yaml.safe_load((project / "schema.yaml").read_text())["features"])
        sample = pd.read_csv(project / "data" / "sample" / "breast_cancer.csv")
        out = {}
        for size in (1, 100):
            keys = list(range(1, size + 1))  # the stated rule: the key is the row number
            records = json.loads(sample[features].head(size).to_json(orient="records"))
            timed = []
            for body in ({"entities": keys}, {"records": records}):
                post(base, body)  # warm: the first entity request opens the store
                times = []
                for _ in range(repeats):
                    started = time.perf_counter()
                    post(base, body)
                    times.append((time.perf_counter() - started) * 1000)
                timed.append(percentiles(times))
            out[size] = tuple(timed)
        return out
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def wait_until_ready(base: str, seconds: float = 180) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{base}/ready", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{base} never became ready")


def post(base: str, body: dict) -> None:
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(
        f"{base}/predict", data=json.dumps(body).encode(), headers=headers
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


if __name__ == "__main__":
    main()
