"""Feature-store benchmark: the online read behind `/predict` with entity keys.

In a level-2 project generated with `feature_store=feast`, after `make all` (which materializes
the online store), this times the project's own `OnlineFeatures.read` (Feast's
`get_online_features` on the SQLite online store) for 1 and for 100 keys, and prints p50 and
p99 in milliseconds. It is the cost an entity-key request adds to a full-record one.

    uv run python benchmarks/feature_store.py --project DIR [--repeats 300]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path

PROBE = """
import json, statistics, sys, time
from pathlib import Path
from {package}.config import load_params
from {package}.feature_store import OnlineFeatures
from {package}.schema import load_schema
params = load_params(Path("params.yaml")).feature_store
store = OnlineFeatures(load_schema(Path("schema.yaml")), params)
repeats = int(sys.argv[1])
out = {{}}
for size in (1, 100):
    keys = list(range(1, size + 1))
    store.read(keys)  # warm: registry and connection
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        store.read(keys)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    out[size] = {{"p50_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99) - 1]}}
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=300)
    args = parser.parse_args()
    package = next(p.name for p in (args.project / "src").iterdir() if p.is_dir())
    outcome = subprocess.run(
        ["uv", "run", "--frozen", "python", "-c", PROBE.format(package=package), str(args.repeats)],
        cwd=args.project,
        capture_output=True,
        text=True,
        check=True,
    )
    figures = json.loads(outcome.stdout.strip().splitlines()[-1])
    for size, stats in figures.items():
        print(f"{size:>4} keys: p50 {stats['p50_ms']:.2f} ms, p99 {stats['p99_ms']:.2f} ms")


if __name__ == "__main__":
    main()
