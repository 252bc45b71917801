"""MLflow tracking: where runs go, and what each training run records.

Local by default: a sqlite file and an artifact folder, offline, no server. Set
MLFLOW_TRACKING_URI to a tracking server and the same code logs there; a server with
authentication reads MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD (MLflow's own
variables). MLflow retries failed HTTP requests itself, with exponential backoff
(MLFLOW_HTTP_REQUEST_MAX_RETRIES, default 7, and MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR, default 2:
about two minutes); a server that stays away after that is one clear error (`server_errors`).
"""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import mlflow
import pandas as pd
from mlflow.entities import Metric
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from mlops_ladder import integrity
from mlops_ladder.config import Params, Settings
from mlops_ladder.errors import ProjectError
from mlops_ladder.schema import Schema

log = logging.getLogger(__name__)
# Quiet MLflow's per-call notices; warnings and errors still show. uv environments have no pip,
# which MLflow looks for only to write a conda.yaml: that one notice says nothing useful here.
logging.getLogger("mlflow").setLevel(logging.WARNING)
logging.getLogger("mlflow.utils.environment").setLevel(logging.ERROR)
# Artifacts are small here: a progress bar per download is noise in the pipeline's output.
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")


P = ParamSpec("P")
R = TypeVar("R")


class TrackingServerError(ProjectError):
    """The tracking server did not answer (after MLflow's retries) or refused the credentials."""


def is_unreachable(error: BaseException) -> bool:
    """An MLflow error that says the server could not be reached, or kept failing (5xx), after
    MLflow's retries; not an answer such as 401 or 404. MLflow wraps some of these in an error
    of its own ("Failed to get logged model ...": set_logged_model_tags), so the causes count."""
    return any(
        isinstance(cause, MlflowException)
        and str(cause.message).startswith("API request to")
        and "failed with error code" not in str(cause.message)
        for cause in causes(error)
    )


def causes(error: BaseException) -> Iterator[BaseException]:
    """The error, then what it was raised from (`raise ... from`), outermost first."""
    cause: BaseException | None = error
    while cause is not None:
        yield cause
        cause = cause.__cause__


def is_refused(error: BaseException) -> bool:
    return isinstance(error, MlflowException) and error.error_code in (
        "UNAUTHENTICATED",
        "PERMISSION_DENIED",
    )


def is_server_problem(error: BaseException) -> bool:
    """Unreachable or refused: never to be taken for "no such model" or "no champion"."""
    return is_unreachable(error) or is_refused(error)


def server_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Turn "the server is away" and "the server refused us" into one line for the user."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except MlflowException as error:
            where = mlflow.get_tracking_uri()
            if error.error_code == "PERMISSION_DENIED":
                user = os.environ.get("MLFLOW_TRACKING_USERNAME", "")
                raise TrackingServerError(
                    f"the tracking server {where} refused the request (PERMISSION_DENIED): the "
                    f"account {user!r} may not do this; reading needs READ, and tracking, "
                    "registering, promoting or rolling back EDIT, on the project's experiment "
                    "and registered model (`make platform-users` makes the ci account)"
                ) from None
            if is_refused(error):
                raise TrackingServerError(
                    f"the tracking server {where} refused the request ({error.error_code}): set "
                    "MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD to an account of it"
                ) from None
            if not is_unreachable(error):
                raise
            raise TrackingServerError(
                f"the tracking server {where} did not answer ({short_reason(error)}) after "
                "MLflow's retries: run the command again once it is back (it is safe to rerun)"
            ) from None

    return wrapper


def short_reason(error: BaseException) -> str:
    """The innermost cause, in a few words: 'connection refused', 'timed out', ..."""
    text = " ".join(str(cause) for cause in causes(error)).lower()
    for needle, reason in [
        ("connection refused", "connection refused"),
        ("timed out", "timed out"),
        ("timeout", "timed out"),
        ("name or service not known", "unknown host"),
        ("too many 5", "server errors"),
    ]:
        if needle in text:
            return reason
    return "connection failed"


def connect(settings: Settings) -> str:
    """Point MLflow at the tracking store and the project's experiment; return its id."""
    mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
    experiment = mlflow.get_experiment_by_name(settings.experiment_name)
    if experiment is not None:
        return experiment.experiment_id
    # A local store keeps artifacts in the project folder; a server decides for itself.
    local = not settings.mlflow_tracking_uri.startswith(("http://", "https://"))
    location = settings.artifacts_dir.resolve().as_uri() if local else None
    return mlflow.create_experiment(settings.experiment_name, artifact_location=location)


@server_errors
def log_training(
    settings: Settings,
    model: Any,
    metadata: dict[str, Any],
    train_features: pd.DataFrame,
    schema: Schema,
    params: Params,
) -> dict[str, str]:
    """One run per trained model: params, data and code versions, the model itself."""
    experiment_id = connect(settings)
    example = train_features[schema.feature_names].head(5)
    with warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold missing values: schema.yaml already
        # forbids them, and every request is checked against it before it reaches the model.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, model.predict(example))
    with mlflow.start_run(
        experiment_id=experiment_id, run_name=f"train-{metadata['estimator']}"
    ) as run:
        mlflow.log_params(flatten(params.model_dump()))
        mlflow.set_tags(
            {
                "seed": params.seed,
                "estimator": metadata["estimator"],  # the one fitted (tuning may pick linear)
                "hyperparameters_from": metadata["hyperparameters_from"],
                "data.raw_md5": metadata["data"]["raw"]["md5"],
                "data.train_md5": metadata["data"]["train"]["md5"],
                "git.commit": metadata["git"]["commit"] or "none",
                "git.dirty": metadata["git"]["dirty"],
                **{f"version.{name}": value for name, value in metadata["versions"].items()},
            }
        )
        mlflow.log_metrics(
            {f"train_{name}": value for name, value in metadata["metrics"]["train"].items()}
        )
        with quiet_pickle_warning():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                signature=signature,
                input_example=example,
                # Pickle (by reference) because the model's first step is this project's own
                # feature code: skops would have to be told to trust it, and loading it runs
                # this code either way; the registry only holds models this project trained.
                serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
                pip_requirements=pinned_requirements(metadata["versions"]),
            )
        mlflow.log_dict(metadata, "metadata.json")
        mlflow.log_artifact(str(settings.schema_file))
        # The digest of the files as stored, read back at once: registration checks the
        # registered version against it, and every loader after that (integrity.py).
        model_sha256 = stored_digest(info.model_uri)
        mlflow.set_tag(integrity.TAG, model_sha256)
    log.info("tracked run %s (model %s)", run.info.run_id, info.model_uri)
    return {"run_id": run.info.run_id, "model_uri": info.model_uri, "model_sha256": model_sha256}


