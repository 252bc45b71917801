"""Model tests: the quality bar of params.yaml, the baselines, reproducibility, saving."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.backtest import retraining_interval, staleness
from {{ cookiecutter.package_name }}.config import Params
from {{ cookiecutter.package_name }}.data import write_table
from {{ cookiecutter.package_name }}.evaluate import (
    evaluate,
    feature_importance,
    gain,
    group_gaps,
    meets,
    numerics,
)
from {{ cookiecutter.package_name }}.metrics import compute_metrics
from {{ cookiecutter.package_name }}.model import predict
from {{ cookiecutter.package_name }}.schema import Feature, Schema
from {{ cookiecutter.package_name }}.train import describe, git_state, load, save, train
from {{ cookiecutter.package_name }}.tuning import cross_validated, tune


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


def test_every_feature_earns_its_place(
    report: dict[str, Any], schema: Schema, params: Params
) -> None:
    # Given the permutation importance of each feature on the test split
    importance = report["feature_importance"]
    # Then every feature of the contract is measured, and none does the model harm
    assert set(importance["features"]) == set(schema.feature_names)
    bound = -params.evaluate.max_harmful_importance
    harmful = {name: value for name, value in importance["features"].items() if value < bound}
    assert not harmful, f"features that hurt the model (importance below {bound}): {harmful}"
    assert importance["passed"]


class Saboteur:
    """The trained model, made worse by a planted column for as long as it is in its original
    order: shuffling that column (permutation importance) improves the score."""

    def __init__(self, model: Any, features: list[str]) -> None:
        self.model, self.features = model, features

    def fit(self, *args: Any) -> Saboteur:
        return self

    def score(self, frame: pd.DataFrame, actual: Any) -> float:
        in_order = (frame["planted"].to_numpy() == np.arange(len(frame))).mean()
        return float(self.model.score(frame[self.features], actual)) - float(in_order)


def test_a_harmful_feature_fails_the_quality_bar(
    model: Any, splits: tuple[pd.DataFrame, ...], schema: Schema, params: Params
) -> None:
    # Given a feature the model does better without
    inputs = splits[1][schema.feature_names].assign(planted=np.arange(len(splits[1])))
    saboteur = Saboteur(model, schema.feature_names)
    # When the permutation importance is measured
    importance = feature_importance(saboteur, inputs, splits[1][schema.target.name], params)
    # Then that feature, and only it, fails, by name
    assert not importance["passed"]
    assert [failure.split(":")[0] for failure in importance["failures"]] == ["feature planted"]


def test_non_finite_or_unnormalised_outputs_fail_the_quality_bar(
    model: Any, report: dict[str, Any], splits: tuple[pd.DataFrame, ...], schema: Schema
) -> None:
    # Given the model's outputs on the test split, which are numerically sound
    assert report["numerics"] == {"passed": True, "failures": []}
    values, scores = predict(model, splits[1][schema.feature_names])
    assert numerics((values, scores))["passed"]
    # When one output is NaN, one infinite (and, with classes, one row's probabilities sum to 2)
{% if cookiecutter.__classification %}
    broken = scores.copy()
    broken.iloc[0, 0], broken.iloc[1, 0] = np.nan, np.inf
    broken.iloc[2] = broken.iloc[2] * 2
    failures = numerics((values, broken))["failures"]
    # Then each is a failure of the quality bar
    assert any("2 rows of class probabilities hold NaN or infinite" in f for f in failures)
    assert any("sum to 1 +/-" in f for f in failures), failures
{% else %}
    broken = np.asarray(values, dtype="float64").copy()
    broken[0], broken[1] = np.nan, np.inf
    failures = numerics((broken, None))["failures"]
    # Then it is a failure of the quality bar
    assert failures == ["2 predictions are NaN or infinite"]
{% endif %}


def test_each_sensitive_feature_is_reported_by_group(
    report: dict[str, Any], schema: Schema
) -> None:
    groups = report["groups"]
    assert set(groups["features"]) == set(schema.tagged("sensitive"))
    assert not groups["failures"], groups["failures"]


def test_a_sensitive_feature_served_unequally_fails_the_quality_bar(
    model: Any, splits: tuple[pd.DataFrame, ...], schema: Schema, params: Params
) -> None:
    # Given a planted sensitive column, whose second group's targets follow another rule than
    # the one the model learned (so the model serves that group worse)
    test_split, target = splits[1], schema.target.name
    hard = np.arange(len(test_split)) % 2 == 1
    planted = test_split.assign(group=np.where(hard, "hard", "easy"))
{% if cookiecutter.__classification %}
    metric = "accuracy"
    classes = list(predict(model, test_split[schema.feature_names])[1].columns)
    rotated = {label: classes[(n + 1) % len(classes)] for n, label in enumerate(classes)}
    planted[target] = planted[target].where(~hard, planted[target].map(rotated))
{% else %}
    metric = "rmse"
    shifted = planted[target] + 3 * planted[target].std()
    planted[target] = planted[target].where(~hard, shifted)
{% endif %}
    spec = Feature(dtype="category", allowed=["easy", "hard"], tags=["sensitive"])
    tagged = schema.model_copy(update={"features": {**schema.features, "group": spec}})
    quality = params.quality.model_copy(update={"primary_metric": metric})
    evaluate_params = params.evaluate.model_copy(update={"min_slice_rows": 1})
    measured = params.model_copy(update={"quality": quality, "evaluate": evaluate_params})
    # When the groups are scored
    found = group_gaps(model, planted, tagged, measured)
    # Then the gap is the difference between the two groups' scores, measured apart
    by_group = {
        name: compute_metrics(rows[target], *predict(model, rows[schema.feature_names]))[metric]
        for name, rows in planted.groupby("group")
    }
    gap = abs(by_group["hard"] - by_group["easy"])
    assert gap > 0
    assert found["features"]["group"]["gap"] == pytest.approx(gap, abs=1e-6)
    # And a bound below it fails the quality bar naming the column, one above it passes
    for bound, fails in ((gap / 2, True), (gap * 2, False)):
        bounded = quality.model_copy(update={"max_group_gap": bound})
        result = group_gaps(
            model, planted, tagged, measured.model_copy(update={"quality": bounded})
        )
        assert bool(result["failures"]) is fails, result["failures"]
        assert all(f.startswith("sensitive feature group:") for f in result["failures"])


def test_a_restricted_column_can_never_be_a_model_input(schema: Schema) -> None:
    # Given the contract with one feature tagged restricted
    name = schema.feature_names[0]
    loaded = schema.model_dump()
    loaded["features"][name]["tags"] = ["restricted"]
    # Then the contract is refused, naming it and where it belongs
    with pytest.raises(ValueError, match=re.escape(f"{name} tagged restricted: never a model")):
        Schema.model_validate(loaded)


def test_the_commit_and_uncommitted_model_spec_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a git repository with params.yaml committed
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True)

    git("init", "--quiet")
    (tmp_path / "params.yaml").write_text("seed: 1\n")
    git("add", "params.yaml")
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "--quiet", "-m", "init")
    monkeypatch.chdir(tmp_path)
    # Then a clean tree is recorded as such; outputs do not count, a changed spec does
    assert git_state()["dirty"] is False
    (tmp_path / "reports.json").write_text("{}")
    assert git_state()["dirty"] is False
    (tmp_path / "params.yaml").write_text("seed: 2\n")
    state = git_state()
    assert state["dirty"] is True
    assert state["changed"] == ["params.yaml"]
    assert len(state["commit"]) == 40
    # And outside a repository the commit is unknown
    monkeypatch.chdir(tmp_path.parent)
    assert git_state()["commit"] is None


def test_the_backtest_scores_the_model_by_age(
    dataset: pd.DataFrame, schema: Schema, params: Params
) -> None:
    # Given the data in its order, cut into windows
    windows = params.evaluate.backtest_windows
    result = staleness(dataset, schema, params)
    # Then a model trained on each window is scored at every later age, and an interval is set
    assert result["metric"] == params.quality.primary_metric
    ages = [int(age) for age in result["score_by_age"]]
    if not ages:  # e.g. data sorted by class: every window holds one class
        pytest.skip("no window could be scored: " + "; ".join(result["skipped"]))
    # Every age is scored, but for the window pairs the backtest skipped (and said why)
    assert ages == sorted(ages)
    assert set(ages) <= set(range(1, windows))
    if not result["skipped"]:
        assert ages == list(range(1, windows))
    interval = result["retrain_every_windows"]
    assert min(ages) <= interval <= max(ages)
    assert result["retrain_every_rows"] == interval * result["rows_per_window"]


def test_a_relation_that_drifts_over_time_shortens_the_retraining_interval(
    dataset: pd.DataFrame, schema: Schema, params: Params
) -> None:
    # Given data whose target follows another rule from the middle of its span on
    target = schema.target.name
    rows = dataset[dataset[target].notna()].sample(frac=1, random_state=params.seed)
    late = np.arange(len(rows)) >= len(rows) // 2
{% if cookiecutter.__classification %}
    classes = sorted(rows[target].unique(), key=str)
    rotated = {label: classes[(n + 1) % len(classes)] for n, label in enumerate(classes)}
    drifted = rows.assign(**{target: rows[target].where(~late, rows[target].map(rotated))})
{% else %}
    shifted = rows[target] + 3 * rows[target].std()
    drifted = rows.assign(**{target: rows[target].where(~late, shifted)})
{% endif %}
    # When the backtest runs on it
    result = staleness(drifted, schema, params)
    # Then the oldest models score clearly worse than fresh ones, and retraining comes sooner
    by_age = result["score_by_age"]
    oldest = str(params.evaluate.backtest_windows - 1)
    assert not meets(result["metric"], by_age[oldest], by_age["1"]), by_age
    assert result["retrain_every_windows"] < params.evaluate.backtest_windows - 1, by_age
    assert retraining_interval({1: 0.9, 2: 0.89, 3: 0.7}, "{{ "roc_auc" if cookiecutter.__classification else "r2" }}", 0.05) == 2


def neighbours(hyperparameters: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each numeric hyperparameter halved and doubled (whole numbers stay whole, at least 1)."""
    for name, value in hyperparameters.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        for factor in (0.5, 2):
            moved = value * factor if isinstance(value, float) else max(1, round(value * factor))
            if moved != value:
                yield name, moved


