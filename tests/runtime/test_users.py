"""The team platform's accounts (users.py), on a real `mlflow server --app-name basic-auth` on
127.0.0.1: the admin makes `ci`, `serving` and `monitoring` from deploy/.env's passwords, and
each can do its job and nothing more.

The server runs as deploy/compose.yaml's does (basic-auth with the template's
deploy/mlflow-auth.ini: nobody sees anything by default, a checked password is trusted for a
minute; artifacts proxied by the server), on a sqlite store: PostgreSQL and the object store are
tests/test_team.py's. The tests share one server and run in order: the refusals first, while no
account exists, then the accounts made, used and remade.
"""

from __future__ import annotations

import logging
import os
import secrets
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness import TEMPLATE, free_port, server_process
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.server.auth.client import AuthServiceClient
from trained import Trained, shared

from mlops_ladder import registry, tracking, users
from mlops_ladder.commands import main
from mlops_ladder.config import Settings
from mlops_ladder.serving.loading import load_model
from mlops_ladder.train import describe

ADMIN_PASSWORD = secrets.token_urlsafe(18)
MODEL = "team-model"
EXPERIMENT = "team-experiment"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    folder = tmp_path_factory.mktemp("mlflow-auth")
    # The generated project's file, its store (a volume in compose) moved into our folder.
    shipped = (TEMPLATE / "deploy" / "mlflow-auth.ini").read_text()
    config = folder / "auth.ini"
    config.write_text(shipped.replace("/var/lib/mlflow-auth", str(folder)))
    assert "/var/lib" not in config.read_text()
    url = f"http://127.0.0.1:{free_port()}"
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")},
        "MLFLOW_AUTH_CONFIG_PATH": str(config),
        # The admin made on the first start, as deploy/compose.yaml's server makes it.
        "MLFLOW_AUTH_ADMIN_USERNAME": "admin",
        "MLFLOW_AUTH_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
        # No job runner, as there (eight more processes otherwise).
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
    }
    command = [
        str(Path(sys.executable).with_name("mlflow")), "server", "--app-name=basic-auth",
        f"--backend-store-uri=sqlite:///{folder}/mlflow.db",
        f"--artifacts-destination={folder}/artifacts", "--host=127.0.0.1",
        f"--port={url.rsplit(':', 1)[1]}", "--workers=1",
    ]  # fmt: skip
    with server_process(
        command, f"{url}/health", folder / "server.log", 180, env=environment, cwd=folder
    ):
        yield url


@pytest.fixture
def team(
    server: str, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Trained, Settings]]:
    """The classification sample's project, its settings pointed at the server; whoever the
    test signs in as is forgotten after it."""
    sample = shared("classification", tmp_path_factory)
    for name in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    monkeypatch.setenv("TABULAR_MODEL_MODEL_NAME", MODEL)
    monkeypatch.setenv("TABULAR_MODEL_EXPERIMENT_NAME", EXPERIMENT)
    monkeypatch.delenv("GITHUB_ACTIONS", raising=False)
    settings = sample.settings_for(
        model_name=MODEL, experiment_name=EXPERIMENT, mlflow_tracking_uri=server
    )
    with sample.inside():
        yield sample, settings


def env_file(folder: Path, name: str = ".env", **changes: str) -> Path:
    """deploy/.env as a team writes it: every password its own."""
    values = {
        "MLFLOW_ADMIN_PASSWORD": ADMIN_PASSWORD,
        **{account.password_key: secrets.token_urlsafe(18) for account in users.ACCOUNTS},
        **changes,
    }
    path = folder / name
    path.write_text("".join(f"{key}={value}\n" for key, value in values.items()))
    return path


def binary_file(path: Path) -> Path:
    path.write_bytes(b"MLFLOW_CI_PASSWORD=\xff\xfe\n")
    return path


def sign_in(monkeypatch: pytest.MonkeyPatch, name: str, password: str) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", name)
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", password)


def password_of(path: Path, account: str) -> str:
    key = next(item.password_key for item in users.ACCOUNTS if item.name == account)
    return users.read_env_file(path)[key]


