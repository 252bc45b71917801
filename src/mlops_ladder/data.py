"""Ingest and split: bring the raw dataset in, then cut it into train and test sets.

Bring your own data as a file: `schema draft FILE --target COLUMN` writes its contract
(schema.yaml), params.yaml `ingest.source` names it, and everything downstream checks the
table against that contract first.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from mlops_ladder.errors import DataError
from mlops_ladder.schema import Target


def ingest(source: str) -> pd.DataFrame:
    """Return the raw dataset: the CSV/Parquet file that params.yaml `ingest.source` names.

    A project whose data lives elsewhere (a database, an API) replaces this with its own
    (pyproject.toml `[tool.mlops-ladder] ingest`): return the same table and everything
    downstream works unchanged.
    """
    path = Path(source)
    if not path.is_file():
        raise DataError(
            f"params.yaml ingest.source: {path} does not exist (a .csv or .parquet file, "
            "relative to the project's root)"
        )
    return read_table(path)


def split(
    frame: pd.DataFrame, target: Target, test_size: float, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop the rows without a target, keep each exact duplicate row once (so that no record
    is in both sets), then shuffle and cut into train and test sets (stratified on the target
    when asked)."""
    labelled = frame[frame[target.name].notna()].drop_duplicates()
    if target.dtype in ("int", "bool") and labelled[target.name].dtype.kind == "f":
        # A missing label made the column float when the file was read: restore its type.
        labelled = labelled.astype({target.name: "int64" if target.dtype == "int" else "bool"})
    from sklearn.model_selection import train_test_split  # a second's import: ingest needs none

    labels = labelled[target.name] if stratify else None
    try:
        train, test = train_test_split(
            labelled, test_size=test_size, random_state=seed, stratify=labels
        )
    except ValueError as error:  # too few rows, or a class too rare to stratify
        raise DataError(f"cannot split {len(labelled)} labelled rows: {error}") from None
    return train.reset_index(drop=True), test.reset_index(drop=True)


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV or Parquet file, with an error that names the file when it cannot."""
    readers = {".csv": pd.read_csv, ".parquet": pd.read_parquet, ".pq": pd.read_parquet}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported format (use .csv or .parquet)")
    try:
        return reader(path)
    except FileNotFoundError:
        raise DataError(f"{path} not found") from None
    except Exception as error:  # a corrupt or truncated file: say which one
        raise DataError(f"{path} could not be read: {error}") from None


def write_table(frame: pd.DataFrame, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def file_md5(path: Path) -> str:
    """MD5 of a file's bytes: the hash DVC gives the same file, so runs name their data version."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
