"""Score the model on the test split, on slices of it and against baselines; check the bar.

The quality bar (params.yaml `quality`) is the same everywhere: the model tests assert it, and
from level 1 the registry gate refuses a model that misses it.
"""

from __future__ import annotations

import json
import pickle
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, r2_score

from mlops_ladder import metrics
from mlops_ladder.config import EvaluateParams, GateParams, Params, QualityParams
from mlops_ladder.errors import ConfigError
from mlops_ladder.model import make_baselines, predict
from mlops_ladder.schema import Schema
from mlops_ladder.serving.inference import compile_model
from mlops_ladder.train import fit


def evaluate(
    model: Any,
    test_split: pd.DataFrame,
    train_features: pd.DataFrame,
    schema: Schema,
    params: Params,
) -> dict[str, Any]:
    """The evaluation report: test metrics, baselines, slices and the quality verdict."""
    check_metrics(params.quality, params.task)
    target = schema.target.name
    inputs, actual = test_split[schema.feature_names], test_split[target]
    baselines = {
        name: fit(train_features, schema, estimator)
        for name, estimator in make_baselines(params.seed, params.task).items()
    }
    predicted = predict(model, inputs)
    report: dict[str, Any] = {
        "task": params.task,
        "primary_metric": params.quality.primary_metric,
        "rows": len(test_split),
        "test": metrics.compute_metrics(actual, *predicted),
        "baselines": {
            name: metrics.compute_metrics(actual, *predict(baseline, inputs))
            for name, baseline in baselines.items()
        },
        "slices": slice_metrics(model, baselines, test_split, schema, params.evaluate),
    }
    if params.task == "classification":
        labels, scores = predicted
        if scores is None:
            raise ConfigError("task is classification, but the model gives no class probabilities")
        report["classes"] = [str(label) for label in scores.columns]
        report["per_class"] = metrics.per_class(actual, labels, scores)
    report["numerics"] = numerics(predicted)
    report["feature_importance"] = feature_importance(
        model, inputs, actual, params, train_features[[*schema.feature_names, target]]
    )
    report["costs"] = costs(model, inputs)
    report["groups"] = group_gaps(model, test_split, schema, params, predicted)
    failures = [
        *quality_failures(report, params.quality),
        *report["numerics"]["failures"],
        *report["feature_importance"]["failures"],
        *report["groups"]["failures"],
    ]
    report["quality"] = {"passed": not failures, "failures": failures}
    return report


def numerics(predicted: tuple[Any, pd.DataFrame | None]) -> dict[str, Any]:
    """Numerical stability of the outputs: no NaN or infinity, probabilities that sum to one."""
    values, scores = predicted
    failures = []
    if scores is None:
        bad = int((~np.isfinite(np.asarray(values, dtype="float64"))).sum())
        if bad:
            failures.append(f"{bad} predictions are NaN or infinite")
    else:
        table = scores.to_numpy(dtype="float64")
        bad = int((~np.isfinite(table)).any(axis=1).sum())
        if bad:
            failures.append(f"{bad} rows of class probabilities hold NaN or infinite values")
        finite = table[np.isfinite(table).all(axis=1)]
        off = float(np.abs(finite.sum(axis=1) - 1).max()) if len(finite) else 0.0
        if off > PROBABILITY_TOLERANCE:
            failures.append(f"class probabilities of a record sum to 1 +/- {off:.3g}, not 1")
        if len(finite) and (finite.min() < 0 or finite.max() > 1):
            failures.append("class probabilities outside [0, 1]")
    return {"passed": not failures, "failures": failures}


PROBABILITY_TOLERANCE = 1e-6


# Permutation importance's cost grows with rows x features x repeats: a large test split is
# scored on a seeded sample of this many rows. A small one is shuffled more often (at least
# MIN_SHUFFLED_ROWS rows in all): on 7 rows one shuffle moves the score by whole rows.
MAX_IMPORTANCE_ROWS = 2_000
MIN_SHUFFLED_ROWS = 500
MAX_IMPORTANCE_REPEATS = 50