def account_exists(server: str, name: str) -> bool:
    with pytest.MonkeyPatch.context() as patch:
        sign_in(patch, "admin", ADMIN_PASSWORD)
        try:
            AuthServiceClient(server).get_user(name)
        except MlflowException as error:
            if error.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            return False
        return True


def test_a_wrong_file_or_admin_password_is_one_line_and_makes_nothing(
    team: tuple[Trained, Settings],
    server: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cases = {
        "missing": (tmp_path / "none.env", "none.env is missing: copy deploy/.env.example"),
        "change-me": (
            env_file(tmp_path, "change-me.env", MLFLOW_SERVING_PASSWORD="change-me"),
            "set MLFLOW_SERVING_PASSWORD to a password of its own, at least 12 characters",
        ),
        "short": (
            env_file(tmp_path, "short.env", MLFLOW_CI_PASSWORD="short-one"),
            "set MLFLOW_CI_PASSWORD to a password of its own",
        ),
        "no key": (
            env_file(tmp_path, "no-key.env", MLFLOW_MONITORING_PASSWORD=""),
            "set MLFLOW_MONITORING_PASSWORD",
        ),
        "shared": (
            env_file(tmp_path, "shared.env", MLFLOW_MONITORING_PASSWORD=ADMIN_PASSWORD),
            "MLFLOW_MONITORING_PASSWORD is the same as MLFLOW_ADMIN_PASSWORD",
        ),
        "not text": (
            binary_file(tmp_path / "binary.env"),
            "binary.env cannot be read",
        ),
    }
    for case, (path, expected) in cases.items():
        assert main(["users", "--env-file", str(path)]) == 1, case
        error = capsys.readouterr().err
        assert error.count("\n") == 1, (case, error)
        assert error.startswith("error: "), (case, error)
        assert expected in error, (case, error)
    # A wrong admin password: the server's refusal, in one line that names the key
    wrong = env_file(tmp_path, "wrong.env", MLFLOW_ADMIN_PASSWORD="not-the-admin-password")
    assert main(["users", "--env-file", str(wrong)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1, error
    assert "refused the admin account" in error, error
    assert "MLFLOW_ADMIN_PASSWORD" in error, error
    # A local store has no accounts
    os.environ["MLFLOW_TRACKING_URI"] = "sqlite:///mlflow.db"
    assert main(["users", "--env-file", str(env_file(tmp_path))]) == 1
    assert "accounts belong to a tracking server" in capsys.readouterr().err
    # Nothing was made
    assert not any(account_exists(server, account.name) for account in users.ACCOUNTS)


def test_each_account_does_its_job_and_nothing_more(
    team: tuple[Trained, Settings],
    server: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sample, settings = team
    # Given the accounts made by the command, as `make platform-users` runs it
    passwords = env_file(tmp_path)
    with caplog.at_level(logging.INFO):
        assert main(["users", "--env-file", str(passwords)]) == 0
    said = caplog.text
    for account in users.ACCOUNTS:
        assert f"{account.name}: made, {account.permission} on experiment {EXPERIMENT}" in said
    # When ci trains and registers (the gate promotes the first model), then registers the
    # same run again by hand and promotes it
    sign_in(monkeypatch, "ci", password_of(passwords, "ci"))
    metadata = describe(sample.model, *sample.data_files, sample.schema, sample.params)
    run = tracking.log_training(
        settings, sample.model, metadata, sample.train_features, sample.schema, sample.params
    )
    decision = registry.register(
        settings, sample.params, sample.schema, run, sample.report, sample.test_split, metadata
    )
    assert decision.promoted, decision.reasons
    first = decision.version
    model_id = run["model_uri"].removeprefix("models:/")
    again = MlflowClient().create_model_version(
        MODEL, run["model_uri"], run_id=run["run_id"], model_id=model_id
    )
    champion = str(again.version)
    assert registry.promote(settings, champion).champion_after == champion
    # Then serving loads the champion, and monitoring reads its scores
    sign_in(monkeypatch, "serving", password_of(passwords, "serving"))
    loaded = load_model(f"models:/{MODEL}@champion", settings, sample.schema)
    assert loaded.description.version == champion
    sign_in(monkeypatch, "monitoring", password_of(passwords, "monitoring"))
    served = registry.served_versions(settings, [first])
    assert served["champion"] == champion, served
    assert set(served["versions"]) == {first, champion}, served
    # But neither can promote, roll back, track or register; ci can. (Each request that signs
    # in costs the server ~0.3 s of password hashing: monitoring tries one command.)
    attempts = {
        "promote": lambda: registry.promote(settings, first),
        "rollback": lambda: registry.rollback(settings),
        "track": lambda: tracking.log_training(
            settings, sample.model, metadata, sample.train_features, sample.schema, sample.params
        ),
    }
    for account, tried in (("serving", attempts), ("monitoring", ["promote"])):
        sign_in(monkeypatch, account, password_of(passwords, account))
        for name in tried:
            with pytest.raises(tracking.TrackingServerError) as refused:
                attempts[name]()
            assert "refused the request (PERMISSION_DENIED)" in str(refused.value)
            assert f"the account '{account}' may not do this" in str(refused.value)
        with pytest.raises(MlflowException) as denied:
            MlflowClient().create_model_version(
                MODEL, run["model_uri"], run_id=run["run_id"], model_id=model_id
            )
        assert denied.value.error_code == "PERMISSION_DENIED"
    sign_in(monkeypatch, "ci", password_of(passwords, "ci"))
    assert str(MlflowClient().get_registered_model(MODEL).aliases["champion"]) == champion
    assert registry.rollback(settings).champion_after == first
    assert registry.promote(settings, champion).champion_after == champion
    # And nobody else reads anything: an account with no permission is refused
    with monkeypatch.context() as patch:
        sign_in(patch, "admin", ADMIN_PASSWORD)
        AuthServiceClient(server).create_user("guest", secrets.token_urlsafe(18))
    sign_in(monkeypatch, "guest", "x")
    with pytest.raises(MlflowException):
        MlflowClient().get_registered_model(MODEL)


def test_run_again_the_file_decides_passwords_and_permissions(
    team: tuple[Trained, Settings],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server = team[1].mlflow_tracking_uri
    # Given the accounts, and serving given EDIT by hand on the model
    first = env_file(tmp_path, "first.env")
    assert main(["users", "--env-file", str(first)]) == 0
    # (signed in once with the first password, so that the server has it in its cache)
    sign_in(monkeypatch, "serving", password_of(first, "serving"))
    assert MlflowClient().get_registered_model(MODEL).name == MODEL
    with monkeypatch.context() as patch:
        sign_in(patch, "admin", ADMIN_PASSWORD)
        auth = AuthServiceClient(server)
        auth.revoke_user_permission("serving", "registered_model", MODEL)
        auth.grant_user_permission("serving", "registered_model", MODEL, "EDIT")
    # When the command runs again with new passwords
    second = env_file(tmp_path, "second.env")
    with caplog.at_level(logging.INFO):
        assert main(["users", "--env-file", str(second)]) == 0
    assert "serving: updated, READ" in caplog.text
    # Then the old password is refused at once (the cache forgets it with the change), the new
    # one works, and serving is READ again
    sign_in(monkeypatch, "serving", password_of(first, "serving"))
    with pytest.raises(MlflowException) as refused:
        MlflowClient().get_registered_model(MODEL)
    assert refused.value.error_code == "UNAUTHENTICATED"
    sign_in(monkeypatch, "serving", password_of(second, "serving"))
    assert MlflowClient().get_registered_model(MODEL).name == MODEL
    # (a write on the model the command made: no version needed, so this test stands alone)
    with pytest.raises(MlflowException) as denied:
        MlflowClient().set_registered_model_tag(MODEL, "reviewed_by", "serving")
    assert denied.value.error_code == "PERMISSION_DENIED"