def test_no_neighbour_of_the_hyperparameters_scores_clearly_better(
    train_features: pd.DataFrame, schema: Schema, params: Params
) -> None:
    # Given the estimator params.yaml configures, scored as the tune stage scores it (the
    # primary metric in cross-validation on the training split, params.yaml tune)
    chosen = params.train.hyperparameters
    ours = cross_validated(train_features, schema, params, chosen)
    metric, tolerance = params.quality.primary_metric, params.tune.tolerance
    # When each hyperparameter is halved and doubled
    for name, value in neighbours(chosen):
        theirs = cross_validated(train_features, schema, params, {**chosen, name: value})
        # Then none of them scores clearly better (beyond tune.tolerance)
        assert gain(metric, theirs, ours) <= tolerance, (
            f"train.{params.train.estimator}.{name}: {value} scores {theirs:.4f} {metric} in "
            f"{params.tune.cv_folds}-fold cross-validation, {ours:.4f} as configured: tune it"
        )


def few_trials(params: Params, **train: Any) -> Params:
    """params.yaml with a short study (and no time limit, whose cut depends on the machine),
    and `train` settings replaced."""
    study = params.tune.model_copy(update={"n_trials": 3, "timeout": None})
    return params.model_copy(update={"tune": study, "train": params.train.model_copy(update=train)})


