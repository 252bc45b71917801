"""Serving benchmark: the runtime's server against `mlflow models serve`.

Both serve the same registered model (the sample project's champion: a 100-tree random forest on
breast cancer) from the same environment (a level-1 project rendered from this checkout, with
this checkout's runtime installed from its wheel, render.py; ours is mlops_ladder.serving), with
the same number of uvicorn workers, on 127.0.0.1, by its registry URI. wrk drives each with the
same load: 1 and 8 concurrent clients (--clients adds more), requests of 1 and of 100 records.
Printed for each cell: requests/s, p50 and p99 latency, the tail ratio p99/p50, and ours against
MLflow's requests/s. Before the load: cold start (process start to the first 200 from /ready,
MLflow: /health; each server started alone, median of --cold-starts runs); after it: resident
memory (RSS) of each server's process tree, and per worker (the tree's total over the workers: a
supervisor or launcher is part of the cost). Then both serve the model from the folder
`export-model` writes, as the image does (`MODEL_URI=build/model` against `mlflow models serve -m
build/model`; our workers never import MLflow then): cold start and memory again, measured after
one warm-up run (the most clients, the largest request).

Targets (issue 13), on 2 cores: in every cell ours >= 3x MLflow's requests/s and p99 <= 3x p50;
with one worker, p99 < 50 ms at 8 clients x 1 record; cold start <= 1/3 of MLflow's and memory
per worker <= 1/2. Two workers each by default, one per core as a 2-core server would run them;
`--workers 1` gives the single-worker figures.

    uv run python benchmarks/serving.py                    # renders and trains a project first
    uv run python benchmarks/serving.py --project DIR      # an existing project after `make all`

Needs wrk (Debian: apt-get install wrk). Run it on a quiet machine: the two servers and wrk
share its cores, and the figures say more about the load than the servers otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from render import build_wheel, clean_env, render

PACKAGE = "tabular_model"
MODEL_URI = "models:/tabular-model@champion"
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local f = io.open(os.getenv("BODY_FILE"), "r")
wrk.body = f:read("*a")
f:close()
"""
# A test split's records, as both servers take them.
RECORDS = """
import json, sys
import pandas as pd
from mlops_ladder.config import Settings
from mlops_ladder.schema import load_schema
settings = Settings.load()
records = pd.read_parquet(settings.test_split)[load_schema(settings.schema_file).feature_names]
rows = json.loads(records.to_json(orient="records"))
json.dump((rows * 2)[:100], open(sys.argv[1], "w"))
"""


@dataclass
class Footprint:
    server: str
    source: str  # "registry" (models:/...) or "folder" (an exported model folder)
    cold_start_s: float  # median
    cold_starts: list[float]
    processes: int
    rss_mb: float  # the whole process tree, after the load


@dataclass
class Result:
    server: str
    rows: int
    clients: int
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int


def sh(command: list[str], cwd: Path, env: dict[str, str]) -> None:
    print("$", " ".join(command), flush=True)
    subprocess.run(command, cwd=cwd, env=env, check=True)


