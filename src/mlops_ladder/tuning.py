"""Hyperparameter tuning: an Optuna study of the estimator params.yaml configures, and the check
that the configuration train uses is as good as the best the study found.

The study searches params.yaml `tune.space` for the chosen estimator (hyperparameters outside the
space keep their configured values), scoring each trial by the primary metric in k-fold
cross-validation on the training features. Its TPE sampler is seeded (`tune.seed`), so the same
data and params give the same trials (a study the `timeout` stops early runs fewer: the report
says so). On a large table the study runs on a seeded sample of MAX_ROWS training rows, the
configured hyperparameters scored on the same rows: its cost stays bounded whatever the rows.

A configuration that scores more than `tune.tolerance` below the best found is a shortfall.
params.yaml `tune.on_shortfall` decides what follows: `use_best` (the default: a first run on a
new table ends with a model) has train fit the study's best hyperparameters instead, and say
so, naming the values to copy into params.yaml to make them the spec; `error` fails the stage
with that message (a team whose params.yaml must be the model trained).

The estimator family gets the same check: when params.yaml's estimator is not `linear`, the
built-in linear model is tuned alike (a study of `tune.space.linear`, params.yaml `train.linear`
its configuration) on the same folds and rows. If the linear model train would fit (its
configuration, or its study's best on a shortfall) beats the model train would fit otherwise
(params.yaml's configuration, or the study's best on a shortfall) by more than the quality bar
lets a model trail it (quality.beat_baselines `linear`, as the registry gate judges it), the
report says `use_estimator: linear`: train fits it under `use_best`, naming the edit that makes
it the spec (`train.estimator: linear`), and the stage fails under `error`.

The report's `passed` (the readiness card's model-3, "all hyperparameters have been tuned") is
true of the model train fits: its hyperparameters are params.yaml's own for that estimator and
score within `tune.tolerance` of the best its study found. Train fitting a study's best instead
(a shortfall) is not a pass: params.yaml is the spec, and it falls short.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.model_selection import GroupKFold, KFold, StratifiedGroupKFold, StratifiedKFold

from mlops_ladder.config import Params
from mlops_ladder.data import row_keys
from mlops_ladder.errors import ConfigError
from mlops_ladder.evaluate import gain
from mlops_ladder.metrics import compute_metrics, higher_is_better
from mlops_ladder.model import make_estimator, predict
from mlops_ladder.schema import Schema
from mlops_ladder.train import fit

# The study's own per-trial lines would flood the pipeline's output; tune logs a summary.
optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class Tuning:
    """What a study found, and how the configured hyperparameters compare (reports/tuning.json)."""

    estimator: str
    metric: str
    greater_is_better: bool
    folds: int
    tolerance: float
    configured: dict[str, Any]
    configured_score: float
    best_params: dict[str, Any]
    best_score: float
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0
    # The study's budget: trials asked for, and whether the timeout stopped it before them.
    n_trials: int = 0
    stopped_early: bool = False
    rows: int = 0  # the training rows the study scored on
    sampled: bool = False  # a seeded sample of a larger training split (MAX_ROWS)
    on_shortfall: str = "error"
    # The linear model tuned alike, when the estimator is another (linear_study): train.linear
    # (configured) and its score, the best of its study, and how far the quality bar lets a
    # model trail the linear model (margin).
    linear: dict[str, Any] | None = None

    def _shortfall(self, configured: float | None, best: float) -> float:
        if configured is None:  # did not converge
            return float("inf")
        gap = best - configured
        return max(0.0, gap if self.greater_is_better else -gap)

    @property
    def shortfall(self) -> float:
        """How much worse the configured hyperparameters score than the best found (>= 0)."""
        return self._shortfall(self.configured_score, self.best_score)

    @property
    def hyperparameters_passed(self) -> bool:
        """Whether params.yaml's hyperparameters score within tolerance of the study's best."""
        return self.shortfall <= self.tolerance

    @property
    def candidate_score(self) -> float:
        """The score of the model of params.yaml's estimator train would fit: params.yaml's
        configuration, or the study's best when that falls short of it."""
        return self.configured_score if self.hyperparameters_passed else self.best_score

    @property
    def linear_hyperparameters_passed(self) -> bool:
        """Whether train.linear scores within tolerance of the best of the linear study."""
        if not self.linear or self.linear["best_score"] is None:
            return False
        shortfall = self._shortfall(self.linear["configured_score"], self.linear["best_score"])
        return shortfall <= self.tolerance

    @property
    def linear_score(self) -> float | None:
        """The score of the linear model train would fit: train.linear, or the linear study's
        best when that falls short of it; None when no linear model converged."""
        if not self.linear:
            return None
        if self.linear_hyperparameters_passed:
            return float(self.linear["configured_score"])
        return self.linear["best_score"]

    @property
    def linear_is_better(self) -> bool:
        """Whether the linear model beats the model train would fit otherwise by more than the
        quality bar lets a model trail it (evaluate.quality_failures' rule for the linear
        baseline; with a margin of zero or more, by anything: the gate would refuse the
        other). The gate judges the model train fits, so that is the one compared, not only
        the study's best: a configuration within tune.tolerance of the best can still trail
        the linear model by more than the bar allows."""
        if self.linear is None or self.linear_score is None:
            return False
        ahead = gain(self.metric, self.candidate_score, self.linear_score)
        return bool(ahead < min(self.linear["margin"], 0.0))

    @property
    def use_estimator(self) -> str | None:
        """The estimator to train instead of params.yaml's (`linear`), or None."""
        return "linear" if self.linear_is_better else None

    @property
    def as_configured(self) -> bool:
        """Whether params.yaml's model (its estimator and hyperparameters) is the one to train."""
        return self.hyperparameters_passed and not self.linear_is_better

    @property
    def use_best(self) -> bool:
        """Whether train fits the study's best (or the linear model, `use_estimator`) instead
        of params.yaml's model: tune.on_shortfall use_best, and params.yaml's not the one."""
        return not self.as_configured and self.on_shortfall == "use_best"

    @property
    def passed(self) -> bool:
        """Whether the model train fits has params.yaml's own hyperparameters for its estimator,
        within tolerance of the best its study found (the linear model's train.linear where
        train fits it; else the stage fails, or train fits a study's best: a shortfall)."""
        if self.linear_is_better and self.on_shortfall == "use_best":
            return self.linear_hyperparameters_passed
        return self.as_configured

    def failure(self) -> str:
        """What to do when params.yaml's model is not the one to train: the edit to make."""
        if self.linear_is_better:
            assert self.linear is not None
            assert self.linear_score is not None
            which = "params.yaml's" if self.hyperparameters_passed else "the study's best"
            ahead = -gain(self.metric, self.candidate_score, self.linear_score)
            advice = (
                f"the linear model scores {self.linear_score:.4f} {self.metric} in {self.folds}-"
                f"fold cross-validation, {ahead:.4f} better than {which} train.{self.estimator} "
                f"({self.candidate_score:.4f}; its study's best {self.best_score:.4f}), more than "
                f"quality.beat_baselines linear {self.linear['margin']:g} allows: a simpler model "
                "is better; set params.yaml train.estimator: linear"
            )
            if self.linear_hyperparameters_passed:
                return advice
            linear = self.linear
            return (
                f"{advice}, and {self._copy('linear', linear['configured'], linear['best_params'])}"
            )
        return (
            f"train.{self.estimator} scores {self.configured_score:.4f} {self.metric} in "
            f"{self.folds}-fold cross-validation, {self.shortfall:.4f} worse than the best the "
            f"study found ({self.best_score:.4f}; tune.tolerance {self.tolerance:g}): "
            f"{self._copy(self.estimator, self.configured, self.best_params)}"
        )

    @staticmethod
    def _copy(estimator: str, configured: dict[str, Any], best: dict[str, Any]) -> str:
        changed = {name: value for name, value in best.items() if configured.get(name) != value}
        lines = "\n".join(f"    {name}: {_yaml(value)}" for name, value in changed.items())
        return f"copy these into params.yaml train.{estimator}:\n{lines}"

    def to_dict(self) -> dict[str, Any]:
        return {
            **asdict(self),
            "shortfall": round(self.shortfall, 6),
            "passed": self.passed,
            "hyperparameters_passed": self.hyperparameters_passed,
            "use_best": self.use_best,
            "use_estimator": self.use_estimator,
            "linear": self.linear
            and {
                **self.linear,
                "hyperparameters_passed": self.linear_hyperparameters_passed,
                "score": self.linear_score,  # of the linear model train would fit
            },
        }


