"""Read the data to monitor in chunks: a Parquet or CSV file, or the serving app's prediction log.

Every chunk comes out the same way whatever the source: numeric columns as float64 (NaN for a
missing value), categorical ones as text (profile.category_keys). A problem with an input (not
found, unreadable, empty, a missing column, text where numbers belong) is a DataError that
names the file and the column, raised before anything is written.

The prediction log is a folder of JSON Lines files `predictions-*.jsonl`, one line per
predicted record:
    {"timestamp": ..., "request_id": ..., "record": 0, "model_name": ..., "model_version": ...,
     "variant": "champion", "inputs": {<column name>: <value>, ...}, "prediction": ...,
     "probability": ..., "probabilities": {<class>: <probability>, ...}}
Inputs come out as columns named as in the data (spaces and all); each class's probability as a
column `probability_<class>`, as batch prediction writes it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from mlops_ladder.errors import DataError
from mlops_ladder.monitoring.profile import category_keys

LOG_FILES = "predictions-*.jsonl"
CHUNK_ROWS = 1 << 18  # rows per chunk
# CSV and JSON are parsed in small blocks on one thread: pyarrow's threaded readers read ahead
# as far as they can (the whole file, measured), and its parsers hold many times a block.
BLOCK_BYTES = 1 << 20
LOG_FIELDS = ["timestamp", "request_id", "record", "model_version", "variant"]
CLASS_PROBABILITIES = "probabilities"  # the log's {class: probability} object


def probability_column(label: object) -> str:
    """The column of one class's probability: `probability_<class>` (the class as text)."""
    return f"probability_{label}"


@dataclass(frozen=True)
class Columns:
    """What to read: numeric and categorical columns that must be there, and optional ones."""

    numeric: Sequence[str]
    categorical: Sequence[str]
    optional: Sequence[str] = ()

    @property
    def required(self) -> list[str]:
        return [*self.numeric, *self.categorical]


@dataclass(frozen=True)
class Source:
    """One input: a table file, or a prediction log folder (`log` is True)."""

    path: Path
    label: str
    files: tuple[Path, ...]
    log: bool

    def describe(self) -> str:
        if self.log:
            return f"prediction log {self.path} ({len(self.files)} files)"
        return str(self.path)


def open_source(path: Path, label: str) -> Source:
    """Check that `path` exists and is something we can read; the reading comes later."""
    if path.is_dir():
        files = tuple(sorted(path.glob(LOG_FILES)))
        if not files:
            raise DataError(f"{label}: no prediction log files ({LOG_FILES}) in {path}")
        return Source(path, label, files, log=True)
    if not path.exists():
        raise DataError(f"{label}: {path} not found")
    if path.suffix.lower() not in {".parquet", ".pq", ".csv", ".jsonl"}:
        raise DataError(f"{label}: {path} has an unsupported format (.parquet, .csv or .jsonl)")
    return Source(path, label, (path,), log=path.suffix.lower() == ".jsonl")


def chunks(source: Source, columns: Columns) -> Iterator[pd.DataFrame]:
    """The source's rows, chunk by chunk, with the numeric columns as float64 and the
    categorical ones as text. Optional columns come when the source has them."""
    for path in source.files:
        try:
            empty = path.stat().st_size == 0
        except OSError as error:  # gone since it was listed (a rotated log), or unreachable
            raise DataError(f"{source.label}: {path} could not be read: {error}") from None
        if empty:
            raise DataError(f"{source.label}: {path} is empty")
        suffix = path.suffix.lower()
        if suffix == ".jsonl":
            frames = _log_chunks(path, source.label, columns)
        elif suffix == ".csv":
            frames = _csv_chunks(path, source.label, columns)
        else:
            frames = _parquet_chunks(path, source.label, columns)
        for frame in frames:
            yield _standardise(frame, columns)


def _standardise(frame: pd.DataFrame, columns: Columns) -> pd.DataFrame:
    out = {name: frame[name].astype("float64") for name in columns.numeric}
    out |= {name: category_keys(frame[name]) for name in columns.categorical}
    out |= {name: frame[name] for name in columns.optional if name in frame.columns}
    return pd.DataFrame(out, index=frame.index, copy=False)


def _check_columns(names: Sequence[str], path: Path, label: str, columns: Columns) -> None:
    missing = [name for name in columns.required if name not in names]
    if missing:
        raise DataError(f"{label}: {path} lacks columns the schema needs: {', '.join(missing)}")


def _parquet_chunks(path: Path, label: str, columns: Columns) -> Iterator[pd.DataFrame]:
    try:
        # Streamed page by page: memory follows the chunk, not the file's row groups.
        table = pq.ParquetFile(path, buffer_size=1 << 20, pre_buffer=False)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{label}: {path} could not be read: {error}") from None
    schema = table.schema_arrow
    _check_columns(schema.names, path, label, columns)
    for name in columns.numeric:
        kind = schema.field(name).type
        if not (pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)):
            raise DataError(f"{label}: {path} column '{name}' should hold numbers, not {kind}")
    wanted = [*columns.required, *(name for name in columns.optional if name in schema.names)]
    try:
        for batch in table.iter_batches(batch_size=CHUNK_ROWS, columns=wanted):
            yield batch.to_pandas(split_blocks=True)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{label}: {path} could not be read: {error}") from None


