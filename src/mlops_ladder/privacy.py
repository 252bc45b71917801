"""Privacy controls of the prediction log: personal values are never written in clear, and old
log files do not pile up.

- Values of the features tagged `pii` in schema.yaml are logged as a keyed hash,
  `hmac-sha256:<hex>` (HMAC-SHA256 of the value's text, `profile.category_keys`, so that 1, 1.0
  and "1" are one value). The key is the setting `<PACKAGE>_PII_KEY`: its default is the same
  for every deployment of this project (anyone could hash guesses with it), so serving and
  monitoring refuse it once the contract tags a feature pii (`log_key`): set one of your own
  from a secret (deploy/k8s reads it from one), and keep it unchanged (equal values hash equal
  only under one key: a new key makes every logged value new to the monitoring job, which
  hashes the training data with the same key).
- Log files untouched for more than `<PACKAGE>_PREDICTION_LOG_RETENTION_DAYS` (90 by
  default; 0 keeps them all) are deleted by the writer, when it starts and at each new day.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from mlops_ladder import project
from mlops_ladder.errors import ConfigError
from mlops_ladder.monitoring.profile import category_keys

log = logging.getLogger(__name__)

PREFIX = "hmac-sha256:"
LOG_FILES = "predictions-*.jsonl"
DAY_SECONDS = 86_400


def default_key() -> str:
    """The key a project has when none is set: public (its name), so never one to hash with."""
    return f"{project.current().distribution}-pii"


def log_key(key: str, pii: list[str] | tuple[str, ...]) -> str:
    """The key of the pii hashes; the default one is refused when features are tagged pii."""
    if pii and key == default_key():
        variable = f"{project.current().env_prefix}PII_KEY"
        raise ConfigError(
            f"{', '.join(pii)} tagged pii, and {variable} is the default key, which anyone can "
            f"read in this project: set {variable} to a secret of your own (the same for serving "
            "and monitoring; deploy/k8s/deployment.yaml reads it from a Kubernetes secret)"
        )
    return key


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
