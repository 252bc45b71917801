"""Privacy controls of the prediction log: personal values are never written in clear, and old
log files do not pile up.

- Values of the features tagged `pii` in schema.yaml are logged as a keyed hash,
  `hmac-sha256:<hex>` (HMAC-SHA256 of the value's text, `profile.category_keys`, so that 1, 1.0
  and "1" are one value). The key is the setting `<PACKAGE>_PII_KEY`: its default is the same
  for every deployment of this project (public: anyone could hash guesses and match them), so
  when schema.yaml tags a feature pii, serving and monitoring refuse to start with it, or with a
  key under MIN_KEY_CHARACTERS (`require_key`). Keep yours secret and unchanged (equal values
  hash equal only under one key: a new key makes every logged value new to the monitoring job,
  which hashes the training data with the same key).
- The server hashes every value it logs, whatever it looks like: a value sent as
  `hmac-sha256:...` is hashed too, never stored as sent. The monitoring job keeps the values
  of the log that already are such hashes (the whole form: the prefix and 64 hex digits).
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
import re
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_ladder import project
from mlops_ladder.config import Settings
from mlops_ladder.errors import ConfigError
from mlops_ladder.monitoring.profile import category_keys
from mlops_ladder.schema import Schema

log = logging.getLogger(__name__)

PREFIX = "hmac-sha256:"
HASHED = re.compile(r"hmac-sha256:[0-9a-f]{64}")
LOG_FILES = "predictions-*.jsonl"
DAY_SECONDS = 86_400
MIN_KEY_CHARACTERS = 16


def require_key(settings: Settings, schema: Schema) -> None:
    """When schema.yaml tags a feature pii, one clear error unless the key is this deployment's
    own: not the public default, at least MIN_KEY_CHARACTERS long."""
    tagged = schema.tagged("pii")
    if not tagged:
        return
    key = settings.pii_key.get_secret_value()
    public = Settings.model_fields["pii_key"].get_default(call_default_factory=True)
    variable = f"{project.current().env_prefix}PII_KEY"
    if key == public.get_secret_value() or len(key) < MIN_KEY_CHARACTERS:
        raise ConfigError(
            f"schema.yaml tags {', '.join(tagged)} as pii: set {variable} to a secret key of "
            f"this deployment, at least {MIN_KEY_CHARACTERS} characters (the default is public: "
            "anyone could hash guesses and match them against the log)"
        )


def pseudonym(key: str, text: str) -> str:
    """The keyed hash of one value's text."""
    return PREFIX + hmac.new(key.encode(), text.encode(), hashlib.sha256).hexdigest()


def pseudonymise(values: pd.Series, key: str, keep_hashes: bool = True) -> pd.Series:
    """Each value as its keyed hash (text, index kept); a missing value stays missing. With
    `keep_hashes` (the monitoring job reading the log) a value that already is such a hash is
    kept as it is; the server passes False: whatever a client sends is hashed."""
    keys = category_keys(values)
    present = keys.notna()
    hashed = keys.copy()
    # By position: a boolean mask with a list fails on pandas 2's string arrays (Feast's pandas).
    hashed.iloc[np.flatnonzero(present)] = [
        text if keep_hashes and HASHED.fullmatch(text) else pseudonym(key, text)
        for text in keys[present]
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
        files.append((stat.st_mtime_ns, written_order(path), path, stat.st_size))
    total = sum(file[-1] for file in files)
    deleted = []
    for *_, path, size in sorted(files):
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


def written_order(path: Path) -> list[int | str]:
    """A file name's order of writing where times tie: its numbers compared as numbers (the
    part `.10` after `.9`)."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", path.name)]
