"""Benchmark: the runtime's data-contract checks (validate.py) against pandera on the same contract.

Issue 23: contract checks move to pandera, schema.yaml staying the readable source translated at
load, unless pandera misses a measured target. This translates a `Schema` into a pandera
`DataFrameSchema` (`translate`) and runs both, in the same run, on real tables, clean and with
planted breakage:

- breast cancer (the bundled classification sample, 569 rows, its bundled contract);
- palmerpenguins (344 rows, missing values and text categories, the contract `schema draft`
  writes for it);
- the bundled diabetes sample (442 rows, its bundled contract) RESAMPLED with replacement to
  10k, 100k and 1M rows (its duplicate rule set to 1: resampled rows are duplicates by making).

Planted breakage, each a (column, rule) the report must name: missing values in a column that may
have none (`.nulls`), values 10x the contract's maximum on 1% of the rows, a unit error
(`.max`), an unknown category on 1% of the rows (`.allowed`), a number column arriving as text
with a decimal comma (`.dtype`), a column the contract does not know (`columns.unexpected`).

Timed side by side: only the rules both express (columns missing or unexpected, and per column
nulls, dtype, finite, integer, min, max, allowed), ours through validate.py's own
`column_checks`. The whole `validate()` (with the table, class-balance and leakage rules pandera
has no rule for) is timed as context. Each (tool, table, variant) runs in its own process:
wall time is the median of 5 runs after a warm-up on 1,000 rows (1M rows: one run), memory is
the peak resident set above the one before the call (Linux: /proc/self/clear_refs resets it).

Both run in an environment of their own under .cache/benchmarks/ (uv; pandera 0.35 and this
checkout's runtime on PYTHONPATH), with the dev environment's pandas by default or another
(`--pandas 3.1.1`): pandera is not a runtime dependency unless this benchmark says so.

    uv run python benchmarks/contract.py
    uv run python benchmarks/contract.py --pandas 3.1.1 --sizes 10000 100000

TARGETS (written down before the first measurement, the decision follows them):
1. Same failures: on every table, clean and broken, pandera (its failures read back as our check
   names through the translation) reports exactly the (column, rule) pairs ours reports, and
   these are exactly the planted ones (none on clean tables). The translation may state one
   rule of its own: a column that fails `dtype` reports nothing else, as ours does (pandera
   still runs the column's range checks on text and reports their TypeError; counted apart).
2. Messages: pandera's message for a failure names the column and the rule.
3. Time: pandera's median wall time on the shared rules is at most 2x ours at 100k and 1M rows,
   clean and broken.
4. Memory: pandera's peak is at most 2x ours (+ 16 MiB of allocator noise) at 1M rows.
Recorded, not targets: import time of pandera, the translation's time, the whole validate().
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PANDERA = "pandera==0.35.0"
SIZES = [10_000, 100_000, 1_000_000]
TOOLS = ["ours", "pandera", "ours-whole"]
SHARE = 0.01  # of the rows broken by each planted value problem
# Each table's planted breakage: rule -> column.
PLANTS = {
    "breast_cancer": {
        "nulls": "mean_radius",
        "max": "worst_area",
        "allowed": "malignant",  # no category feature: the target's classes
        "dtype": "mean_texture",
    },
    "penguins": {
        "nulls": "year",
        "max": "body_mass_g",
        "allowed": "island",
        "dtype": "flipper_length_mm",
    },
    "diabetes": {"nulls": "bmi", "max": "glu", "allowed": "sex", "dtype": "bp"},
}
UNEXPECTED = "comment"


# --- the translation (what validate.py would hold if pandera is adopted) ------------------------


def translate(schema: Any) -> tuple[Any, dict[str, list[str]]]:
    """A pandera DataFrameSchema with the contract's column rules, and per column the rule name
    of each of its checks in order (pandera reports a failed check by its index)."""
    import numpy as np
    import pandas as pd
    import pandera.pandas as pa

    def numeric(values: pd.Series) -> bool:
        return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)

    columns, rules = {}, {}
    specs = {**schema.features, schema.target.name: schema.target}
    for name, spec in specs.items():
        checks: list[tuple[str, Any]] = []
        if spec.values is not None:
            checks.append(("allowed", pa.Check.isin(spec.values)))
        else:
            # Ours accepts any number (not a boolean) for float and int: no pandera dtype says
            # that, so a custom check on the whole column.
            checks.append(("dtype", pa.Check(numeric, name="dtype", error=f"not {spec.dtype}")))
            checks.append(("finite", pa.Check.in_range(-np.inf, np.inf, False, False)))
            if spec.dtype == "int":
                checks.append(("integer", pa.Check(lambda s: s % 1 == 0, name="integer")))
            if spec.min is not None:
                checks.append(("min", pa.Check.ge(spec.min)))
            if spec.max is not None:
                checks.append(("max", pa.Check.le(spec.max)))
        columns[name] = pa.Column(
            None, checks=[check for _, check in checks], nullable=spec.nullable, name=name
        )
        rules[name] = [rule for rule, _ in checks]
    for name in schema.ignored:
        columns[name] = pa.Column(None, nullable=True, required=False, name=name)
    return pa.DataFrameSchema(columns, strict=True), rules


def pandera_failures(
    frame: Any, compiled: Any, rules: dict[str, list[str]]
) -> tuple[list[str], list[str], list[str]]:
    """Run pandera (lazy: every failure); return our check names of its failures, the names of
    its check errors dropped by the dtype rule, and its messages."""
    from pandera.errors import SchemaErrorReason, SchemaErrors

    try:
        compiled.validate(frame, lazy=True, inplace=True)  # inplace: no copy of the table
        return [], [], []
    except SchemaErrors as errors:
        found, errored, messages = [], [], []
        for error in errors.schema_errors:
            reason = error.reason_code
            column = getattr(error.schema, "name", None)
            if reason == SchemaErrorReason.COLUMN_NOT_IN_SCHEMA:
                name = "columns.unexpected"
            elif reason == SchemaErrorReason.COLUMN_NOT_IN_DATAFRAME:
                name = "columns.missing"
            elif reason == SchemaErrorReason.SERIES_CONTAINS_NULLS:
                name = f"{column}.nulls"
            else:
                name = f"{column}.{rules[column][error.check_index]}"
            if reason == SchemaErrorReason.CHECK_ERROR:
                errored.append(name)
            else:
                found.append(name)
            messages.append(f"{name} <- {error.args[0]}")
        # The translation's own rule: a column whose dtype failed reports only that.
        failed_dtype = {name.rsplit(".", 1)[0] for name in found if name.endswith(".dtype")}
        kept = [name for name in errored if name.rsplit(".", 1)[0] not in failed_dtype]
        dropped = [name for name in errored if name not in kept]
        return sorted(set(found) | set(kept)), sorted(set(dropped)), messages


def ours_failures(frame: Any, schema: Any) -> tuple[list[str], list[str]]:
    """The shared rules through validate.py's own functions (validate() minus the target's
    extras, the table rules and leakage)."""
    from mlops_ladder.validate import column_checks

    missing = [name for name in [*schema.feature_names, schema.target.name] if name not in frame]
    unexpected = [name for name in frame.columns if name not in schema.columns]
    failed = (["columns.missing"] if missing else []) + (
        ["columns.unexpected"] if unexpected else []
    )
    messages = [f"columns.unexpected: unexpected: {', '.join(unexpected)}"] if unexpected else []
    specs = {**schema.features, schema.target.name: schema.target}
    for name, spec in specs.items():
        if name in frame.columns:
            for check in column_checks(name, frame[name], spec):
                if not check.passed:
                    failed.append(check.name)
                    messages.append(f"{check.name}: {check.detail}")
    return sorted(failed), messages


# --- data --------------------------------------------------------------------------------------


def contract_yaml(table: str) -> str:
    """The bundled contracts rendered from template/schema.yaml.jinja; penguins' drafted."""
    if table == "penguins":
        import yaml
        from palmerpenguins import load_penguins

        from mlops_ladder.draft import draft

        made = draft(load_penguins(), "species", "palmerpenguins", "classification")
        content = {
            "target": made.target,
            "features": made.features,
            "dataset": made.dataset,
            "ignored": made.ignored,
        }
        return yaml.safe_dump(content, sort_keys=False)
    from jinja2 import Environment

    source = (ROOT / "template" / "schema.yaml.jinja").read_text()
    environment = Environment(keep_trailing_newline=True, lstrip_blocks=True, trim_blocks=True)
    task = {"__classification": "yes" if table == "breast_cancer" else ""}
    text = environment.from_string(source).render(cookiecutter={"package_name": "bench", **task})
    if table != "diabetes":
        return text
    # Resampled with replacement: duplicates by making, not broken data (only validate() reads it).
    return text.replace("max_duplicate_share: 0.01", "max_duplicate_share: 1")


