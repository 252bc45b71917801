"""Estimators of your own: params.yaml `train.estimator` names the one to train.

Built in (mlops-ladder), for either task: random_forest, gradient_boosting, linear. Add yours by
name: a scikit-learn compatible class (fit, predict, and predict_proba for classification), or a
function that returns one. Its hyperparameters go in params.yaml under `train.<name>`, and its
search space under `tune.space.<name>`. For instance:

    from sklearn.ensemble import ExtraTreesClassifier

    ESTIMATORS = {"extra_trees": ExtraTreesClassifier}
"""

from collections.abc import Callable

from sklearn.base import BaseEstimator

ESTIMATORS: dict[str, Callable[..., BaseEstimator]] = {}
