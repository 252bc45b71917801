"""The generated GitHub workflows and actions: valid, secure, and true to the project's rules.

Every level that has workflows (1: ci.yml; 2: cd, ct, monitor, rollback too) must pass
actionlint, zizmor offline (its "pedantic" and "auditor" personas) and GitHub's workflow JSON
schema. The structural tests add what those tools leave to taste: least privilege per job,
timeouts, actions pinned to a commit, no `${{ }}` expression inside any shell script at all,
secrets given to the steps that use them, OIDC where the provider offers it, one uv version,
images pinned by digest and signed, an SBOM and a dependency audit in CI.
The steps that are code are the runtime's (`python -m mlops_ladder.ci`, tested in process in
tests/runtime/test_ci.py); act runs them inside the workflows in test_act.py.
"""

from __future__ import annotations

import json
import re
import shutil
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from rendering import BIN, ROOT, Renderer, run

from mlops_ladder.ci.cli import build_parser

# (level, task): the levels with workflows, and the other task at level 2.
CASES = [("1", "classification"), ("2", "classification"), ("2", "regression")]
IDS = [f"L{level}-{task}" for level, task in CASES]
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def project_for(renderer: Renderer, level: str, task: str) -> Path:
    return renderer.get("copier", maturity_level=level, task=task)


def workflows(project: Path) -> list[Path]:
    return sorted((project / ".github" / "workflows").glob("*.yml"))


def actions(project: Path) -> list[Path]:
    return sorted((project / ".github" / "actions").glob("*/action.yml"))


def load(path: Path) -> dict[str, Any]:
    document = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as True.
    if True in document:
        document["on"] = document.pop(True)
    return document