def base_table(table: str) -> Any:
    import pandas as pd

    if table == "penguins":
        from palmerpenguins import load_penguins

        return load_penguins()
    name = "breast_cancer" if table == "breast_cancer" else "diabetes"
    return pd.read_csv(ROOT / "template" / "data" / "sample" / f"{name}.csv")


def plant(frame: Any, schema: Any, table: str, seed: int) -> tuple[Any, list[str]]:
    """The table with each planted problem on its own rows; the check names they must raise."""
    import numpy as np
    import pandas as pd

    random = np.random.default_rng(seed)
    broken = frame.copy()
    count = max(1, int(len(frame) * SHARE))
    planted = ["columns.unexpected"]
    specs = {**schema.features, schema.target.name: schema.target}
    for rule, column in PLANTS[table].items():
        rows = random.choice(len(frame), count, replace=False)
        spec = specs[column]
        if rule == "nulls":
            broken[column] = broken[column].astype("float64")
            broken.loc[broken.index[rows], column] = np.nan
        elif rule == "max":
            broken.loc[broken.index[rows], column] = spec.max * 10
        elif rule == "allowed":
            unknown = "Atlantis" if broken[column].dtype == object else max(spec.values) + 1
            broken[column] = broken[column].astype(object)
            broken.loc[broken.index[rows], column] = unknown
        else:  # dtype: numbers written with a decimal comma, read as text
            text = broken[column].astype(str).str.replace(".", ",", regex=False)
            broken[column] = text.where(broken[column].notna(), None)
        planted.append(f"{column}.{rule}")
    broken[UNEXPECTED] = pd.Series(["free text"] * len(frame), index=frame.index)
    return broken, sorted(planted)


