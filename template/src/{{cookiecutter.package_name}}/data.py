"""Ingest and split: bring the raw dataset in, then cut it into train and test sets.

`ingest` is the one function to replace to bring your own data; everything downstream reads
the table it returns and checks it against schema.yaml first.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd
from sklearn.model_selection import train_test_split

from {{ cookiecutter.package_name }}.errors import DataError

SAMPLE = "sklearn"


def ingest(source: str) -> pd.DataFrame:
    """Return the raw dataset: the bundled sample, or a CSV/Parquet file with the same columns."""
    if source == SAMPLE:
        return load_sample()
    path = Path(source)
    if not path.is_file():
        raise DataError(f"ingest.source: {path} does not exist (use '{SAMPLE}' for the sample)")
    return read_table(path)


{% if cookiecutter.__classification %}
def load_sample() -> pd.DataFrame:
    """scikit-learn's breast cancer data: 569 tumours, 30 measurements, target `malignant`.

    It ships inside scikit-learn, so no download is needed. Columns are renamed to snake_case and
    the label is flipped so that 1 means malignant, the class worth catching.
    """
    from sklearn.datasets import load_breast_cancer

    frame = load_breast_cancer(as_frame=True).frame
    frame.columns = [column.replace(" ", "_") for column in frame.columns]
    frame["malignant"] = 1 - frame.pop("target")
    return frame
{% else %}
# scikit-learn's names for the six blood serum measurements, and what they measure.
_SERUM = {"s1": "tc", "s2": "ldl", "s3": "hdl", "s4": "tch", "s5": "ltg", "s6": "glu"}


def load_sample() -> pd.DataFrame:
    """scikit-learn's diabetes data: 442 patients, 10 baseline variables, target `progression`.

    It ships inside scikit-learn, so no download is needed. The unscaled version keeps the
    original units; serum columns get their medical names and `sex` its category codes (1, 2).
    """
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame.rename(columns=_SERUM)
    frame["sex"] = frame["sex"].astype("int64")
    return frame.rename(columns={"target": "progression"})
{% endif %}


def split(
    frame: pd.DataFrame, target: str, test_size: float, seed: int, stratify: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Shuffle and cut into train and test sets (stratified on the target when asked)."""
    labels = frame[target] if stratify else None
    train, test = train_test_split(frame, test_size=test_size, random_state=seed, stratify=labels)
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