def steps_of(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for job in (document.get("jobs") or {}).values():
        yield from job.get("steps") or []
    yield from (document.get("runs") or {}).get("steps") or []


def test_level_0_has_no_workflows(renderer: Renderer) -> None:
    assert not (renderer.get("copier", maturity_level="0") / ".github").exists()


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_the_workflows_of_each_level(renderer: Renderer, level: str, task: str) -> None:
    names = {path.name for path in workflows(project_for(renderer, level, task))}
    level_2 = {"cd.yml", "ct.yml", "monitor.yml", "rollback.yml"} if level == "2" else set()
    assert names == {"ci.yml"} | level_2


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_actionlint_passes(renderer: Renderer, env: dict[str, str], level: str, task: str) -> None:
    project = project_for(renderer, level, task)
    run([BIN / "actionlint", "-no-color", *workflows(project)], project, env)


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_zizmor_offline_finds_nothing(
    renderer: Renderer, env: dict[str, str], level: str, task: str
) -> None:
    project = project_for(renderer, level, task)
    # The pedantic persona, then the auditor's: every finding (secrets outside an environment,
    # ...). zizmor skips a file it cannot parse: each must be counted as audited.
    for persona in ("pedantic", "auditor"):
        outcome = run(
            [BIN / "zizmor", "--offline", "--no-progress", f"--persona={persona}", "."],
            project,
            env,
        )
        assert "No findings" in outcome.stdout, persona
        audited = outcome.stderr.count("completed ")
        assert audited >= len(workflows(project)) + len(actions(project)), persona


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_workflows_and_actions_match_githubs_schemas(
    renderer: Renderer, env: dict[str, str], level: str, task: str
) -> None:
    project = project_for(renderer, level, task)
    check = BIN / "check-jsonschema"
    run([check, "--builtin-schema", "vendor.github-workflows", *workflows(project)], project, env)
    run([check, "--builtin-schema", "vendor.github-actions", *actions(project)], project, env)
    dependabot = project / ".github" / "dependabot.yml"
    run([check, "--builtin-schema", "vendor.dependabot", dependabot], project, env)


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_least_privilege_timeouts_and_pins(renderer: Renderer, level: str, task: str) -> None:
    project = project_for(renderer, level, task)
    for path in workflows(project):
        document = load(path)
        assert document["permissions"] == {}, f"{path.name}: the workflow must grant nothing"
        for name, job in document["jobs"].items():
            where = f"{path.name}: job {name}"
            assert "permissions" in job, f"{where} must say which permissions it needs"
            assert "write-all" not in str(job["permissions"]), where
            if "uses" not in job:  # a called workflow sets its own jobs' timeouts
                assert 0 < job["timeout-minutes"] <= 60, f"{where} needs a timeout"
    for path in [*workflows(project), *actions(project)]:
        for step in steps_of(load(path)):
            uses = step.get("uses", "")
            if uses and not uses.startswith("./"):
                assert PINNED.match(uses), f"{path.name}: {uses} is not pinned to a commit"


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_no_expression_inside_any_script(renderer: Renderer, level: str, task: str) -> None:
    # Values reach scripts through `env:` only: an expression expanded into a script is code
    # injection waiting for a hostile branch name, input or report.
    project = project_for(renderer, level, task)
    for path in [*workflows(project), *actions(project)]:
        for step in steps_of(load(path)):
            assert "${{" not in step.get("run", ""), f"{path.name}: {step.get('name')}"


def test_the_project_lints_its_own_workflows(renderer: Renderer) -> None:
    # `make lint` (and so CI's lint job) runs actionlint and zizmor from the project's own
    # locked tools, as pre-commit hooks.
    project = project_for(renderer, "1", "classification")
    hooks = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    ids = {hook["id"] for repo in hooks["repos"] for hook in repo["hooks"]}
    assert {"actionlint", "zizmor"} <= ids
    makefile = (project / "Makefile").read_text()
    assert "ci-local:" in makefile
    assert "ubuntu-latest=-self-hosted" in makefile
    assert "--cache-server-addr 127.0.0.1 --artifact-server-addr 127.0.0.1" in makefile


CI_COMMAND = re.compile(r"python -m mlops_ladder\.ci ([a-z-]+)")


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_the_steps_that_are_code_are_the_runtimes(
    renderer: Renderer, level: str, task: str
) -> None:
    # The workflows' Python steps are commands of the runtime (tests/runtime/test_ci.py runs
    # them): each one a workflow names exists, and every one is called from a job that set up
    # the locked environment first.
    project = project_for(renderer, level, task)
    known = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    called = set()
    for path in [*workflows(project), *actions(project)]:
        document = load(path)
        jobs = list((document.get("jobs") or {}).values()) or [document.get("runs") or {}]
        for job in jobs:
            set_up = False
            for step in job.get("steps") or []:
                set_up = set_up or step.get("uses") == "./.github/actions/setup"
                for command in CI_COMMAND.findall(step.get("run", "")):
                    called.add(command)
                    assert set_up, f"{path.name}: {step.get('name')} runs before the setup"
                    assert "uv run --frozen python -m mlops_ladder.ci" in step["run"]
    assert called <= known, called - known
    if level == "2":
        assert called == known  # every command has its workflow
    assert {file.name for file in (project / ".github" / "scripts").iterdir()} == (
        {"deploy.sh", "service.sh"} if level == "2" else {"service.sh"}
    )


def test_ci_is_one_file_at_every_level(renderer: Renderer) -> None:
    # test_act.py runs ci.yml once, at level 1: the same file as level 2's. And CI's pipeline
    # keeps a registry of its own: it never names the team's (MLFLOW_TRACKING_URI).
    level1, level2 = (project_for(renderer, level, "classification") for level in ("1", "2"))
    ci = (level1 / ".github" / "workflows" / "ci.yml").read_text()
    assert ci == (level2 / ".github" / "workflows" / "ci.yml").read_text()
    assert "MLFLOW_TRACKING_URI" not in ci


def secret_references(value: Any) -> list[str]:
    return re.findall(r"secrets\.(\w+)", json.dumps(value))


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_secrets_reach_only_the_steps_that_use_them(
    renderer: Renderer, level: str, task: str
) -> None:
    # A job-wide secret reaches every step, dependency installation included (a package's build
    # script could read it): each secret is given to the steps that use it, in their `env`.
    project = project_for(renderer, level, task)
    for path in [*workflows(project), *actions(project)]:
        document = load(path)
        for name, job in (document.get("jobs") or {}).items():
            where = f"{path.name}: job {name}"
            assert not secret_references(job.get("env")), f"{where}: a secret in the job's env"
            assert job.get("secrets") != "inherit", where
            # The workflow's own GITHUB_TOKEN aside, secrets are an environment's.
            if set(secret_references(job.get("steps"))) - {"GITHUB_TOKEN"}:
                assert job.get("environment"), f"{where} reads secrets outside an environment"
        for step in steps_of(document):
            uses = step.get("uses", "")
            if uses.startswith("./.github/actions/setup") or "checkout" in uses:
                assert not secret_references(step), f"{path.name}: {uses} sees a secret"
            if secret_references(step) and uses.startswith("./.github/actions/deploy"):
                # the deploy step's inputs: the cluster, and the service's two keys
                assert secret_references(step) == ["KUBE_CONFIG", "SERVING_API_KEY", "PII_KEY"]


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_oidc_where_the_providers_offer_it(renderer: Renderer, level: str, task: str) -> None:
    # id-token: write only where a step logs in through OIDC (AWS) or signs (Sigstore), and an
    # OIDC login hands its short-lived keys to the steps that name them, not to the whole job.
    project = project_for(renderer, level, task)
    for path in workflows(project):
        for name, job in load(path)["jobs"].items():
            steps = job.get("steps") or []
            uses = " ".join(step.get("uses", "") for step in steps)
            wants_token = job.get("permissions", {}).get("id-token") == "write"
            logs_in = "configure-aws-credentials" in uses or "cosign-installer" in uses
            calls_cd = job.get("uses") == "./.github/workflows/cd.yml"
            assert wants_token == (logs_in or calls_cd), f"{path.name}: job {name}"
            for step in steps:
                if "configure-aws-credentials" in step.get("uses", ""):
                    assert step["with"]["output-env-credentials"] is False
                    assert step["if"] == "vars.AWS_ROLE_ARN != ''"
                if "docker login ghcr.io" in step.get("run", ""):  # the workflow's own token
                    assert secret_references(step) == ["GITHUB_TOKEN"]


def test_cd_pushes_signs_and_deploys_by_digest(renderer: Renderer) -> None:
    cd = load(project_for(renderer, "2", "classification") / ".github" / "workflows" / "cd.yml")
    build = cd["jobs"]["build"]
    steps = {step.get("name"): step for step in build["steps"]}
    push = steps["Push to ghcr.io"]
    assert 'echo "image=${IMAGE%:*}@$digest" >> "$GITHUB_OUTPUT"' in push["run"]
    # What staging and production run is the pushed digest (under act, nothing is pushed)
    assert build["outputs"]["image"].startswith("${{ steps.push.outputs.image ||")
    sign = steps["Sign the image and attest its SBOM (keyless, Sigstore)"]
    assert sign["env"]["IMAGE"] == "${{ steps.push.outputs.image }}"
    assert "cosign sign --yes" in sign["run"]
    assert "cosign attest --yes --type cyclonedx" in sign["run"]
    # Publishing is GitHub's: each of these steps is skipped under act, which says why
    for name in ("Push to ghcr.io", "Install cosign", sign["name"]):
        assert steps[name]["if"] == "${{ !env.ACT }}", name
    assert "neither pushed nor signed" in steps["Not published under act"]["run"]


def test_one_uv_version_and_images_pinned_by_digest(renderer: Renderer) -> None:
    project = project_for(renderer, "2", "classification")
    setup = load(project / ".github" / "actions" / "setup" / "action.yml")
    pinned = setup["runs"]["steps"][0]["with"]["version"]
    makefile = (project / "Makefile").read_text()
    assert f"UV_VERSION := {pinned}" in makefile
    assert "pip install --quiet uv==$(UV_VERSION)" in makefile
    # The images get uv, and the MLflow server its packages, from PyPI by the sha256 of each
    # file: every requirement pinned by version and hash, installed with --require-hashes
    requirements = project / "deploy" / "requirements"
    for name, dockerfile in (
        ("uv.txt", project / "Dockerfile"),
        ("mlflow-server.txt", project / "deploy" / "mlflow.Dockerfile"),
    ):
        pins = pinned_requirements(requirements / name)
        assert pins, name
        assert all(hashes for hashes in pins.values()), name
        text = dockerfile.read_text()
        assert f"requirements/{name}" in text, name
        assert "--require-hashes" in text, name
        assert "--only-binary :all:" in text, name
    assert list(pinned_requirements(requirements / "uv.txt")) == [f"uv=={pinned}"]
    server = pinned_requirements(requirements / "mlflow-server.txt")
    team = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"][
        "team"
    ]
    mlflow = next(name for name in server if name.startswith("mlflow=="))
    assert f"mlflow[auth]>={mlflow.split('==')[1]}" in " ".join(team), (mlflow, team)
    assert {"flask-wtf", "psycopg2-binary", "boto3"} <= {name.split("==")[0] for name in server}
    # Every image by digest: the Dockerfiles' Python base, the team platform's services
    compose = yaml.safe_load((project / "deploy" / "compose.yaml").read_text())
    images = [
        line.split()[1]
        for dockerfile in (project / "Dockerfile", project / "deploy" / "mlflow.Dockerfile")
        for line in dockerfile.read_text().splitlines()
        if line.startswith("FROM ")
    ]
    images += [service["image"] for service in compose["services"].values() if "image" in service]
    unpinned = [image for image in images if not re.search(r"@sha256:[0-9a-f]{64}$", image)]
    assert not unpinned, unpinned
    dependabot = (project / ".github" / "dependabot.yml").read_text()
    assert "docker-compose" in dependabot
    assert "directory: /deploy/requirements" in dependabot


