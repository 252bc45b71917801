"""The team platform's accounts: who may do what on the MLflow server (docs/scale.md).

Signed in as the server's admin, `users` makes (or brings up to date) one account per job, each
with a password from deploy/.env and one permission on the project's experiment and registered
model, so that nothing everyday runs as admin:

- `ci`: EDIT. Trains, registers, promotes and rolls back (team members, CI, CT).
- `serving`: READ. Loads the champion (`make serve`, CD's `export-model`).
- `monitoring`: READ. The scheduled job reads the champion's age and scores.

MLflow's basic-auth app (`mlflow[auth]`) gives nobody anything by default
(deploy/mlflow-auth.ini), so an account sees only what it is given here. Safe to run again:
passwords and permissions become what the file says. The experiment and the registered model
are made by admin if missing, so that the permissions have something to name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient  # mlflow[auth]: the `team` extra

from mlops_ladder.config import Settings
from mlops_ladder.errors import ConfigError
from mlops_ladder.tracking import TrackingServerError, connect, is_refused, server_errors

# MLflow refuses shorter passwords (mlflow.utils.validation._validate_password).
MIN_PASSWORD = 12
PLACEHOLDER = "change-me"


@dataclass(frozen=True)
class Account:
    name: str
    password_key: str  # its password's key in deploy/.env
    permission: str  # on the experiment and on the registered model
    job: str


ACCOUNTS = (
    Account("ci", "MLFLOW_CI_PASSWORD", "EDIT", "train, register, promote, roll back"),
    Account("serving", "MLFLOW_SERVING_PASSWORD", "READ", "load the champion"),
    Account("monitoring", "MLFLOW_MONITORING_PASSWORD", "READ", "read the champion's scores"),
)


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as compose's --env-file reads them (no quoting, # comments)."""
    if not path.is_file():
        raise ConfigError(
            f"{path} is missing: copy deploy/.env.example to it and set its passwords"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} cannot be read: {error}") from None
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def password(values: dict[str, str], key: str, path: Path) -> str:
    value = values.get(key, "")
    if value in ("", PLACEHOLDER) or len(value) < MIN_PASSWORD:
        raise ConfigError(
            f"{path}: set {key} to a password of its own, at least {MIN_PASSWORD} characters "
            f"(not {PLACEHOLDER}; `openssl rand -base64 24` makes one)"
        )
    return value


def make_accounts(settings: Settings, env_file: Path, admin: str = "admin") -> list[str]:
    """Make or update every account of ACCOUNTS as `admin`; one line per account."""
    uri = settings.mlflow_tracking_uri
    if not uri.startswith(("http://", "https://")):
        raise ConfigError(
            f"MLFLOW_TRACKING_URI is {uri}: accounts belong to a tracking server; set it to the "
            "server's address (http://127.0.0.1:5000 for `make platform-up`)"
        )
    values = read_env_file(env_file)
    keys = ["MLFLOW_ADMIN_PASSWORD", *(account.password_key for account in ACCOUNTS)]
    # One password per account: a shared one would give each account the others' permissions.
    seen: dict[str, str] = {}  # password: the key that holds it
    for key in keys:
        value = password(values, key, env_file)
        if value in seen:
            raise ConfigError(
                f"{env_file}: {key} is the same as {seen[value]}: give each account a password "
                "of its own"
            )
        seen[value] = key
    # Every check passed before the first request: a wrong file changes nothing on the server.
    os.environ["MLFLOW_TRACKING_USERNAME"] = admin
    os.environ["MLFLOW_TRACKING_PASSWORD"] = values["MLFLOW_ADMIN_PASSWORD"]
    passwords = {account.name: values[account.password_key] for account in ACCOUNTS}
    return grant(settings, passwords, env_file)


@server_errors  # the server away: the same line as every command's
def grant(settings: Settings, passwords: dict[str, str], env_file: Path) -> list[str]:
    try:
        experiment = connect(settings)
        try:
            MlflowClient().create_registered_model(settings.model_name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
    except MlflowException as error:
        if is_refused(error):
            raise TrackingServerError(
                f"the tracking server {settings.mlflow_tracking_uri} refused the admin account "
                f"({error.error_code}): MLFLOW_ADMIN_PASSWORD in {env_file} must be its admin's "
                "password (the server reads it on its first start only)"
            ) from None
        raise
    auth = AuthServiceClient(settings.mlflow_tracking_uri)
    done = []
    for account in ACCOUNTS:
        try:
            auth.create_user(account.name, passwords[account.name])
            made = "made"
        except MlflowException as error:
            if error.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
            auth.update_user_password(account.name, passwords[account.name])
            made = "updated"
        for kind, name in (("experiment", experiment), ("registered_model", settings.model_name)):
            set_permission(auth, account.name, kind, name, account.permission)
        done.append(
            f"{account.name}: {made}, {account.permission} on experiment "
            f"{settings.experiment_name} and model {settings.model_name} ({account.job})"
        )
    return done


def set_permission(
    auth: AuthServiceClient, user: str, kind: str, name: str, permission: str
) -> None:
    """Grant `permission`, replacing what the user had on that resource."""
    try:
        auth.grant_user_permission(user, kind, name, permission)
    except MlflowException as error:
        if error.error_code != "RESOURCE_ALREADY_EXISTS":
            raise
        auth.revoke_user_permission(user, kind, name)
        auth.grant_user_permission(user, kind, name, permission)
