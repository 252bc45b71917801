"""Batch scoring: a CSV or Parquet file (or a folder of them) in, the same records with the
model's `prediction` out, for data of any size. `python -m mlops_ladder score --help`.

The model is the registry's champion (or `--model URI`), pinned to one version before anything
is read, so both engines and every chunk score with the same model. The input is checked against
the data contract (schema.yaml, with the checks of validate.py) before a single row is scored:
a broken rule stops the job and names the rule.

Two engines, the same model through MLflow's pyfunc interface, the same predictions:
- pandas (default): the input is read twice (check, then score), `chunk_rows` rows at a time,
  each chunk read only when the loop asks for it, and the output is written chunk by chunk.
  Memory is bounded by the chunk, not by the input: one chunk of records and its predictions
  at a time, for a file of any length. CSV is read by pandas' parser, which reads as it goes
  (not by pyarrow's CSV stream reader: that one reads ahead on a thread, up to 32 blocks, and
  held up to 128 MB of input while the model scored). Parquet is read with pyarrow's
  `iter_batches`, in batches from the current row group, part of which it holds: in the tests
  a file of one row group of 480,000 rows peaks 8 MB above one of 30,000 rows; huge row groups
  of wide text columns take more (write such files with smaller row groups, or split them);
- spark: a Spark DataFrame scored with `mlflow.pyfunc.spark_udf`. Here it runs `local[*]`; under
  spark-submit or in a Databricks job the same command uses that cluster (README: batch
  scoring), with no code change. Spark writes the output as a folder of part files.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from mlops_ladder import project
from mlops_ladder.config import Settings
from mlops_ladder.errors import ConfigError, DataError
from mlops_ladder.schema import Schema
from mlops_ladder.validate import column_checks

log = logging.getLogger(__name__)

ENGINES = ("pandas", "spark")
FORMATS = (".csv", ".parquet")
PREDICTION = "prediction"
DEFAULT_CHUNK_ROWS = 100_000


@dataclass
class Scored:
    rows: int
    chunks: int  # pandas: chunks read; Spark: partitions
    model: str
    output: str


def score(
    settings: Settings,
    schema: Schema,
    source: str,
    output: str,
    engine: str = "pandas",
    model_uri: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Scored:
    """Score `source` into `output` with the model at `model_uri` (default: the champion).

    Paths are local, or for Spark any URI its cluster reads (s3a://, hdfs://, dbfs:/, ...)."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine must be one of {', '.join(ENGINES)}, not {engine}")
    if chunk_rows < 1:
        raise ConfigError(f"--chunk-rows must be at least 1, not {chunk_rows}")
    if suffix(output) not in FORMATS:
        raise ConfigError(f"--output {output}: name a .csv or .parquet output")
    remote = [path for path in (source, output) if is_uri(path)]
    if remote and engine == "pandas":
        raise ConfigError(f"{remote[0]}: the pandas engine reads local files; use --engine spark")
    files = [source] if is_uri(source) else [str(path) for path in input_files(Path(source))]
    uri = pinned_uri(model_uri or f"models:/{settings.model_name}@champion", settings)
    if engine == "spark":
        return score_spark(schema, files, output, uri)
    return score_pandas(schema, [Path(file) for file in files], Path(output), uri, chunk_rows)


def is_uri(path: str) -> bool:
    return "://" in path or path.startswith("dbfs:/")


def suffix(path: str) -> str:
    return PurePosixPath(path.rstrip("/")).suffix.lower()


def input_files(source: Path) -> list[Path]:
    """The CSV/Parquet files to score: `source`, or the files of one format in a folder."""
    if source.is_dir():
        found = sorted(path for path in source.rglob("*") if path.suffix.lower() in FORMATS)
        if not found:
            raise DataError(f"{source}: no .csv or .parquet files in this folder")
        if len({path.suffix.lower() for path in found}) > 1:
            raise DataError(f"{source}: mixes .csv and .parquet files; score one format at once")
        return found
    if not source.is_file():
        raise DataError(f"{source} not found")
    if source.suffix.lower() not in FORMATS:
        raise DataError(f"{source}: unsupported format (use .csv or .parquet)")
    return [source]


def pinned_uri(uri: str, settings: Settings) -> str:
    """An alias (models:/name@champion) resolved to its version now: it could move mid-job."""
    if not uri.startswith("models:/"):
        return uri
    from mlops_ladder.serving.loading import describe_registered

    described = describe_registered(uri, settings)
    log.info("scoring with %s v%s (%s)", described.name, described.version, uri)
    return f"models:/{described.name}/{described.version}"


def contract_problems(frame: pd.DataFrame, schema: Schema) -> list[tuple[str, str]]:
    """(check, detail) for every rule of schema.yaml's features these records break."""
    return [
        (check.name, check.detail)
        for name, spec in schema.features.items()
        for check in column_checks(name, frame[name], spec)
        if not check.passed
    ]


def require_columns(columns: list[str], schema: Schema, source: Any) -> None:
    missing = [name for name in schema.feature_names if name not in columns]
    if missing:
        raise DataError(f"{source} lacks columns the model needs: {', '.join(missing)}")


def contract_error(problems: dict[str, tuple[str, int]], source: Any) -> DataError:
    listed = "; ".join(
        f"{check}: {detail}" + (f" (in {chunks} chunks)" if chunks > 1 else "")
        for check, (detail, chunks) in problems.items()
    )
    return DataError(f"{source} breaks the data contract (schema.yaml): {listed}")


# -- pandas: bounded memory ----------------------------------------------------------------------


def batches(files: list[Path], schema: Schema, chunk_rows: int) -> Iterator[pd.DataFrame]:
    """The records, `chunk_rows` at a time, each read when it is asked for (see the module's
    docstring: what bounds memory); float features read as floats, as schema.yaml types them."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    floats = {name: "float64" for name, spec in schema.features.items() if spec.dtype == "float"}
    for path in files:
        try:
            if path.suffix.lower() == ".csv":
                require_columns(list(pd.read_csv(path, nrows=0).columns), schema, path)
                with pd.read_csv(path, chunksize=chunk_rows, dtype=floats) as reader:
                    for chunk in reader:
                        chunk.index = pd.RangeIndex(len(chunk))
                        yield chunk
                continue
            parquet = pq.ParquetFile(path)
            require_columns(parquet.schema_arrow.names, schema, path)
            pending: list[Any] = []
            count = 0
            for batch in parquet.iter_batches(batch_size=chunk_rows):
                while batch.num_rows:
                    take = min(chunk_rows - count, batch.num_rows)
                    pending.append(batch.slice(0, take))
                    count, batch = count + take, batch.slice(take)
                    if count == chunk_rows:
                        yield pa.Table.from_batches(pending).to_pandas()
                        pending, count = [], 0
            if pending:
                yield pa.Table.from_batches(pending).to_pandas()
        except ValueError as error:  # pandas' and pyarrow's parse errors (ArrowInvalid) alike
            first = str(error).splitlines()[0]
            raise DataError(f"{path} could not be read as schema.yaml types it: {first}") from None


def score_pandas(
    schema: Schema, files: list[Path], output: Path, uri: str, chunk_rows: int
) -> Scored:
    source = files[0] if len(files) == 1 else files[0].parent
    problems: dict[str, tuple[str, int]] = {}
    for chunk in batches(files, schema, chunk_rows):  # first pass: the contract, every chunk
        for check, detail in contract_problems(chunk, schema):
            first, count = problems.get(check, (detail, 0))
            problems[check] = (first, count + 1)
    if problems:
        raise contract_error(problems, source)

    model = load_pyfunc(uri)
    output.parent.mkdir(parents=True, exist_ok=True)
    writer = Writer(output)
    rows = chunks = 0
    try:
        for chunk in batches(files, schema, chunk_rows):
            chunk[PREDICTION] = model.predict(chunk[schema.feature_names])
            writer.write(chunk)
            rows, chunks = rows + len(chunk), chunks + 1
            log.info("scored %d rows (%d chunks)", rows, chunks)
    finally:
        writer.close()
    return Scored(rows, chunks, uri, str(output))


def load_pyfunc(uri: str) -> Any:
    import mlflow

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        return mlflow.pyfunc.load_model(uri)
    except Exception as error:  # MLflow raises several types for a missing or unreadable model
        raise DataError(f"could not load the model {uri}: {str(error).splitlines()[0]}") from None


class Writer:
    """Appends chunks to one CSV (header once) or Parquet file, replacing what was there."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.parquet: Any = None
        self.started = False
        # Written under a temporary name, moved into place at the end: no half-written output.
        self.partial = path.with_name(f".{path.name}.partial")

    def write(self, chunk: pd.DataFrame) -> None:
        if self.path.suffix.lower() == ".parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            table = pa.Table.from_pandas(chunk, preserve_index=False)
            if self.parquet is None:
                self.parquet = pq.ParquetWriter(self.partial, table.schema)
            self.parquet.write_table(table.cast(self.parquet.schema))
        else:
            chunk.to_csv(
                self.partial,
                mode="a" if self.started else "w",
                header=not self.started,
                index=False,
            )
        self.started = True

    def close(self) -> None:
        if self.parquet is not None:
            self.parquet.close()
        if self.started:
            self.partial.replace(self.path)


# -- spark: the same model as a Spark UDF --------------------------------------------------------


def spark_session() -> Any:
    """The session spark-submit or Databricks made, else a local one on every core."""
    try:
        from pyspark.sql import SparkSession
    except ImportError:
        raise ConfigError(
            "--engine spark needs PySpark: `make setup GROUPS=spark` (uv sync --group spark)"
        ) from None
    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    builder = SparkSession.builder.appName(f"{project.current().distribution}-score")
    if "PYSPARK_GATEWAY_PORT" not in os.environ:  # not launched by spark-submit
        builder = builder.master(os.environ.get("SPARK_MASTER", "local[*]"))
        # Local workers run this interpreter: the one with this package and its dependencies.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    return builder.getOrCreate()


def score_spark(schema: Schema, files: list[str], output: str, uri: str) -> Scored:
    spark = spark_session()  # first: without PySpark, the error says how to install it
    import mlflow
    from pyspark.sql import functions as F

    source = files[0] if len(files) == 1 else str(Path(files[0]).parent)
    # A folder URI (no suffix) is read as Parquet, Spark's own format.
    if suffix(files[0]) == ".csv":
        frame = spark.read.csv(files, header=True, inferSchema=True)
    else:
        frame = spark.read.parquet(*files)
    require_columns(frame.columns, schema, source)

    features = schema.feature_names
    found = frame.select(*features).mapInPandas(
        lambda parts: (
            pd.DataFrame(contract_problems(part, schema), columns=["check", "detail"])
            for part in parts
        ),
        "check string, detail string",
    )
    broken = found.groupBy("check").agg(F.first("detail"), F.count("*")).collect()
    if broken:
        raise contract_error({row[0]: (row[1], row[2]) for row in broken}, source)

    types = {"float": "double", "int": "long", "category": "string"}
    typed = [
        F.col(name).cast(types[spec.dtype]).alias(name) for name, spec in schema.features.items()
    ]
    with tempfile.TemporaryDirectory() as tmp:
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        local = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        # The label's type from schema.yaml (the model's signature may say "a tensor of int64").
        label = types[schema.target.dtype]
        predict = mlflow.pyfunc.spark_udf(spark, local, result_type=label, env_manager="local")
        scored = frame.withColumn(PREDICTION, predict(F.struct(*typed)))
        writer = scored.write.mode("overwrite")
        if suffix(output) == ".csv":
            writer.option("header", True).csv(output)
        else:
            writer.parquet(output)
    return Scored(frame.count(), frame.rdd.getNumPartitions(), uri, output)