def prepare_project(env: dict[str, str]) -> Path:
    """Render a level-1 project with copier, give it this checkout's runtime, run its pipeline
    (trains, registers)."""
    folder = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    target = render(folder / "project", 1, build_wheel(folder / "wheel", env), env)
    print(f"project: {target} (kept: --project reuses it)", flush=True)
    sh(["make", "setup"], target, env)
    sh(["make", "pipeline"], target, env)
    return target


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.HTTPError):
            time.sleep(0.05)
    raise SystemExit(f"{url} did not answer in {timeout} s")


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (Linux /proc)."""
    found = [pid]
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in children:
            found.extend(process_tree(int(child)))
    return found


def rss_mb(pid: int) -> float:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0.0
    found = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return int(found.group(1)) / 1024 if found else 0.0


def post(url: str, body: bytes) -> dict:
    prepared = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(prepared, timeout=60) as answer:
        return json.loads(answer.read())


def parse_wrk(output: str) -> tuple[float, float, float, int]:
    """requests/s, p50 ms, p99 ms and failed requests from `wrk --latency` output."""

    def milliseconds(label: str) -> float:
        found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.MULTILINE)
        if not found:
            raise ValueError(f"no {label}% latency in wrk output:\n{output}")
        value, unit = float(found.group(1)), found.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", output))
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        errors += sum(int(n) for n in re.findall(r"\w+ (\d+)", socket_errors.group(1)))
    return rate, milliseconds("50"), milliseconds("99"), errors


def drive(url: str, body_file: Path, clients: int, seconds: int, lua: Path) -> str:
    threads = 1 if clients == 1 else 2
    # A 10 s timeout: a slow answer is measured as slow, not dropped from the latencies.
    command = [
        "wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--timeout", "10s",
        "--latency", "-s", str(lua),
    ]  # fmt: skip
    env = {**os.environ, "BODY_FILE": str(body_file)}
    # A short warm-up first: connections opened, code paths hot.
    subprocess.run([*command[:3], "-d2s", *command[4:], url], env=env, capture_output=True)
    done = subprocess.run([*command, url], env=env, capture_output=True, text=True, check=True)
    return done.stdout


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", type=Path, help="a project after `make all` (default: new)")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn workers for each server")
    parser.add_argument("--seconds", type=int, default=10, help="duration of each wrk run")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--cold-starts", type=int, default=3, help="starts of each server")
    parser.add_argument("--rows", type=int, nargs="+", default=[1, 100])
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")

    env = clean_env()
    project = (args.project or prepare_project(env)).resolve()
    python = project / ".venv" / "bin" / "python"
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{project / 'mlflow.db'}"
    # `mlflow models serve` starts `uvicorn` from PATH: the project's own environment.
    env["PATH"] = f"{python.parent}{os.pathsep}{env['PATH']}"
    work = Path(tempfile.mkdtemp(prefix="serving-bench-run-"))
    # Bytecode, as the image has it (UV_COMPILE_BYTECODE=1): without .pyc files both servers
    # spend most of their cold start compiling the libraries' source, every start.
    print("compiling the project environment's bytecode (once)", flush=True)
    subprocess.run(
        [python, "-m", "compileall", "-q", "-j", "0", project / ".venv" / "lib", project / "src"],
        env=env,
        check=False,
        stdout=subprocess.DEVNULL,
    )
    records_file = work / "records.json"
    subprocess.run([python, "-c", RECORDS, records_file], cwd=project, env=env, check=True)
    records = json.loads(records_file.read_text())
    lua = work / "post.lua"
    lua.write_text(LUA)

    ours_port, mlflow_port = free_port(), free_port()
    ours_url = f"http://127.0.0.1:{ours_port}/predict"
    mlflow_url = f"http://127.0.0.1:{mlflow_port}/invocations"
    bodies: dict[tuple[str, int], Path] = {}
    for rows in args.rows:
        for server, payload in [
            ("ours", {"records": records[:rows]}),
            ("mlflow", {"dataframe_records": records[:rows]}),
        ]:
            path = work / f"{server}-{rows}.json"
            path.write_text(json.dumps(payload))
            bodies[server, rows] = path

    # The exported folder, as `make export-model` writes it to build/model/ (here: the run's own).
    folder = work / "model"
    export = [python, "-m", PACKAGE, "export-model", "--uri", MODEL_URI, "--output", folder]
    sh([str(part) for part in export], project, env)
    sources = {"registry": MODEL_URI, "folder": str(folder)}

    def command(name: str, source: str) -> list[str]:
        if name == "ours":
            return [
                str(python), "-m", PACKAGE, "serve", "--host", "127.0.0.1",
                "--port", str(ours_port), "--workers", str(args.workers),
            ]  # fmt: skip
        return [
            str(project / ".venv" / "bin" / "mlflow"), "models", "serve", "-m", sources[source],
            "--env-manager", "local", "-h", "127.0.0.1", "-p", str(mlflow_port),
            "-w", str(args.workers),
        ]  # fmt: skip

    logs = {name: (work / f"{name}.log").open("w") for name in ("ours", "mlflow")}
    ready_urls = {
        "ours": f"http://127.0.0.1:{ours_port}/ready",
        "mlflow": f"http://127.0.0.1:{mlflow_port}/health",
    }

    def start(name: str, source: str) -> tuple[subprocess.Popen, float]:
        """Start one server; the seconds from process start to its first 200 on ready_urls."""
        started = time.monotonic()
        process = subprocess.Popen(
            command(name, source),
            cwd=project,
            env={
                **env,
                "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
                # Ours reads the model from MODEL_URI (its default is the registry's champion).
                "MODEL_URI": sources[source],
            },
            stdout=logs[name],
            stderr=subprocess.STDOUT,
        )
        wait_for(ready_urls[name])
        return process, time.monotonic() - started

    def stop(process: subprocess.Popen) -> None:
        process.terminate()
        process.wait(timeout=60)

    def cold_starts(source: str) -> tuple[dict[str, list[float]], list[subprocess.Popen]]:
        """Each server started alone on the machine, one after the other; the last start of
        each is left running (to take the load)."""
        cold: dict[str, list[float]] = {"ours": [], "mlflow": []}
        running: list[subprocess.Popen] = []
        for attempt in range(args.cold_starts):
            for name in ("ours", "mlflow"):
                process, seconds = start(name, source)
                cold[name].append(seconds)
                print(f"  cold start {name:6} ({source}) {seconds:5.2f} s", flush=True)
                if attempt < args.cold_starts - 1:
                    stop(process)
                else:
                    running.append(process)
        return cold, running

    def footprints_of(
        source: str, cold: dict[str, list[float]], running: list[subprocess.Popen]
    ) -> list[Footprint]:
        found = []
        for name, process in zip(("ours", "mlflow"), running, strict=True):
            tree = process_tree(process.pid)
            median = statistics.median(cold[name])
            rss = sum(rss_mb(pid) for pid in tree)
            found.append(Footprint(name, source, median, cold[name], len(tree), rss))
        return found

    cold, servers = cold_starts("registry")
    try:
        # Same model, same answers: check before timing anything.
        ours = post(ours_url, bodies["ours", max(args.rows)].read_bytes())
        theirs = post(mlflow_url, bodies["mlflow", max(args.rows)].read_bytes())
        assert ours["predictions"] == theirs["predictions"], "the servers disagree"
        print(f"\nsame predictions from both servers on {max(args.rows)} records", flush=True)
        print(f"load average before: {load_average()}  (cores: {os.cpu_count()})\n", flush=True)

        results = []
        for rows in args.rows:
            for clients in args.clients:
                for server, url in [("ours", ours_url), ("mlflow", mlflow_url)]:
                    output = drive(url, bodies[server, rows], clients, args.seconds, lua)
                    result = Result(server, rows, clients, *parse_wrk(output))
                    results.append(result)
                    print(
                        f"  {server:6} rows={rows:<3} clients={clients:<2} "
                        f"{result.requests_per_second:8.1f} req/s  p50 {result.p50_ms:7.1f} ms  "
                        f"p99 {result.p99_ms:7.1f} ms  (x{result.p99_ms / result.p50_ms:.1f})  "
                        f"errors {result.errors}",
                        flush=True,
                    )
        after = load_average()
        footprints = footprints_of("registry", cold, servers)
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            process.wait(timeout=60)

    # The exported folder: cold start and memory (the same answers first, one warm-up run).
    print(f"\nthe exported folder {folder}:", flush=True)
    cold, servers = cold_starts("folder")
    try:
        ours = post(ours_url, bodies["ours", max(args.rows)].read_bytes())
        theirs = post(mlflow_url, bodies["mlflow", max(args.rows)].read_bytes())
        assert ours["predictions"] == theirs["predictions"], "the servers disagree"
        for server, url in [("ours", ours_url), ("mlflow", mlflow_url)]:
            drive(url, bodies[server, max(args.rows)], max(args.clients), args.seconds, lua)
        footprints += footprints_of("folder", cold, servers)
    finally:
        for process in servers:
            process.terminate()
        for process in servers:
            process.wait(timeout=60)

    report(results, footprints, args.workers, after)
    return 0


def report(
    results: list[Result], footprints: list[Footprint], workers: int, load_after: str
) -> None:
    by_key = {(r.server, r.rows, r.clients): r for r in results}
    print(f"\nworkers per server: {workers}; load average after: {load_after}\n")
    print("| rows | clients | ours req/s | ours p50 | ours p99 | ours p99/p50 | mlflow req/s "
          "| mlflow p50 | mlflow p99 | mlflow p99/p50 | req/s ratio |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    missed = []
    for (server, rows, clients), ours in by_key.items():
        if server != "ours":
            continue
        theirs = by_key["mlflow", rows, clients]
        ratio = ours.requests_per_second / max(theirs.requests_per_second, 1e-9)
        tail, their_tail = ours.p99_ms / ours.p50_ms, theirs.p99_ms / theirs.p50_ms
        print(
            f"| {rows} | {clients} | {ours.requests_per_second:.1f} | {ours.p50_ms:.1f} ms "
            f"| {ours.p99_ms:.1f} ms | {tail:.1f} | {theirs.requests_per_second:.1f} "
            f"| {theirs.p50_ms:.1f} ms | {theirs.p99_ms:.1f} ms | {their_tail:.1f} | {ratio:.1f}x |"
        )
        if ratio < 3:
            missed.append(f"{rows} rec x {clients} clients: req/s {ratio:.1f}x MLflow's (>= 3)")
        if tail > 3:
            missed.append(f"{rows} rec x {clients} clients: p99/p50 {tail:.1f} (<= 3)")
        if workers == 1 and rows == 1 and clients == 8 and ours.p99_ms >= 50:
            missed.append(f"1 rec x 8 clients, 1 worker: p99 {ours.p99_ms:.1f} ms (< 50)")

    print(
        "\n| server | model from | cold start (median) | cold starts | processes | RSS total "
        "| per worker |"
    )
    print("|---|---|---:|---|---:|---:|---:|")
    for item in footprints:
        starts = ", ".join(f"{value:.2f}" for value in item.cold_starts)
        print(
            f"| {item.server} | {item.source} | {item.cold_start_s:.2f} s | {starts} "
            f"| {item.processes} | {item.rss_mb:.0f} MB | {item.rss_mb / workers:.0f} MB |"
        )
    print()
    sizes = {(item.server, item.source): item for item in footprints}
    for source in ("registry", "folder"):
        if {("ours", source), ("mlflow", source)} <= sizes.keys():
            ours, theirs = sizes["ours", source], sizes["mlflow", source]
            start_ratio = ours.cold_start_s / theirs.cold_start_s
            memory_ratio = ours.rss_mb / theirs.rss_mb
            print(
                f"ours / mlflow, model from the {source}: cold start {start_ratio:.2f} "
                f"(target <= 0.33), memory per worker {memory_ratio:.2f} (target <= 0.5)"
            )
            if start_ratio > 1 / 3:
                missed.append(f"{source}: cold start {start_ratio:.2f} of MLflow's (<= 1/3)")
            if memory_ratio > 0.5:
                missed.append(f"{source}: memory {memory_ratio:.2f} of MLflow's (<= 1/2)")
    print("\ntargets: " + ("all MET" if not missed else "NOT MET: " + "; ".join(missed)))
    if any(result.errors for result in results):
        print("\nsome requests failed (non-2xx, or no answer within wrk's 10 s timeout)")


if __name__ == "__main__":
    raise SystemExit(main())