# The study's training rows on a large table: hyperparameters compare alike on a sample, and
# each trial's cost no longer grows with the table.
MAX_ROWS = 5_000


def study_rows(train_features: pd.DataFrame, schema: Schema, params: Params) -> pd.DataFrame:
    """The training features, or a seeded sample of MAX_ROWS of them (stratified on the class:
    each class keeps its share, and at least the folds' count of rows where it has them)."""
    if len(train_features) <= MAX_ROWS:
        return train_features
    if params.task != "classification":
        return train_features.sample(MAX_ROWS, random_state=params.tune.seed)
    labels = train_features[schema.target.name]
    share = MAX_ROWS / len(train_features)
    parts = [
        rows.sample(
            min(len(rows), max(params.tune.cv_folds, round(len(rows) * share))),
            random_state=params.tune.seed,
        )
        for _, rows in train_features.groupby(labels, sort=True)
    ]
    return pd.concat(parts).sort_index()


def cross_validated(
    train_features: pd.DataFrame,
    schema: Schema,
    params: Params,
    hyperparameters: dict[str, Any],
    estimator_name: str | None = None,
) -> float:
    """The primary metric of `hyperparameters` (of `estimator_name`, else params.yaml's
    estimator) on the out-of-fold predictions of k-fold cross-validation (stratified for
    classes), each fold fitted as train fits the model."""
    target = schema.target.name
    labels = train_features[target]
    held_parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    score_parts: list[pd.DataFrame] = []  # a classifier's, from every fold
    for fit_rows, held_rows in cv_folds(train_features, schema, params):
        estimator = make_estimator(
            estimator_name or params.train.estimator, hyperparameters, params.seed, params.task
        )
        model = fit(train_features.iloc[fit_rows], schema, estimator)
        held = train_features.iloc[held_rows]
        fold_labels, fold_scores = predict(model, held[schema.feature_names])
        held_parts.append(held_rows)
        label_parts.append(np.asarray(fold_labels))
        if fold_scores is not None:
            score_parts.append(fold_scores)
    order = np.argsort(np.concatenate(held_parts))
    predicted = np.concatenate(label_parts)[order]
    scores = None
    if score_parts:  # every class of the split, also one a fold's part lacked
        classes = sorted(labels.unique().tolist())
        table = pd.concat([part.reindex(columns=classes, fill_value=0.0) for part in score_parts])
        scores = table.iloc[order].reset_index(drop=True)
    metric = params.quality.primary_metric
    computed = compute_metrics(labels.to_numpy(), predicted, scores)
    if metric not in computed:
        raise ConfigError(f"quality.primary_metric {metric} is undefined on the training split")
    return computed[metric]


