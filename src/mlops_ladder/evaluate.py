"""Score the model on the test split, on slices of it and against baselines; check the bar.

The quality bar (params.yaml `quality`) is the same everywhere: the model tests assert it, and
from level 1 the registry gate refuses a model that misses it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from mlops_ladder import metrics
from mlops_ladder.config import EvaluateParams, Params, QualityParams
from mlops_ladder.errors import ConfigError
from mlops_ladder.model import make_baselines, predict
from mlops_ladder.schema import Schema
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
        report["classes"] = [str(label) for label in predicted[1].columns]
        report["per_class"] = metrics.per_class(actual, *predicted)
    report["numerics"] = numerics(predicted)
    report["feature_importance"] = feature_importance(model, inputs, actual, params)
    report["groups"] = group_gaps(model, test_split, schema, params)
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
    model: Any, inputs: pd.DataFrame, actual: pd.Series, params: Params
) -> dict[str, Any]:
    """Permutation importance of each feature on the test split (the model's own score:
    accuracy or r2), with its standard error over the rows. A feature whose shuffling improves
    the score by more than params.yaml evaluate.max_harmful_importance, and by more than
    chance on this many rows (two standard errors), does the model harm: a failure.

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
    baseline = row_scores(model.predict(inputs), truth, classification)
    features, errors = {}, {}
    for name in inputs.columns:
        shuffled, column = inputs.copy(), inputs[name].to_numpy()
        scores = []
        for _ in range(repeats):
            shuffled[name] = column[rng.permutation(len(column))]
            scores.append(row_scores(model.predict(shuffled), truth, classification))
        drops = baseline - np.mean(scores, axis=0)  # per row: what shuffling the feature costs
        features[str(name)] = round(float(drops.mean()), 6)
        spread = float(drops.std(ddof=1)) if len(drops) > 1 else 0.0
        errors[str(name)] = round(spread / np.sqrt(len(drops)), 6)
    bound = -params.evaluate.max_harmful_importance
    failures = [
        f"feature {name}: permutation importance {value:.4f} is below {bound} "
        f"(+/- {errors[name]:.4f}: the model scores better with it shuffled)"
        for name, value in features.items()
        if value < bound and value + 2 * errors[name] < 0
    ]
    return {
        "scoring": "accuracy" if classification else "r2",
        "bound": bound,
        "rows": len(inputs),
        "repeats": repeats,
        "features": features,
        "standard_errors": errors,
        "passed": not failures,
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


def group_gaps(
    model: Any, test_split: pd.DataFrame, schema: Schema, params: Params
) -> dict[str, Any]:
    """Inclusion: the primary metric on each group of every feature tagged `sensitive` (each
    value of a category or boolean, else below and above the median), and the gap between the
    best and the worst group, which must stay within params.yaml quality.max_group_gap."""
    primary, bound = params.quality.primary_metric, params.quality.max_group_gap
    target, columns, failures = schema.target.name, {}, []
    for name in schema.tagged("sensitive"):
        values = test_split[name]
        if schema.features[name].values is None:
            median = values.median()
            labels = np.where(values > median, f"above {median:g}", f"at most {median:g}")
            values = pd.Series(labels, index=values.index)
        groups: dict[str, Any] = {}
        for value, rows in test_split.groupby(values.astype(str), dropna=False):
            if len(rows) < params.evaluate.min_slice_rows:
                groups[str(value)] = {"rows": len(rows), "skipped": "too few rows"}
                continue
            scored = metrics.compute_metrics(
                rows[target], *predict(model, rows[schema.feature_names])
            )
            groups[str(value)] = {"rows": len(rows), primary: scored.get(primary)}
        scores = [g[primary] for g in groups.values() if g.get(primary) is not None]
        gap = round(max(scores) - min(scores), 6) if len(scores) > 1 else 0.0
        columns[name] = {"groups": groups, "gap": gap}
        if gap > bound:
            failures.append(
                f"sensitive feature {name}: {primary} differs by {gap:.4f} across its groups, "
                f"more than quality.max_group_gap {bound}"
            )
    return {"metric": primary, "bound": bound, "features": columns, "failures": failures}


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
            failures.append(
                f"{primary} {ours:.4f} does not beat the {baseline} baseline "
                f"({theirs:.4f}) by {margin}"
            )

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
