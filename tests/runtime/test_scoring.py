"""Batch scoring (`score`): the contract first, then the model's predictions, chunk by chunk.

The pandas engine on the projects whose stages ran once (trained.py): both samples and the
penguins as a user's own table (text classes, a nullable integer column, odd names). The Spark
engine needs PySpark, which the development environment does not install: the template's
tests/test_team.py scores with both engines in a rendered project that has it; here only its
missing-PySpark error is checked.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator
from pathlib import Path

import mlflow.sklearn
import pandas as pd
import pytest
from trained import MODEL_NAME, Trained, own_tracking_uri, shared

from mlops_ladder import tracking
from mlops_ladder.commands import main
from mlops_ladder.errors import ConfigError, DataError
from mlops_ladder.scoring import score
from mlops_ladder.serving.loading import ModelSourceError


@pytest.fixture(autouse=True)
def _tracking_uri(monkeypatch: pytest.MonkeyPatch) -> None:
    own_tracking_uri(monkeypatch)


@pytest.fixture(scope="module", params=["classification", "regression", "penguins"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return shared(request.param, tmp_path_factory)


@pytest.fixture
def job(built: Trained) -> Iterator[Trained]:
    with built.inside():
        yield built


@pytest.fixture
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    found = shared("classification", tmp_path_factory)
    with found.inside():
        yield found


def records_of(job: Trained) -> pd.DataFrame:
    """The test split as records to score: every column but the target."""
    return job.test_split.drop(columns=[job.schema.target.name]).reset_index(drop=True)


def write(frame: pd.DataFrame, path: Path) -> Path:
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def read(path: Path) -> pd.DataFrame:
    """The scored file; floats read back to the last bit (pandas' default parser may not)."""
    if path.suffix == ".csv":
        return pd.read_csv(path, float_precision="round_trip")
    return pd.read_parquet(path)


@pytest.mark.parametrize(("given", "written"), [(".parquet", ".csv"), (".csv", ".parquet")])
def test_the_pandas_engine_scores_in_chunks_what_the_champion_predicts(
    job: Trained, tmp_path: Path, given: str, written: str
) -> None:
    # Given the test split's records in a file
    records = records_of(job)
    source = write(records, tmp_path / f"records{given}")
    output = tmp_path / f"scored{written}"
    # When they are scored with the registry's champion, 25 rows at a time
    done = score(job.settings, job.schema, str(source), str(output), chunk_rows=25)
    # Then every record has the champion's prediction, in order, the alias pinned to a version
    assert done.model == f"models:/{MODEL_NAME}/1"
    assert done.rows == len(records)
    assert done.chunks == -(-len(records) // 25)
    scored = read(output)
    assert list(scored.columns) == [*records.columns, "prediction"]
    assert scored["prediction"].tolist() == job.model.predict(job.test_records).tolist()
    assert not list(tmp_path.glob(".*.partial"))  # written under a temporary name, then moved


def test_the_score_command_scores_a_folder_with_a_model_folder(
    sample: Trained, tmp_path: Path
) -> None:
    # Given the model saved as an MLflow model folder, and the records split into two files
    folder = tmp_path / "model"
    mlflow.sklearn.save_model(
        sample.model,
        folder,
        serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_CLOUDPICKLE,
        # as the train stage logs it: inferring the requirements would take MLflow seconds
        pip_requirements=tracking.pinned_requirements(sample.metadata["versions"]),
    )
    records = records_of(sample)
    (tmp_path / "in").mkdir()
    half = len(records) // 2
    write(records.iloc[:half], tmp_path / "in" / "part-0.parquet")
    write(records.iloc[half:], tmp_path / "in" / "part-1.parquet")
    output = tmp_path / "out" / "scored.csv"
    # When the command scores the folder with it
    command = f"score --input {tmp_path / 'in'} --output {output} --model {folder}"
    assert main([*command.split(), "--chunk-rows", "40"]) == 0
    # Then both files are scored, in order, by that model
    scored = read(output)
    assert len(scored) == len(records)
    assert scored["prediction"].tolist() == sample.model.predict(sample.test_records).tolist()


def test_records_that_break_the_contract_are_refused_before_scoring(
    job: Trained, tmp_path: Path
) -> None:
    # Given records with a missing value where the contract allows none, in the last chunk
    broken = records_of(job)
    name = next(name for name, spec in job.schema.features.items() if not spec.nullable)
    broken.loc[broken.index[-1], name] = None
    source = write(broken, tmp_path / "records.parquet")
    output = tmp_path / "scored.csv"
    # Then scoring stops before a row is scored, naming the rule, and writes nothing
    with pytest.raises(DataError, match=f"{name}.nulls"):
        score(job.settings, job.schema, str(source), str(output), chunk_rows=25)
    assert not output.exists()
    assert not list(tmp_path.glob(".*.partial"))


def test_bad_arguments_are_one_clear_error(sample: Trained, tmp_path: Path) -> None:
    settings, schema = sample.settings, sample.schema
    with pytest.raises(ConfigError, match=r"csv or \.parquet output"):
        score(settings, schema, "x.csv", str(tmp_path / "out.txt"))
    with pytest.raises(ConfigError, match="use --engine spark"):
        score(settings, schema, "s3a://bucket/x.parquet", str(tmp_path / "out.csv"))
    with pytest.raises(DataError, match="not found"):
        score(settings, schema, str(tmp_path / "none.csv"), str(tmp_path / "out.csv"))
    with pytest.raises(ConfigError, match="--chunk-rows must be at least 1"):
        score(settings, schema, "x.csv", str(tmp_path / "out.csv"), chunk_rows=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"no \.csv or \.parquet files"):
        score(settings, schema, str(tmp_path / "empty"), str(tmp_path / "out.csv"))
    first = schema.feature_names[0]
    lacking = write(records_of(sample).drop(columns=[first]), tmp_path / "lacking.csv")
    with pytest.raises(DataError, match=f"lacks columns the model needs: {first}"):
        score(settings, schema, str(lacking), str(tmp_path / "out.csv"))
    with pytest.raises(ModelSourceError, match="models:/no@x not found in"):
        score(settings, schema, str(lacking), str(tmp_path / "out.csv"), model_uri="models:/no@x")
    # an alias left out after the @ (a variable's value cut short) names the URI
    with pytest.raises(ModelSourceError, match="models:/no@: the alias after @ is empty"):
        score(settings, schema, str(lacking), str(tmp_path / "out.csv"), model_uri="models:/no@")


@pytest.mark.skipif(
    importlib.util.find_spec("pyspark") is not None,
    reason="PySpark is installed: the Spark engine itself is tested by tests/test_team.py",
)
def test_the_spark_engine_without_pyspark_says_how_to_get_it(
    sample: Trained, tmp_path: Path
) -> None:
    source = write(records_of(sample), tmp_path / "records.parquet")
    with pytest.raises(ConfigError, match="--engine spark needs PySpark"):
        score(sample.settings, sample.schema, str(source), str(tmp_path / "out.parquet"), "spark")
