"""Batch scoring throughput: the runtime's `score` command, pandas engine vs Spark engine.

    uv run python benchmarks/scoring.py PROJECT [--rows 1000000]

PROJECT is a rendered level-1+ project after `make setup GROUPS=spark` and `make all` (its
registry has a champion). The benchmark writes a Parquet file of ROWS records (the project's raw
data repeated, the target dropped), scores it once with each engine through the project's own
command line (`python -m <package> score`: mlops_ladder/scoring.py), and prints rows per second
of the whole command: start-up, model loading, the contract check and writing the output
included, as a user would see it. Spark runs `local[*]` (all cores of this machine).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
import tomllib
from pathlib import Path

MAKE_INPUT = """
import sys, pandas as pd, yaml
schema = yaml.safe_load(open("schema.yaml"))
frame = pd.read_parquet("data/raw/dataset.parquet").drop(columns=[schema["target"]["name"]])
rows = int(sys.argv[2])
repeated = pd.concat([frame] * (rows // len(frame) + 1), ignore_index=True).head(rows)
repeated.to_parquet(sys.argv[1], row_group_size=100_000)
"""


def package_of(project: Path) -> str:
    """The project's package, as pyproject.toml's [tool.mlops-ladder] names it."""
    with (project / "pyproject.toml").open("rb") as file:
        return tomllib.load(file)["tool"]["mlops-ladder"]["package"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--engines", nargs="+", default=["pandas", "spark"])
    args = parser.parse_args()
    project = args.project.resolve()
    package = package_of(project)
    python = project / ".venv" / "bin" / "python"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / "records.parquet"
        subprocess.run([python, "-c", MAKE_INPUT, source, str(args.rows)], cwd=project, check=True)
        for engine in args.engines:
            output = Path(tmp) / f"scored-{engine}.parquet"
            started = time.perf_counter()
            done = subprocess.run(
                [python, "-m", package, "score", "--input", source, "--output", output,
                 "--engine", engine],
                cwd=project, capture_output=True, text=True,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            if done.returncode != 0:
                raise SystemExit(f"{engine}: score failed:\n{done.stderr[-3000:]}")
            results[engine] = {
                "rows": args.rows,
                "seconds": round(seconds, 1),
                "rows_per_second": round(args.rows / seconds),
            }
            rate = args.rows / seconds
            print(f"{engine:>7}: {args.rows} rows in {seconds:.1f} s = {rate:,.0f} rows/s")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