def test_the_study_is_reproducible_with_its_seed(
    train_features: pd.DataFrame, schema: Schema, params: Params
) -> None:
    # Given a short study of params.yaml's search space
    short = few_trials(params)
    # When it runs twice with the same seed
    first = tune(train_features, schema, short)
    second = tune(train_features, schema, short)
    # Then it tries the same hyperparameters, scores them the same and finds the same best
    assert [trial["params"] for trial in first.trials] == [t["params"] for t in second.trials]
    assert [trial["score"] for trial in first.trials] == [t["score"] for t in second.trials]
    assert (first.best_params, first.best_score) == (second.best_params, second.best_score)
    assert len(first.trials) == short.tune.n_trials
    # and its trials are points of the space
    space = short.tune.space_of(short.train.estimator)
    for trial in first.trials:
        assert set(trial["params"]) == set(space)
        for name, value in trial["params"].items():
            spec = space[name]
            if "choices" in spec:
                assert value in spec["choices"], (name, value)
            else:
                assert spec["low"] <= value <= spec["high"], (name, value)


def test_a_deliberately_bad_configuration_fails_the_tuning_check(
    train_features: pd.DataFrame, schema: Schema, params: Params
) -> None:
    # Given params.yaml training a forest of one tree of one split
    stump = {**params.train.random_forest, "n_estimators": 1, "max_depth": 1}
    bad = few_trials(params, estimator="random_forest", random_forest=stump)
    # When the study runs
    tuning = tune(train_features, schema, bad)
    # Then the configured hyperparameters score well below the best found, the check fails,
    # and its message names the values to copy into params.yaml
    assert tuning.shortfall > bad.tune.tolerance
    assert not tuning.passed
    message = tuning.failure()
    assert "copy these into params.yaml train.random_forest:" in message
    assert f"    n_estimators: {tuning.best_params['n_estimators']}" in message
    assert tuning.to_dict()["passed"] is False
