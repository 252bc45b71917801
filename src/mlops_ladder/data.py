"""Ingest and split: bring the raw dataset in, then cut it into train and test sets.

Bring your own data as a file: `schema draft FILE --target COLUMN` writes its contract
(schema.yaml), params.yaml `ingest.source` names it, and everything downstream checks the
table against that contract first.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import logging
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_ladder.errors import ConfigError, DataError
from mlops_ladder.schema import Target

# A date or time written as text: two numbers joined by - / . or :, or a month's name beside a
# number. An ordinal ("1st", "2nd") or a code ("A1") is not one, though dateutil parses it.
DATE_LIKE = re.compile(
    r"\d{1,4}\s*[-/.:]\s*\d{1,4}|\d{8}T?|"
    r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s*\d|"
    r"\d\s*(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)",
    re.IGNORECASE,
)


def is_date(present: pd.Series) -> bool:
    """Whether these values (none missing) are dates or times: of a date type, or text that
    reads as one on 95 % of its first 200 values."""
    if pd.api.types.is_datetime64_any_dtype(present):
        return True
    sample = present.astype(str).head(200)
    if not sample.str.contains(DATE_LIKE).mean() >= 0.95:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= 0.95)


# A column of calendar years (params.yaml evaluate.order_by, as Males' or Wage's `year`) is a
# time all the same: whole numbers (an int dtype, pandas' nullable Int64, or floats that are
# all whole: a year with gaps read from a file), none a boolean, all within YEARS and more than
# one of them. Anything else that is not a date (an id, a count, a measure) orders the rows
# but is no time.
YEARS = (1800, 2200)


def is_year(present: pd.Series) -> bool:
    """Whether these values (none missing) are whole numbers of calendar years (YEARS), more
    than one year among them."""
    if present.empty or pd.api.types.is_bool_dtype(present):
        return False
    if not pd.api.types.is_numeric_dtype(present):
        return False
    values = present.astype(float)
    if not bool((values % 1 == 0).all()):
        return False
    low, high = YEARS
    return bool(values.between(low, high).all()) and values.nunique() > 1


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
    """Drop the rows without a target, then shuffle and cut into train and test sets
    (stratified on the target when asked). Rows that repeat another exactly (Arrests: people
    alike in every column) are all kept, each on the side of its first copy: none is lost and
    no record is in both sets."""
    if stratify and target.values is None:
        raise ConfigError(
            f"params.yaml split.stratify: true splits by class, and the target '{target.name}' "
            "is a number (regression): set split.stratify: false"
        )
    labelled = frame[frame[target.name].notna()]
    if target.dtype in ("int", "bool") and labelled[target.name].dtype.kind == "f":
        # A missing label made the column float when the file was read: restore its type.
        labelled = labelled.astype({target.name: "int64" if target.dtype == "int" else "bool"})
    key = row_keys(labelled)
    unique = labelled[~key.duplicated().to_numpy()]
    from sklearn.model_selection import train_test_split  # a second's import: ingest needs none

    labels = unique[target.name] if stratify else None
    try:
        train, test = train_test_split(
            unique, test_size=test_size, random_state=seed, stratify=labels
        )
    except ValueError as error:  # too few rows, or a class too rare to stratify
        distinct = f" ({len(unique)} distinct)" if len(unique) < len(labelled) else ""
        raise DataError(f"cannot split {len(labelled)} labelled rows{distinct}: {error}") from None
    if len(unique) < len(labelled):
        logging.getLogger("mlops_ladder").info(
            "split: %d rows repeat another exactly: each goes with its first copy",
            len(labelled) - len(unique),
        )
        train, test = (_with_copies(part, labelled, key) for part in (train, test))
    return train.reset_index(drop=True), test.reset_index(drop=True)


def row_keys(frame: pd.DataFrame) -> pd.Series:
    """One hash per row of its values (the index aside): equal for rows alike in every column."""
    return pd.util.hash_pandas_object(frame, index=False)


def _with_copies(part: pd.DataFrame, labelled: pd.DataFrame, key: pd.Series) -> pd.DataFrame:
    """`part` (distinct rows, in its order) with every copy of each row after it."""
    position = pd.Series(np.arange(len(part)), index=key.loc[part.index].to_numpy())
    chosen = key.isin(position.index).to_numpy()
    order = np.argsort(position.loc[key[chosen].to_numpy()].to_numpy(), kind="stable")
    return labelled[chosen].iloc[order]


SEPARATORS = ",;\t|"
DECIMAL_COMMA = re.compile(r"^-?\d+,\d+$")


def csv_dialect(path: Path) -> dict[str, str]:
    """How a CSV file separates its fields: a comma, else the one of ; tab | that splits its
    first lines into the same number of fields (more than one). A `;` file whose numbers are
    written 3,5 reads them as 3.5 (the decimal comma goes with that separator)."""
    try:
        with path.open(encoding="utf-8", errors="replace", newline="") as handle:
            head = [line for _, line in zip(range(50), handle, strict=False)]
    except OSError:
        return {}  # the reader says what is wrong with the file
    widths = {}
    for separator in SEPARATORS:
        rows = list(csv.reader(head[:-1] or head, delimiter=separator))
        counts = {len(row) for row in rows if row}
        widths[separator] = counts.pop() if len(counts) == 1 else 0
    chosen = next((s for s in SEPARATORS if widths[s] > 1), ",")
    if chosen == ",":
        return {}
    dialect = {"sep": chosen}
    cells = [cell for row in csv.reader(head[1:], delimiter=chosen) for cell in row]
    if chosen == ";" and any(DECIMAL_COMMA.match(cell.strip()) for cell in cells):
        dialect["decimal"] = ","
    return dialect


def read_csv(path: Path) -> pd.DataFrame:
    """A CSV file, its separator found (csv_dialect)."""
    dialect: dict[str, Any] = csv_dialect(path)
    return pd.read_csv(path, **dialect)


def ordered_by_target(labels: pd.Series, classes: bool) -> str | None:
    """Why the rows' order follows their target (a file sorted or grouped by it), or None.

    Classes: the labels change from row to row less than a fifth as often as in a shuffled
    order (penguins.csv holds each species' rows together). Numbers: of the steps from one row
    to the next that change the target, at least 80% go the same way (a random order or a
    trend over time goes both ways about as often; a file sorted in runs does not)."""
    present = labels.dropna().reset_index(drop=True)
    if len(present) < 10 or present.nunique() < 2:
        return None
    if classes:
        changes = int((present != present.shift()).sum()) - 1
        shares = present.value_counts(normalize=True)
        expected = (len(present) - 1) * (1 - float((shares**2).sum()))
        if changes < 0.2 * expected:
            return (
                f"the rows are grouped by the target: its class changes {changes} times from "
                f"one row to the next, about {expected:.0f} times in a shuffled order"
            )
        return None
    steps = np.sign(np.diff(present.to_numpy(dtype="float64")))
    moves = steps[steps != 0]
    rising = float((moves > 0).mean()) if len(moves) else 0.5
    if max(rising, 1 - rising) >= 0.8:
        way = "up" if rising >= 0.5 else "down"
        return (
            f"the rows are sorted by the target: {max(rising, 1 - rising):.0%} of its changes "
            f"from one row to the next go {way}"
        )
    return None


def read_table(path: Path) -> pd.DataFrame:
    """Read a CSV (comma, semicolon, tab or bar separated) or Parquet file, with an error that
    names the file when it cannot."""
    readers: dict[str, Callable[[Path], pd.DataFrame]] = {
        ".csv": read_csv,
        ".parquet": pd.read_parquet,
        ".pq": pd.read_parquet,
    }
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise DataError(f"{path}: unsupported format (use .csv or .parquet)")
    if reader is pd.read_parquet:
        require_parquet()
    try:
        return reader(path)
    except FileNotFoundError:
        raise DataError(f"{path} not found") from None
    except Exception as error:  # a corrupt or truncated file: say which one
        raise DataError(f"{path} could not be read: {error}") from None


def require_parquet() -> None:
    """Parquet is pyarrow's, which the `training` extra installs and the serving image leaves
    out: without it, the error the command line turns into one line naming the extra (pandas'
    own is an ImportError about engines)."""
    if importlib.util.find_spec("pyarrow") is None:
        raise ModuleNotFoundError("No module named 'pyarrow'", name="pyarrow")


def write_table(frame: pd.DataFrame, path: Path) -> None:
    require_parquet()
    path.parent.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(path, index=False)


def file_md5(path: Path) -> str:
    """MD5 of a file's bytes: the hash DVC gives the same file, so runs name their data version."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