def pinned_requirements(path: Path) -> dict[str, list[str]]:
    """A hashed requirements file: each `name==version` and its sha256 hashes."""
    pins: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("--hash=sha256:"):
            assert current is not None, line
            pins[current].append(line.removeprefix("--hash=sha256:").rstrip(" \\"))
            continue
        requirement = line.split(";")[0].rstrip(" \\")
        assert re.fullmatch(r"[a-z0-9._-]+==[0-9][^ ]*", requirement), requirement
        current = requirement
        pins[current] = []
    return pins


@pytest.mark.parametrize(("level", "task"), CASES, ids=IDS)
def test_ci_writes_an_sbom_and_audits_the_lock(renderer: Renderer, level: str, task: str) -> None:
    ci = load(project_for(renderer, level, task) / ".github" / "workflows" / "ci.yml")
    steps = {
        step.get("name", step.get("uses")): step for step in ci["jobs"]["dependencies"]["steps"]
    }
    sbom = steps["SBOM of what the serving image installs (CycloneDX, read from uv.lock)"]
    assert "--format cyclonedx1.5" in sbom["run"]
    audit = steps["Audit the locked dependencies for known vulnerabilities (pip-audit, OSV)"]
    assert "uv run --frozen pip-audit --vulnerability-service osv" in audit["run"]
    # Under act, skipped with a warning that says why, unless given a database to reach
    assert '"${ACT:-}" = "true" ] && [ -z "${PIP_AUDIT_OSV_URL:-}" ]' in audit["run"]
    assert "::warning title=Dependency audit skipped::" in audit["run"]


