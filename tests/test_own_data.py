"""A user's own table, end to end, on rendered projects: what only a render shows. The matrix of
real tables (twelve, every kind of column and size, in process) is tests/runtime/test_tables.py;
here, two tables go the documented way through `make` on projects of both engines:

- the generated README's own-data commands, run verbatim (copier, level 1): `cp` the file in,
  `make schema FILE=... TARGET=...` over the fresh project's sample contract (no FORCE), the one
  line of params.yaml, `make all`, `make test`; then `make serve` answers records read from the
  file as they are, and `make monitor` reads what it served;
- vega's cars (cookiecutter, level 2, regression): an integer column with gaps (read as
  130.0), a name and a date the contract ignores, rows without a target; the served model
  answers those rows as the file holds them, and refuses 130.5 by name.

The tables ship inside packages of the template's environment (no network): palmerpenguins'
penguins.csv, vega_datasets' cars.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from rendering import Renderer, run
from test_serving import Server, post_json

pytestmark = pytest.mark.slow

PENGUINS = files("palmerpenguins") / "data" / "penguins.csv"


def readme_commands(project: Path) -> list[str]:
    """The commands of the generated README's "Bring your own data" block, as written."""
    readme = (project / "README.md").read_text()
    section = readme.split("## Bring your own data", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, re.DOTALL)
    assert block, "the own-data section has no bash block"
    return [line for line in block[1].splitlines() if line.strip()]


def set_source(project: Path, source: str) -> None:
    """The one line a user edits: params.yaml ingest.source."""
    params = project / "params.yaml"
    lines = params.read_text().splitlines(keepends=True)
    edited = [f"  source: {source}\n" if line.startswith("  source: ") else line for line in lines]
    assert edited != lines
    params.write_text("".join(edited))


def file_records(path: Path, rows: int = 60) -> list[dict]:
    """Rows of the file as a client reads and sends them: every column, as JSON. A sample of
    the rows (the first ones of a file in some order are not like the rest: penguins.csv's are
    all one species, which monitoring rightly calls drift), and the rows with gaps."""
    frame = pd.read_csv(path)
    chosen = frame.sample(rows, random_state=0)
    chosen = pd.concat([chosen, frame[frame.isna().any(axis=1)].head(10)]).drop_duplicates()
    return json.loads(chosen.to_json(orient="records", date_format="iso"))


def serve_and_monitor(
    project: Path, env: dict[str, str], log: Path, records: list[dict], name: str
) -> tuple[int, Any]:
    """`make serve`'s command on a free port, the records posted, then `make monitor` on what
    it logged: the status and body of the answer."""
    server = Server(project, env, log)
    try:
        server.wait_until_ready()
        status, body = post_json(server.url("/predict"), {"records": records})
    finally:
        server.stop()
    run(["make", "monitor"], project, env, label=f"{name}: make monitor")
    return status, body


