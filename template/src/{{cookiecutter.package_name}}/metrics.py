"""Metrics of your own, computed beside the built-in ones on the test split, every slice and the
baselines; one may be params.yaml's `quality.primary_metric` or carry a threshold.

Each is `Metric(compute, greater_is_better, task)`: `compute(y_true, y_pred, scores)` returns a
number (`scores` is the table of class probabilities, None for regression). For instance:

    from sklearn.metrics import fbeta_score

    METRICS = {
        "f2": Metric(
            lambda y_true, y_pred, scores: fbeta_score(y_true, y_pred, beta=2),
            task="classification",
        ),
    }
"""

from mlops_ladder.metrics import Metric

METRICS: dict[str, Metric] = {}