def _csv_chunks(path: Path, label: str, columns: Columns) -> Iterator[pd.DataFrame]:
    try:
        header = pa_csv.open_csv(path, read_options=pa_csv.ReadOptions(block_size=1 << 16))
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{label}: {path} could not be read: {error}") from None
    names = header.schema.names
    _check_columns(names, path, label, columns)
    wanted = [*columns.required, *(name for name in columns.optional if name in names)]
    types = {name: pa.float64() for name in columns.numeric}
    types |= {name: pa.string() for name in columns.categorical}
    # An empty (or NA) cell is a missing value in a text column too, as when pandas reads it.
    convert = pa_csv.ConvertOptions(
        include_columns=wanted, column_types=types, strings_can_be_null=True
    )
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=BLOCK_BYTES, use_threads=False),
            convert_options=convert,
        )
        yield from _regroup(reader)
    except (OSError, pa.ArrowException) as error:
        problem = _name_csv_column(error, names)
        raise DataError(f"{label}: {path} could not be read: {problem}") from None


def _name_csv_column(error: Exception, names: Sequence[str]) -> str:
    """pyarrow names a bad CSV column by its position: say its name."""
    message = str(error)
    found = re.search(
        r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to double: (.*)", message
    )
    if found and int(found.group(1)) < len(names):
        where = f" (line {found.group(2)})" if found.group(2) else ""
        return f"column '{names[int(found.group(1))]}' should hold numbers{where}: {found.group(3)}"
    return message


def _log_chunks(path: Path, label: str, columns: Columns) -> Iterator[pd.DataFrame]:
    """Prediction log lines, parsed by pyarrow; a file it cannot type (a category given as a
    number on one line and as text on another, text in a number field) is read again line by
    line, which either succeeds or names the line that is wrong."""
    inputs = pa.struct([(name, pa.float64()) for name in columns.numeric])
    fields = [(name, pa.string()) for name in LOG_FIELDS if name != "record"]
    schema = pa.schema([*fields, ("record", pa.int64()), ("inputs", inputs)])
    options = pa_json.ParseOptions(explicit_schema=schema, unexpected_field_behavior="infer")
    done = 0
    read = pa_json.ReadOptions(block_size=BLOCK_BYTES, use_threads=False)
    try:
        reader = pa_json.open_json(path, read_options=read, parse_options=options)
        for frame in _regroup(reader, _flatten_log):
            yield frame
            done += len(frame)
    except pa.ArrowInvalid:
        yield from _log_chunks_slowly(path, label, columns, skip=done)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{label}: {path} could not be read: {error}") from None


def _regroup(
    batches: Iterable[pa.RecordBatch], convert: Callable[[pa.Table], pd.DataFrame] | None = None
) -> Iterator[pd.DataFrame]:
    """Small parsed blocks, handed on as chunks of about CHUNK_ROWS rows."""
    waiting: list[pa.RecordBatch] = []
    rows = 0

    def chunk() -> pd.DataFrame:
        table = pa.Table.from_batches(waiting)
        return convert(table) if convert else table.to_pandas(split_blocks=True)

    for batch in batches:
        waiting.append(batch)
        rows += batch.num_rows
        if rows >= CHUNK_ROWS:
            yield chunk()
            waiting, rows = [], 0
    if waiting:
        yield chunk()


def _flatten_log(table: pa.Table) -> pd.DataFrame:
    """Log lines as columns, the inputs' fields among them."""
    frame = {}
    for name, column in zip(table.schema.names, table.columns, strict=True):
        if name == "inputs":
            for field, values in zip(column.type, column.flatten(), strict=True):
                frame[field.name] = values.to_pandas()
        elif name == CLASS_PROBABILITIES and pa.types.is_struct(column.type):
            for field, values in zip(column.type, column.flatten(), strict=True):
                frame[probability_column(field.name)] = values.to_pandas()
        else:
            frame[name] = column.to_pandas()
    return pd.DataFrame(frame, copy=False)


def _log_chunks_slowly(
    path: Path, label: str, columns: Columns, skip: int
) -> Iterator[pd.DataFrame]:
    """The log file line by line, from the first line pyarrow did not deliver."""
    lines: list[dict] = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            if skip:
                skip -= 1
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as error:
                if not line.endswith("\n"):
                    break  # the last line, still being written by the server: next run's
                raise DataError(f"{label}: {path} line {number} is not JSON: {error}") from None
            if not isinstance(entry, dict) or not isinstance(entry.get("inputs"), dict):
                raise DataError(f"{label}: {path} line {number} has no 'inputs' object")
            lines.append(entry)
            if len(lines) == CHUNK_ROWS:
                yield _log_frame(lines, path, label, columns, number)
                lines = []
    if lines:
        yield _log_frame(lines, path, label, columns, number)


def _log_frame(
    lines: list[dict], path: Path, label: str, columns: Columns, last: int
) -> pd.DataFrame:
    frame = pd.DataFrame([entry["inputs"] for entry in lines])
    for name in [*columns.required]:
        if name not in frame.columns:
            frame[name] = None
    for name in columns.numeric:
        values = frame[name]
        numbers = pd.to_numeric(values, errors="coerce")
        wrong = numbers.isna() & values.notna()
        if wrong.any():
            example = values[wrong].iloc[0]
            raise DataError(
                f"{label}: {path} input '{name}' should hold numbers, found {example!r} "
                f"(in lines up to {last})"
            )
        frame[name] = numbers.astype("float64")
    for name in [*LOG_FIELDS, *columns.optional]:
        if name not in frame.columns and not name.startswith("probability_"):
            frame[name] = [entry.get(name) for entry in lines]
    shares = [entry.get(CLASS_PROBABILITIES) or {} for entry in lines]
    for label in dict.fromkeys(key for share in shares for key in share):
        frame[probability_column(label)] = [share.get(label) for share in shares]
    return frame
