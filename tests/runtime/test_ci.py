"""The workflows' steps that are code (`python -m mlops_ladder.ci`), run in process on real parts:
the smoke test against the real app served by uvicorn on 127.0.0.1 from a project made and
trained here, the step outputs read from that project's real reports, and the GitHub calls
against tests/fake_github.py (a mock, the only one: GitHub cannot be reached from the tests).
act runs the same commands inside the generated workflows (tests/test_act.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from fake_github import TOKEN, FakeGitHub, serve_fake_github
from harness import Made, free_port, make_project, run

from mlops_ladder.ci import smoke
from mlops_ladder.ci.cli import main
from mlops_ladder.ci.reports import monitoring_summary
from mlops_ladder.schema import Schema, load_schema
from mlops_ladder.serving.payloads import record_model

REPOSITORY = "example-org/tabular-model"
STAGES = ["ingest", "validate", "split", "featurize", "train", "evaluate", "register"]


@contextmanager
def serving(made: Made, model_uri: Path) -> Iterator[str]:
    """The project's app under uvicorn in a process of its own (`serve`, one worker), as
    CD's service.sh starts it on a host without a container engine."""
    port = free_port()
    env = {
        **os.environ,
        "MODEL_URI": str(model_uri),
        "MLOPS_LADDER_PROJECT": str(made.root),
        "PYTHONPATH": str(made.root / "src"),
    }
    code = "import sys; from mlops_ladder.commands import main; sys.exit(main(sys.argv[1:]))"
    command = [sys.executable, "-c", code, "serve", "--host", "127.0.0.1", "--port", str(port)]
    log = made.root / f"serve-{port}.log"
    with log.open("w") as output:
        server = subprocess.Popen(
            [*command, "--workers", "1"], cwd=made.root, env=env, stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:  # the process answers /health before its model is loaded
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"the app did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.3)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class Served:
    """A trained, registered, exported project, and its model served on 127.0.0.1."""

    made: Made
    url: str
    version: str

    @property
    def schema(self) -> str:
        return str(self.made.root / "schema.yaml")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    made = make_project(tmp_path_factory.mktemp("ci") / "project", level=1)
    run(made.root, *STAGES, "export-model --output build/model")
    decision = json.loads((made.root / "reports" / "registration.json").read_text())
    assert decision["promoted"], decision
    with serving(made, made.root / "build" / "model") as url:
        yield Served(made, url, str(decision["version"]))


def ci(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- the smoke test ---------------------------------------------------------------------------


def test_the_smoke_test_passes_against_the_served_champion(served: Served, capsys) -> None:
    code, out, err = ci(
        capsys, "smoke-test", served.url, "--model-version", served.version,
        "--schema", served.schema, "--wait", "60",
    )  # fmt: skip
    assert code == 0, err
    assert out.startswith(f"smoke test passed: {served.url} is ready, and model version ")
    predicted = json.loads(out.split(" predicted ", 1)[1].replace("'", '"'))
    assert len(predicted) == len(smoke.QUANTILES)
    assert set(predicted) <= {0, 1}  # the breast cancer sample's classes


def test_another_version_than_the_one_cd_meant_to_ship_fails(served: Served, capsys) -> None:
    code, out, err = ci(
        capsys, "smoke-test", served.url, "--model-version", "999", "--schema", served.schema
    )
    assert code == 1
    assert out == ""
    assert err == (
        f"smoke test failed: POST /predict was answered by model version {served.version}, "
        "expected 999\n"
    )


def test_no_service_fails_once_the_wait_is_over(capsys) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    started = time.monotonic()
    code, _, err = ci(capsys, "smoke-test", url, "--wait", "1")
    assert code == 1
    assert err.startswith(f"smoke test failed: {url}/ready did not answer 200 within 1 s (")
    assert time.monotonic() - started < 10


def test_an_alive_service_whose_model_does_not_load_is_not_ready(served: Served, capsys) -> None:
    # The real app on a model folder that does not exist: /health answers, /ready says 503.
    with serving(served.made, served.made.root / "build" / "no-such-model") as url:
        code, _, err = ci(capsys, "smoke-test", url, "--wait", "2", "--schema", served.schema)
    assert code == 1
    assert f"{url}/ready did not answer 200 within 2 s (HTTP 503: " in err


def test_an_entity_key_without_a_feature_store_is_one_clear_error(served: Served, capsys) -> None:
    params = served.made.params_file
    code, _, err = ci(
        capsys, "smoke-test", served.url, "--schema", served.schema,
        "--params", str(params), "--entity", "7",
    )  # fmt: skip
    assert code == 1
    assert err == f"error: --entity: {params} has no feature_store section\n"


def test_an_app_without_an_online_store_refuses_entity_keys(served: Served) -> None:
    with pytest.raises(smoke.SmokeTestError, match=r"POST /predict for entity 7 answered HTTP 4"):
        smoke.check_entity(served.url, 7, served.version)


def test_entity_keys_are_read_as_the_store_holds_them() -> None:
    assert smoke.entity_key("17", "int") == 17
    assert smoke.entity_key("17", "str") == "17"
    with pytest.raises(smoke.SmokeTestError, match="'a-7' is not an int"):
        smoke.entity_key("a-7", "int")


def contract_of(tmp_path: Path, name: str) -> Schema:
    """The contract of a real table: a bundled sample's, or one drafted for a user's table."""
    if name in ("classification", "regression"):
        return load_schema(make_project(tmp_path, task=name, level=0).root / "schema.yaml")
    from palmerpenguins import load_penguins

    table = load_penguins()
    if name == "penguins-with-a-flag":  # a boolean input column, as a user's table may have
        table = table.assign(heavy=table["body_mass_g"] > 4000).drop(columns="body_mass_g")
    made = make_project(tmp_path, level=0, table=table, target="species")
    return load_schema(made.root / "schema.yaml")


@pytest.mark.parametrize(
    "name", ["classification", "regression", "penguins", "penguins-with-a-flag"]
)
def test_the_smoke_records_are_inside_the_serving_contract(tmp_path: Path, name: str) -> None:
    # The records the smoke test sends, checked by the app's own request model: a value
    # outside a feature's bounds or allowed values would be refused with 422.
    schema = contract_of(tmp_path, name)
    records = smoke.sample_records(schema)
    request = record_model(schema)
    for record in records:
        request.model_validate(record)
    assert len(records) == len(smoke.QUANTILES)
    kinds = {feature.dtype for feature in schema.features.values()}
    if name == "penguins":
        assert "category" in kinds
    if name == "penguins-with-a-flag":
        assert {record["heavy"] for record in records} <= {False, True}


# --- step outputs from the project's reports --------------------------------------------------


def test_model_version_is_the_exported_models_through_the_entry_point(served: Served) -> None:
    # `python -m mlops_ladder.ci`, as the workflows call it: a step output line.
    done = subprocess.run(
        [sys.executable, "-m", "mlops_ladder.ci", "model-version", "build/model"],
        cwd=served.made.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"version={served.version}\n"


def test_the_gate_decision_is_read_from_the_registration_report(served: Served, capsys) -> None:
    report = served.made.root / "reports" / "registration.json"
    code, out, _ = ci(capsys, "gate-decision", str(report))
    assert code == 0
    assert out == f"promoted=true\nversion={served.version}\n"


def test_a_gate_that_refused_the_model_says_promoted_false(tmp_path: Path, capsys) -> None:
    report = tmp_path / "registration.json"
    report.write_text(json.dumps({"promoted": False, "version": "4", "reasons": ["worse"]}))
    assert ci(capsys, "gate-decision", str(report)) == (0, "promoted=false\nversion=4\n", "")


def test_a_missing_report_is_one_clear_error(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "registration.json"
    assert ci(capsys, "gate-decision", str(missing)) == (1, "", f"error: {missing} not found\n")
    code, _, err = ci(capsys, "model-version", str(tmp_path))
    assert (code, err) == (1, f"error: {tmp_path / 'registered_model.json'} not found\n")


DRIFTED = {
    "retrain_needed": True,
    "reasons": ["6 of 30 features drifted"],
    "model": {"name": "tabular-model"},
    "generated_at": "2026-01-01T05:23:00+00:00",
    "reference": {"rows": 455},
    "current": {"rows": 300},
    "features": {"mean_radius": {"drift": True}, "mean_area": {"drift": False}},
}


def test_the_monitoring_summary_names_the_reasons_and_the_drifted_features() -> None:
    summary = monitoring_summary(DRIFTED, "https://github.com/o/r/actions/runs/1")
    assert summary.startswith("## Monitoring: retraining needed\n")
    assert "- reference rows: 455\n- current rows: 300" in summary
    assert "6 of 30 features drifted" in summary
    assert "### Drifted features (1 of 2)\n\n- `mean_radius`" in summary
    assert "mean_area" not in summary
    assert "[this run](https://github.com/o/r/actions/runs/1)" in summary


def test_a_quiet_report_says_no_action_is_needed(tmp_path: Path, capsys) -> None:
    report = tmp_path / "report.json"
    report.write_text(json.dumps({"retrain_needed": False, "features": {"a": {"drift": False}}}))
    code, out, _ = ci(capsys, "monitoring-summary", str(report))
    assert code == 0
    assert out.startswith("## Monitoring: no action needed\n")
    assert "Drifted" not in out
    assert "### Why" not in out


# --- GitHub's REST API (tests/fake_github.py) -------------------------------------------------


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeGitHub]]:
    with serve_fake_github() as (api, state):
        monkeypatch.setenv("GITHUB_API_URL", api)
        monkeypatch.setenv("GITHUB_REPOSITORY", REPOSITORY)
        monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
        monkeypatch.delenv("ACT", raising=False)
        yield state


def test_monitoring_opens_one_issue_then_updates_it(github, tmp_path: Path, capsys) -> None:
    # Given the summary of a report that asks for retraining
    body = tmp_path / "issue.md"
    body.write_text(monitoring_summary(DRIFTED))
    title = "Model monitoring: retraining needed"
    issue = ["issue", "--label", "model-monitoring", "--title", title, "--body-file", str(body)]

    # When it reports twice
    first = ci(capsys, *issue)
    second = ci(capsys, *issue)

    # Then one issue was opened, and updated (with a comment) the second time
    assert first == (0, "opened issue #1\n", "")
    assert second == (0, "updated issue #1\n", "")
    assert len(github.issues) == 1
    assert github.issues[0]["labels"] == ["model-monitoring"]
    assert "6 of 30 features drifted" in github.issues[0]["body"]
    methods = [(method, path.split("?")[0]) for method, path, _ in github.calls]
    assert ("PATCH", f"/repos/{REPOSITORY}/issues/1") in methods
    assert ("POST", f"/repos/{REPOSITORY}/issues/1/comments") in methods


def test_an_issue_someone_else_opened_under_the_label_is_left_alone(github, tmp_path, capsys):
    github.issues.append({"number": 1, "title": "mine", "body": "a person's", "labels": ["x"]})
    (tmp_path / "issue.md").write_text("report")
    args = ["issue", "--label", "x", "--title", "t", "--body-file", str(tmp_path / "issue.md")]
    assert ci(capsys, *args) == (0, "opened issue #2\n", "")
    assert github.issues[0]["body"] == "a person's"


def test_monitoring_starts_continuous_training(github, capsys) -> None:
    code, out, err = ci(
        capsys, "dispatch", "ct.yml", "--ref", "refs/heads/main", "--input", "reason=drift"
    )
    assert code == 0, err
    assert out.startswith("started ct.yml on refs/heads/main")
    assert github.calls == [
        (
            "POST",
            f"/repos/{REPOSITORY}/actions/workflows/ct.yml/dispatches",
            {"ref": "refs/heads/main", "inputs": {"reason": "drift"}},
        )
    ]


def test_a_refused_token_is_one_clear_error(github, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "wrong")
    code, out, err = ci(capsys, "dispatch", "ct.yml", "--ref", "main")
    assert (code, out) == (1, "")
    assert err.startswith("error: POST ")
    assert "HTTP 401" in err
    assert err.count("\n") == 1


def test_an_unreachable_api_is_one_clear_error(github, monkeypatch, capsys) -> None:
    monkeypatch.setenv("GITHUB_API_URL", f"http://127.0.0.1:{free_port()}")
    code, _, err = ci(capsys, "dispatch", "ct.yml", "--ref", "main")
    assert code == 1
    assert err.startswith("error: POST http://127.0.0.1:")
    assert "refused" in err


def test_a_malformed_input_is_refused_before_any_call(github, capsys) -> None:
    code, _, err = ci(capsys, "dispatch", "ct.yml", "--ref", "main", "--input", "reason")
    assert (code, err) == (1, "error: --input 'reason': expected NAME=VALUE\n")
    assert github.calls == []


def test_a_local_run_without_a_token_prints_what_it_would_send(github, monkeypatch, capsys):
    # Under act (ACT=true) with no token: the requests are shown, nothing is sent
    monkeypatch.delenv("GITHUB_TOKEN")
    monkeypatch.setenv("ACT", "true")
    code, out, _ = ci(capsys, "dispatch", "ct.yml", "--ref", "main", "--input", "reason=drift")
    assert code == 0
    assert "[dry run: no GITHUB_TOKEN] POST" in out
    assert github.calls == []
    # On GitHub (no ACT), a missing token is an error, never a silent dry run
    monkeypatch.delenv("ACT")
    assert ci(capsys, "dispatch", "ct.yml", "--ref", "main") == (
        1,
        "",
        "error: GITHUB_TOKEN is not set\n",
    )


def test_every_command_is_documented_in_the_package() -> None:
    # The package's docstring is the commands' reference (docs/workflows.md points at it).
    import mlops_ladder.ci as package
    from mlops_ladder.ci.cli import build_parser

    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name in subcommands:
        assert f"    {name} " in package.__doc__, name


# --- the data's upstream sources (update-imports) ---------------------------------------------


@pytest.fixture
def imported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git and DVC repository whose data/table.csv was imported with real `dvc import-url`
    from a file outside it (a bucket's stand-in: DVC reads both the same way), beside a file
    kept in git and one `dvc add`ed. Returns the upstream file."""
    upstream = tmp_path / "upstream" / "table.csv"
    upstream.parent.mkdir()
    upstream.write_text("x,y\n1,0\n2,1\n")
    repo = tmp_path / "repo"
    (repo / "data" / "sample").mkdir(parents=True)
    (repo / "data" / "sample" / "kept.csv").write_text("x,y\n3,1\n")
    (repo / "data" / "added.csv").write_text("x,y\n4,0\n")
    monkeypatch.chdir(repo)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    dvc = [sys.executable, "-m", "dvc"]
    for command in (
        ["git", "init", "--quiet"],
        [*dvc, "init", "--quiet"],
        [*dvc, "add", "--quiet", "data/added.csv"],
        [*dvc, "import-url", "--quiet", str(upstream), "data/table.csv"],
    ):
        subprocess.run(command, check=True, capture_output=True)
    return upstream


def outputs(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines())


def test_an_import_whose_source_changed_is_fetched_and_named(imported: Path, capsys) -> None:
    record = Path("data/table.csv.dvc")
    committed = record.read_text()
    assert main(["update-imports"]) == 0
    assert outputs(capsys.readouterr().out) == {"changed": "[]", "new_data": "false"}
    assert record.read_text() == committed  # nothing new upstream
    # When the source gains a row
    imported.write_text(imported.read_text() + "3,0\n")
    assert main(["update-imports"]) == 0
    # Then the import names it, and the data and its .dvc file are the new version
    said = outputs(capsys.readouterr().out)
    assert said == {"changed": '["data/table.csv.dvc"]', "new_data": "true"}
    assert Path("data/table.csv").read_text().endswith("3,0\n")
    assert record.read_text() != committed
    # And the files kept in git or added to DVC were left alone
    assert Path("data/sample/kept.csv").read_text() == "x,y\n3,1\n"
    assert Path("data/added.csv").read_text() == "x,y\n4,0\n"


def test_a_data_folder_without_imports_has_no_news(tmp_path: Path, monkeypatch, capsys) -> None:
    # The generated project as it comes: the sample in git, nothing imported
    (tmp_path / "data" / "sample").mkdir(parents=True)
    (tmp_path / "data" / "sample" / "sample.csv").write_text("x,y\n1,0\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DVC_NO_ANALYTICS", "1")
    subprocess.run(["git", "init", "--quiet"], check=True)
    subprocess.run([sys.executable, "-m", "dvc", "init", "--quiet"], check=True)
    assert main(["update-imports"]) == 0
    assert outputs(capsys.readouterr().out) == {"changed": "[]", "new_data": "false"}


def test_a_source_gone_is_one_line_and_loses_nothing(imported: Path, capsys) -> None:
    before = Path("data/table.csv").read_text(), Path("data/table.csv.dvc").read_text()
    imported.unlink()
    assert main(["update-imports"]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1
    assert error.startswith("error: dvc update of the imported data")
    assert str(imported) in error
    assert (Path("data/table.csv").read_text(), Path("data/table.csv.dvc").read_text()) == before


def test_a_missing_data_folder_is_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["update-imports", "data"]) == 1
    assert capsys.readouterr().err == "error: no folder data here (run from the project's root)\n"
