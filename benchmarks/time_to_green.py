"""Time to green: a new user's first `make setup && make all && make test`, phase by phase.

    uv run python benchmarks/time_to_green.py [--level 2] [--runs cold warm]

Renders a project from this checkout (copier, the defaults), then times `make setup`, each
pipeline stage (from the stage lines of `make all`), `make all` as a whole and `make test` (with
its slowest test modules, from pytest's durations). `cold` runs with an empty uv cache (every
package downloaded from the index and unpacked), `warm` with the machine's cache. Each phase is
printed beside the target of the speed issue: the three commands within 60 s warm, 90 s cold, at
level 2 on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = {"warm": 60.0, "cold": 90.0}
STAGE_LINE = re.compile(r"^Running stage '(\w+)'|^> python -m \w+ (\w+)")


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, list[tuple]]:
    """Wall time of the command, and (elapsed, line) for each line it printed."""
    start = time.perf_counter()
    lines = []
    with subprocess.Popen(
        command, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            lines.append((time.perf_counter() - start, line.rstrip()))
    if process.returncode:
        tail = "\n".join(line for _, line in lines[-30:])
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{tail}")
    return time.perf_counter() - start, lines


def stage_times(lines: list[tuple], total: float) -> dict[str, float]:
    """Each stage's share of `make all`: from its first line to the next stage's."""
    starts = []
    for elapsed, line in lines:
        match = STAGE_LINE.match(line)
        name = match and (match.group(1) or match.group(2))
        if name and (not starts or starts[-1][1] != name):
            starts.append((elapsed, name))
    ends = [elapsed for elapsed, _ in starts[1:]] + [total]
    return {name: end - begin for (begin, name), end in zip(starts, ends, strict=True)}


def module_times(lines: list[tuple]) -> dict[str, float]:
    """Seconds per test module, from pytest's --durations table (calls and setups)."""
    found: dict[str, float] = {}
    for _, line in lines:
        match = re.match(r"^([\d.]+)s (call|setup|teardown)\s+(tests/\S+?\.py)", line)
        if match:
            found[match.group(3)] = found.get(match.group(3), 0.0) + float(match.group(1))
    return dict(sorted(found.items(), key=lambda item: -item[1])[:6])


def one_run(kind: str, level: int, folder: Path) -> dict[str, object]:
    env = {**os.environ, "PYTEST_ADDOPTS": "--durations=0"}
    # As on a new user's machine, Python caches the bytecode of what it imports (a sandbox that
    # sets PYTHONDONTWRITEBYTECODE would otherwise compile every import of every stage again).
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    if kind == "cold":
        env["UV_CACHE_DIR"] = str(folder / "uv-cache")
    project = folder / f"project-{kind}"
    render = ["uv", "run", "--frozen", "copier", "copy", "--quiet", "--defaults", "--vcs-ref"]
    render += ["HEAD", "-d", f"maturity_level={level}", str(ROOT), str(project)]
    subprocess.run(render, cwd=ROOT, check=True)
    subprocess.run(["git", "init", "--quiet"], cwd=project, check=True)
    setup, _ = timed(["make", "setup"], project, env)
    pipeline, lines = timed(["make", "all"], project, env)
    tests, test_lines = timed(["make", "test"], project, env)
    return {
        "setup": setup,
        "all": pipeline,
        "stages": stage_times(lines, pipeline),
        "test": tests,
        "modules": module_times(test_lines),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", type=int, default=2, choices=[0, 1, 2])
    parser.add_argument("--runs", nargs="+", default=["cold", "warm"], choices=["cold", "warm"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="time-to-green-") as temporary:
        for kind in args.runs:
            before = os.getloadavg()[0]
            result = one_run(kind, args.level, Path(temporary))
            total = result["setup"] + result["all"] + result["test"]
            verdict = "met" if total <= TARGET[kind] else "missed"
            print(f"\n{kind} uv cache, level {args.level}: {os.cpu_count()} cores", end="")
            # Other work on the cores shows in every figure: the load says how much there was.
            print(f", load average {before:.1f} before, {os.getloadavg()[0]:.1f} after")
            print(f"  {'make setup':<28}{result['setup']:8.1f} s")
            print(f"  {'make all':<28}{result['all']:8.1f} s")
            for stage, seconds in result["stages"].items():
                print(f"    {stage:<26}{seconds:8.1f} s")
            print(f"  {'make test':<28}{result['test']:8.1f} s")
            for module, seconds in result["modules"].items():
                print(f"    {module:<40}{seconds:8.1f} s (pytest's own count)")
            print(f"  {'time to green':<28}{total:8.1f} s   target {TARGET[kind]:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