@pytest.mark.parametrize(
    ("image", "expected"),
    [
        (
            "ghcr.io/example-org/tabular-model@sha256:" + "ab" * 32,
            {"newName": "ghcr.io/example-org/tabular-model", "digest": "sha256:" + "ab" * 32},
        ),
        (
            "ghcr.io/example-org/tabular-model:0123abc",
            {"newName": "ghcr.io/example-org/tabular-model", "newTag": "0123abc"},
        ),
    ],
    ids=["digest", "tag"],
)
def test_deploy_names_the_image_cd_pushed(
    renderer: Renderer, env: dict[str, str], tmp_path: Path, image: str, expected: dict
) -> None:
    # deploy.sh with a stand-in kubectl (no cluster here) that shows the kustomization it is
    # asked to apply: the deployment runs the pushed digest (CD's), or a tag given by hand.
    project = project_for(renderer, "2", "classification")
    work = tmp_path / "project"
    shutil.copytree(project / "deploy", work / "deploy")
    shutil.copytree(project / ".github", work / ".github")
    stub = tmp_path / "bin" / "kubectl"
    stub.parent.mkdir()
    # (and records the secret it is given: the service's keys, from the environment's secrets)
    stub.write_text(
        "#!/bin/sh\n"
        'case "$*" in\n'
        "  *--kustomize*) cat kustomization.yaml ;;\n"
        '  *"create secret"*) echo "$*" >> "$STUB_LOG"; echo "kind: Secret" ;;\n'
        '  *--filename*) cat >> "$STUB_LOG" ;;\n'
        "esac\n"
    )
    stub.chmod(0o755)
    outputs = tmp_path / "outputs"
    variables = {
        **env,
        "PATH": f"{stub.parent}:{env['PATH']}",
        "IMAGE": image,
        "ENVIRONMENT": "staging",
        "NAMESPACE": "staging",
        "KUBECONFIG_CONTENT": "apiVersion: v1\nkind: Config\n",
        "SERVING_API_KEY": "a key of this deployment",
        "STUB_LOG": str(tmp_path / "kubectl.log"),
        "RUNNER_TEMP": str(tmp_path),
        "GITHUB_OUTPUT": str(outputs),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary"),
    }
    done = run(["bash", ".github/scripts/deploy.sh"], work, variables)
    kustomization = yaml.safe_load(done.stdout)
    assert kustomization["images"] == [{"name": "tabular-model", **expected}]
    assert "deployment.yaml" in kustomization["resources"]
    assert outputs.read_text() == "deployed=true\n"
    assert not (tmp_path / "kubeconfig").exists()  # the credentials are removed after use
    # The service's key went into the cluster's secret the deployment reads, applied
    log = (tmp_path / "kubectl.log").read_text()
    assert "create secret generic tabular-model-serving" in log
    assert "--from-literal=api-key=a key of this deployment" in log
    assert "kind: Secret" in log
    # and without one, nothing is deployed: one error naming the secret to add
    refused = run(
        ["bash", ".github/scripts/deploy.sh"],
        work,
        {**variables, "SERVING_API_KEY": ""},
        check=False,
    )
    assert refused.code == 1
    assert "Add the secret SERVING_API_KEY" in refused.stdout