def cv_folds(
    train_features: pd.DataFrame, schema: Schema, params: Params
) -> list[tuple[np.ndarray, np.ndarray]]:
    """tune.cv_folds folds of the training rows (stratified for classes), shuffled by tune.seed.
    Rows that repeat another exactly (the split keeps every copy, on one side) stay in one fold:
    a copy held out is no test of what the model learnt from the other."""
    labels = train_features[schema.target.name]
    classes = params.task == "classification"
    settings = {"shuffle": True, "random_state": params.tune.seed}
    keys = row_keys(train_features)  # every column, as the split compares rows
    if keys.duplicated().any():
        grouped = StratifiedGroupKFold if classes else GroupKFold
        folds = grouped(params.tune.cv_folds, **settings)
        return list(folds.split(train_features, labels, groups=keys.to_numpy()))
    plain = StratifiedKFold if classes else KFold
    return list(plain(params.tune.cv_folds, **settings).split(train_features, labels))


def suggest(trial: optuna.Trial, space: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """One point of the space: `choices` (any values), else a `low`..`high` range, whole
    numbers when both bounds are, on a log scale with `log: true`."""
    chosen = {}
    for name, spec in space.items():
        if "choices" in spec:
            chosen[name] = trial.suggest_categorical(name, spec["choices"])
        elif isinstance(spec["low"], int) and isinstance(spec["high"], int):
            chosen[name] = trial.suggest_int(name, spec["low"], spec["high"], log=spec["log"])
        else:
            low, high = float(spec["low"]), float(spec["high"])
            chosen[name] = trial.suggest_float(name, low, high, log=spec["log"])
    return chosen


def study(
    train_features: pd.DataFrame,
    schema: Schema,
    params: Params,
    estimator: str,
    configured: dict[str, Any],
    skip_unconverged: bool = False,
) -> optuna.Study:
    """The Optuna study of `estimator`'s tune.space (hyperparameters outside it keep their
    `configured` values), each trial scored in cross-validation. A trial whose model does not
    converge fails the study, or with `skip_unconverged` is pruned (the trials lack it)."""
    settings = params.tune
    space = settings.space_of(estimator)

    def objective(trial: optuna.Trial) -> float:
        hyperparameters = {**configured, **suggest(trial, space)}
        try:
            return cross_validated(train_features, schema, params, hyperparameters, estimator)
        except ConfigError:
            if skip_unconverged:
                raise optuna.TrialPruned from None
            raise

    found = optuna.create_study(
        direction="maximize" if higher_is_better(params.quality.primary_metric) else "minimize",
        sampler=optuna.samplers.TPESampler(seed=settings.seed),
    )
    found.optimize(objective, n_trials=settings.n_trials, timeout=settings.timeout)
    return found


def completed(found: optuna.Study) -> list[dict[str, Any]]:
    """The study's finished trials, as the report lists them."""
    done = optuna.trial.TrialState.COMPLETE
    return [
        {"number": trial.number, "params": trial.params, "score": trial.value}
        for trial in found.trials
        if trial.state == done
    ]


def tune(train_features: pd.DataFrame, schema: Schema, params: Params) -> Tuning:
    """Run the study on the training features (a sample of a large table's); score the
    configured hyperparameters alike; tune the linear model alike (linear_study)."""
    rows = study_rows(train_features, schema, params)
    sampled, train_features = len(rows) < len(train_features), rows
    settings, estimator = params.tune, params.train.estimator
    configured = params.train.hyperparameters
    metric = params.quality.primary_metric
    # train:'s own hyperparameters first: a key the estimator does not take (another task's,
    # e.g. class_weight in a regression) is one line here, not a failed trial's traceback.
    make_estimator(estimator, configured, params.seed, params.task)
    started = time.perf_counter()
    found = study(train_features, schema, params, estimator, configured)
    configured_score = cross_validated(train_features, schema, params, configured)
    linear = linear_study(train_features, schema, params)
    return Tuning(
        estimator=estimator,
        metric=metric,
        greater_is_better=higher_is_better(metric),
        folds=settings.cv_folds,
        tolerance=settings.tolerance,
        configured=configured,
        configured_score=configured_score,
        best_params={**configured, **found.best_params},
        best_score=float(found.best_value),
        trials=completed(found),
        seconds=round(time.perf_counter() - started, 2),
        n_trials=settings.n_trials,
        stopped_early=len(found.trials) < settings.n_trials,
        rows=len(train_features),
        sampled=sampled,
        on_shortfall=settings.on_shortfall,
        linear=linear,
    )


def linear_study(
    train_features: pd.DataFrame, schema: Schema, params: Params
) -> dict[str, Any] | None:
    """The linear model tuned as the estimator is, when params.yaml's estimator is another and
    the quality bar compares the model with the linear baseline (quality.beat_baselines
    linear); else None. Its study searches tune.space.linear (without one, train.linear is
    the only point scored) with the same trials, timeout, folds and rows: the estimator it
    might replace is compared tuned against tuned. A configuration that does not converge
    scores None (no alternative), and so does a study none of whose trials converged."""
    margin = params.quality.beat_baselines.get("linear")
    if params.train.estimator == "linear" or margin is None:
        return None
    configured = params.train.sections["linear"]
    try:
        configured_score: float | None = cross_validated(
            train_features, schema, params, configured, "linear"
        )
    except ConfigError:
        configured_score = None
    best_params, best_score, trials = configured, configured_score, []
    if params.tune.space.get("linear"):
        found = study(train_features, schema, params, "linear", configured, skip_unconverged=True)
        trials = completed(found)
        if trials:
            best_params = {**configured, **found.best_params}
            best_score = float(found.best_value)
    return {
        "configured": configured,
        "configured_score": configured_score,
        "best_params": best_params,
        "best_score": best_score,
        "trials": trials,
        "margin": margin,
    }


def _yaml(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return str(value).lower()
    return repr(round(value, 6)) if isinstance(value, float) else str(value)
