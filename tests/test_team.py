"""The team platform, run for real: a rendered level-1 project against the services of its
deploy/compose.yaml, started here on 127.0.0.1 by the tests.

- PostgreSQL (Debian's server: initdb + pg_ctl, password authentication) is MLflow's backend
  store, as the compose file's `postgres` service;
- moto's S3 server stands in for MinIO (the compose file's `minio` service; no MinIO server
  binary installs here): MLflow's artifacts and the DVC remote, in the same buckets;
- `mlflow server --app-name basic-auth` over them, with the command, flags and environment read
  from the compose file's `mlflow` service (only addresses and file locations are mapped to
  this machine), run from the project's own environment with its `team` dependency group.

Podman cannot run the compose file here, so the compose file is what the fixtures read: a
change to its services' commands or settings changes what these tests start, and
`test_the_compose_file_says_what_the_tests_run` checks the rest (images, ports, no password).

Against it, in order (one project and one set of services for the class): the accounts made
as the README says (`make platform-users`), refusals without credentials or permission, the
whole pipeline as `ci` with the gate and aliases, promote/rollback, serving the champion over
HTTP as `serving`, `dvc push` to S3 and `dvc pull` into a fresh clone, and faults: the server
killed in the middle of `register`, and away when serving starts and after it has loaded.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import glob
import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import yaml
from harness import need
from rendering import BIN, Renderer, free_port, run

from mlops_ladder.users import ACCOUNTS, read_env_file

pytestmark = [pytest.mark.slow, pytest.mark.long]

PACKAGE = "tabular_model"
MODEL = "tabular-model"
ADMIN = "admin"
# MLflow retries a failing request 7 times with exponential backoff (about two minutes) before
# it gives up: the fault tests make it give up sooner, as a user may (same variables).
FAST_FAILURE = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1"}

REGISTRY_QUERY = """
import json, sys
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
client = MlflowClient()
name = sys.argv[1]
try:
    model = client.get_registered_model(name)
except MlflowException as error:  # nothing registered yet
    if error.error_code != "RESOURCE_DOES_NOT_EXIST":
        raise
    print(json.dumps({"versions": [], "aliases": {}, "history": ""}))
    sys.exit()
versions = client.search_model_versions(f"name = '{name}'")
print(json.dumps({
    "versions": sorted(int(v.version) for v in versions),
    "aliases": {a: str(v) for a, v in model.aliases.items()},
    "history": model.tags.get("champion_history", ""),
}))
"""


def program(name: str) -> str:
    """A PostgreSQL program: on PATH, else where Debian puts it (postgresql-15)."""
    found = shutil.which(name) or next(
        iter(sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))), None
    )
    return found or need(name)  # need() fails in CI, skips elsewhere


def as_postgres(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as root (CI), run it as `nobody`."""
    return ["runuser", "-u", "nobody", "--", *command] if os.geteuid() == 0 else command


def wait_for(url: str, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            pytest.fail(f"{url} did not answer:\n{log.read_text()[-4000:]}", pytrace=False)
        time.sleep(0.5)


def substitute(value: str, variables: dict[str, str]) -> str:
    """Compose's `${NAME:?message}` and `${NAME}` from the .env values; `$$` is a `$`."""
    pattern = r"\$\{([A-Z_]+)(?::\?[^}]*)?\}"
    return re.sub(pattern, lambda match: variables[match.group(1)], value).replace("$$", "$")


def http(method: str, url: str, body: dict | None = None, auth: tuple[str, str] | None = None):
    """(status, text) of one request: the tests' own client, with no MLflow in between."""
    request = urllib.request.Request(url, method=method)
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        request.add_header("Content-Type", "application/json")
    if auth is not None:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, data, timeout=30) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


