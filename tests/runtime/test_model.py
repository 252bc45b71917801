"""Model: estimators for both tasks, training and saving, the evaluation and its quality bar
(thresholds, baselines, slices, importance, numerics, sensitive groups), metrics of both tasks
and of the owner, tuning and the staleness backtest, on the samples' jobs."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jobs
import numpy as np
import pandas as pd
import pytest
from harness import inside
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.datasets import load_wine
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from mlops_ladder import metrics
from mlops_ladder.backtest import retraining_interval, staleness
from mlops_ladder.config import Params
from mlops_ladder.data import file_md5, write_table
from mlops_ladder.errors import ConfigError, DataError
from mlops_ladder.evaluate import (
    MAX_BATCH_ROUNDS,
    check_metrics,
    feature_importance,
    gain,
    group_gaps,
    meets,
    numerics,
    quality_failures,
    slice_metrics,
    timings,
)
from mlops_ladder.metrics import compute_metrics
from mlops_ladder.model import make_baselines, make_estimator, predict
from mlops_ladder.schema import Feature, Slice
from mlops_ladder.train import describe, fit, git_state, load, save, train, tuned_model
from mlops_ladder.tuning import cross_validated, tune

PRIMARY = {"classification": "roc_auc", "regression": "r2"}


@pytest.fixture
def a_project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[jobs.Job]:
    """Some project as the current one, for what is the same for either task (the runtime reads
    the owner's estimators and metrics from the current project)."""
    job = jobs.job("classification", tmp_path_factory)
    with inside(job.root):
        yield job


def with_params(params: Params, **sections: dict[str, Any]) -> Params:
    """`params` with entries of some sections replaced."""
    changed = {
        name: getattr(params, name).model_copy(update=values) for name, values in sections.items()
    }
    return params.model_copy(update=changed)


# --- the quality bar on the samples ------------------------------------------------------------


def test_the_model_clears_the_quality_bar(job: jobs.Job) -> None:
    report, params = job.report(), job.params
    assert report["task"] == job.task
    assert report["primary_metric"] == params.quality.primary_metric == PRIMARY[job.task]
    assert report["quality"] == {"passed": True, "failures": []}
    assert report["rows"] == len(job.splits[1])
    if job.task == "classification":
        assert report["classes"] == [str(label) for label in job.schema.target.values]
        assert set(report["per_class"]) == set(report["classes"])
    else:
        assert "classes" not in report
    # Each metric clears its bar (the template sets none: absolute bars are the owner's)
    for metric, bar in params.quality.thresholds.items():
        assert meets(metric, report["test"][metric], bar), (metric, report["test"][metric], bar)


def test_the_model_beats_each_baseline_by_its_margin(job: jobs.Job) -> None:
    report, quality = job.report(), job.params.quality
    primary = quality.primary_metric
    assert quality.beat_baselines, "the template's bar names the baselines to beat"
    for baseline, margin in quality.beat_baselines.items():
        ours, theirs = report["test"][primary], report["baselines"][baseline][primary]
        assert ours - theirs >= margin, f"{primary}: {ours} vs {baseline} {theirs}, margin {margin}"
    assert set(report["baselines"]) == {"dummy", "linear"}


@pytest.mark.parametrize("direction", ["met", "missed"])
def test_an_absolute_threshold_is_checked_in_its_metrics_direction(
    here: jobs.Job, direction: str
) -> None:
    # Given bars just above and just below the model's scores, one metric of each direction
    report = here.report()
    higher, lower = {"classification": ("roc_auc", "log_loss"), "regression": ("r2", "rmse")}[
        here.task
    ]
    step = 1e-3 if direction == "met" else -1e-3
    bars = {higher: report["test"][higher] - step, lower: report["test"][lower] + step}
    quality = here.params.quality.model_copy(update={"thresholds": bars})
    # When the report is judged, then both are met, or both missed, each named
    failures = quality_failures(report, quality)
    if direction == "met":
        assert failures == []
    else:
        assert [failure.split(" misses")[0] for failure in failures] == [
            f"test {higher} {report['test'][higher]}",
            f"test {lower} {report['test'][lower]}",
        ]


def test_a_model_no_better_than_a_baseline_misses_the_bar(here: jobs.Job) -> None:
    report = json.loads(json.dumps(here.report()))
    primary = here.params.quality.primary_metric
    report["test"][primary] = report["baselines"]["dummy"][primary]
    failures = quality_failures(report, here.params.quality)
    assert any(f.startswith(f"{primary} ") and "does not beat the dummy" in f for f in failures)


def test_same_data_params_and_seed_give_identical_metrics(here: jobs.Job) -> None:
    # Given a second model trained on the same data with the same params and seed (and the
    # tune stage's choice, as train takes it: the diabetes sample's is the linear model)
    tuned = tuned_model(here.root / "reports" / "tuning.json", here.params)
    again = train(here.train_features, here.schema, here.params, tuned)
    # When it is evaluated the same way, then every metric is identical, not merely close
    test = here.splits[1]
    predicted = predict(again, test[here.schema.feature_names])
    assert compute_metrics(test[here.schema.target.name], *predicted) == here.report()["test"]


def test_the_trained_model_is_recorded_with_its_metadata(here: jobs.Job) -> None:
    metadata = json.loads((here.root / "models" / "metadata.json").read_text())
    raw = here.root / "data" / "raw" / "dataset.parquet"
    assert metadata["task"] == here.task
    tuned = tuned_model(here.root / "reports" / "tuning.json", here.params)
    assert metadata["estimator"] == (tuned.estimator if tuned else here.params.train.estimator)
    # (the diabetes sample's: the linear model, with params.yaml's train.linear)
    assert metadata["hyperparameters_from"] == (
        tuned.hyperparameters_from if tuned else "params.yaml"
    )
    assert metadata["estimator_from"] == ("tuning" if tuned else "params.yaml")
    assert metadata["hyperparameters"] == (
        tuned.hyperparameters if tuned else here.params.train.hyperparameters
    )
    assert metadata["data"]["raw"]["md5"] == file_md5(raw)
    assert metadata["data"]["train"]["rows"] == len(here.train_features)
    assert metadata["inputs"] == here.schema.feature_names
    assert metadata["params"]["seed"] == here.params.seed
    assert set(metadata["versions"]) >= {"python", "scikit-learn", "pandas", "numpy"}
    assert metadata["git"] == {"commit": None, "dirty": None, "changed": []}  # not a repository
    assert PRIMARY[here.task] in metadata["metrics"]["train"]
    classes = here.schema.target.values if here.task == "classification" else None
    assert metadata["classes"] == classes


def test_saved_model_predicts_exactly_as_trained(tmp_path: Path, here: jobs.Job) -> None:
    # Given the model saved with its metadata
    model, schema = here.model, here.schema
    raw_file, train_file = tmp_path / "raw.parquet", tmp_path / "train.parquet"
    write_table(pd.concat(here.splits), raw_file)
    write_table(here.train_features, train_file)
    metadata = describe(model, raw_file, train_file, schema, here.params)
    save(model, metadata, tmp_path / "model.joblib", tmp_path / "metadata.json")
    # When it is loaded back, then it predicts exactly as before
    loaded = load(tmp_path / "model.joblib")
    inputs = here.splits[1].drop(columns=[schema.target.name])
    np.testing.assert_array_equal(predict(loaded, inputs)[0], predict(model, inputs)[0])
    saved = json.loads((tmp_path / "metadata.json").read_text())
    assert saved["data"]["train"]["md5"] == file_md5(train_file)


def test_loading_a_model_that_is_not_there_says_to_train(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"model.joblib not found: train a model first"):
        load(tmp_path / "model.joblib")


def test_every_feature_earns_its_place(job: jobs.Job) -> None:
    # Given the permutation importance of each feature on the test split
    importance, params = job.report()["feature_importance"], job.params
    # Then every feature of the contract is measured, and none does the model harm
    assert set(importance["features"]) == set(job.schema.feature_names)
    assert importance["scoring"] == {"classification": "accuracy", "regression": "r2"}[job.task]
    bound = -params.evaluate.max_harmful_importance
    harmful = {name: value for name, value in importance["features"].items() if value < bound}
    assert not harmful, f"features that hurt the model (importance below {bound}): {harmful}"
    assert importance["passed"]


def harmful(importance: dict[str, Any]) -> list[str]:
    """The features the importance check failed as harmful (its other failures: useless ones)."""
    return [f.split(":")[0] for f in importance["failures"] if f.startswith("feature ")]


class Saboteur:
    """The trained model, made worse by a planted column for as long as it is in its original
    order, so that shuffling that column (permutation importance) improves the score. Row by
    row, as a model is (its answer to a row does not depend on the rows scored with it): a class
    turns wrong where the planted value is the key of the model's own answer; a number is off by
    the planted value, its own error again (the error doubled; shuffled: another row's)."""

    def __init__(self, model: Any, features: list[str]) -> None:
        self.model, self.features = model, features

    def fit(self, *args: Any) -> Saboteur:
        return self

    def planted(self, inputs: pd.DataFrame, truth: pd.Series) -> np.ndarray:
        """The planted column for these rows and their labels."""
        answers = np.asarray(self.model.predict(inputs[self.features]))
        if hasattr(self.model, "classes_"):
            return np.searchsorted(np.asarray(self.model.classes_), answers)
        return answers.astype("float64") - truth.to_numpy(dtype="float64")

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        answers = np.asarray(self.model.predict(frame[self.features]))
        planted = frame["planted"].to_numpy()
        if not hasattr(self.model, "classes_"):
            return answers + planted
        classes = np.asarray(self.model.classes_)
        keys = np.searchsorted(classes, answers)
        return np.where(planted == keys, classes[(keys + 1) % len(classes)], answers)


def test_a_harmful_feature_fails_the_quality_bar(here: jobs.Job) -> None:
    # Given a feature the model does better without
    test, schema = here.splits[1], here.schema
    truth = test[schema.target.name]
    saboteur = Saboteur(here.model, schema.feature_names)
    inputs = test[schema.feature_names].assign(planted=saboteur.planted(test, truth))
    # When the permutation importance is measured
    params = with_params(here.params, evaluate={"importance_repeats": 2})
    importance = feature_importance(saboteur, inputs, truth, params)
    # Then that feature, and only it, fails as harmful, by name (the stand-in has no
    # probabilities: what never helps it is another check: test_readiness.py)
    assert not importance["passed"]
    assert harmful(importance) == ["feature planted"]


def test_non_finite_or_unnormalised_outputs_fail_the_quality_bar(here: jobs.Job) -> None:
    # Given the model's outputs on the test split, which are numerically sound
    assert here.report()["numerics"] == {"passed": True, "failures": []}
    values, scores = predict(here.model, here.splits[1][here.schema.feature_names])
    assert numerics((values, scores))["passed"]
    # When one output is NaN, one infinite (and, with classes, one row's probabilities sum to 2)
    if here.task == "classification":
        broken = scores.copy()
        broken.iloc[0, 0], broken.iloc[1, 0] = np.nan, np.inf
        broken.iloc[2] = broken.iloc[2] * 2
        failures = numerics((values, broken))["failures"]
        # Then each is a failure of the quality bar
        assert "2 rows of class probabilities hold NaN or infinite values" in failures
        assert any("sum to 1 +/-" in failure for failure in failures), failures
    else:
        broken = np.asarray(values, dtype="float64").copy()
        broken[0], broken[1] = np.nan, np.inf
        # Then it is a failure of the quality bar
        assert numerics((broken, None))["failures"] == ["2 predictions are NaN or infinite"]


class Timed(RegressorMixin, BaseEstimator):
    """A regressor whose batch takes `seconds` of CPU (a single record none), or of waiting
    (`waits`): it counts its batches."""

    def __init__(self, seconds: float, waits: bool = False) -> None:
        self.seconds, self.waits, self.batches = seconds, waits, 0

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if len(frame) > 1:
            self.batches += 1
            if self.waits:
                time.sleep(self.seconds)
            else:
                until = time.process_time() + self.seconds
                while time.process_time() < until:
                    pass
        return np.zeros(len(frame))


def test_a_model_is_timed_by_its_work_not_by_the_machines_pauses() -> None:
    # Given a model whose batch computes for 20 ms and one whose batch waits 20 ms (as a
    # prediction preempted on a busy machine waits)
    rows = pd.DataFrame({"x": np.arange(50.0)})
    working, waiting = Timed(0.02), Timed(0.02, waits=True)
    # When both are timed
    (_, worked), (_, waited) = timings([working, waiting], rows, records=2, rounds=3)
    # Then the work counts, the waiting does not
    assert worked >= 0.02
    assert waited < 0.005


def test_a_quick_batch_is_timed_often_enough_to_see_past_a_busy_machine() -> None:
    # Given a model whose batch takes a millisecond, one whose batch takes a quarter second
    rows = pd.DataFrame({"x": np.arange(50.0)})
    quick, slow = Timed(0.001), Timed(0.25)
    # When both are timed side by side, as the gate times a challenger and its champion
    (_, quick_batch), (_, slow_batch) = timings([quick, slow], rows, records=2, rounds=3)
    # Then the rounds stop once half a second was spent: the slow model's three rounds (at
    # least `rounds`) take that, so the quick one is timed three times too, alone it is timed
    # up to MAX_BATCH_ROUNDS: a one-off pause of milliseconds no longer decides its best time
    assert (quick.batches, slow.batches) == (3, 3)
    alone = Timed(0.001)
    timings([alone], rows, records=2, rounds=3)
    assert alone.batches == MAX_BATCH_ROUNDS
    assert quick_batch < 0.2 <= slow_batch


class Counted:
    """Counts, per class, the calls of the estimator's own (scikit-learn's) predict_proba."""

    calls = 0

    def predict_proba(self, X: Any) -> np.ndarray:
        type(self).calls += 1
        return super().predict_proba(X)  # type: ignore[misc]


class CountedForest(Counted, RandomForestClassifier):
    """A random forest: the serving engine compiles it."""


class CountedNeighbours(Counted, KNeighborsClassifier):
    """A model the serving engine does not compile."""


def test_a_model_is_timed_as_serving_predicts_with_it() -> None:
    # Given a pipeline of a scaler and a forest, and one of a scaler and nearest neighbours
    wine = load_wine(as_frame=True)
    inputs, labels = wine.data, wine.target
    forest = make_pipeline(StandardScaler(), CountedForest(n_estimators=10, random_state=0))
    neighbours = make_pipeline(StandardScaler(), CountedNeighbours())
    for model in (forest, neighbours):
        model.fit(inputs, labels)
    CountedForest.calls = CountedNeighbours.calls = 0
    # When both are timed for their computing costs (monitoring-6)
    timings([forest, neighbours], inputs, records=5, rounds=2)
    # Then the forest answered through the compiled engine, as the server runs it: its own
    # predict_proba ran once, for the check that the compiled copy answers exactly as it does
    assert CountedForest.calls == 1
    # And the model the engine does not compile was timed as it is, every record and batch
    assert CountedNeighbours.calls >= 5 * 2 + 3


def test_probabilities_outside_zero_and_one_fail_the_quality_bar() -> None:
    scores = pd.DataFrame({"a": [1.5, 0.2], "b": [-0.5, 0.8]})
    assert numerics((np.array(["a", "b"]), scores))["failures"] == [
        "class probabilities outside [0, 1]"
    ]


def test_each_sensitive_feature_is_reported_by_group(job: jobs.Job) -> None:
    groups = job.report()["groups"]
    assert set(groups["features"]) == set(job.schema.tagged("sensitive"))
    assert groups["metric"] == job.params.quality.primary_metric
    assert not groups["failures"], groups["failures"]


def test_a_sensitive_feature_served_unequally_fails_the_quality_bar(here: jobs.Job) -> None:
    # Given a planted sensitive column, whose second group's targets follow another rule than
    # the one the model learned (so the model serves that group worse)
    model, schema, params = here.model, here.schema, here.params
    test_split, target = here.splits[1], schema.target.name
    hard = np.arange(len(test_split)) % 2 == 1
    planted = test_split.assign(group=np.where(hard, "hard", "easy"))
    if here.task == "classification":
        metric = "accuracy"
        classes = list(predict(model, test_split[schema.feature_names])[1].columns)
        rotated = {label: classes[(n + 1) % len(classes)] for n, label in enumerate(classes)}
        planted[target] = planted[target].where(~hard, planted[target].map(rotated))
    else:
        metric = "rmse"
        shifted = planted[target] + 3 * planted[target].std()
        planted[target] = planted[target].where(~hard, shifted)
    spec = Feature(dtype="category", allowed=["easy", "hard"], tags=["sensitive"])
    tagged = schema.model_copy(update={"features": {**schema.features, "group": spec}})
    measured = with_params(
        params, quality={"primary_metric": metric}, evaluate={"min_slice_rows": 1}
    )
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
        result = group_gaps(
            model, planted, tagged, with_params(measured, quality={"max_group_gap": bound})
        )
        assert bool(result["failures"]) is fails, result["failures"]
        assert all(f.startswith("sensitive feature group:") for f in result["failures"])
        # and says where to look and what to change
        assert all("raise the bound" in failure for failure in result["failures"])


def test_a_sensitive_feature_with_one_group_scored_is_not_compared(here: jobs.Job) -> None:
    # Given a planted sensitive column whose second group has too few rows of the test split
    # to be scored (a minority too small here: CPS1985's ethnicities), and a bound of 0
    model, schema, params = here.model, here.schema, here.params
    test_split = here.splits[1]
    few = params.evaluate.min_slice_rows - 1
    planted = test_split.assign(group=np.where(np.arange(len(test_split)) < few, "few", "many"))
    spec = Feature(dtype="category", allowed=["few", "many"], tags=["sensitive"])
    tagged = schema.model_copy(update={"features": {**schema.features, "group": spec}})
    # When the groups are scored
    found = group_gaps(model, planted, tagged, with_params(params, quality={"max_group_gap": 0}))
    # Then the feature says it was not compared, with no gap of 0 to read as "served alike",
    # and fails nothing
    entry = found["features"]["group"]
    assert entry["groups"]["few"] == {"rows": few, "skipped": "too few rows"}
    assert (entry["gap"], entry["chance_gap"]) == (None, None)
    assert entry["not_compared"].startswith("1 group with a score")
    assert not found["failures"]


def test_groups_that_differ_only_by_chance_pass_where_the_bound_alone_would_fail(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # Given the regression sample's test split (89 rows) cut at random in two groups, ten
    # times, a sensitive column with nothing to do with the data, and a bound of 0
    job = jobs.job("regression", tmp_path_factory)
    untagged = {name: f.model_copy(update={"tags": []}) for name, f in job.schema.features.items()}
    spec = Feature(dtype="category", allowed=["a", "b"], tags=["sensitive"])
    tagged = job.schema.model_copy(update={"features": {**untagged, "group": spec}})
    strict = with_params(job.params, quality={"max_group_gap": 0.0})
    rng, found = np.random.default_rng(0), []
    with inside(job.root):
        for _ in range(10):
            planted = job.splits[1].assign(group=rng.choice(["a", "b"], len(job.splits[1])))
            result = group_gaps(job.model, planted, tagged, strict)
            failed = any(f.startswith("sensitive feature group:") for f in result["failures"])
            found.append((result["features"]["group"], failed))
    # Then every grouping's gap is over the bound, yet only those past their chance level fail:
    # about one in twenty (at most two of the ten)
    assert all(entry["gap"] > 0 for entry, _ in found)
    assert all(failed == (entry["gap"] > entry["chance_gap"]) for entry, failed in found)
    assert sum(failed for _, failed in found) <= 2
    # And at this size chance alone is over the sample's bound (0.1 of r2): the bound alone
    # would fail groups that differ by nothing but the draw
    default = job.params.quality.max_group_gap
    assert min(entry["chance_gap"] for entry, _ in found) > default
    assert sum(entry["gap"] > default for entry, _ in found) >= 3


def test_a_numeric_sensitive_feature_is_grouped_at_its_median(here: jobs.Job) -> None:
    schema = here.schema
    name = schema.numeric[0]
    spec = schema.features[name].model_copy(update={"tags": ["sensitive"]})
    tagged = schema.model_copy(update={"features": {**schema.features, name: spec}})
    found = group_gaps(here.model, here.splits[1], tagged, here.params)["features"][name]
    median = here.splits[1][name].median()
    assert set(found["groups"]) == {f"above {median:g}", f"at most {median:g}"}
    assert sum(group["rows"] for group in found["groups"].values()) == len(here.splits[1])


# --- slices and invariances (the model quality beyond the headline metric) ---------------------


def test_every_slice_of_the_contract_is_evaluated(job: jobs.Job) -> None:
    # Every slice of schema.yaml is in the report: scored, or skipped for its size
    report, schema = job.report(), job.schema
    assert set(report["slices"]) == {piece.name for piece in schema.slices}
    test = job.splits[1]
    for piece in schema.slices:
        result = report["slices"][piece.name]
        assert result["rows"] == len(test.query(piece.query))
        assert "metrics" in result or result["skipped"] == "too few rows", result


def test_every_scored_slice_clears_its_bar(job: jobs.Job) -> None:
    report, quality = job.report(), job.params.quality
    primary = quality.primary_metric
    scored = {name: result for name, result in report["slices"].items() if "metrics" in result}
    assert scored, "the sample's slices are large enough to score"
    for name, result in scored.items():
        for metric, bar in quality.slice_thresholds.items():
            value = result["metrics"].get(metric)
            assert value is None or meets(metric, value, bar), f"slice {name}: {metric} {value}"
        ours = result["metrics"][primary]
        for baseline, margin in quality.slice_beat_baselines.items():
            theirs = result["baselines"][baseline][primary]
            assert gain(primary, ours, theirs) >= margin, (name, baseline, ours, theirs)


def test_a_small_slice_is_reported_not_scored_and_a_bad_query_named(here: jobs.Job) -> None:
    schema, settings = here.schema, here.params.evaluate
    name = schema.numeric[0]
    tiny = schema.model_copy(update={"slices": [Slice(name="none", query=f"`{name}` < -1e12")]})
    found = slice_metrics(here.model, {}, here.splits[1], tiny, settings)
    assert found == {"none": {"rows": 0, "skipped": "too few rows"}}
    bad = schema.model_copy(update={"slices": [Slice(name="typo", query="no_such_column > 1")]})
    with pytest.raises(ConfigError, match=r"schema\.yaml slices typo: bad query"):
        slice_metrics(here.model, {}, here.splits[1], bad, settings)


def test_column_order_does_not_matter(here: jobs.Job) -> None:
    inputs = here.splits[1][here.schema.feature_names]
    reordered = inputs[list(reversed(inputs.columns))]
    model = here.model
    np.testing.assert_array_equal(predict(model, reordered)[0], predict(model, inputs)[0])


def test_extra_columns_are_ignored(here: jobs.Job) -> None:
    inputs = here.splits[1][here.schema.feature_names]
    extended = inputs.assign(note="irrelevant", row_id=np.arange(len(inputs)))
    model = here.model
    np.testing.assert_array_equal(predict(model, extended)[0], predict(model, inputs)[0])


def test_a_record_is_predicted_the_same_alone_or_in_any_batch(here: jobs.Job) -> None:
    # Given test records, and the same records one at a time and in reverse order
    inputs, model = here.splits[1][here.schema.feature_names].head(40), here.model
    together = predict(model, inputs)[0]
    alone = np.concatenate([predict(model, inputs.iloc[[row]])[0] for row in range(len(inputs))])
    reversed_batch = predict(model, inputs.iloc[::-1])[0][::-1]
    # Then each record gets the same prediction whatever else is in its request (a label
    # exactly; a number to its last bits: a linear model's product rounds by batch shape)
    if here.task == "classification":
        np.testing.assert_array_equal(alone, together)
        np.testing.assert_array_equal(reversed_batch, together)
    else:
        np.testing.assert_allclose(alone, together, rtol=1e-12, atol=0)
        np.testing.assert_allclose(reversed_batch, together, rtol=1e-12, atol=0)


# --- estimators, baselines, training -----------------------------------------------------------


@pytest.mark.parametrize("task", jobs.TASKS)
@pytest.mark.parametrize("name", ["random_forest", "gradient_boosting", "linear"])
def test_every_built_in_estimator_is_made_for_either_task(
    a_project: jobs.Job, task: str, name: str
) -> None:
    from sklearn.base import is_classifier

    estimator = make_estimator(name, {}, 7, task)
    assert is_classifier(estimator) is (task == "classification")
    assert estimator.get_params()["random_state"] == 7  # seeded: training is reproducible


@pytest.mark.parametrize("task", jobs.TASKS)
def test_the_baselines_are_the_prior_and_a_plain_linear_model(
    a_project: jobs.Job, task: str
) -> None:
    baselines = make_baselines(3, task)
    kinds = {name: type(estimator).__name__ for name, estimator in baselines.items()}
    assert (
        kinds
        == {
            "classification": {"dummy": "DummyClassifier", "linear": "LogisticRegression"},
            "regression": {"dummy": "DummyRegressor", "linear": "Ridge"},
        }[task]
    )


def test_an_unknown_estimator_names_the_known_ones(a_project: jobs.Job) -> None:
    with pytest.raises(ConfigError, match="'xgboost' is not one of random_forest, gradient_"):
        make_estimator("xgboost", {}, 0, "classification")


def test_a_hyperparameter_the_estimator_lacks_is_one_clear_error(a_project: jobs.Job) -> None:
    with pytest.raises(ConfigError, match=r"params.yaml train.random_forest: .*n_trees"):
        make_estimator("random_forest", {"n_trees": 10}, 0, "regression")


def test_a_model_that_does_not_converge_is_refused(here: jobs.Job) -> None:
    params = with_params(here.params, train={"estimator": "linear"})
    section = {"max_iter": 1} if here.task == "classification" else {"solver": "sag", "max_iter": 1}
    params = with_params(params, train={"linear": section})
    with pytest.raises(ConfigError, match=r"(?s)did not converge: .*raise max_iter"):
        train(here.train_features, here.schema, params)


def test_training_data_without_the_target_or_its_features_is_one_clear_error(
    here: jobs.Job,
) -> None:
    schema, features = here.schema, here.train_features
    estimator = make_estimator("linear", {}, 0, here.task)
    with pytest.raises(
        DataError, match=f"training data has no target column '{schema.target.name}'"
    ):
        fit(features.drop(columns=[schema.target.name]), schema, estimator)
    derived = [name for name in features.columns if name not in schema.columns]
    assert derived, "the sample has derived features"
    with pytest.raises(DataError, match="run featurize again"):
        fit(features.drop(columns=derived[:1]), schema, estimator)


def test_a_multiclass_model_predicts_text_labels_with_a_probability_per_class(
    a_project: jobs.Job,
) -> None:
    # Given scikit-learn's wine data (three cultivars) with the classes as text
    wine = load_wine(as_frame=True)
    labels = np.array(["barolo", "grignolino", "barbera"])[wine.target]
    model = LogisticRegression(max_iter=5000).fit(wine.data, labels)
    # When it predicts, then each row gets one of the classes and a probability for each
    predicted, scores = predict(model, wine.data)
    assert list(scores.columns) == ["barbera", "barolo", "grignolino"]
    assert set(predicted) <= set(scores.columns)
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    assert (
        scores.to_numpy().argmax(axis=1) == pd.Index(scores.columns).get_indexer(predicted)
    ).all()


# --- metrics -----------------------------------------------------------------------------------


def test_binary_metrics_are_those_of_the_second_class(a_project: jobs.Job) -> None:
    from sklearn.metrics import f1_score, roc_auc_score

    # Given text labels: the positive class is the later name
    actual = np.array(["no", "yes", "yes", "no", "yes", "no"])
    scores = pd.DataFrame({"no": [0.8, 0.3, 0.4, 0.6, 0.1, 0.45], "yes": 0.0})
    scores["yes"] = 1 - scores["no"]
    predicted = np.where(scores["yes"] > 0.5, "yes", "no")
    found = compute_metrics(actual, predicted, scores)
    assert set(found) == set(metrics.CLASSIFICATION)
    assert found["f1"] == pytest.approx(f1_score(actual, predicted, pos_label="yes"))
    assert found["roc_auc"] == pytest.approx(roc_auc_score(actual == "yes", scores["yes"]))


def test_multiclass_metrics_are_macro_averages_and_one_vs_rest(a_project: jobs.Job) -> None:
    from sklearn.metrics import f1_score, roc_auc_score

    wine = load_wine(as_frame=True)
    labels = np.array(["barolo", "grignolino", "barbera"])[wine.target]
    model = LogisticRegression(max_iter=5000).fit(wine.data, labels)
    predicted, scores = predict(model, wine.data)
    found = compute_metrics(labels, predicted, scores)
    assert found["f1"] == pytest.approx(f1_score(labels, predicted, average="macro"), abs=1e-6)
    expected = roc_auc_score(labels, scores.to_numpy(), multi_class="ovr", labels=scores.columns)
    assert found["roc_auc"] == pytest.approx(expected, abs=1e-6)
    per_class = metrics.per_class(labels, predicted, scores)
    assert set(per_class) == {"barbera", "barolo", "grignolino"}
    assert sum(item["support"] for item in per_class.values()) == len(labels)
    # On a slice that lacks a class, the ranking metrics are left out, not guessed
    present = labels != "barbera"
    partial = compute_metrics(labels[present], predicted[present], scores[present])
    assert "roc_auc" not in partial
    assert "average_precision" not in partial
    assert "accuracy" in partial


def test_regression_metrics_and_r2_only_where_defined(a_project: jobs.Job) -> None:
    found = compute_metrics(np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 4.0]))
    assert found == {
        "rmse": pytest.approx(np.sqrt(1 / 3), abs=1e-6),
        "mae": pytest.approx(1 / 3, abs=1e-6),
        "r2": pytest.approx(1 - 1 / (14 / 3), abs=1e-6),
    }
    assert set(compute_metrics(np.array([1.0]), np.array([2.0]))) == {"rmse", "mae"}