def feature_importance(
    model: Any,
    inputs: pd.DataFrame,
    actual: pd.Series,
    params: Params,
    training: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Permutation importance of each feature on the test split, and the features that never
    help (data-2: all features are beneficial).

    - Harmful: a feature whose shuffling improves the model's own score (accuracy or r2) by
      more than params.yaml evaluate.max_harmful_importance, and by more than chance on this
      many rows (two standard errors over the rows): a failure.
    - Useless: shuffling it never costs the model anything beyond the repeats' noise (its mean
      importance on a proper score, log loss or r2, is within two standard errors of zero), and
      alone it tells nothing of the target (no association with it on the training split,
      `association`: p >= 0.05). A redundant copy of a useful feature is associated, so it is
      not called useless; a column of noise is. More than evaluate.max_useless_share of the
      features useless: a failure, naming them.

    Rows and repeats fit the test split: a seeded sample of MAX_IMPORTANCE_ROWS rows of a
    large one; more repeats on a small one (evaluate.importance_repeats at least)."""
    rng = np.random.default_rng(params.seed)
    if len(inputs) > MAX_IMPORTANCE_ROWS:
        rows = np.sort(rng.choice(len(inputs), MAX_IMPORTANCE_ROWS, replace=False))
        inputs, actual = inputs.iloc[rows], actual.iloc[rows]
    repeats = max(
        params.evaluate.importance_repeats,
        min(MAX_IMPORTANCE_REPEATS, -(-MIN_SHUFFLED_ROWS // max(len(inputs), 1))),
    )
    classification = params.task == "classification"
    truth = np.asarray(actual)
    labels, probabilities = outputs(model, inputs, classification)
    baseline = row_scores(labels, truth, classification)
    baseline_help = help_score(model, labels, probabilities, truth, classification)
    features, errors, helps = {}, {}, []
    count = len(inputs)
    # The repeats' shuffled copies are scored in one call per feature: a forest's predict costs
    # per call far more than per row (its trees are walked one call at a time), so on the sample
    # this is ~4x faster than a call per repeat, with the same permutations and predictions.
    repeated = pd.concat([inputs] * repeats, ignore_index=True)
    for name in inputs.columns:
        shuffled, column = repeated.copy(), inputs[name].to_numpy()
        shuffled[name] = np.concatenate([column[rng.permutation(count)] for _ in range(repeats)])
        all_labels, all_probabilities = outputs(model, shuffled, classification)
        all_labels = np.asarray(all_labels)
        scores, helped = [], []
        for start in range(0, count * repeats, count):
            labels = all_labels[start : start + count]
            probabilities = None
            if all_probabilities is not None:
                probabilities = all_probabilities[start : start + count]
            scores.append(row_scores(labels, truth, classification))
            score = help_score(model, labels, probabilities, truth, classification)
            helped.append(baseline_help - score)
        drops = baseline - np.mean(scores, axis=0)  # per row: what shuffling the feature costs
        features[str(name)] = round(float(drops.mean()), 6)
        spread = float(drops.std(ddof=1)) if len(drops) > 1 else 0.0
        errors[str(name)] = round(spread / np.sqrt(len(drops)), 6)
        helps.append(helped)
    bound = -params.evaluate.max_harmful_importance
    failures = [
        f"feature {name}: permutation importance {value:.4f} is below {bound} "
        f"(+/- {errors[name]:.4f}: the model scores better with it shuffled)"
        for name, value in features.items()
        if value < bound and value + 2 * errors[name] < 0
    ]
    useless = never_helping(inputs.columns, np.asarray(helps), training, actual.name)
    share, limit = len(useless) / max(len(features), 1), params.evaluate.max_useless_share
    if share > limit:
        failures.append(
            f"{len(useless)} of {len(features)} features never help ({', '.join(useless)}): "
            f"more than evaluate.max_useless_share {limit:g}; drop them (schema.yaml ignored)"
        )
    return {
        "scoring": "accuracy" if classification else "r2",
        "bound": bound,
        "rows": len(inputs),
        "repeats": repeats,
        "features": features,
        "standard_errors": errors,
        "useless": useless,
        "useless_share": round(share, 4),
        "max_useless_share": limit,
        "passed": not failures,
        "failures": failures,
    }


def outputs(model: Any, inputs: pd.DataFrame, classification: bool) -> tuple[Any, Any]:
    """Labels and, where the model gives them, class probabilities, in one pass. Any object with
    `predict` (and `predict_proba`, `classes_`) will do: a project's own estimator need not
    derive from scikit-learn's classes."""
    if classification and hasattr(model, "predict_proba"):
        probabilities = model.predict_proba(inputs)
        return np.asarray(model.classes_)[probabilities.argmax(axis=1)], probabilities
    return model.predict(inputs), None