@dataclass
class Platform:
    """The compose file's services, natively on 127.0.0.1."""

    project: Path
    folder: Path
    compose: dict
    variables: dict[str, str]  # deploy/.env
    pg_port: int = field(default_factory=free_port)
    s3_port: int = field(default_factory=free_port)
    port: int = field(default_factory=free_port)
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    pg_data: Path | None = None
    starts: list[float] = field(default_factory=list)  # seconds each mlflow start took

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def s3_url(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def credentials(self) -> tuple[str, str]:
        return ADMIN, self.variables["MLFLOW_ADMIN_PASSWORD"]

    def service(self, name: str) -> dict:
        return self.compose["services"][name]

    def environment(self, name: str) -> dict[str, str]:
        return {
            key: substitute(str(value), self.variables)
            for key, value in self.service(name).get("environment", {}).items()
        }

    # -- PostgreSQL, as the `postgres` service: its user, password and database ---------------

    def start_postgres(self) -> None:
        settings = self.environment("postgres")
        # Owned by the user PostgreSQL runs as (pytest's folders are private to root).
        self.pg_data = Path(tempfile.mkdtemp(prefix="mlops-ladder-pg-"))
        password_file = self.pg_data / "password"
        password_file.write_text(settings["POSTGRES_PASSWORD"] + "\n")
        if os.geteuid() == 0:
            shutil.chown(self.pg_data, "nobody")
            shutil.chown(password_file, "nobody")
        data, log = self.pg_data / "data", self.pg_data / "postgres.log"
        environment = {**os.environ, "LC_ALL": "C"}
        subprocess.run(
            as_postgres([
                program("initdb"), "-D", str(data), "-U", settings["POSTGRES_USER"],
                "--pwfile", str(password_file), "--auth=scram-sha-256", "--no-sync",
                "--encoding=UTF8",
            ]),
            check=True, capture_output=True, env=environment, cwd=self.pg_data,
        )  # fmt: skip
        subprocess.run(
            as_postgres([
                program("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "start",
                "-o", f"-h 127.0.0.1 -p {self.pg_port} -k {self.pg_data}",
            ]),
            check=True, capture_output=True, env=environment, cwd=self.pg_data,
        )  # fmt: skip
        subprocess.run(
            [
                program("createdb"), "-h", "127.0.0.1", "-p", str(self.pg_port),
                "-U", settings["POSTGRES_USER"], settings["POSTGRES_DB"],
            ],
            check=True, capture_output=True,
            env={**environment, "PGPASSWORD": settings["POSTGRES_PASSWORD"]},
        )  # fmt: skip

    def psql(self, query: str) -> str:
        settings = self.environment("postgres")
        done = subprocess.run(
            [
                program("psql"), "-h", "127.0.0.1", "-p", str(self.pg_port), "-At",
                "-U", settings["POSTGRES_USER"], "-d", settings["POSTGRES_DB"], "-c", query,
            ],
            check=True, capture_output=True, text=True,
            env={**os.environ, "PGPASSWORD": settings["POSTGRES_PASSWORD"]},
        )  # fmt: skip
        return done.stdout.strip()

    # -- the object store: moto's S3 server in place of MinIO, with the `buckets` service's buckets

    def buckets(self) -> list[str]:
        script = " ".join(self.service("buckets")["command"])
        return re.findall(r"local/([a-z0-9.-]+)", script.split("mc mb", 1)[1])

    def s3(self):
        import boto3  # moto's dependency, in the template's dev environment

        settings = self.environment("minio")
        return boto3.client(
            "s3",
            endpoint_url=self.s3_url,
            aws_access_key_id=settings["MINIO_ROOT_USER"],
            aws_secret_access_key=settings["MINIO_ROOT_PASSWORD"],
            region_name="us-east-1",
        )

    def start_s3(self) -> None:
        log = self.folder / "moto.log"
        self.processes["s3"] = process = subprocess.Popen(
            [BIN / "moto_server", "-H", "127.0.0.1", "-p", str(self.s3_port)],
            stdout=log.open("w"),
            stderr=subprocess.STDOUT,
        )
        wait_for(f"{self.s3_url}/moto-api/", process, log, 60)
        for bucket in self.buckets():
            self.s3().create_bucket(Bucket=bucket)

    # -- the MLflow server: the `mlflow` service's command and environment ---------------------

    def mlflow_command(self) -> list[str]:
        """The compose command with this machine's addresses: postgres:5432 and minio:9000 are
        the local servers, the server binds 127.0.0.1 on a free port."""
        mapped = []
        for argument in self.service("mlflow")["command"]:
            argument = substitute(str(argument), self.variables)
            argument = argument.replace("@postgres:5432/", f"@127.0.0.1:{self.pg_port}/")
            if argument.startswith("--host="):
                argument = "--host=127.0.0.1"
            elif argument.startswith("--port="):
                argument = f"--port={self.port}"
            elif argument.startswith("--allowed-hosts="):
                argument = f"--allowed-hosts=127.0.0.1:{self.port},localhost:{self.port}"
            mapped.append(argument)
        assert mapped[0] == "mlflow", mapped
        return [str(self.project / ".venv" / "bin" / "mlflow"), *mapped[1:]]

    def mlflow_environment(self) -> dict[str, str]:
        settings = self.environment("mlflow")
        settings["MLFLOW_S3_ENDPOINT_URL"] = self.s3_url
        # The compose volumes: the auth config file (with its sqlite store in our folder).
        mounts = dict(
            reversed(volume.split(":")[:2]) for volume in self.service("mlflow")["volumes"]
        )
        config = self.project / "deploy" / mounts[settings["MLFLOW_AUTH_CONFIG_PATH"]]
        local = self.folder / "mlflow-auth.ini"
        store = next(target for target in mounts if not target.endswith(".ini"))
        local.write_text(config.read_text().replace(store, str(self.folder / "auth")))
        (self.folder / "auth").mkdir(exist_ok=True)
        settings["MLFLOW_AUTH_CONFIG_PATH"] = str(local)
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("MLFLOW_", "AWS_", "VIRTUAL_ENV", "PG"))
        }
        return {**base, **settings}

    def start_mlflow(self) -> None:
        log = self.folder / "mlflow.log"
        started = time.monotonic()
        self.processes["mlflow"] = process = subprocess.Popen(
            self.mlflow_command(),
            env=self.mlflow_environment(),
            cwd=self.folder,
            stdout=log.open("a"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its uvicorn worker goes with it
        )
        wait_for(f"{self.url}/health", process, log, 300)
        self.starts.append(round(time.monotonic() - started, 1))

    def stop_mlflow(self, kill: bool = False) -> None:
        process = self.processes.pop("mlflow", None)
        if process is None:
            return
        os.killpg(process.pid, signal.SIGKILL if kill else signal.SIGTERM)
        process.wait(timeout=60)

    def stop(self) -> None:
        self.stop_mlflow()
        for process in self.processes.values():
            process.terminate()
            process.wait(timeout=30)
        if self.pg_data is not None:
            subprocess.run(
                as_postgres(
                    [program("pg_ctl"), "-D", str(self.pg_data / "data"), "-m", "fast", "stop"]
                ),
                capture_output=True,
                check=False,
            )
            shutil.rmtree(self.pg_data, ignore_errors=True)

    def account(self, name: str) -> tuple[str, str]:
        """An account `make platform-users` made: its name and its password in deploy/.env."""
        key = next(account.password_key for account in ACCOUNTS if account.name == name)
        return name, self.variables[key]

    def client_env(self, env: dict[str, str], account: str = "ci", **extra: str) -> dict[str, str]:
        """What a team member exports (README, team setup): the `ci` account trains,
        registers and promotes; `serving` serves and scores."""
        user, password = self.account(account)
        return {
            **env,
            "MLFLOW_TRACKING_URI": self.url,
            "MLFLOW_TRACKING_USERNAME": user,
            "MLFLOW_TRACKING_PASSWORD": password,
            **extra,
        }


def uv_run(project: Path, env: dict[str, str], *args: str, check: bool = True, label=None):
    return run(["uv", "run", "--frozen", *args], project, env, check=check, label=label)


def set_trees(project: Path, trees: int) -> None:
    params = project / "params.yaml"
    text, count = re.subn(r"n_estimators: \d+", f"n_estimators: {trees}", params.read_text())
    assert count == 1
    params.write_text(text)


def registry(project: Path, env: dict[str, str]) -> dict:
    outcome = uv_run(project, env, "python", "-c", REGISTRY_QUERY, MODEL)
    return json.loads(outcome.stdout.strip().splitlines()[-1])


@contextlib.contextmanager
def serving(
    project: Path, env: dict[str, str], log: Path
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The project's `serve` on a free port of 127.0.0.1: (its URL, its process), stopped after."""
    port = free_port()
    with log.open("w") as output:
        server = subprocess.Popen(
            ["uv", "run", "--frozen", "python", "-m", PACKAGE, "serve", "--port", str(port)],
            cwd=project, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        try:
            yield f"http://127.0.0.1:{port}", server
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=60)


def write_csv(records: list[dict], path: Path) -> Path:
    with path.open("w", newline="") as output:
        writer = csv.DictWriter(output, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


class TestTeamPlatform:
    FEATURES_OF_SAMPLE = range(30)  # the breast cancer sample's feature columns

    @pytest.fixture(scope="class")
    @classmethod
    def project(cls, renderer: Renderer, env: dict[str, str]) -> Path:
        path = renderer.fresh("copier", maturity_level="1", light=True)
        run(["make", "setup", "GROUPS=team spark"], path, env, label="team: make setup GROUPS=...")
        # deploy/.env as the README says: the example with every change-me replaced.
        example = (path / "deploy" / ".env.example").read_text()
        real = re.sub(
            r"=change-me$", lambda _: "=" + secrets.token_urlsafe(18), example, flags=re.M
        )
        (path / "deploy" / ".env").write_text(real)
        run(["git", "add", "-A"], path, env)
        run(["git", "commit", "--quiet", "--no-verify", "-m", "Generated project"], path, env)
        return path

    @pytest.fixture(scope="class")
    @classmethod
    def platform(
        cls, project: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Platform]:
        compose = yaml.safe_load((project / "deploy" / "compose.yaml").read_text())
        variables = read_env_file(project / "deploy" / ".env")
        platform = Platform(project, tmp_path_factory.mktemp("platform"), compose, variables)
        try:
            platform.start_postgres()
            platform.start_s3()
            platform.start_mlflow()
            # The README's next step: the accounts, made by the admin.
            accounts = run(
                ["make", "platform-users"], project, {**env, "MLFLOW_TRACKING_URI": platform.url},
                label="team: make platform-users",
            )  # fmt: skip
            assert "ci: made, EDIT" in accounts.stderr, accounts.tail()
            yield platform
        finally:
            platform.stop()

    @pytest.fixture(scope="class")
    @classmethod
    def records(cls, project: Path, env: dict[str, str], trained: None) -> list[dict]:
        """50 records of the project's test split (a pipeline output: hence `trained`) without
        their label, as a client sends them."""
        script = (
            "import pandas as pd; f = pd.read_parquet('data/processed/test.parquet');"
            "print(f.drop(columns=['malignant']).head(50).to_json(orient='records'))"
        )
        return json.loads(uv_run(project, env, "python", "-c", script).stdout)

    @pytest.fixture(scope="class")
    @classmethod
    def trained(cls, project: Path, platform: Platform, env: dict[str, str]) -> None:
        """A champion on the server: the pipeline test's, or the pipeline run now (a test alone)."""
        team = platform.client_env(env)
        if "champion" not in registry(project, team)["aliases"]:
            uv_run(project, team, "dvc", "repro", label="team: dvc repro, for the tests alone")

    # -- the compose file and its passwords ---------------------------------------------------

    def test_the_compose_file_says_what_the_tests_run(self, project: Path) -> None:
        text = (project / "deploy" / "compose.yaml").read_text()
        compose = yaml.safe_load(text)
        services = compose["services"]
        assert set(services) == {"postgres", "minio", "buckets", "mlflow"}
        # The PostgreSQL major version the tests run (Debian's), and the services they mirror.
        major = Path(program("initdb")).resolve().parts
        version = next((part for part in major if part.isdigit()), None)
        if version:
            assert services["postgres"]["image"].startswith(f"postgres:{version}"), version
        command = services["mlflow"]["command"]
        assert "--app-name=basic-auth" in command
        assert any(arg.startswith("--backend-store-uri=postgresql+psycopg2://") for arg in command)
        assert "--artifacts-destination=s3://mlflow/" in command
        assert services["mlflow"]["environment"]["MLFLOW_S3_ENDPOINT_URL"] == "http://minio:9000"
        # Every published port is on 127.0.0.1 only.
        for name, service in services.items():
            for port in service.get("ports", []):
                assert str(port).startswith("127.0.0.1:"), (name, port)
        # No password in the file: each comes from deploy/.env, and the example names each one.
        example = read_env_file(project / "deploy" / ".env.example")
        used = set(re.findall(r"\$\{([A-Z_]+):\?", text))
        accounts = {account.password_key for account in ACCOUNTS}
        assert used | accounts == set(example), (used, set(example))
        for service in services.values():
            for key, value in service.get("environment", {}).items():
                if re.search("PASSWORD|SECRET|_KEY$", key):
                    assert str(value).startswith("${"), (key, value)
        auth = (project / "deploy" / "mlflow-auth.ini").read_text().splitlines()
        assert not [line for line in auth if line.startswith("admin_password")]
        # deploy/.env is ignored by git: it never gets committed.
        assert "deploy/.env" in (project / ".gitignore").read_text()
        tracked = subprocess.run(
            ["git", "ls-files", "deploy"], cwd=project, capture_output=True, text=True, check=True
        ).stdout.split()
        assert "deploy/.env" not in tracked
        assert "deploy/.env.example" in tracked

    def test_make_platform_up_refuses_the_example_passwords(
        self, project: Path, env: dict[str, str]
    ) -> None:
        real = (project / "deploy" / ".env").read_text()
        try:
            shutil.copy(project / "deploy" / ".env.example", project / "deploy" / ".env")
            refused = run(["make", "platform-up", "DOCKER=echo"], project, env, check=False)
            (project / "deploy" / ".env").unlink()
            missing = run(["make", "platform-up", "DOCKER=echo"], project, env, check=False)
        finally:
            (project / "deploy" / ".env").write_text(real)
        assert refused.code != 0, refused.tail()
        assert "change-me" in refused.stderr, refused.tail()
        assert " compose " not in refused.stdout
        assert missing.code != 0, missing.tail()
        assert "deploy/.env is missing" in missing.stderr, missing.tail()
        # With real passwords it hands over to compose (DOCKER=echo prints the command).
        started = run(["make", "platform-up", "DOCKER=echo"], project, env)
        assert (
            "compose -f deploy/compose.yaml --env-file deploy/.env up -d --build" in started.stdout
        )

    def test_the_server_runs_without_a_job_runner(self, platform: Platform) -> None:
        # MLflow's job runner (its GenAI jobs) would start eight processes beside the server,
        # 2.6 GB: the compose file's environment turns it off, and the server is its command
        # and its uvicorn worker (the processes of the session it was started in).
        server = platform.processes["mlflow"].pid
        commands = []
        for entry in Path("/proc").iterdir():
            with contextlib.suppress(OSError, ValueError):  # gone, or not a process
                if os.getsid(int(entry.name)) == server:
                    commands.append((entry / "cmdline").read_bytes().replace(b"\0", b" "))
        assert commands, "the server's processes were not found"
        assert not [command for command in commands if b"mlflow.server.jobs" in command], commands
        assert len(commands) <= 2, commands

    # -- the pipeline on the platform ---------------------------------------------------------

    def test_the_whole_pipeline_runs_on_the_platform(
        self, project: Path, platform: Platform, env: dict[str, str]
    ) -> None:
        team = platform.client_env(env)
        outcome = uv_run(project, team, "dvc", "repro", label="team: dvc repro on the platform")
        assert "Running stage 'register'" in outcome.stdout
        decision = json.loads((project / "reports" / "registration.json").read_text())
        assert decision["promoted"], decision
        state = registry(project, team)
        assert state["versions"] == [1]
        assert state["aliases"] == {"champion": "1", "challenger": "1"}
        # The runs and the registry are in PostgreSQL, the artifacts in the object store.
        # Two finished runs: the tune stage's study (its trials a table and a curve in it) and
        # the training run
        finished = "select count(*) from runs where status = 'FINISHED' and name"
        study = json.loads((project / "reports" / "tuning.json").read_text())
        assert platform.psql(f"{finished} like 'tune-%'") == "1"
        assert platform.psql(f"{finished} not like 'tune-%'") == "1"
        curve = (
            "select count(*) from metrics join runs using (run_uuid)"
            " where runs.name like 'tune-%' and key like 'cv\\_%'"
        )
        assert platform.psql(curve) == str(len(study["trials"]))
        assert platform.psql("select count(*) from model_versions") == "1"
        listed = platform.s3().list_objects_v2(Bucket="mlflow").get("Contents", [])
        keys = [item["Key"] for item in listed]
        assert any(key.endswith("/MLmodel") for key in keys), keys
        assert any(key.endswith("metadata.json") for key in keys), keys

    def test_requests_without_credentials_or_permission_are_refused(
        self, project: Path, platform: Platform, env: dict[str, str]
    ) -> None:
        api = f"{platform.url}/api/2.0/mlflow"
        version = registry(project, platform.client_env(env))["aliases"]["champion"]
        attempts = [
            ("POST", f"{api}/runs/search", {"experiment_ids": ["1"]}),
            ("GET", f"{api}/registered-models/get?name={MODEL}", None),
            ("POST", f"{api}/model-versions/create", {"name": MODEL, "source": "s3://mlflow/x"}),
            ("POST", f"{api}/registered-models/alias",
             {"name": MODEL, "alias": "champion", "version": "999"}),
        ]  # fmt: skip
        for wrong in (None, (ADMIN, "not-the-password"), ("nobody", "nothing")):
            for method, url, body in attempts:
                status, text = http(method, url, body, wrong)
                assert status == 401, (wrong, url, status, text)
        # The project's own commands without credentials: one clear line, nothing moved.
        anonymous = {k: v for k, v in platform.client_env(env).items() if "USERNAME" not in k}
        anonymous.pop("MLFLOW_TRACKING_PASSWORD")
        outcome = uv_run(project, anonymous, "python", "-m", PACKAGE, "rollback", check=False)
        assert outcome.code == 1
        errors = [line for line in outcome.stderr.splitlines() if line.strip()]
        assert errors[-1].startswith("error: the tracking server")
        assert "refused" in errors[-1]
        assert "Traceback" not in outcome.stderr
        # The read-only accounts may read, not write (their commands: the next test).
        for account in ("serving", "monitoring"):
            reader = platform.account(account)
            status, text = http("GET", f"{api}/registered-models/get?name={MODEL}", None, reader)
            assert status == 200, (account, text)
            for method, url, body in attempts[2:]:
                status, text = http(method, url, body, reader)
                assert status == 403, (account, url, status, text)
        # The same requests with the admin's credentials work, and nothing was changed above.
        status, text = http(
            "GET", f"{api}/registered-models/get?name={MODEL}", None, platform.credentials
        )
        assert status == 200, text
        assert registry(project, platform.client_env(env))["aliases"]["champion"] == version
        assert platform.psql("select count(*) from model_versions") == "1"

    def test_promote_and_rollback_move_the_champion_on_the_server(
        self, project: Path, platform: Platform, env: dict[str, str]
    ) -> None:
        team = platform.client_env(env)
        # A second trained model: a changed hyperparameter, the gate lets it through.
        set_trees(project, 120)
        uv_run(project, team, "dvc", "repro", label="team: dvc repro, a second model")
        state = registry(project, team)
        assert state["versions"] == [1, 2]
        assert state["aliases"]["champion"] == "2"
        # The serving account may not move it: one line, and the champion stays.
        refused = run(
            ["make", "rollback"], project, platform.client_env(env, "serving"), check=False
        )
        assert refused.code != 0
        errors = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1, refused.stderr
        assert "(PERMISSION_DENIED): the account 'serving' may not do this" in errors[0]
        assert "Traceback" not in refused.stderr
        assert registry(project, team)["aliases"]["champion"] == "2"
        run(["make", "rollback"], project, team)
        assert registry(project, team)["aliases"]["champion"] == "1"
        run(["make", "promote", "VERSION=2"], project, team)
        state = registry(project, team)
        assert state["aliases"]["champion"] == "2"
        assert state["history"].split(",")[-1] == "2"
        refused = run(["make", "promote", "VERSION=99"], project, team, check=False)
        assert refused.code != 0
        assert "has no version 99" in refused.stderr

    def test_dvc_push_to_the_object_store_and_pull_into_a_fresh_clone(
        self, project: Path, platform: Platform, env: dict[str, str], tmp_path: Path
    ) -> None:
        # MinIO's dvc-writer (moto, standing in, does not check keys: docs/scale.md)
        user, password = "dvc-writer", platform.variables["DVC_WRITER_PASSWORD"]
        # The README's commands, with this machine's endpoint.
        for command in (
            ["remote", "add", "-d", "team", "s3://dvc/tabular-model"],
            ["remote", "modify", "team", "endpointurl", platform.s3_url],
            ["remote", "modify", "--local", "team", "access_key_id", user],
            # `--`: a password may start with "-" (token_urlsafe: 1 in 64), not an option
            ["remote", "modify", "--local", "team", "secret_access_key", "--", password],
        ):
            uv_run(project, env, "dvc", *command)
        pushed = uv_run(project, env, "dvc", "push", label="team: dvc push to S3")
        assert "pushed" in pushed.stdout
        stored = platform.s3().list_objects_v2(Bucket="dvc", Prefix="tabular-model/")
        assert stored.get("KeyCount", 0) >= 5, stored
        run(["git", "add", "-A"], project, env)
        run(["git", "commit", "--quiet", "--no-verify", "-m", "DVC remote on S3"], project, env)
        # A teammate's clone: no data, no .dvc/config.local; credentials from the environment.
        clone = tmp_path / "clone"
        run(["git", "clone", "--quiet", project, clone], tmp_path, env)
        assert not (clone / "data" / "raw" / "dataset.parquet").exists()
        teammate = {**env, "AWS_ACCESS_KEY_ID": user, "AWS_SECRET_ACCESS_KEY": password}
        run([project / ".venv" / "bin" / "dvc", "pull"], clone, teammate, label="team: dvc pull")
        for path in ("data/raw/dataset.parquet", "models/model.joblib"):
            assert (clone / path).read_bytes() == (project / path).read_bytes(), path
        status = run([project / ".venv" / "bin" / "dvc", "status"], clone, teammate)
        assert "up to date" in status.stdout

    # -- faults ---------------------------------------------------------------------------------

    def test_the_server_killed_during_register_fails_the_stage_and_a_rerun_finishes(
        self, project: Path, platform: Platform, env: dict[str, str]
    ) -> None:
        team = platform.client_env(env, **FAST_FAILURE)
        # Given a newly trained model waiting for the register stage
        set_trees(project, 150)
        try:
            uv_run(project, team, "dvc", "repro", "evaluate")
            before = registry(project, team)
            # When the server is killed as soon as register has created the new version
            log = platform.folder / "mlflow.log"
            seen = log.read_text().count("model-versions/create")
            stage = subprocess.Popen(
                ["uv", "run", "--frozen", "dvc", "repro", "register"],
                cwd=project, env=team, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )  # fmt: skip
            deadline = time.monotonic() + 120
            while log.read_text().count("model-versions/create") == seen:
                assert stage.poll() is None, stage.communicate()
                assert time.monotonic() < deadline, "register never created a version"
                time.sleep(0.05)
            platform.stop_mlflow(kill=True)
            stdout, stderr = stage.communicate(timeout=300)
            # Then the stage fails with one clear line, and the champion has not moved
            assert stage.returncode != 0, stdout + stderr
            ours = [line for line in stderr.splitlines() if line.startswith("error:")]
            assert len(ours) == 1, stderr
            assert "did not answer" in ours[0], ours
            assert "run the command again" in ours[0], ours
            assert "Traceback" not in stderr
            platform.start_mlflow()
            after = registry(project, team)
            assert after["aliases"]["champion"] == before["aliases"]["champion"]
            left = after["versions"]
            # And a rerun finishes the job: the same version (found by its run), promoted
            rerun = uv_run(project, team, "dvc", "repro", "register")
            assert "Running stage 'register'" in rerun.stdout
            final = registry(project, team)
            assert final["versions"] == left == [*before["versions"], left[-1]]
            assert final["aliases"]["champion"] == final["aliases"]["challenger"] == str(left[-1])
        finally:
            if "mlflow" not in platform.processes:
                platform.start_mlflow()

    def test_serving_waits_for_the_server_then_keeps_answering_without_it(
        self, project: Path, platform: Platform, env: dict[str, str], records: list[dict]
    ) -> None:
        team = platform.client_env(env, "serving", **FAST_FAILURE)
        champion = registry(project, team)["aliases"]["champion"]
        platform.stop_mlflow()
        log = platform.folder / "serve.log"
        try:
            with serving(project, team, log) as (url, server):
                # Given a server that is down when serving starts: alive, not ready, says why
                wait_for(f"{url}/health", server, log, 120)
                deadline = time.monotonic() + 120
                while "attempt" not in (ready := http("GET", f"{url}/ready"))[1]:
                    assert time.monotonic() < deadline, ready
                    time.sleep(0.5)
                assert ready[0] == 503, ready
                assert "model failed to load" in ready[1], ready
                time.sleep(3)  # several attempts
                assert http("GET", f"{url}/health")[0] == 200
                assert http("GET", f"{url}/ready")[0] == 503
                assert http("POST", f"{url}/predict", {"records": records})[0] == 503
                # When the tracking server comes back, the app loads the champion by itself
                platform.start_mlflow()
                deadline = time.monotonic() + 120
                while http("GET", f"{url}/ready")[0] != 200:
                    assert server.poll() is None
                    assert time.monotonic() < deadline
                    time.sleep(0.5)
                status, text = http("POST", f"{url}/predict", {"records": records})
                assert status == 200, text
                answered = json.loads(text)
                assert answered["model_version"] == champion
                # And with the tracking server gone again, it keeps answering the same
                platform.stop_mlflow(kill=True)
                status, text = http("POST", f"{url}/predict", {"records": records})
                assert status == 200, text
                assert json.loads(text)["predictions"] == answered["predictions"]
                assert http("GET", f"{url}/ready")[0] == 200
            # The batch scoring tests compare their predictions with these answers.
            type(self).answers = {"version": champion, "predictions": answered["predictions"]}
        finally:
            if "mlflow" not in platform.processes:
                platform.start_mlflow()

    # -- batch scoring (the champion from the server) ----------------------------------------

    @pytest.fixture
    def served(
        self,
        project: Path,
        platform: Platform,
        env: dict[str, str],
        records: list[dict],
        trained: None,
        tmp_path: Path,
    ) -> dict:
        """The serving app's answers to `records` from the champion now on the server: the
        serving test's, or asked here if that test did not run, failed, or the champion moved."""
        team = platform.client_env(env, "serving")
        champion = registry(project, team)["aliases"]["champion"]
        answers = getattr(type(self), "answers", None)
        if answers is None or answers["version"] != champion:
            log = tmp_path / "serve.log"
            with serving(project, team, log) as (url, server):
                wait_for(f"{url}/ready", server, log, 300)
                status, text = http("POST", f"{url}/predict", {"records": records})
            assert status == 200, text
            answered = json.loads(text)
            assert answered["model_version"] == champion, answered
            answers = {"version": champion, "predictions": answered["predictions"]}
            type(self).answers = answers  # for the other engine's test
        return answers

    @pytest.mark.parametrize("engine", ["pandas", "spark"])
    def test_score_predicts_what_the_serving_app_answered(
        self, project: Path, platform: Platform, env: dict[str, str], tmp_path: Path,
        records: list[dict], served: dict, engine: str,
    ) -> None:  # fmt: skip
        source = write_csv(records, tmp_path / "records.csv")
        output = tmp_path / "scored.parquet"
        outcome = uv_run(
            project, platform.client_env(env, "serving"), "python", "-m", PACKAGE, "score",
            "--input", str(source), "--output", str(output), "--engine", engine,
            "--chunk-rows", "16", label=f"team: score --engine {engine}",
        )  # fmt: skip
        assert f"models:/{MODEL}/{served['version']}" in outcome.stderr
        script = (
            "import json, sys, pandas as pd; f = pd.read_parquet(sys.argv[1]);"
            "print(json.dumps([len(f), f['prediction'].tolist()]))"
        )
        rows, predicted = json.loads(uv_run(project, env, "python", "-c", script, output).stdout)
        assert rows == len(records)
        assert predicted == served["predictions"]

    def test_score_refuses_records_that_break_the_contract(
        self, project: Path, platform: Platform, env: dict[str, str], tmp_path: Path,
        trained: None,
    ) -> None:  # fmt: skip
        broken = tmp_path / "broken.parquet"
        script = (
            "import sys, pandas as pd; f = pd.read_parquet('data/processed/test.parquet');"
            "f.loc[:4, 'mean_radius'] = None; f['mean_area'] = f['mean_area'] * 100;"
            "f.drop(columns=['malignant']).to_parquet(sys.argv[1])"
        )
        uv_run(project, env, "python", "-c", script, broken)
        output = tmp_path / "scored.csv"
        outcome = uv_run(
            project, platform.client_env(env, "serving"), "python", "-m", PACKAGE, "score",
            "--input", str(broken), "--output", str(output), "--chunk-rows", "40", check=False,
        )  # fmt: skip
        assert outcome.code == 1
        last = outcome.stderr.strip().splitlines()[-1]
        assert last.startswith("error: "), outcome.stderr
        assert "mean_radius.nulls" in last, last
        assert "mean_area.max" in last, last
        assert not output.exists()
        missing = uv_run(
            project, env, "python", "-m", PACKAGE, "score", "--input", "data/processed/none.csv",
            "--output", str(output), check=False,
        )  # fmt: skip
        assert missing.code == 1
        assert missing.stderr.strip().splitlines()[-1] == "error: data/processed/none.csv not found"

    def test_the_pandas_engine_scores_in_chunks_in_memory_bounded_by_the_chunk(
        self, project: Path, platform: Platform, env: dict[str, str], tmp_path: Path,
        trained: None,
    ) -> None:  # fmt: skip
        # Given 30,000 and 16 times as many records (the test split repeated), as CSV and as
        # Parquet files of one row group each (the Parquet reader holds part of a row group)
        script = (
            "import sys, pandas as pd\n"
            "f = pd.read_parquet('data/processed/test.parquet').drop(columns=['malignant'])\n"
            "big = pd.concat([f] * (480_000 // len(f) + 1)).head(480_000)\n"
            "for name, table in (('medium', big.head(30_000)), ('large', big)):\n"
            "    path = f'{sys.argv[1]}/{name}'\n"
            "    table.to_csv(f'{path}.csv', index=False)\n"
            "    table.to_parquet(f'{path}.parquet', index=False, row_group_size=len(table))\n"
        )
        uv_run(project, env, "python", "-c", script, tmp_path)
        # When each is scored in chunks of 6,000 rows, measuring the peak memory of the process
        # (the resident set's high-water mark, imports and the model included)
        measured = (
            "import resource, sys\n"
            "from mlops_ladder.commands import main\n"
            "code = main(sys.argv[1:])\n"
            "print('peak_kb', resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
            "output = sys.argv[sys.argv.index('--output') + 1]\n"
            "if output.endswith('.parquet'):\n"
            "    import pyarrow.parquet as pq\n"
            "    print('rows', pq.ParquetFile(output).metadata.num_rows)\n"
            "sys.exit(code)\n"
        )
        peaks, logs = {}, {}
        for name in ("medium.csv", "large.csv", "medium.parquet", "large.parquet"):
            outcome = uv_run(
                project, platform.client_env(env, "serving"), "python", "-c", measured, "score",
                "--input", str(tmp_path / name), "--output", str(tmp_path / f"scored-{name}"),
                "--chunk-rows", "6000", label=f"team: score {name} (pandas, chunks of 6000)",
            )  # fmt: skip
            peaks[name] = int(outcome.stdout.split("peak_kb")[-1].split()[0]) / 1024
            logs[name] = outcome
        print(f"peak memory (MB) by input: { {name: round(mb) for name, mb in peaks.items()} }")
        # Then all of the large inputs went through, in exact chunks of 6,000 rows
        for name in ("large.csv", "large.parquet"):
            chunks = re.findall(r"scored (\d+) rows \((\d+) chunks\)", logs[name].stderr)
            assert chunks[-1] == ("480000", "80"), logs[name].stderr[-2000:]
        lines = (tmp_path / "scored-large.csv").read_text().count("\n")
        assert lines == 480_001
        assert logs["large.parquet"].stdout.split("rows")[-1].split()[0] == "480000"
        # And the peak memory did not grow with the input: for 16 times the records (and a row
        # group 16 times as large), within 10% and 10 MB of the smaller file's. (pyarrow's CSV
        # stream reader, used before, read ahead up to 128 MB: the larger CSV's peak was 30%
        # higher.)
        for kind in ("csv", "parquet"):
            assert peaks[f"large.{kind}"] <= 1.1 * peaks[f"medium.{kind}"] + 10, peaks