def test_each_metric_has_its_direction_and_an_unknown_one_is_an_error(
    a_project: jobs.Job,
) -> None:
    assert metrics.higher_is_better("roc_auc")
    assert not metrics.higher_is_better("log_loss")
    assert not metrics.higher_is_better("rmse")
    assert gain("rmse", 1.0, 3.0) == 2.0
    assert gain("r2", 0.5, 0.7) == pytest.approx(-0.2)
    with pytest.raises(ConfigError, match="unknown metric 'auc'"):
        metrics.higher_is_better("auc")


def test_params_naming_a_metric_of_the_other_task_is_one_clear_error(
    a_project: jobs.Job,
) -> None:
    quality = a_project.params.quality.model_copy(update={"primary_metric": "rmse"})
    with pytest.raises(ConfigError, match="rmse not classification metrics; use one of accuracy"):
        check_metrics(quality, "classification")


def test_the_evaluate_stage_drew_the_plots_of_its_task(job: jobs.Job) -> None:
    figures = {path.stem for path in (job.root / "reports" / "figures").glob("*.png")}
    tables = {path.stem for path in (job.root / "reports" / "plots").glob("*.csv")}
    if job.task == "classification":
        assert figures == {"confusion_matrix", "roc_curve", "precision_recall_curve"}
        assert tables == {"confusion", "roc", "precision_recall"}
    else:
        assert figures == {"predicted_vs_actual", "residuals"}
        assert tables == {"predictions", "residuals"}
    first = pd.read_csv(job.root / "reports" / "plots" / f"{sorted(tables)[0]}.csv")
    assert len(first) > 1


