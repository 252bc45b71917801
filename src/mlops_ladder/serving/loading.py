"""Where the served model comes from: the registry (by alias or version) or an exported folder.

Either way the model is an MLflow model folder on local disk before it is loaded: the registry's
is downloaded, an export is one already. `export_model` writes that folder plus
`registered_model.json` (name, version, alias, training run, metrics, the files' sha256), which
is what the image carries: it starts with no tracking server. MLflow is imported here only, to
look up and download a registry or run URI: a folder is read without it (see `read_mlmodel`).

Nothing is unpickled before its files are checked against the digest recorded when it was
tracked and registered (integrity.py): a registry version's tag, a run's tag, an export's
registered_model.json. A mismatch, or a registry or run model with no recorded digest, is one
clear error. Another URI (s3://, ...) has no recorded digest: refused. A bare MLflow folder
(not an export) is the operator's own: loaded, with a warning that nothing checked it.
"""

from __future__ import annotations

import json
import logging
import os
import pickle
import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from mlops_ladder import integrity
from mlops_ladder.config import Settings
from mlops_ladder.errors import ProjectError
from mlops_ladder.schema import Schema
from mlops_ladder.serving.inference import compile_model

log = logging.getLogger(__name__)

DESCRIPTION_FILE = "registered_model.json"
MLMODEL_FILE = "MLmodel"


class ModelSourceError(ProjectError):
    """The model cannot be found or loaded (unknown alias, missing folder, wrong inputs)."""


@dataclass
class Description:
    """Which model this is: shown by /model, written to every prediction log line."""

    name: str
    version: str
    alias: str | None = None
    run_id: str | None = None
    source: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    sha256: str | None = None  # the digest of the model's files (integrity.py)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "alias": self.alias,
            "run_id": self.run_id,
            "source": self.source,
            "metrics": self.metrics,
            "sha256": self.sha256,
        }


@dataclass
class LoadedModel:
    description: Description
    pipeline: Any  # the model exactly as registered
    predictor: Any  # what answers requests: the compiled copy (see inference.py) or the pipeline
    classes: list[Any] | None
    loaded_at: str

    @property
    def inference(self) -> list[str]:
        return list(getattr(self.predictor, "description", ["scikit-learn pipeline"]))


def parse_registry_uri(uri: str) -> tuple[str, str | None, str | None]:
    """`models:/name@alias` -> (name, alias, None); `models:/name/3` -> (name, None, "3")."""
    path = uri.removeprefix("models:/").strip("/")
    if "@" in path:
        name, alias = path.rsplit("@", 1)
        return name, alias, None
    if "/" in path:
        name, version = path.rsplit("/", 1)
        return name, None, version
    raise ModelSourceError(f"{uri}: expected models:/<name>@<alias> or models:/<name>/<version>")


def describe_registered(uri: str, settings: Settings) -> Description:
    """Resolve a registry URI to one version (an alias can move: pin what we load)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    name, alias, version = parse_registry_uri(uri)
    client = MlflowClient()
    try:
        if alias:
            found = client.get_model_version_by_alias(name, alias)
        elif version:
            found = client.get_model_version(name, version)
        else:  # models:/name@ names no alias
            raise ModelSourceError(f"{uri}: the alias after @ is empty")
        run = client.get_run(found.run_id) if found.run_id else None
    except MlflowException as error:
        from mlops_ladder.tracking import is_unreachable, short_reason

        where = settings.mlflow_tracking_uri
        if is_unreachable(error):
            raise ModelSourceError(
                f"the tracking server {where} did not answer ({short_reason(error)}): {uri} "
                "cannot be looked up until it does"
            ) from None
        raise ModelSourceError(f"{uri} not found in {where}: {error.message}") from None
    metrics = dict(run.data.metrics) if run else {}
    # The version's digest, else the one its training run recorded (a version made by hand
    # from the run's model, not by `register`): the files must match either way.
    sha256 = found.tags.get(integrity.TAG) or (run.data.tags.get(integrity.TAG) if run else None)
    return Description(name, str(found.version), alias, found.run_id, uri, metrics, sha256)


def describe_run_model(uri: str, settings: Settings) -> Description:
    """A `runs:/<run id>/<path>` model, with the digest its training run recorded."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    run_id = uri.removeprefix("runs:/").strip("/").split("/")[0]
    try:
        tags = MlflowClient(settings.mlflow_tracking_uri).get_run(run_id).data.tags
    except MlflowException as error:
        raise ModelSourceError(f"{uri}: no such run in {settings.mlflow_tracking_uri}") from error
    return Description(settings.model_name, "unknown", source=uri, sha256=tags.get(integrity.TAG))