def help_score(
    model: Any, labels: Any, probabilities: Any, truth: np.ndarray, classification: bool
) -> float:
    """A proper score of the predictions, higher is better: how much a feature helps is what
    shuffling it costs here (minus log loss of the probabilities, or r2; accuracy for a
    classifier without probabilities)."""
    if probabilities is not None:
        return -float(log_loss(truth, probabilities, labels=model.classes_))
    if classification:
        return float(np.mean(np.asarray(labels) == truth))
    return float(r2_score(truth, np.asarray(labels, dtype="float64")))


def never_helping(
    names: Any, importances: np.ndarray, training: pd.DataFrame | None, target: Any
) -> list[str]:
    """The features whose shuffling never hurt the model beyond noise and that, alone, are not
    associated with the target on the training split."""
    repeats = importances.shape[1]
    mean = importances.mean(axis=1)
    error = importances.std(axis=1, ddof=1) / np.sqrt(repeats) if repeats > 1 else 0 * mean
    found = []
    for index, name in enumerate(names):
        if mean[index] - 2 * error[index] > 0:
            continue
        if training is not None and association(training[name], training[target]) < 0.05:
            continue
        found.append(str(name))
    return found


def association(values: pd.Series, target: pd.Series) -> float:
    """The p-value of a feature's association with the target: Kruskal-Wallis of the numbers
    across the classes (or of the target across the categories), Spearman's rank correlation
    of two numbers, chi-squared of two categories. 1 when there is too little to test."""
    from scipy import stats

    present = values.notna() & target.notna()
    values, target = values[present], target[present]
    number = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    number = number and values.nunique() > 2
    numeric_target = pd.api.types.is_float_dtype(target) or (
        pd.api.types.is_numeric_dtype(target) and target.nunique() > 20
    )
    if values.nunique() < 2 or target.nunique() < 2:
        return 1.0
    with np.errstate(all="ignore"):
        if number and numeric_target:
            p = stats.spearmanr(values, target).pvalue
        elif number:
            groups = [values[target == label] for label in target.unique()]
            p = stats.kruskal(*groups).pvalue
        elif numeric_target:
            groups = [target[values == value] for value in values.unique()]
            p = stats.kruskal(*groups).pvalue if len(groups) > 1 else 1.0
        else:
            p = stats.chi2_contingency(pd.crosstab(values, target)).pvalue
    return float(p) if np.isfinite(p) else 1.0


# Predictions are timed in the process's CPU time, not wall time: on a busy machine (a shared
# CI runner, the gate next to other jobs) a prediction of a few milliseconds is preempted in
# some runs and not others, and wall times of the same model twice differed 2.25 times. CPU
# time counts the work (every thread's) and not the waiting. A batch of a small test split
# still takes milliseconds: it is timed as often as fits in about BATCH_SECONDS (at least
# `rounds` times, at most MAX_BATCH_ROUNDS), so that the gate does not refuse a model for noise.
BATCH_SECONDS = 0.5
MAX_BATCH_ROUNDS = 15


def timings(
    models: list[Any],
    inputs: pd.DataFrame | list[pd.DataFrame],
    records: int = 20,
    rounds: int = 3,
) -> list[tuple[float, float]]:
    """(CPU seconds for one record, CPU seconds for the whole batch) of each model as serving
    predicts with it (the compiled engine where it gives the pipeline's answers,
    `compile_model`), the best of `rounds` x `records` runs for a record and of several runs of
    the batch: the models take turns, so that a busy machine slows them alike, and the minimum
    is the least noisy estimate of the work itself (noise only ever adds time). `inputs`: the
    records of every model, or each model's own (the same rows in other columns)."""
    clock = time.process_time
    frames = inputs if isinstance(inputs, list) else [inputs] * len(models)
    rows = [frame.head(records) for frame in frames]
    models = [compile_model(model, own) for model, own in zip(models, rows, strict=True)]
    single: list[list[float]] = [[] for _ in models]
    batch: list[list[float]] = [[] for _ in models]
    for _ in range(rounds):
        for index in range(len(rows[0])):
            for slot, model in enumerate(models):
                started = clock()
                predict(model, rows[slot].iloc[[index]])
                single[slot].append(clock() - started)
    spent = 0.0
    for done in range(MAX_BATCH_ROUNDS):
        if done >= rounds and spent >= BATCH_SECONDS:
            break
        for slot, model in enumerate(models):
            started = clock()
            predict(model, frames[slot])
            batch[slot].append(clock() - started)
            spent += batch[slot][-1]
    return [(min(one), min(whole)) for one, whole in zip(single, batch, strict=True)]


