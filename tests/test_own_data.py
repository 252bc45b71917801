"""A user's own table, end to end, on real public datasets nobody here wrote: copy the file in,
`schema draft`, set params.yaml `ingest.source` (the only edit), `make all`, `make test`, batch
predictions, and from level 1 the served model over real HTTP and `make monitor`.

The datasets ship inside PyPI packages installed in the template's environment (no network):
- palmerpenguins' penguins.csv: 344 penguins, text labels, categorical features, missing
  values (also in `sex`, the binary target);
- palmerpenguins' penguins-raw.csv: the same birds as recorded, with column names holding
  spaces, parentheses and slashes, identifiers, dates, constants and free text; `Body Mass (g)`
  (missing twice) as a regression target;
- scikit-learn's iris, written by the project's own scikit-learn: integer labels and names
  like `sepal length (cm)`.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path

import pandas as pd
import pytest
import yaml
from rendering import DEFAULT_PACKAGE, Renderer, run
from test_serving import Server, post_json

pytestmark = pytest.mark.slow

PENGUINS = files("palmerpenguins") / "data"


def cli(project: Path, env: dict[str, str], *args: str, label: str | None = None, check=True):
    return run(
        ["uv", "run", "--frozen", "python", "-m", DEFAULT_PACKAGE, *args],
        project,
        env,
        label=label,
        check=check,
    )


def set_source(project: Path, source: str) -> None:
    """The one line a user edits: params.yaml ingest.source."""
    params = project / "params.yaml"
    lines = params.read_text().splitlines(keepends=True)
    edited = [f"  source: {source}\n" if line.startswith("  source: ") else line for line in lines]
    assert edited != lines
    params.write_text("".join(edited))


class OwnData:
    """One (engine, level, task, dataset): the whole own-data path in one rendered project."""

    ENGINE = "copier"
    LEVEL = 0
    TASK = "classification"
    FILE = "penguins.csv"
    TARGET = "species"
    SAMPLE_FIRST = False  # run the bundled sample first, then switch (a project with a champion)

    @classmethod
    def bring_data(cls, project: Path, env: dict[str, str]) -> None:
        shutil.copy(PENGUINS / cls.FILE, project / "data" / cls.FILE)

    @pytest.fixture(scope="class")
    @classmethod
    def project(cls, renderer: Renderer, env: dict[str, str]) -> Path:
        path = renderer.fresh(cls.ENGINE, maturity_level=str(cls.LEVEL), task=cls.TASK)
        name = f"own data L{cls.LEVEL} {cls.TASK} {cls.FILE}"
        run(["make", "setup"], path, env, label=f"{name}: make setup")
        if cls.SAMPLE_FIRST:
            run(["make", "all"], path, env, label=f"{name}: make all on the sample first")
        cls.bring_data(path, env)
        draft = cli(
            path, env, "schema", "draft", f"data/{cls.FILE}", "--target", cls.TARGET, "--force",
            label=f"{name}: schema draft",
        )  # fmt: skip
        assert "drafted schema.yaml" in draft.stdout
        set_source(path, f"data/{cls.FILE}")
        run(["make", "all"], path, env, label=f"{name}: make all")
        return path

    def test_the_draft_is_a_valid_contract_of_the_data(self, project: Path) -> None:
        schema = yaml.safe_load((project / "schema.yaml").read_text())
        frame = pd.read_csv(project / "data" / self.FILE)
        assert schema["target"]["name"] == self.TARGET
        listed = {*schema["features"], *schema.get("ignored", {}), self.TARGET}
        assert listed == set(frame.columns)
        for name, spec in schema["features"].items():
            assert spec.get("nullable", False) == bool(frame[name].isna().any()), name
        validation = json.loads((project / "reports" / "validation.json").read_text())
        assert validation["passed"], validation["failed"]

    def test_make_all_evaluates_a_model_that_clears_the_bar(self, project: Path) -> None:
        report = json.loads((project / "reports" / "metrics.json").read_text())
        assert report["quality"] == {"passed": True, "failures": []}
        primary = report["primary_metric"]
        assert primary in report["test"]
        schema = yaml.safe_load((project / "schema.yaml").read_text())
        if self.TASK == "classification":
            assert report["classes"] == [str(label) for label in schema["target"]["allowed"]]
            assert set(report["per_class"]) == set(report["classes"])
        assert set(report["slices"]) == {piece["name"] for piece in schema["slices"]}
        assert list((project / "reports" / "figures").glob("*.png"))

    def test_make_test_passes(self, project: Path, env: dict[str, str]) -> None:
        outcome = run(["make", "test"], project, env, label=f"own data L{self.LEVEL}: make test")
        assert " passed" in outcome.stdout
        assert " failed" not in outcome.stdout

    def test_batch_predictions(self, project: Path, env: dict[str, str]) -> None:
        records = pd.read_csv(project / "data" / self.FILE).dropna(subset=[self.TARGET]).head(20)
        records.drop(columns=[self.TARGET]).to_csv(project / "records.csv", index=False)
        cli(project, env, "predict", "records.csv", "--output", "predicted.csv")
        predicted = pd.read_csv(project / "predicted.csv")
        assert len(predicted) == 20
        if self.TASK == "classification":
            # The predicted class's probability, not class index 1's
            shares = predicted.filter(like="probability_")
            assert (predicted["probability"] == shares.max(axis=1)).all()
            actual = records[self.TARGET].astype(str).to_numpy()
            hits = (predicted["prediction"].astype(str).to_numpy() == actual).mean()
            assert hits > 0.5


class Served(OwnData):
    """From level 1: the champion served over HTTP, and the monitoring job on what it saw."""

    @pytest.fixture(scope="class")
    @classmethod
    def server(
        cls, project: Path, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Server]:
        folder = tmp_path_factory.mktemp("own-data-server")
        running = Server(project, env, folder / "server.log")
        running.wait_until_ready()
        yield running
        running.stop()

    def test_the_server_answers_with_the_contracts_names(
        self, project: Path, server: Server
    ) -> None:
        schema = yaml.safe_load((project / "schema.yaml").read_text())
        frame = pd.read_csv(project / "data" / self.FILE).dropna(subset=[self.TARGET]).head(40)
        records = [
            {name: (None if pd.isna(row[name]) else row[name]) for name in schema["features"]}
            for row in frame.to_dict(orient="records")
        ]
        # numpy scalars as JSON: whole numbers stay integers where the contract says int
        records = json.loads(pd.DataFrame(records).to_json(orient="records"))
        for record in records:
            for name, spec in schema["features"].items():
                if spec["dtype"] == "int" and record[name] is not None:
                    record[name] = int(record[name])
        status, body = post_json(server.url("/predict"), {"records": records})
        assert status == 200, body
        assert len(body["predictions"]) == len(records)
        if self.TASK == "classification":
            assert body["classes"] == schema["target"]["allowed"]
            assert all(abs(sum(row) - 1) < 1e-9 for row in body["probabilities"])
        # A bad request names the field by its real name, and the server stays up
        bad = dict(records[0])
        bad.pop(next(iter(schema["features"])))
        status, body = post_json(server.url("/predict"), {"records": [bad]})
        assert status == 422
        assert next(iter(schema["features"])) in json.dumps(body)
        assert post_json(server.url("/predict"), {"records": records[:1]})[0] == 200

    def test_make_monitor_reads_what_was_served(
        self, project: Path, env: dict[str, str], server: Server
    ) -> None:
        run(["make", "monitor"], project, env, label=f"own data L{self.LEVEL}: make monitor")
        report = json.loads((project / "reports" / "monitoring" / "report.json").read_text())
        schema = yaml.safe_load((project / "schema.yaml").read_text())
        assert set(schema["features"]) <= set(report["features"])


class TestBinaryTextLabelsLevel0Copier(OwnData):
    """penguins.csv, predicting `sex` (female/male, missing for 11 birds): binary, text labels."""

    ENGINE, LEVEL, TASK, TARGET = "copier", 0, "classification", "sex"


class TestMulticlassIntegerLabelsLevel0Cookiecutter(OwnData):
    """iris: 3 integer classes, column names with spaces and parentheses."""

    ENGINE, LEVEL, TASK, FILE, TARGET = "cookiecutter", 0, "classification", "iris.csv", "target"

    @classmethod
    def bring_data(cls, project: Path, env: dict[str, str]) -> None:
        write = (
            "from sklearn.datasets import load_iris; "
            "load_iris(as_frame=True).frame.to_csv('data/iris.csv', index=False)"
        )
        run(["uv", "run", "--frozen", "python", "-c", write], project, env)


class TestMulticlassTextLabelsLevel1Cookiecutter(Served):
    """penguins.csv, predicting `species` (3 text classes) with categories and missing values."""

    ENGINE, LEVEL, TASK, TARGET = "cookiecutter", 1, "classification", "species"


class TestRegressionAfterTheSampleLevel2Copier(Served):
    """penguins-raw.csv, predicting `Body Mass (g)`, on a project whose champion was trained on
    the sample: the gate treats the new model as the first of its contract."""

    ENGINE, LEVEL, TASK = "copier", 2, "regression"
    FILE, TARGET, SAMPLE_FIRST = "penguins-raw.csv", "Body Mass (g)", True

    def test_the_gate_saw_a_new_contract(self, project: Path) -> None:
        decision = json.loads((project / "reports" / "registration.json").read_text())
        assert decision["promoted"], decision
        assert decision["version"] == "2"
        assert "target progression -> Body Mass (g)" in decision["new_contract"]

    def test_identifiers_dates_and_constants_are_ignored(self, project: Path) -> None:
        ignored = yaml.safe_load((project / "schema.yaml").read_text())["ignored"]
        assert "constant" in ignored["Region"]
        assert "date" in ignored["Date Egg"]
        assert "Culmen Length (mm)" not in ignored
