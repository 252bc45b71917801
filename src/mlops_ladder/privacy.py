"""Privacy controls of the prediction log: personal values are never written in clear, and old
log files do not pile up.

- Values of the features tagged `pii` in schema.yaml are logged as a keyed hash,
  `hmac-sha256:<hex>` (HMAC-SHA256 of the value's text, `profile.category_keys`, so that 1, 1.0
  and "1" are one value). The key is the setting `<PACKAGE>_PII_KEY`: its default
  is the same for every deployment of this project, so set one of your own, keep it secret, and
  keep it unchanged (equal values hash equal only under one key: a new key makes every logged
  value new to the monitoring job, which hashes the training data with the same key).
- Log files untouched for more than `<PACKAGE>_PREDICTION_LOG_RETENTION_DAYS` (90 by
  default; 0 keeps them all) are deleted by the writer, when it starts and at each new day.
- The folder is also kept under `<PACKAGE>_PREDICTION_LOG_MAX_MB` (serving/settings.py): past
  it the oldest files are deleted first (`delete_oldest_logs`), so a flood of requests cannot
  fill the disk.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_ladder.monitoring.profile import category_keys

log = logging.getLogger(__name__)

PREFIX = "hmac-sha256:"
LOG_FILES = "predictions-*.jsonl"
DAY_SECONDS = 86_400


def pseudonym(key: str, text: str) -> str:
    """The keyed hash of one value's text."""
    return PREFIX + hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def pseudonymise(values: pd.Series, key: str) -> pd.Series:
    """Each value as its keyed hash (text, index kept); a missing value stays missing, and a
    value that is already a hash (a log written by the server) is kept as it is."""
    keys = category_keys(values)
    present = keys.notna()
    hashed = keys.copy()
    # By position: a boolean mask with a list fails on pandas 2's string arrays (Feast's pandas).
    hashed.iloc[np.flatnonzero(present)] = [
        text if text.startswith(PREFIX) else pseudonym(key, text) for text in keys[present]
    ]
    return hashed


def delete_old_logs(folder: Path, days: float, keep: Path | None = None) -> list[Path]:
    """Delete the log files of `folder` last written more than `days` ago (none when `days` is
    0), but `keep` (the file being written); return those deleted."""
    if days <= 0 or not folder.is_dir():
        return []
    oldest = time.time() - days * DAY_SECONDS
    deleted = []
    for path in folder.glob(LOG_FILES):
        try:
            if path != keep and path.stat().st_mtime < oldest:
                path.unlink()  # another worker may delete it first: that is fine
                deleted.append(path)
        except FileNotFoundError:
            continue
    if deleted:
        log.info("deleted %d prediction log files older than %g days", len(deleted), days)
    return deleted


def delete_oldest_logs(folder: Path, max_bytes: int, keep: Path | None = None) -> list[Path]:
    """Delete the oldest log files of `folder` (by last write) until the rest take at most
    `max_bytes`, but `keep` (the file being written); return those deleted."""
    if max_bytes <= 0 or not folder.is_dir():
        return []
    files = []
    for path in folder.glob(LOG_FILES):
        try:
            stat = path.stat()
        except FileNotFoundError:  # another worker deleted it meanwhile
            continue
        files.append((stat.st_mtime, path, stat.st_size))
    total = sum(size for _, _, size in files)
    deleted = []
    for _, path, size in sorted(files):
        if total <= max_bytes:
            break
        if path == keep:
            continue
        try:
            path.unlink()
            deleted.append(path)
        except FileNotFoundError:
            pass
        total -= size
    if deleted:
        log.warning(
            "the prediction log passed its cap of %.1f MB: deleted its %d oldest files",
            max_bytes / 2**20,
            len(deleted),
        )
    return deleted