def prepare(data: Path, sizes: list[int]) -> dict[str, dict[str, Any]]:
    """Write each table (clean, broken) as Parquet and its contract; return what was planted."""
    from mlops_ladder.schema import load_schema

    data.mkdir(parents=True, exist_ok=True)
    tables = {}
    names = ["breast_cancer", "penguins"] + [f"diabetes-{rows}" for rows in sizes]
    for name in names:
        base = name.split("-")[0]
        contract = data / f"{base}.yaml"
        contract.write_text(contract_yaml(base))
        schema = load_schema(contract)
        frame = base_table(base)
        if base == "diabetes":
            rows = int(name.split("-")[1])
            frame = frame.sample(rows, replace=True, random_state=rows).reset_index(drop=True)
        broken, planted = plant(frame, schema, base, seed=len(frame))
        frame.to_parquet(data / f"{name}-clean.parquet")
        broken.to_parquet(data / f"{name}-broken.parquet")
        tables[name] = {"rows": len(frame), "contract": str(contract), "planted": planted}
    return tables


# --- measurement (in the benchmark's environment, one process per tool, table, variant) --------


def _status(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(field)


def worker(tool: str, parquet: Path, contract: Path, repeats: int) -> dict[str, Any]:
    import pandas as pd

    started = time.perf_counter()
    from mlops_ladder import validate as ours
    from mlops_ladder.schema import load_schema

    imported = time.perf_counter() - started  # after pandas: what each adds
    if tool == "pandera":
        started = time.perf_counter()
        import pandera.pandas  # noqa: F401

        imported = time.perf_counter() - started
    frame = pd.read_parquet(parquet)
    schema = load_schema(contract)
    started = time.perf_counter()
    compiled, rules = translate(schema) if tool == "pandera" else (None, {})
    translated = time.perf_counter() - started

    def once(table: pd.DataFrame) -> tuple[list[str], list[str], list[str]]:
        if tool == "pandera":
            return pandera_failures(table, compiled, rules)
        if tool == "ours":
            failed, messages = ours_failures(table, schema)
            return failed, [], messages
        report = ours.validate(table, schema)
        return sorted(check.name for check in report.failures), [], report.summary().splitlines()

    once(frame.head(1000))  # warm-up: first-call costs are not what a large table costs
    before = _status("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # resets the peak resident set (VmHWM)
    times = []
    started = time.perf_counter()
    failed, dropped, messages = once(frame)
    times.append(time.perf_counter() - started)
    peak = _status("VmHWM") - before
    for _ in range(repeats - 1):
        started = time.perf_counter()
        once(frame)
        times.append(time.perf_counter() - started)
    return {
        "seconds": statistics.median(times),
        "runs": len(times),
        "peak_mib": peak,
        "failed": failed,
        "dropped": dropped,
        "messages": messages,
        "import_s": imported,
        "translate_s": translated,
        "pandas": pd.__version__,
    }


def environment(workdir: Path, pandas_version: str, env: dict[str, str]) -> Path:
    """A venv with pandera, the given pandas, and the dev environment's other versions (scipy:
    validate()'s rank correlation; the runtime has it through scikit-learn)."""
    from importlib.metadata import version

    venv = workdir / f"contract-venv-pandas{pandas_version}"
    python = venv / "bin" / "python"
    if not python.is_file():
        pins = [
            f"{name}=={version(name)}"
            for name in ("numpy", "pyarrow", "pydantic", "pyyaml", "scipy")
        ]
        subprocess.run(["uv", "venv", "--quiet", "--python", "3.11", venv], check=True, env=env)
        subprocess.run(
            ["uv", "pip", "install", "--quiet", "--python", python, PANDERA,
             f"pandas=={pandas_version}", *pins],
            check=True, env=env,
        )  # fmt: skip
    return python


def measure(python: Path, tool: str, parquet: Path, contract: Path, repeats: int) -> dict:
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), OMP_NUM_THREADS="1")
    env.pop("VIRTUAL_ENV", None)
    command = [str(python), __file__, "--worker", tool, str(parquet), str(contract), str(repeats)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"failed: {' '.join(command)}\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- results -----------------------------------------------------------------------------------


def report(tables: dict[str, dict], results: dict[tuple[str, str, str], dict]) -> list[str]:
    """Print the tables; return the targets missed."""
    missed = []
    print("| table | rows | data | ours s | pandera s | pandera/ours | ours MiB | pandera MiB "
          "| whole validate() s | same failures |")  # fmt: skip
    print("|" + "---|" * 10)
    for name, table in tables.items():
        rows = table["rows"]
        for variant in ("clean", "broken"):
            ours, theirs = results[name, variant, "ours"], results[name, variant, "pandera"]
            whole = results[name, variant, "ours-whole"]
            truth = table["planted"] if variant == "broken" else []
            same = ours["failed"] == theirs["failed"] == truth
            ratio = theirs["seconds"] / ours["seconds"]
            print(
                f"| {name.split('-')[0]} | {rows:,} | {variant} | {ours['seconds']:.4f} | "
                f"{theirs['seconds']:.4f} | {ratio:.2f}x | {ours['peak_mib']:.1f} | "
                f"{theirs['peak_mib']:.1f} | {whole['seconds']:.3f} | {'yes' if same else 'NO'} |"
            )
            if not same:
                missed.append(
                    f"1: {name} {variant}: planted {truth}, ours {ours['failed']}, "
                    f"pandera {theirs['failed']}"
                )
            if rows >= 100_000 and ratio > 2:
                missed.append(f"3: {name} {variant}: pandera {ratio:.2f}x ours")
            if rows >= 1_000_000 and theirs["peak_mib"] > 2 * ours["peak_mib"] + 16:
                missed.append(
                    f"4: {name} {variant}: pandera {theirs['peak_mib']:.0f} MiB, ours "
                    f"{ours['peak_mib']:.0f} MiB"
                )
    print("\nFailures found on the broken tables (ours = pandera = planted unless said):")
    for name in tables:
        ours, theirs = results[name, "broken", "ours"], results[name, "broken", "pandera"]
        dropped = ", ".join(theirs["dropped"]) or "none"
        print(f"- {name}: {', '.join(ours['failed'])}; pandera's check errors on a column whose "
              f"dtype failed, dropped by the translation: {dropped}")  # fmt: skip
    first = next(iter(tables))
    column = PLANTS[first.split("-")[0]]["max"]
    print(f"\nOne message each ({first}, broken, {column}.max):")
    for tool in ("ours", "pandera"):
        messages = results[first, "broken", tool]["messages"]
        message = next(text for text in messages if text.startswith(f"{column}.max"))
        print(f"- {tool}: {message[:300]!r}")
        if column not in message:
            missed.append(f"2: {tool}'s message does not name the column")
    info = results[first, "clean", "pandera"]
    print(
        f"\npandas {info['pandas']}; import of pandera.pandas {info['import_s']:.2f} s (after "
        f"pandas), its translation of the contract {info['translate_s'] * 1000:.1f} ms; "
        f"import of validate.py {results[first, 'clean', 'ours']['import_s']:.2f} s"
    )
    return missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=SIZES)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--pandas", help="pandas version of the benchmark's environment")
    parser.add_argument("--workdir", type=Path, default=ROOT / ".cache" / "benchmarks")
    parser.add_argument("--worker", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        tool, parquet, contract, repeats = args.worker
        print(json.dumps(worker(tool, Path(parquet), Path(contract), int(repeats))))
        return
    import pandas as pd

    workdir = args.workdir.resolve()
    env = dict(os.environ, UV_PYTHON_DOWNLOADS="never")
    env.pop("VIRTUAL_ENV", None)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at start")
    python = environment(workdir, args.pandas or pd.__version__, env)
    tables = prepare(workdir / "contract-data", args.sizes)
    results = {}
    for name, table in tables.items():
        repeats = 1 if table["rows"] >= 1_000_000 else args.repeats
        for variant in ("clean", "broken"):
            parquet = workdir / "contract-data" / f"{name}-{variant}.parquet"
            for tool in TOOLS:
                results[name, variant, tool] = measure(
                    python, tool, parquet, Path(table["contract"]), repeats
                )
    print(f"load average {os.getloadavg()[0]:.2f} at the end\n")
    missed = report(tables, results)
    print("\n" + ("\n".join(f"target {miss}" for miss in missed) or "targets met"))


if __name__ == "__main__":
    main()