def costs(
    model: Any, inputs: pd.DataFrame, timed: tuple[float, float] | None = None
) -> dict[str, Any]:
    """What the model costs to serve (monitoring-6): latency of one record as serving predicts
    them and rows per second of a batch (the test split), both in CPU time and the best of
    several runs (`timings`), and its size pickled (what a server holds in memory, roughly)."""
    one, whole = timed or timings([model], inputs)[0]
    return {
        "latency_ms": round(1000 * one, 3),
        "rows_per_second": round(len(inputs) / max(whole, 1e-9), 1),
        "model_bytes": len(pickle.dumps(model)),
        "training_seconds": None,  # the train stage's (models/metadata.json), added by evaluate
    }


def cost_comparison(
    ours: dict[str, Any],
    model: Any,
    champion: Any,
    champion_training_seconds: float | None,
    inputs: pd.DataFrame,
    gate: GateParams,
    champion_inputs: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """The challenger's computing costs beside the champion's (monitoring-6), both models timed
    here and now on the same records (one machine: no hardware difference), training times as
    each run measured them. A challenger slower or larger than the gate's factors allow is
    refused: `failures`. `champion_inputs`: the same records in the champion's own columns,
    where it takes other inputs than the challenger."""
    theirs_inputs = inputs if champion_inputs is None else champion_inputs
    ours_timed, theirs_timed = timings([model, champion], [inputs, theirs_inputs])
    challenger = costs(model, inputs, ours_timed)
    theirs = costs(champion, theirs_inputs, theirs_timed)
    challenger["training_seconds"] = ours.get("training_seconds")
    theirs["training_seconds"] = champion_training_seconds
    bounds = {
        "latency_ms": ("latency per record", gate.max_slowdown, True),
        "rows_per_second": ("rows per second", gate.max_slowdown, False),
        "training_seconds": ("training time", gate.max_training_slowdown, True),
        "model_bytes": ("model size", gate.max_size_growth, True),
    }
    ratios, failures = {}, []
    for key, (what, bound, higher_is_worse) in bounds.items():
        mine, champions = challenger.get(key), theirs.get(key)
        if not mine or not champions:
            continue
        ratio = mine / champions if higher_is_worse else champions / mine
        ratios[key] = round(ratio, 3)
        if ratio > bound:
            failures.append(
                f"{what} {mine:g} against the champion's {champions:g}: {ratio:.2f} times worse, "
                f"more than the gate's {bound:g}"
            )
    return {
        "compared": True,
        "challenger": challenger,
        "champion": theirs,
        "ratios": ratios,
        "failures": failures,
    }


def row_scores(predicted: Any, truth: np.ndarray, classification: bool) -> np.ndarray:
    """Each row's share of the score: right or wrong (accuracy), or 1 - its squared error over
    the mean squared deviation of the target (r2: their mean is the r2 of all rows)."""
    if classification:
        return (np.asarray(predicted) == truth).astype("float64")
    values = truth.astype("float64")
    spread = float(((values - values.mean()) ** 2).mean()) or 1.0
    return 1 - (values - np.asarray(predicted, dtype="float64")) ** 2 / spread


# Random regroupings of the scored rows behind a sensitive feature's chance gap: the primary
# metric computed this many times per group (measured on the samples, a feature of two groups:
# 0.35 CPU-s with r2, 1.3 with ROC AUC).
CHANCE_REGROUPINGS = 200


def group_gaps(
    model: Any,
    test_split: pd.DataFrame,
    schema: Schema,
    params: Params,
    predicted: tuple[Any, pd.DataFrame | None] | None = None,
) -> dict[str, Any]:
    """Inclusion: the primary metric on each group of every feature tagged `sensitive` (each
    value of a category or boolean, else below and above the median), and the gap between the
    best and the worst group. A gap fails the quality bar when it is over params.yaml
    quality.max_group_gap and over its chance level: the gap that random groups of the same
    sizes reach one time in twenty (`chance_gap`, from CHANCE_REGROUPINGS seeded regroupings of
    the same rows). On a small test split groups of a few dozen rows differ by chance more than
    the bound (r2 on two random halves of the diabetes sample's 89 test rows: over 0.1 apart
    more often than not); on a large one chance shrinks and the bound decides. `predicted`:
    the model's outputs on test_split where the caller has them (else predicted here)."""
    primary, bound = params.quality.primary_metric, params.quality.max_group_gap
    columns: dict[str, Any] = {}
    failures: list[str] = []
    tagged = schema.tagged("sensitive")
    if not tagged:
        return {"metric": primary, "bound": bound, "features": columns, "failures": failures}
    # Predicted once: a record's prediction does not depend on the rest of its batch
    answers, probabilities = predicted or predict(model, test_split[schema.feature_names])
    truth, labels = test_split[schema.target.name].to_numpy(), np.asarray(answers)

    def score(rows: np.ndarray) -> float | None:
        scores = None if probabilities is None else probabilities.iloc[rows]
        found = metrics.compute_metrics(truth[rows], labels[rows], scores, names=[primary])
        return found.get(primary)

    rng = np.random.default_rng(params.seed)
    for name in tagged:
        values = test_split[name]
        if schema.features[name].values is None:
            median = values.median()
            grouped = np.where(values > median, f"above {median:g}", f"at most {median:g}")
            values = pd.Series(grouped, index=values.index)
        groups: dict[str, Any] = {}
        membership = values.astype(str).to_numpy()
        scored: dict[str, np.ndarray] = {}
        for value in sorted(set(membership)):
            rows = np.flatnonzero(membership == value)
            if len(rows) < params.evaluate.min_slice_rows:
                groups[value] = {"rows": len(rows), "skipped": "too few rows"}
                continue
            scored[value] = rows
            groups[value] = {"rows": len(rows), primary: score(rows)}
        compared = sum(groups[value][primary] is not None for value in scored)
        if compared < 2:
            # One group scored is no comparison: no gap of 0 to read as "served alike"
            columns[name] = {
                "groups": groups,
                "gap": None,
                "chance_gap": None,
                "not_compared": (
                    f"{compared} group with a score (each needs evaluate.min_slice_rows, "
                    f"{params.evaluate.min_slice_rows}, rows of the test split)"
                ),
            }
            continue
        gap = spread([groups[value][primary] for value in scored])
        chance = chance_gap(list(scored.values()), score, rng)
        columns[name] = {"groups": groups, "gap": gap, "chance_gap": chance}
        if gap > bound and gap > chance:
            failures.append(
                f"sensitive feature {name}: {primary} differs by {gap:.4f} across its groups, "
                f"more than quality.max_group_gap {bound} and than chance ({chance:.4f}: random "
                "groups of the same sizes differ that much one time in twenty): see which group "
                "is served worse in reports/metrics.json groups, and improve the model for it "
                "(its rows, its features) or, if the gap is one you accept, raise the bound"
            )
    return {"metric": primary, "bound": bound, "features": columns, "failures": failures}


def spread(scores: list[float | None]) -> float:
    """The best group's score minus the worst's (0 with fewer than two scores)."""
    found = [value for value in scores if value is not None]
    return round(max(found) - min(found), 6) if len(found) > 1 else 0.0


def chance_gap(
    groups: list[np.ndarray],
    score: Callable[[np.ndarray], float | None],
    rng: np.random.Generator,
) -> float:
    """The 95th percentile of the gap between groups of these sizes drawn at random from the
    same rows: what the gap reaches with no difference between the groups at all (SciPy's
    permutation test, rows exchanged between the groups)."""
    from scipy.stats import permutation_test

    test = permutation_test(
        groups,
        lambda *drawn: spread([score(rows) for rows in drawn]),
        permutation_type="independent",
        vectorized=False,
        n_resamples=CHANCE_REGROUPINGS,
        alternative="greater",
        rng=rng,
    )
    return round(float(np.quantile(test.null_distribution, 0.95)), 6)


def slice_metrics(
    model: Any,
    baselines: dict[str, Any],
    test_split: pd.DataFrame,
    schema: Schema,
    settings: EvaluateParams,
) -> dict[str, dict[str, Any]]:
    """Metrics of the model and of each baseline on every slice of schema.yaml; small slices are
    reported, not scored."""
    results = {}
    target = schema.target.name
    for piece in schema.slices:
        try:
            rows = test_split.query(piece.query)
        except Exception as error:  # pandas raises many types for a bad expression
            message = f"schema.yaml slices {piece.name}: bad query {piece.query!r}: {error}"
            raise ConfigError(message) from None
        if len(rows) < settings.min_slice_rows:
            results[piece.name] = {"rows": len(rows), "skipped": "too few rows"}
            continue
        inputs = rows[schema.feature_names]
        results[piece.name] = {
            "rows": len(rows),
            "metrics": metrics.compute_metrics(rows[target], *predict(model, inputs)),
            "baselines": {
                name: metrics.compute_metrics(rows[target], *predict(baseline, inputs))
                for name, baseline in baselines.items()
            },
        }
    return results


def meets(metric: str, value: float, bar: float) -> bool:
    """Whether `value` clears `bar`, in the direction the metric improves."""
    return value >= bar if metrics.higher_is_better(metric) else value <= bar


def gain(metric: str, ours: float, theirs: float) -> float:
    """How much better `ours` is than `theirs`, in the direction the metric improves."""
    return ours - theirs if metrics.higher_is_better(metric) else theirs - ours


def check_metrics(quality: QualityParams, task: str) -> None:
    """Every metric params.yaml names must exist for this task: one clear error if not."""
    known = metrics.known(task)
    named = [quality.primary_metric, *quality.thresholds, *quality.slice_thresholds]
    unknown = sorted({name for name in named if name not in known})
    if unknown:
        raise ConfigError(
            f"params.yaml quality: {', '.join(unknown)} not {task} metrics; "
            f"use one of {', '.join(known)}"
        )


def quality_failures(report: dict[str, Any], quality: QualityParams) -> list[str]:
    """Every way the evaluated model misses the quality bar, as readable sentences."""
    failures = []
    for metric, bar in quality.thresholds.items():
        value = report["test"].get(metric)
        if value is None or not meets(metric, value, bar):
            failures.append(f"test {metric} {value} misses the bar {bar}")

    primary = quality.primary_metric
    ours = report["test"].get(primary)
    if ours is None:
        return [*failures, f"test {primary} is not defined on the test split (a class missing?)"]
    for baseline, margin in quality.beat_baselines.items():
        if baseline not in report["baselines"]:
            raise ConfigError(f"params.yaml quality.beat_baselines: no baseline '{baseline}'")
        theirs = report["baselines"][baseline][primary]
        if gain(primary, ours, theirs) < margin:
            failures.append(baseline_failure(primary, ours, baseline, theirs, margin))

    for name, result in report["slices"].items():
        if "metrics" not in result:
            continue
        for metric, bar in quality.slice_thresholds.items():
            value = result["metrics"].get(metric)
            if value is not None and not meets(metric, value, bar):
                failures.append(f"slice {name}: {metric} {value} misses the bar {bar}")
        ours = result["metrics"].get(primary)
        for baseline, margin in quality.slice_beat_baselines.items():
            if baseline not in result["baselines"]:
                raise ConfigError(
                    f"params.yaml quality.slice_beat_baselines: no baseline '{baseline}'"
                )
            theirs = result["baselines"][baseline].get(primary)
            if ours is not None and theirs is not None and gain(primary, ours, theirs) < margin:
                failures.append(
                    f"slice {name}: {primary} {ours:.4f} does not beat the {baseline} "
                    f"baseline ({theirs:.4f}) by {margin}"
                )
    return failures


def baseline_failure(primary: str, ours: float, baseline: str, theirs: float, margin: float) -> str:
    """A baseline the model does not beat by its margin; a negative margin is how much worse
    than it the model may be (a simpler model is not better: model-5)."""
    if margin >= 0:
        return (
            f"{primary} {ours:.4f} does not beat the {baseline} baseline ({theirs:.4f}) by {margin}"
        )
    advice = "; params.yaml train.estimator: linear trains it" if baseline == "linear" else ""
    return (
        f"{primary} {ours:.4f} is clearly worse than the {baseline} baseline ({theirs:.4f}): "
        f"by {abs(gain(primary, ours, theirs)):.4f}, more than the {-margin} "
        f"quality.beat_baselines allows (a simpler model is better{advice})"
    )


def write_outputs(
    report: dict[str, Any],
    model: Any,
    test_split: pd.DataFrame,
    target: str,
    metrics_file: Path,
    plots_dir: Path,
    figures_dir: Path,
) -> None:
    """metrics.json, the plot tables (for `dvc plots`) and the figures (PNG)."""
    metrics_file.parent.mkdir(parents=True, exist_ok=True)
    metrics_file.write_text(json.dumps(report, indent=2) + "\n")
    actual = test_split[target].to_numpy()
    predicted = predict(model, test_split.drop(columns=[target]))
    plots_dir.mkdir(parents=True, exist_ok=True)
    for name, table in metrics.plot_tables(actual, *predicted).items():
        table.to_csv(plots_dir / f"{name}.csv", index=False)
    figures_dir.mkdir(parents=True, exist_ok=True)
    for name, figure in metrics.figures(actual, *predicted).items():
        figure.savefig(figures_dir / f"{name}.png", dpi=100)
