"""Model tests: the quality bar of params.yaml, the baselines, reproducibility, saving."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import write_table
from {{ cookiecutter.package_name }}.evaluate import evaluate, meets
from {{ cookiecutter.package_name }}.model import predict
from {{ cookiecutter.package_name }}.schema import Schema
from {{ cookiecutter.package_name }}.train import describe, load, save, train


def test_model_meets_every_threshold(report: dict[str, Any], params: Params) -> None:
    # Given the model trained from params.yaml, evaluated on the test split
    for metric, bar in params.quality.thresholds.items():
        # Then each metric clears its bar
        assert meets(metric, report["test"][metric], bar), (metric, report["test"][metric], bar)


def test_model_beats_each_baseline_by_its_margin(report: dict[str, Any], params: Params) -> None:
    primary = params.quality.primary_metric
    ours = report["test"][primary]
    for baseline, margin in params.quality.beat_baselines.items():
        theirs = report["baselines"][baseline][primary]
        gain = ours - theirs if meets(primary, 1.0, 0.0) else theirs - ours
        assert gain >= margin, f"{primary}: {ours} vs {baseline} {theirs}, margin {margin}"


def test_same_data_params_and_seed_give_identical_metrics(
    train_features: pd.DataFrame,
    splits: tuple[pd.DataFrame, ...],
    schema: Schema,
    params: Params,
    report: dict[str, Any],
) -> None:
    # Given a second model trained on the same data with the same params and seed
    again = train(train_features, schema, params)
    # When it is evaluated the same way
    second = evaluate(again, splits[1], train_features, schema, params)
    # Then every metric is identical, not merely close
    assert second["test"] == report["test"]


def test_saved_model_predicts_exactly_as_trained(
    tmp_path: Path,
    model: Any,
    train_features: pd.DataFrame,
    splits: tuple[pd.DataFrame, ...],
    schema: Schema,
    params: Params,
) -> None:
    # Given the model saved with its metadata
    raw_file, train_file = tmp_path / "raw.parquet", tmp_path / "train.parquet"
    write_table(pd.concat(splits), raw_file)
    write_table(train_features, train_file)
    metadata = describe(model, raw_file, train_file, schema, params)
    save(model, metadata, tmp_path / "model.joblib", tmp_path / "metadata.json")
    # When it is loaded back
    loaded = load(tmp_path / "model.joblib")
    inputs = splits[1].drop(columns=[schema.target.name])
    # Then it predicts exactly as before, and the metadata explains where it came from
    np.testing.assert_array_equal(predict(loaded, inputs)[0], predict(model, inputs)[0])
    saved = json.loads((tmp_path / "metadata.json").read_text())
    assert saved["data"]["raw"]["md5"]
    assert saved["data"]["train"]["rows"] == len(train_features)
    assert saved["params"]["seed"] == params.seed
    assert set(saved["versions"]) >= {"python", "scikit-learn", "pandas", "numpy"}
    assert "git" in saved
    assert "train" in saved["metrics"]