def test_multiclass_figures_draw_one_curve_per_class(a_project: jobs.Job) -> None:
    wine = load_wine(as_frame=True)
    labels = np.array(["barolo", "grignolino", "barbera"])[wine.target]
    model = LogisticRegression(max_iter=5000).fit(wine.data, labels)
    predicted, scores = predict(model, wine.data)
    drawn = metrics.figures(labels, predicted, scores)
    assert len(drawn["roc_curve"].axes[0].get_lines()) >= 3
    tables = metrics.plot_tables(labels, predicted, scores)
    assert set(tables) == {"confusion", "roc", "precision_recall"}


# --- git state -------------------------------------------------------------------------------


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
    # and so does a new, uncommitted module of the package
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "new.py").write_text("")
    assert git_state()["changed"] == ["params.yaml", "src/new.py"]
    # And outside a repository the commit is unknown
    monkeypatch.chdir(tmp_path.parent)
    assert git_state()["commit"] is None


# --- the staleness backtest ----------------------------------------------------------------


def test_the_backtest_scores_the_model_by_age(job: jobs.Job) -> None:
    # Given the data in its order, cut into windows, as the evaluate stage ran it
    windows = job.params.evaluate.backtest_windows
    result = job.report()["staleness"]
    # Then a model trained on each window is scored at every later age, and an interval is set
    assert result["metric"] == job.params.quality.primary_metric
    assert result["order"] == "row order"
    ages = [int(age) for age in result["score_by_age"]]
    # The samples' rows are in no particular order: every pair of windows is scored
    assert result["skipped"] == []
    assert ages == list(range(1, windows))
    interval = result["retrain_every_windows"]
    assert min(ages) <= interval <= max(ages)
    assert result["retrain_every_rows"] == interval * result["rows_per_window"]
    assert result["rows_per_window"] == -(-len(job.dataset) // windows)  # the first: the largest


def test_a_relation_that_drifts_over_time_shortens_the_retraining_interval(
    here: jobs.Job,
) -> None:
    # Given data whose target follows another rule from the middle of its span on
    dataset, schema, params = here.dataset, here.schema, here.params
    target = schema.target.name
    rows = dataset[dataset[target].notna()].sample(frac=1, random_state=params.seed)
    late = np.arange(len(rows)) >= len(rows) // 2
    if here.task == "classification":
        classes = sorted(rows[target].unique(), key=str)
        rotated = {label: classes[(n + 1) % len(classes)] for n, label in enumerate(classes)}
        drifted = rows.assign(**{target: rows[target].where(~late, rows[target].map(rotated))})
    else:
        shifted = rows[target] + 3 * rows[target].std()
        drifted = rows.assign(**{target: rows[target].where(~late, shifted)})
    # When the backtest runs on it
    result = staleness(drifted, schema, params)
    # Then the oldest models score clearly worse than fresh ones, and retraining comes sooner
    by_age = result["score_by_age"]
    oldest = str(params.evaluate.backtest_windows - 1)
    assert not meets(result["metric"], by_age[oldest], by_age["1"]), by_age
    assert result["retrain_every_windows"] < params.evaluate.backtest_windows - 1, by_age


def test_the_backtest_orders_by_a_column_and_names_a_missing_one(here: jobs.Job) -> None:
    schema = here.schema
    name = schema.numeric[0]
    ordered = with_params(here.params, evaluate={"order_by": name, "backtest_windows": 3})
    assert staleness(here.dataset, schema, ordered)["order"] == name
    missing = with_params(here.params, evaluate={"order_by": "recorded_at"})
    with pytest.raises(
        ConfigError, match=r"evaluate\.order_by: the data has no column 'recorded_at'"
    ):
        staleness(here.dataset, schema, missing)


@pytest.mark.parametrize(
    ("metric", "by_age", "interval"),
    [
        ("roc_auc", {1: 0.9, 2: 0.89, 3: 0.7}, 2),
        ("r2", {1: 0.5, 2: 0.5, 3: 0.46}, 3),
        ("rmse", {1: 10.0, 2: 10.04, 3: 10.2}, 2),  # lower is better: a rise is the drop
        ("r2", {}, None),
    ],
)
def test_the_retraining_interval_is_the_oldest_age_within_the_drop(
    a_project: jobs.Job, metric: str, by_age: dict[int, float], interval: int | None
) -> None:
    assert retraining_interval(by_age, metric, 0.05) == interval


def test_a_backtest_window_of_one_class_is_skipped_and_said(a_project: jobs.Job) -> None:
    # Given the classification sample ordered (evaluate.order_by) by its label: the first
    # windows hold one class
    job = a_project
    target = job.schema.target.name
    ordered = with_params(job.params, evaluate={"backtest_windows": 3, "order_by": target})
    result = staleness(job.dataset, job.schema, ordered)
    assert result["skipped"]
    assert all(line.startswith("window ") for line in result["skipped"])


def test_rows_in_the_order_of_their_target_are_not_backtested(a_project: jobs.Job) -> None:
    # Given the sample as a file sorted by its label, and no evaluate.order_by
    job = a_project
    by_class = job.dataset.sort_values(job.schema.target.name, kind="stable")
    # When the backtest runs, then it says the row order is not time, and measures nothing
    result = staleness(by_class, job.schema, job.params)
    assert "grouped by the target" in result["not_measured"]
    assert (result["score_by_age"], result["retrain_every_windows"]) == ({}, None)


# --- tuning --------------------------------------------------------------------------------


def neighbours(hyperparameters: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    """Each numeric hyperparameter halved and doubled (whole numbers stay whole, at least 1)."""
    for name, value in hyperparameters.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        for factor in (0.5, 2):
            moved = value * factor if isinstance(value, float) else max(1, round(value * factor))
            if moved != value:
                yield name, moved


def test_no_neighbour_of_the_templates_hyperparameters_scores_clearly_better(
    here: jobs.Job,
) -> None:
    # Given the estimator the template's params.yaml configures, scored as the tune stage
    # scores it (the primary metric in cross-validation on the training split)
    params, schema, features = here.params, here.schema, here.train_features
    chosen = params.train.hyperparameters
    ours = cross_validated(features, schema, params, chosen)
    assert ours == pytest.approx(here.report("tuning")["configured_score"])
    metric, tolerance = params.quality.primary_metric, params.tune.tolerance
    # When each hyperparameter is halved and doubled
    moved = list(neighbours(chosen))
    assert moved
    for name, value in moved:
        theirs = cross_validated(features, schema, params, {**chosen, name: value})
        # Then none of them scores clearly better (beyond tune.tolerance)
        assert gain(metric, theirs, ours) <= tolerance, (
            f"train.{params.train.estimator}.{name}: {value} scores {theirs:.4f} {metric}, "
            f"{ours:.4f} as configured: tune the template's params.yaml"
        )


def test_the_tune_stage_passed_and_reported_its_study(job: jobs.Job) -> None:
    report, params = job.report("tuning"), job.params
    # The template's hyperparameters are within tolerance of the best; on the diabetes sample
    # ridge regression beats the forest in cross-validation by more than the bar allows, so
    # the tune stage picks it (and only there)
    assert report["hyperparameters_passed"] is True
    linear_is_better = job.task == "regression"
    assert report["use_estimator"] == ("linear" if linear_is_better else None)
    assert report["use_best"] is linear_is_better
    # And the linear model was tuned alike, train.linear within tolerance of its best: what
    # train fits has tuned hyperparameters either way (the readiness card's model-3)
    linear = report["linear"]
    assert linear["configured"] == params.train.linear
    assert len(linear["trials"]) == params.tune.n_trials
    assert gain(report["metric"], linear["best_score"], linear["configured_score"]) <= (
        params.tune.tolerance
    )
    assert linear["hyperparameters_passed"] is True
    assert report["passed"] is True
    assert report["estimator"] == params.train.estimator
    assert report["metric"] == params.quality.primary_metric
    assert len(report["trials"]) == params.tune.n_trials
    assert report["shortfall"] <= report["tolerance"] == params.tune.tolerance
    assert report["configured"] == params.train.hyperparameters


def test_the_study_is_reproducible_with_its_seed(here: jobs.Job) -> None:
    # Given a short study of params.yaml's search space (of the fast linear estimator)
    short = with_params(
        here.params, tune={"n_trials": 3, "timeout": None}, train={"estimator": "linear"}
    )
    # When it runs twice with the same seed
    first = tune(here.train_features, here.schema, short)
    second = tune(here.train_features, here.schema, short)
    # Then it tries the same hyperparameters, scores them the same and finds the same best
    assert [trial["params"] for trial in first.trials] == [t["params"] for t in second.trials]
    assert [trial["score"] for trial in first.trials] == [t["score"] for t in second.trials]
    assert (first.best_params, first.best_score) == (second.best_params, second.best_score)
    assert len(first.trials) == short.tune.n_trials
    # and its trials are points of the space
    space = short.tune.space_of("linear")
    for trial in first.trials:
        assert set(trial["params"]) == set(space)
        for name, value in trial["params"].items():
            spec = space[name]
            if "choices" in spec:
                assert value in spec["choices"], (name, value)
            else:
                assert spec["low"] <= value <= spec["high"], (name, value)


def test_an_estimator_without_a_search_space_is_one_clear_error(here: jobs.Job) -> None:
    params = here.params
    spaceless = with_params(params, tune={"space": {}})
    with pytest.raises(ConfigError, match=r"tune\.space has no search space for train\.estimator"):
        tune(here.train_features, here.schema, spaceless)
