"""Errors the command line reports as one clear message instead of a traceback."""


class ProjectError(Exception):
    """An expected failure: bad configuration, bad data, a missing input."""


class ConfigError(ProjectError):
    """params.yaml, schema.yaml or an environment variable is invalid."""


class DataError(ProjectError):
    """Input data is missing, unreadable or breaks the data contract."""


# A project's task shapes more than params.yaml's `task:` (the split, each estimator's
# hyperparameters, the baselines' margins, the metrics): a table of the other task belongs in a
# project generated for it.
OTHER_TASK = (
    "generate a {task} project (copier copy -d task={task} <template> <folder>, or cookiecutter "
    "<template> task={task}) and bring the table there"
)


# The runtime's optional parts and the extra of mlops-ladder that installs each (pyproject.toml
# optional-dependencies; a generated project's `make setup GROUPS=...` names them too).
EXTRAS = {
    "optuna": "training",
    "matplotlib": "training",
    "pyarrow": "training",
    "mlflow": "pipeline",
    "dvc": "pipeline",
    "fastapi": "serving",
    "starlette": "serving",
    "uvicorn": "serving",
    "prometheus_client": "serving",
    "scipy": "monitoring",
    "pyspark": "spark",
    "feast": "feast",
    "boto3": "team",
    "psycopg2": "team",
    "flask_wtf": "team",  # mlflow[auth]: MLflow's login, and its admin client
}


# Extras a generated project installs as dependency groups of its own (`make setup GROUPS=...`);
# the others come with its level (pyproject.toml's mlops-ladder[...] line).
GROUPS = ("team", "spark")


# Extras a project of level 1 or 2 has in its `pipeline` dependency group (`pipeline` brings
# `training`): a default group, which `make setup` installs and the serving image leaves out
# (`uv sync --no-default-groups`).
PIPELINE_GROUP = ("training", "pipeline", "monitoring")


def missing_extra(error: ModuleNotFoundError, level: int = 0) -> str | None:
    """One line naming the extra to install for a missing optional module (in a project of
    `level`), or None when the module is not one of the runtime's optional parts (a real bug:
    let it show)."""
    top = (error.name or "").partition(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    if extra in GROUPS:
        return (
            f"this command needs {top}, which is not installed: run `make setup GROUPS={extra}` "
            f"(the project's `{extra}` dependency group: mlops-ladder[{extra}])"
        )
    if level >= 1 and extra in PIPELINE_GROUP:
        return (
            f"this command needs {top}, which is not installed here: run `make setup` (the "
            f"project's `pipeline` dependency group: mlops-ladder[{extra}]; the serving image "
            "leaves it out)"
        )
    return (
        f"this command needs {top}, which is not installed: add the `{extra}` extra "
        f"(pyproject.toml: mlops-ladder[{extra}]) and run `make setup`"
    )
