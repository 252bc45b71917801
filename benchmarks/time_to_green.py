"""Time to green: a new user's first `make setup && make all && make test`, phase by phase.

    uv run python benchmarks/time_to_green.py [--level 2] [--runs cold warm]

Renders a project from this checkout (copier, the defaults), gives it this checkout's runtime as
its wheel (render.py: built once before the clock starts, as the template's tests do; a new
user's `make setup` builds it, which is printed apart), then times `make setup`, each pipeline
stage (from the stage lines of `make all`), `make all` as a whole and `make test` (with its
slowest test modules, from pytest's durations). `cold` runs with an empty uv cache (every
package downloaded from the index and unpacked), `warm` with the machine's cache. Each phase is
printed beside the target of the speed issue: the three commands within 60 s warm, 90 s cold, at
level 2 on 2 cores; --compare times `make test` again with other settings, side by side.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import tempfile
import time
from pathlib import Path

from render import build_wheel, clean_env, render

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


def one_run(kind: str, level: int, folder: Path, wheel: Path, compare: list[str]) -> dict:
    env = clean_env(PYTEST_ADDOPTS="--durations=0")
    if kind == "cold":
        env["UV_CACHE_DIR"] = str(folder / "uv-cache")
    project = render(folder / f"project-{kind}", level, wheel, env)
    setup, _ = timed(["make", "setup"], project, env)
    pipeline, lines = timed(["make", "all"], project, env)
    tests, test_lines = timed(["make", "test"], project, env)
    # `make test` again, as it is and with each variable of --compare: side by side in one run,
    # each on the same warm project (the first `make test` also wrote the tests' bytecode).
    again = {}
    for variant in ["", *compare]:
        seconds, variant_lines = timed(["make", "test", *variant.split()], project, env)
        again[variant or "as is"] = (seconds, module_times(variant_lines))
    return {
        "setup": setup,
        "all": pipeline,
        "stages": stage_times(lines, pipeline),
        "test": tests,
        "modules": module_times(test_lines),
        "again": again if compare else {},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--level", type=int, default=2, choices=[0, 1, 2])
    parser.add_argument("--runs", nargs="+", default=["cold", "warm"], choices=["cold", "warm"])
    parser.add_argument(
        "--compare",
        nargs="*",
        default=[],
        metavar="VARIABLE=VALUE",
        help="after the run, time `make test` again as is and with each, e.g. TEST_WORKERS=0",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="time-to-green-") as temporary:
        started = time.perf_counter()
        wheel = build_wheel(Path(temporary) / "wheel", clean_env())
        print(f"the runtime's wheel built in {time.perf_counter() - started:.1f} s (not counted)")
        for kind in args.runs:
            before = os.getloadavg()[0]
            result = one_run(kind, args.level, Path(temporary), wheel, args.compare)
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
            for variant, (seconds, modules) in result["again"].items():
                print(f"  {'make test ' + variant:<28}{seconds:8.1f} s (again)")
                for module, module_seconds in modules.items():
                    print(f"    {module:<40}{module_seconds:8.1f} s (pytest's own count)")


if __name__ == "__main__":
    main()