class TestTheReadmesOwnDataCommandsVerbatim:
    """copier, level 1, classification: penguins.csv, predicting `species`."""

    TARGET = "species"

    @pytest.fixture(scope="class")
    def project(self, renderer: Renderer, env: dict[str, str]) -> Path:
        path = renderer.fresh("copier", maturity_level="1", task="classification")
        run(["make", "setup"], path, env, label="README own data: make setup")
        (Path(env["HOME"]) / "my-data.csv").write_bytes(PENGUINS.read_bytes())
        for line in readme_commands(path):
            command = line.split("#", 1)[0].strip()
            if not command:  # "# 3. in params.yaml, set ingest.source: data/my-data.csv"
                assert "ingest.source" in line, line
                assert "data/my-data.csv" in line, line
                set_source(path, "data/my-data.csv")
                continue
            command = command.replace("<column>", self.TARGET)
            run(["bash", "-c", command], path, env, label=f"README own data: {command}")
        return path

    def test_the_draft_replaced_the_sample_contract(self, project: Path) -> None:
        schema = yaml.safe_load((project / "schema.yaml").read_text())
        assert schema["target"]["name"] == self.TARGET
        assert (project / "reports" / "junit.xml").is_file()  # `make test` ran, and passed
        registration = json.loads((project / "reports" / "registration.json").read_text())
        assert registration["promoted"], registration

    def test_the_served_champion_answers_the_files_rows_and_monitoring_reads_them(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        records = file_records(project / "data" / "my-data.csv")
        assert any(isinstance(r["body_mass_g"], float) for r in records)  # 3750.0: gaps
        status, body = serve_and_monitor(project, env, tmp_path / "server.log", records, "README")
        assert status == 200, body
        assert len(body["predictions"]) == len(records)
        report = json.loads((project / "reports" / "monitoring" / "report.json").read_text())
        assert report["current"]["rows"] >= len(records)
        assert not report["retrain_needed"], report["reasons"]


class TestIntegersWithGapsAndIgnoredColumnsLevel2Cookiecutter:
    """cookiecutter, level 2, regression: vega's cars, predicting Miles_per_Gallon."""

    FILE, TARGET = "cars.csv", "Miles_per_Gallon"

    @pytest.fixture(scope="class")
    def project(self, renderer: Renderer, env: dict[str, str]) -> Path:
        from vega_datasets import local_data

        path = renderer.fresh("cookiecutter", maturity_level="2", task="regression")
        run(["make", "setup"], path, env, label="cars L2: make setup")
        local_data.cars().to_csv(path / "data" / self.FILE, index=False)
        make_schema = ["make", "schema", f"FILE=data/{self.FILE}", f"TARGET={self.TARGET}"]
        run(make_schema, path, env, label="cars L2: make schema")
        set_source(path, f"data/{self.FILE}")
        run(["make", "all"], path, env, label="cars L2: make all")
        run(["make", "test"], path, env, label="cars L2: make test")
        return path

    @pytest.fixture(scope="class")
    def answers(
        self, project: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
    ) -> tuple[list[dict], int, Any, dict]:
        records = file_records(project / "data" / self.FILE)
        bad = {**records[0], "Horsepower": 130.5}
        server = Server(project, env, tmp_path_factory.mktemp("cars") / "server.log")
        try:
            server.wait_until_ready()
            status, body = post_json(server.url("/predict"), {"records": records})
            refused = post_json(server.url("/predict"), {"records": [bad]})
        finally:
            server.stop()
        run(["make", "monitor"], project, env, label="cars L2: make monitor")
        return records, status, body, {"status": refused[0], "body": refused[1]}

    def test_the_contract_ignores_the_name_and_the_date(self, project: Path) -> None:
        schema = yaml.safe_load((project / "schema.yaml").read_text())
        assert {"Name", "Year"} <= set(schema["ignored"])
        assert schema["features"]["Horsepower"]["dtype"] == "int"
        assert schema["features"]["Horsepower"]["nullable"] is True

    def test_the_files_rows_are_served_as_they_are(self, answers) -> None:
        records, status, body, _ = answers
        # 130.0 and null for Horsepower, rows without a target, the name and the date as text
        assert all(isinstance(r["Horsepower"], float | None) for r in records)
        assert any(r["Horsepower"] is None for r in records)
        assert any(r["Miles_per_Gallon"] is None for r in records)
        assert {"Name", "Year"} <= set(records[0])
        assert status == 200, body
        assert len(body["predictions"]) == len(records)

    def test_a_fraction_for_an_integer_is_refused_by_name(self, answers) -> None:
        refused = answers[3]
        assert refused["status"] == 422
        assert "Horsepower" in json.dumps(refused["body"])
        assert "whole number" in json.dumps(refused["body"])

    def test_make_monitor_reads_what_was_served_without_a_false_alarm(
        self, project: Path, answers
    ) -> None:
        report = json.loads((project / "reports" / "monitoring" / "report.json").read_text())
        assert report["current"]["rows"] >= len(answers[0])
        assert not report["retrain_needed"], report["reasons"]


def test_the_readme_drafts_over_the_sample_contract_with_no_force(renderer: Renderer) -> None:
    """Every level's README gives the same own-data commands: no FORCE on a fresh project."""
    path = renderer.fresh("copier", maturity_level="0", task="regression")
    commands = [shlex.split(line.split("#", 1)[0]) for line in readme_commands(path)]
    assert ["make", "schema", "FILE=data/my-data.csv", "TARGET=<column>"] in commands
    assert not any("FORCE=1" in part for command in commands for part in command)