def fetch(uri: str, settings: Settings, into: Path) -> tuple[Description, Path]:
    """Download the model named by `uri` under the folder `into` and check its files against
    the digest recorded for it; say which model it is and where its folder is."""
    if not uri.startswith(("models:/", "runs:/")):
        raise integrity.ModelIntegrityError(
            f"{uri}: no digest is recorded for a model outside the registry, so its files "
            "cannot be checked: not loaded. Register it and serve models:/<name>/<version>"
        )
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no bars in logs
    import mlflow

    if uri.startswith("models:/"):
        description = describe_registered(uri, settings)
        pinned = f"models:/{description.name}/{description.version}"
        what = f"{description.name} v{description.version} ({uri})"
    else:
        description = describe_run_model(uri, settings)
        pinned = what = uri
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    try:
        folder = mlflow.artifacts.download_artifacts(artifact_uri=pinned, dst_path=str(into))
    except Exception as error:  # MLflow raises several types for a missing or unreadable model
        raise ModelSourceError(f"could not download {uri}: {error}") from None
    integrity.verify(Path(folder), description.sha256, what)
    return description, Path(folder)


def export_model(uri: str, settings: Settings, output: Path) -> Description:
    """Write the model as a self-contained folder: the MLflow model + registered_model.json,
    which records the digest its files were checked against (the loader checks it again)."""
    if output.exists() and any(output.iterdir()) and not (output / MLMODEL_FILE).is_file():
        raise ModelSourceError(f"{output} exists and is not an exported model: not overwriting")
    with tempfile.TemporaryDirectory(dir=output.parent if output.parent.exists() else None) as tmp:
        into = Path(tmp) / "model"
        into.mkdir()
        description, staging = fetch(uri, settings, into)
        exported = {**description.to_dict(), "exported_at": _now()}
        (staging / DESCRIPTION_FILE).write_text(json.dumps(exported, indent=2) + "\n")
        if output.exists():
            shutil.rmtree(output)
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging, output)
    return description


def read_exported(folder: Path) -> Description | None:
    """What export-model recorded beside the model; None for a bare MLflow folder."""
    path = folder / DESCRIPTION_FILE
    if not path.is_file():
        return None
    try:
        raw = json.loads(path.read_text())
        return Description(
            name=raw["name"],
            version=str(raw["version"]),
            alias=raw.get("alias"),
            run_id=raw.get("run_id"),
            source=str(folder),
            metrics=raw.get("metrics") or {},
            sha256=raw.get("sha256"),
        )
    except (ValueError, KeyError, TypeError) as error:
        raise ModelSourceError(f"{path} is unreadable ({error}): export the model again") from None


def local_folder(uri: str, settings: Settings, into: Path) -> tuple[Description, Path]:
    """The model of `uri` as a checked folder on local disk: a folder as it is (an export
    checked against its registered_model.json), a URI downloaded under `into` and checked."""
    folder = Path(uri)
    if folder.is_dir():
        if not (folder / MLMODEL_FILE).is_file():
            raise ModelSourceError(f"{folder} is not an MLflow model folder (no {MLMODEL_FILE})")
        exported = read_exported(folder)
        if exported is None:
            log.warning("%s is not an export of a registered model: its files are not checked", uri)
            return Description(settings.model_name, "unknown", source=uri), folder
        if not exported.sha256:
            raise integrity.ModelIntegrityError(
                f"{folder / DESCRIPTION_FILE} records no sha256 (exported by an older runtime): "
                "not loaded. Export the model again with `export-model`"
            )
        integrity.verify(folder, exported.sha256, f"{exported.name} v{exported.version} ({uri})")
        return exported, folder
    if not uri.startswith(("models:/", "runs:/")) and "://" not in uri:
        raise ModelSourceError(f"{uri}: no such folder, and not a models:/ or runs:/ URI")
    return fetch(uri, settings, into)


def load_model(uri: str, settings: Settings, schema: Schema, compiled: bool = True) -> LoadedModel:
    """Load and (unless not `compiled`) compile the model, its files checked first; check it
    takes exactly the schema's features."""
    with tempfile.TemporaryDirectory() as tmp:
        description, folder = local_folder(uri, settings, Path(tmp))
        return _load_folder(folder, description, schema, compiled)