def stored_digest(uri: str) -> str:
    """The digest (integrity.py) of the model stored at `uri`, downloaded to a temporary folder."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = mlflow.artifacts.download_artifacts(artifact_uri=uri, dst_path=tmp)
        return integrity.digest(Path(folder))


@server_errors
def log_tuning(settings: Settings, tuning: dict[str, Any]) -> str:
    """One run per study (tune-<estimator>): the best and the configured scores, the best
    hyperparameters, the report, and the trials as a table (trials.json) and a curve (the
    score at step = trial number). Not a nested run per trial: each run is several round trips
    to the tracking store, and one table compares the trials better in the UI."""
    experiment_id = connect(settings)
    metric = tuning["metric"]
    trials = tuning["trials"]
    run_name = f"tune-{tuning['estimator']}"
    with mlflow.start_run(experiment_id=experiment_id, run_name=run_name) as run:
        mlflow.log_params({f"best.{name}": value for name, value in tuning["best_params"].items()})
        mlflow.log_metrics(
            {
                f"best_cv_{metric}": tuning["best_score"],
                f"configured_cv_{metric}": tuning["configured_score"],
                "shortfall": tuning["shortfall"],
                "trials": len(trials),
                # the linear model tuned alike: the one train would fit (where one converged)
                **(
                    {f"linear_cv_{metric}": tuning["linear"]["score"]}
                    if (tuning.get("linear") or {}).get("score") is not None
                    else {}
                ),
            }
        )
        mlflow.set_tags(
            {
                "tuning.passed": tuning["passed"],
                "estimator": tuning["estimator"],
                "tuning.use_estimator": tuning.get("use_estimator") or "",
            }
        )
        mlflow.log_dict(tuning, "tuning.json")
        table = pd.DataFrame(
            [{"trial": t["number"], **t["params"], f"cv_{metric}": t["score"]} for t in trials]
        )
        mlflow.log_table(table, artifact_file="trials.json")
        now = int(time.time() * 1000)
        curve = [Metric(f"cv_{metric}", t["score"], now, t["number"]) for t in trials]
        mlflow.MlflowClient().log_batch(run.info.run_id, metrics=curve)
    log.info("tracked the study in run %s", run.info.run_id)
    return run.info.run_id


class _PickleWarning(logging.Filter):
    """MLflow's warning that the model is saved with pickle: chosen knowingly (log_training)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Saving scikit-learn models in the pickle")


@contextlib.contextmanager
def quiet_pickle_warning() -> Iterator[None]:
    """Without the pickle warning that every training run would print (only that one)."""
    quiet, logger = _PickleWarning(), logging.getLogger("mlflow.sklearn")
    logger.addFilter(quiet)
    try:
        yield
    finally:
        logger.removeFilter(quiet)


@server_errors
def log_evaluation(settings: Settings, run_id: str, report: dict[str, Any]) -> None:
    """Add the evaluation (metrics, slices, baselines, figures) to the training run."""
    connect(settings)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(evaluation_metrics(report))
        mlflow.set_tag("quality.passed", report["quality"]["passed"])
        mlflow.log_artifacts(str(settings.figures_dir), artifact_path="evaluation")
        mlflow.log_artifact(str(settings.metrics_file), artifact_path="evaluation")


def evaluation_metrics(report: dict[str, Any]) -> dict[str, float]:
    """Flat metric names: test_<m>, baseline_<name>_<m>, slice_<name>_<m>."""
    values = {f"test_{name}": value for name, value in report["test"].items()}
    for baseline, scores in report["baselines"].items():
        values |= {f"baseline_{baseline}_{name}": value for name, value in scores.items()}
    for piece, result in report["slices"].items():
        values |= {
            f"slice_{piece}_{name}": value for name, value in result.get("metrics", {}).items()
        }
    return values


def flatten(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested params as dotted names: {"train": {"estimator": "x"}} -> {"train.estimator": "x"}."""
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat |= flatten(value, f"{name}.")
        else:
            flat[name] = json.dumps(value) if isinstance(value, list) else value
    return flat


def pinned_requirements(versions: dict[str, str]) -> list[str]:
    """What the logged model needs, pinned to what trained it (skips MLflow's slow inference)."""
    import cloudpickle

    libraries = ["numpy", "pandas", "scikit-learn"]
    return [f"{name}=={versions[name]}" for name in libraries] + [
        f"cloudpickle=={cloudpickle.__version__}"
    ]


def read_metadata(metadata_file: Path) -> dict[str, Any]:
    return json.loads(metadata_file.read_text())


def read_metadata_of_run(run_id: str) -> dict[str, Any]:
    """The metadata.json a training run logged (the model's data, code and contract)."""
    return mlflow.artifacts.load_dict(f"runs:/{run_id}/metadata.json")
