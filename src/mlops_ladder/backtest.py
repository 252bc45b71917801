"""What a model's age costs: a backtest on the data in its order (ML Test Score, model-4).

The labelled rows, in order (params.yaml `evaluate.order_by`: a column of dates or times, or of
whole calendar years (data.is_year), listed under schema.yaml `ignored` or a feature; else the
order of the rows as ingested), are cut into `backtest_windows` consecutive windows of equal
size. A model is trained on each window as params.yaml trains it, and scored on every later
window: its score at age 1, 2, ... windows, averaged over the windows it started from. The
retraining interval is the greatest age whose score stays within `evaluate.max_staleness_drop`
of the score at age 1: retrain at least that often (in rows of new data, or in time when
`order_by` is a date or a year). Ordered in time, each age is also given in time, in years
for a column of years and in days for dates (the later window's mean time less the earlier
one's, averaged over the pairs scored), and so is the retraining interval.

Data with no order (a shuffled sample) shows no decay: the interval is then the whole span.
Rows in the order of their target (a file sorted or grouped by it: data.ordered_by_target) are
not in the order of time: the backtest is not measured, and says so (set `order_by`). Windows
fit the rows: at least `evaluate.min_slice_rows` rows each (fewer windows on a small table, no
backtest below three); on a large table each window trains and scores on a seeded sample of at
most MAX_WINDOW_ROWS rows, so that the cost stays bounded whatever the rows.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from mlops_ladder import metrics
from mlops_ladder.config import Params
from mlops_ladder.data import is_date, is_year, ordered_by_target
from mlops_ladder.errors import ConfigError, ProjectError
from mlops_ladder.features import add_derived_features, derived_for
from mlops_ladder.model import predict
from mlops_ladder.schema import Schema
from mlops_ladder.train import Tuned, train

MIN_WINDOWS = 3
MAX_WINDOW_ROWS = 5_000


def staleness(
    dataset: pd.DataFrame, schema: Schema, params: Params, tuned: Tuned | None = None
) -> dict[str, Any]:
    """The score by model age, and the retraining interval it implies (or, when it cannot be
    measured on this data, why: `not_measured`). Each window's model is the one the train stage
    fits: params.yaml's, or `tuned` (train.tuned_model: the tune stage's choice)."""
    settings, primary = params.evaluate, params.quality.primary_metric
    target, order_by = schema.target.name, settings.order_by
    rows = dataset[dataset[target].notna()]
    time_unit = None
    if order_by is not None:
        if order_by not in rows.columns:
            raise ConfigError(f"params.yaml evaluate.order_by: the data has no column '{order_by}'")
        present = rows[order_by].dropna()
        dated = is_date(present)
        time_unit = "dates" if dated else "years" if is_year(present) else None
        rows = rows.sort_values(order_by, kind="stable", key=_as_time if dated else None)
    count = min(settings.backtest_windows, len(rows) // settings.min_slice_rows)
    result: dict[str, Any] = {
        "metric": primary,
        "order": order_by or "row order",
        # ordered by dates or by years: the score by age is the model's age in time
        "in_time": time_unit is not None,
        "time_unit": time_unit,  # "dates", "years" (a column of whole years) or None
        "windows": count,
        "rows_per_window": -(-len(rows) // count) if count else 0,
        "skipped": [],
        "score_by_age": {},
        "retrain_every_windows": None,
        "retrain_every_rows": None,
        "not_measured": None,
    }
    # Each age in windows also as time between the windows: in years, or in days for dates
    span = SPANS.get(time_unit or "")
    if span:
        result[f"{span}_by_age"] = {}
        result[f"retrain_every_{span}"] = None
    problem = None
    if order_by is None:
        problem = ordered_by_target(rows[target], schema.task == "classification")
        problem = problem and f"{problem}: not the order of time (set evaluate.order_by)"
    if problem is None and count < MIN_WINDOWS:
        problem = (
            f"{len(rows)} labelled rows: too few for {MIN_WINDOWS} windows of "
            f"evaluate.min_slice_rows ({settings.min_slice_rows}) rows"
        )
    if problem is not None:
        result["not_measured"] = problem
        return result
    windows = np.array_split(np.arange(len(rows)), count)
    frames = [_sample(rows.iloc[index], params.seed) for index in windows]
    result["sampled_rows_per_window"] = len(frames[0]) if len(frames[0]) < len(windows[0]) else None
    derived = derived_for(schema.feature_names)
    scores: dict[int, list[float]] = {}
    gaps: dict[int, list[float]] = {}
    if span:  # each window's mean time (of all its rows, not the sample's), in its span
        where = _in_span(rows[order_by], span)
        means = [float(where.iloc[index].mean()) for index in windows]
    for start, window in enumerate(frames[:-1]):
        try:
            model = train(add_derived_features(window, derived), schema, params, tuned)
        except (ProjectError, ValueError) as error:  # e.g. a window holding one class only
            result["skipped"].append(f"window {start}: {error}")
            continue
        for later in range(start + 1, len(frames)):
            scored = frames[later]
            try:
                with warnings.catch_warnings():
                    # A window may miss a class: scikit-learn warns of it on every metric;
                    # the backtest only needs the primary one, and says when it is undefined.
                    warnings.simplefilter("ignore", UserWarning)
                    value = metrics.compute_metrics(
                        scored[target], *predict(model, scored[schema.feature_names])
                    ).get(primary)
            except ValueError as error:  # e.g. a class the window's model never saw
                result["skipped"].append(f"window {start} on window {later}: {error}")
                continue
            if value is not None and np.isfinite(value):
                scores.setdefault(later - start, []).append(float(value))
                if span:
                    gaps.setdefault(later - start, []).append(means[later] - means[start])
    by_age = {age: round(float(np.mean(values)), 6) for age, values in sorted(scores.items())}
    result["score_by_age"] = {str(age): value for age, value in by_age.items()}
    interval = retraining_interval(by_age, primary, settings.max_staleness_drop)
    result["retrain_every_windows"] = interval
    result["retrain_every_rows"] = None if interval is None else interval * len(windows[0])
    if span:
        in_span = {age: round(float(np.mean(found)), 2) for age, found in sorted(gaps.items())}
        result[f"{span}_by_age"] = {str(age): value for age, value in in_span.items()}
        result[f"retrain_every_{span}"] = None if interval is None else in_span[interval]
    return result


# The span an age in time is given in: years for a column of years, days for dates.
SPANS = {"years": "years", "dates": "days"}


def _in_span(column: pd.Series, span: str) -> pd.Series:
    """The column as numbers of its span: years as they are, dates as days (since 1970)."""
    if span == "years":
        return column.astype(float)
    times = pd.to_datetime(_as_time(column), utc=True)  # one clock, whatever the offsets
    return (times - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1)


def _as_time(column: pd.Series) -> pd.Series:
    # Dates written as text sort as dates ("3/1/2021" after "12/1/2020"), not as text.
    return pd.Series(pd.to_datetime(column, errors="coerce", format="mixed"), index=column.index)


def _sample(window: pd.DataFrame, seed: int) -> pd.DataFrame:
    """A window, or a seeded sample of MAX_WINDOW_ROWS of its rows (a large table)."""
    if len(window) <= MAX_WINDOW_ROWS:
        return window
    chosen = np.random.default_rng(seed).choice(len(window), MAX_WINDOW_ROWS, replace=False)
    return window.iloc[np.sort(chosen)]  # in their order


def retraining_interval(by_age: dict[int, float], metric: str, max_drop: float) -> int | None:
    """The greatest age (in windows) up to which the score stays within `max_drop` of its value
    at age 1; None without scores."""
    if not by_age:
        return None
    sign = 1 if metrics.higher_is_better(metric) else -1
    fresh, interval = by_age[min(by_age)], min(by_age)
    for age, value in by_age.items():
        if sign * (fresh - value) > max_drop:
            break
        interval = age
    return interval