def _load_folder(
    folder: Path, description: Description, schema: Schema, compiled: bool
) -> LoadedModel:
    metadata = read_mlmodel(folder)
    inputs = input_names(metadata)
    if inputs is not None and inputs != schema.feature_names:
        raise ModelSourceError(
            f"{description.source} takes {inputs}, but schema.yaml lists "
            f"{schema.feature_names}: serve a model trained on this schema"
        )
    pipeline = load_pipeline(metadata, folder)
    example = input_example(metadata, folder, schema)
    predictor = compile_model(pipeline, example) if compiled else pipeline
    classes = getattr(pipeline, "classes_", None)
    loaded = LoadedModel(
        description,
        pipeline,
        predictor,
        None if classes is None else classes.tolist(),
        _now(),
    )
    log.info(
        "loaded %s v%s from %s (%s)",
        description.name,
        description.version,
        description.source,
        "; ".join(loaded.inference),
    )
    return loaded


# The model folder is read here the way MLflow's sklearn flavor reads it, not through MLflow:
# importing MLflow costs each worker seconds of start-up and some 150 MB, for three files. So the
# image's workers, which serve an exported folder, never import it. The format read is MLflow's
# (the MLmodel YAML, the pickle, the input example in pandas' split JSON); a model saved in a
# format not read here (skops, code paths) is loaded by MLflow as before.
PICKLES = ("pickle", "cloudpickle")
# The pandas types MLflow gives the input example's columns, by signature type (others: as read).
EXAMPLE_TYPES = {
    "double": "float64",
    "float": "float32",
    "long": "int64",
    "integer": "int32",
    "boolean": "bool",
}


def read_mlmodel(folder: Path) -> dict[str, Any]:
    """The folder's MLmodel file: flavors, signature, input example."""
    return yaml.safe_load((folder / MLMODEL_FILE).read_text()) or {}


def signature_inputs(metadata: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The signature's input columns ({"name": ..., "type": ...}), None without a signature."""
    signature = metadata.get("signature") or {}
    return json.loads(signature["inputs"]) if signature.get("inputs") else None


def input_names(metadata: dict[str, Any]) -> list[Any] | None:
    inputs = signature_inputs(metadata)
    return None if inputs is None else [spec.get("name", i) for i, spec in enumerate(inputs)]


def load_pipeline(metadata: dict[str, Any], folder: Path) -> Any:
    """The scikit-learn model, unpickled as MLflow's sklearn flavor does."""
    flavor = (metadata.get("flavors") or {}).get("sklearn")
    if flavor is None:
        raise ModelSourceError(f"{folder} holds no scikit-learn model (no sklearn flavor)")
    if flavor.get("serialization_format", "pickle") not in PICKLES or flavor.get("code"):
        import mlflow.sklearn

        return mlflow.sklearn.load_model(str(folder))
    if os.environ.get("MLFLOW_ALLOW_PICKLE_DESERIALIZATION", "true").lower() in ("false", "0"):
        raise ModelSourceError(
            f"{folder}: unpickling models is disallowed (MLFLOW_ALLOW_PICKLE_DESERIALIZATION)"
        )
    # Unpickling runs the model's code, as MLflow's would: serve only models this project
    # trained. cloudpickle's `load` is pickle's (a cloudpickled model imports cloudpickle).
    with (folder / flavor["pickled_model"]).open("rb") as file:
        return pickle.load(file)


def input_example(metadata: dict[str, Any], folder: Path, schema: Schema) -> pd.DataFrame | None:
    """The rows logged with the model, to check the compiled copy against (None if absent)."""
    info = metadata.get("saved_input_example_info")
    if not info or info.get("type") != "dataframe":
        return None
    try:
        saved = json.loads((folder / info["artifact_path"]).read_text())
        if info.get("params"):  # the rows and the params, side by side
            saved = saved["inputs"]
        example = pd.DataFrame(saved["data"], saved.get("index"), saved.get("columns"))
        for spec in signature_inputs(metadata) or []:
            kind = EXAMPLE_TYPES.get(spec.get("type", ""))
            if kind is not None and spec.get("name") in example.columns:
                example[spec["name"]] = example[spec["name"]].astype(kind)
    except Exception:  # an example is a bonus check: a model without one still serves
        log.warning("no readable input example in %s", folder)
        return None
    if list(example.columns) != schema.feature_names:
        return None
    return example


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
