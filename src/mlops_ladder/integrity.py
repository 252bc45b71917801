"""Model trust: the model that is loaded is the one the registry gate approved.

Loading a scikit-learn model unpickles it, which runs code: whoever can write to the artifact
store could otherwise replace the model production loads. So the model's files get a digest
when they are tracked and registered (the run's and the registered version's tag
`model.sha256`, reports/registration.json, an export's registered_model.json), and every loader
(serving, the gate's comparison with the champion, export, batch scoring) checks the files it
downloaded against it before it unpickles anything. A mismatch, or a registered model with no
recorded digest, is one clear error; the model is never loaded.

The digest is SHA-256 over each file of the model folder (its path and its own SHA-256, in
path order), but the two files written beside the model after it was stored: MLflow's
`registered_model_meta` (written by every download) and an export's `registered_model.json`.
No MLflow here: the serving image's workers check an exported folder without importing it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from mlops_ladder.errors import ProjectError

TAG = "model.sha256"  # the tag of a training run and of a registered model version
PREFIX = "sha256:"
# Written beside the model after it was stored: by MLflow at download, by export-model.
NOT_HASHED = frozenset({"registered_model_meta", "registered_model.json"})
CHUNK = 1 << 20


class ModelIntegrityError(ProjectError):
    """The model's files are not the ones recorded at registration (or none were recorded)."""


def digest(folder: Path) -> str:
    """`sha256:<hex>` of the model folder's files (see the module's docstring)."""
    total = hashlib.sha256()
    files = sorted(
        path
        for path in folder.rglob("*")
        if path.is_file() and path.relative_to(folder).as_posix() not in NOT_HASHED
    )
    for path in files:
        own = hashlib.sha256()
        with path.open("rb") as file:
            while block := file.read(CHUNK):
                own.update(block)
        total.update(path.relative_to(folder).as_posix().encode() + b"\0")
        total.update(own.digest())
    return PREFIX + total.hexdigest()


def verify(folder: Path, expected: str | None, what: str) -> str:
    """The folder's digest, if it is `expected`; else one clear error naming `what` (the
    model's name and version, or its URI). Nothing in the folder has been loaded."""
    if not expected:
        raise ModelIntegrityError(
            f"{what} has no recorded sha256 (tag {TAG}), so its files cannot be checked: not "
            "loaded. Register it again, or `promote` the version once you trust its files"
        )
    found = digest(folder)
    if found != expected:
        raise ModelIntegrityError(
            f"{what}: its files do not match the sha256 recorded at registration "
            f"({short(found)} found, {short(expected)} recorded): not loaded. Someone or "
            "something changed the model in the artifact store: check it, then register or "
            "promote a model you trust"
        )
    return found


def short(value: str) -> str:
    """A digest as people compare them: the first 12 hex digits."""
    return value.removeprefix(PREFIX)[:12]
