"""Fast inference: the model pipeline compiled into a few numpy operations, with equal results.

scikit-learn's `predict` is built for batches. For one record, its overhead is nearly all of
the cost: every step validates its input again, a ColumnTransformer slices a DataFrame per
block, and a random forest sends each of its trees through joblib one by one (several
milliseconds for 100 trees, for well under a millisecond of arithmetic). A server that calls
it per request spends its time there.

`compile_model` builds, once at load time, a predictor that does the same arithmetic directly:

- steps it does not know, such as the feature step (features.py, the code training used), run
  exactly as they are;
- a ColumnTransformer of imputers, scalers and one-hot encoders becomes array operations with
  the fitted statistics;
- a random forest, or a HistGradientBoosting model, becomes flat node arrays, walked one level
  at a time for all trees at once.

Walking every tree one level at a time costs rows x trees x depth gathers, where scikit-learn's
compiled tree code costs a fixed overhead and then little per row: past about a million node
visits in one call (some 800 records for the sample's forest of 149 trees of depth 8, 200 for
100 trees of depth 52) the pipeline is faster, 3 to 5 times at 10,000 records
(benchmarks/inference.py measures both), so a batch that large goes to the pipeline.

Each operation repeats scikit-learn's in the same order and precision (forests: features cast
to float32 and compared with float64 thresholds, trees summed in order, then divided; boosting:
float64 features, the baseline plus each tree in order, then the loss's own inverse link), so
the results are
identical, bit for bit; the tests prove it on the test split, and `compile_model` checks it on
the model's input example before using it. Anything else runs through scikit-learn unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    ExtraTreesClassifier,
    ExtraTreesRegressor,
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils import get_tags

log = logging.getLogger(__name__)

Transform = Callable[[Any], Any]
FORESTS = (RandomForestClassifier, RandomForestRegressor, ExtraTreesClassifier, ExtraTreesRegressor)
BOOSTING = (HistGradientBoostingClassifier, HistGradientBoostingRegressor)


# Node visits (rows x trees x depth) past which one call goes to the pipeline (module docstring).
MAX_NODE_VISITS = 1_000_000


class CannotCompile(Exception):
    """A step this module does not reproduce exactly: it runs through scikit-learn instead."""


class CompiledModel:
    """The pipeline's predict and predict_proba, with the same results, at a fraction of the cost.

    `steps` are the transforms before the estimator; `estimator` answers on their output.
    `description` says what was compiled, for /model and the logs.
    """

    def __init__(
        self,
        steps: list[Transform],
        estimator: Any,
        description: list[str],
        tags: Any = None,
        pipeline: Any = None,
    ) -> None:
        self.steps = steps
        self.estimator = estimator
        self.description = description
        self._tags = tags
        if getattr(estimator, "classes_", None) is not None:
            self.classes_ = estimator.classes_
        # Node visits of one row through compiled trees (None: no trees walked); batches larger
        # than max_rows go to `pipeline`, faster there (MAX_NODE_VISITS).
        trees = getattr(estimator, "n_trees", 0)
        self.visits_per_row = trees * max(getattr(estimator, "depth", 0), 1) or None
        self.pipeline = pipeline
        self.max_rows = (
            max(1, MAX_NODE_VISITS // self.visits_per_row)
            if self.visits_per_row and pipeline is not None
            else None
        )

    def _large(self, frame: pd.DataFrame) -> bool:
        return self.max_rows is not None and len(frame) > self.max_rows

    def __sklearn_tags__(self) -> Any:
        """The pipeline's tags: `is_classifier` (model.predict) tells the tasks apart by them."""
        if self._tags is None:
            raise AttributeError("__sklearn_tags__")
        return self._tags

    def _transform(self, frame: pd.DataFrame) -> Any:
        for step in self.steps:
            frame = step(frame)
        return frame

    @property
    def predict_proba(self) -> Callable[[pd.DataFrame], np.ndarray]:
        """A classifier's probabilities; a regressor has none (`hasattr` says so, as it does of
        the pipeline: serving answers values, not probabilities, by it)."""
        if not hasattr(self.estimator, "predict_proba"):
            raise AttributeError("predict_proba: a regressor has no class probabilities")
        return self._probabilities

    def _probabilities(self, frame: pd.DataFrame) -> np.ndarray:
        if self._large(frame):
            return self.pipeline.predict_proba(frame)
        return self.estimator.predict_proba(self._transform(frame))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        if self._large(frame):
            return self.pipeline.predict(frame)
        return self.estimator.predict(self._transform(frame))


def compile_model(pipeline: Any, example: pd.DataFrame | None = None) -> Any:
    """A compiled copy of `pipeline`, or `pipeline` itself when compiling would change results.

    With an `example`, the compiled model must give exactly the pipeline's answers on it.
    """
    if not isinstance(pipeline, Pipeline):
        return pipeline
    *transformers, estimator = flatten(pipeline)
    steps: list[Transform] = []
    description: list[str] = []
    for transformer in transformers:
        try:
            steps.append(compile_column_transformer(transformer))
            description.append(f"{type(transformer).__name__}: compiled")
        except CannotCompile as reason:
            steps.append(transformer.transform)
            description.append(as_is(transformer, reason))
    try:
        final: Any = compile_estimator(estimator)
        description.append(f"{type(estimator).__name__}: compiled")
    except CannotCompile as reason:
        final = estimator
        description.append(as_is(estimator, reason))
    compiled = CompiledModel(steps, final, description, get_tags(pipeline), pipeline)
    if example is not None and not same_predictions(pipeline, compiled, example):
        log.warning("the compiled model disagrees with the pipeline: serving the pipeline as is")
        return pipeline
    return compiled


def as_is(step: Any, reason: CannotCompile) -> str:
    because = f" ({reason})" if str(reason) else ""
    return f"{type(step).__name__}: as is{because}"


def same_predictions(pipeline: Any, compiled: Any, example: pd.DataFrame) -> bool:
    """Whether both give identical outputs (probabilities for a classifier) on `example`."""
    method = "predict_proba" if hasattr(pipeline, "predict_proba") else "predict"
    try:
        expected = getattr(pipeline, method)(example)
        actual = getattr(compiled, method)(example)
    except Exception as error:  # the compiled path failed where the pipeline did not: skip it
        # One line, not a traceback: nothing is wrong with the data or the model, and the
        # pipeline answers (benchmarks/inference.py is where the compiled path is examined).
        log.warning(
            "the compiled model failed on the input example (%s: %s): serving the pipeline",
            type(error).__name__,
            str(error).splitlines()[0] if str(error) else "",
        )
        return False
    return bool(np.array_equal(expected, actual, equal_nan=True))


def flatten(pipeline: Pipeline) -> list[Any]:
    """The steps of a pipeline, nested pipelines unrolled; 'passthrough' steps dropped."""
    steps: list[Any] = []
    for _, step in pipeline.steps:
        if isinstance(step, Pipeline):
            steps.extend(flatten(step))
        elif step is not None and step != "passthrough":
            steps.append(step)
    return steps


# ----------------------------------------------------------------------------------------------
# Preprocessing
# ----------------------------------------------------------------------------------------------
def compile_column_transformer(transformer: Any) -> Transform:
    """A ColumnTransformer of imputers, scalers and one-hot encoders, as array operations."""
    if not isinstance(transformer, ColumnTransformer):
        raise CannotCompile
    if transformer.sparse_output_:
        raise CannotCompile("sparse output")
    blocks: list[tuple[list[str], list[Transform]]] = []
    for _, part, columns in transformer.transformers_:
        if isinstance(part, str) and part == "drop":
            continue
        if not isinstance(columns, list) or not all(isinstance(name, str) for name in columns):
            raise CannotCompile("columns not selected by name")
        if not columns:
            continue  # scikit-learn skips a block with no columns
        parts = flatten(part) if isinstance(part, Pipeline) else [part]
        blocks.append((columns, [compile_array_step(step) for step in parts]))

    positions: dict[tuple[str, ...], list[np.ndarray]] = {}

    def transform(frame: pd.DataFrame) -> np.ndarray:
        # A table of floats only is one array, cut by position: far cheaper than selecting
        # columns by name from the DataFrame, block after block.
        if all(dtype.kind == "f" for dtype in frame.dtypes):
            layout = tuple(frame.columns.tolist())
            if layout not in positions:
                positions[layout] = [
                    frame.columns.get_indexer(pd.Index(names)) for names, _ in blocks
                ]
            values = frame.to_numpy()
            inputs = [values[:, cut] for cut in positions[layout]]
        else:
            inputs = [frame[names].to_numpy() for names, _ in blocks]
        outputs = []
        for block, (_, operations) in zip(inputs, blocks, strict=True):
            for operation in operations:
                block = operation(block)
            outputs.append(block)
        return np.hstack(outputs)

    return transform


def compile_array_step(step: Any) -> Transform:
    if isinstance(step, SimpleImputer):
        return compile_imputer(step)
    if isinstance(step, StandardScaler):
        return compile_scaler(step)
    if isinstance(step, OneHotEncoder):
        return compile_one_hot(step)
    raise CannotCompile(f"{type(step).__name__} inside the ColumnTransformer")


def compile_imputer(imputer: SimpleImputer) -> Transform:
    statistics = imputer.statistics_
    if imputer.add_indicator or not _is_nan(imputer.missing_values):
        raise CannotCompile("imputer with an indicator or a custom missing value")
    if pd.isna(statistics).any():
        raise CannotCompile("imputer drops columns with no observed value")
    numeric = imputer.strategy in ("mean", "median")

    def impute(values: np.ndarray) -> np.ndarray:
        if numeric:
            values = _as_float(values)
        missing = pd.isna(values)
        if missing.any():
            values = values.copy()
            values[missing] = np.broadcast_to(statistics, values.shape)[missing]
        return values

    return impute


def compile_scaler(scaler: StandardScaler) -> Transform:
    mean, scale = scaler.mean_, scaler.scale_

    def standardize(values: np.ndarray) -> np.ndarray:
        values = _as_float(values)
        if mean is not None and scaler.with_mean:
            values = values - mean.astype(values.dtype)
        if scale is not None and scaler.with_std:
            values = values / scale.astype(values.dtype)
        return values

    return standardize


def compile_one_hot(encoder: OneHotEncoder) -> Transform:
    if encoder.drop_idx_ is not None or getattr(encoder, "_infrequent_enabled", False):
        raise CannotCompile("one-hot encoder that drops or groups categories")
    categories = encoder.categories_
    if any(pd.isna(values).any() for values in categories):
        raise CannotCompile("missing values as a category")
    strict = encoder.handle_unknown == "error"

    def one_hot(values: np.ndarray) -> np.ndarray:
        columns = []
        for index, known in enumerate(categories):
            matches = values[:, index, None] == known[None, :]
            if strict and not matches.any(axis=1).all():
                raise ValueError(f"Found unknown categories in column {index} during transform")
            columns.append(matches)
        return np.hstack(columns).astype(encoder.dtype)

    return one_hot


def dense_rows(features: Any, dtype: type[np.floating[Any]]) -> np.ndarray:
    """The rows the compiled trees walk. A ColumnTransformer left as is answers a sparse matrix
    when its one-hot columns are many (scikit-learn's sparse_threshold); the batches walked
    here are small (max_rows), so they are made dense: the same values, the same leaves."""
    if sparse.issparse(features):
        features = features.toarray()
    return np.asarray(features, dtype=dtype)


def _as_float(values: np.ndarray) -> np.ndarray:
    """scikit-learn's conversion: float arrays keep their precision, anything else is float64."""
    return values if values.dtype.kind == "f" else values.astype(np.float64)


def _is_nan(value: Any) -> bool:
    return isinstance(value, float) and np.isnan(value)


# ----------------------------------------------------------------------------------------------
# Trees
# ----------------------------------------------------------------------------------------------
def compile_estimator(estimator: Any) -> Any:
    if isinstance(estimator, FORESTS):
        return CompiledForest(estimator)
    if isinstance(estimator, BOOSTING):
        return CompiledBoosting(estimator)
    raise CannotCompile


class CompiledForest:
    """A fitted random forest (or extra-trees) as flat arrays, all trees walked at once.

    Node i of the joint array holds its feature, threshold and two children; a leaf is its own
    child, so walking `depth` levels lands every tree of every row on its leaf. The per-leaf
    outputs are those scikit-learn's trees return (class fractions, or the mean value); they
    are summed tree by tree in order and divided by the number of trees, as the forest does.
    """

    def __init__(self, forest: Any) -> None:
        if not isinstance(forest, FORESTS):
            raise CannotCompile
        if forest.n_outputs_ != 1:
            raise CannotCompile("more than one output")
        trees = [tree.tree_ for tree in forest.estimators_]
        sizes = np.array([tree.node_count for tree in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.roots = offsets.astype(np.intp)
        self.n_trees = len(trees)
        self.n_features = forest.n_features_in_
        self.depth = max(tree.max_depth for tree in trees)
        feature, threshold, children, missing_left, values = [], [], [], [], []
        for tree, offset in zip(trees, offsets, strict=True):
            nodes = np.arange(tree.node_count)
            leaf = tree.children_left < 0
            feature.append(np.where(leaf, 0, tree.feature))
            threshold.append(tree.threshold)
            left = np.where(leaf, nodes, tree.children_left) + offset
            right = np.where(leaf, nodes, tree.children_right) + offset
            # children[2 * node + went_left]: one gather picks the branch.
            children.append(np.column_stack([right, left]).ravel())
            missing_left.append(np.asarray(tree.missing_go_to_left, dtype=bool))
            values.append(tree.value[:, 0, :])
        self.feature = np.concatenate(feature).astype(np.intp)
        self.threshold = np.concatenate(threshold)
        self.children = np.concatenate(children).astype(np.intp)
        self.missing_left = np.concatenate(missing_left)
        # scikit-learn lets NaN reach a tree only where its splitter supports missing values
        # (it refuses them otherwise); a NaN then takes the branch recorded in training.
        supports = getattr(forest.estimators_[0], "_support_missing_values", None)
        self.allow_nan = bool(supports and supports(np.zeros((1, self.n_features))))
        leaf_values = np.concatenate(values)
        if hasattr(forest, "classes_"):
            self.classes_ = forest.classes_
            self.leaf_values = leaf_values[:, : len(forest.classes_)]
        else:
            self.leaf_values = leaf_values[:, :1]

    def leaves(self, features: Any) -> np.ndarray:
        """The joint leaf index reached by every (row, tree) pair."""
        rows = dense_rows(features, np.float32)  # the trees' own input precision
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got shape {rows.shape}")
        if np.isinf(rows).any():
            raise ValueError("Input contains infinity or a value too large for dtype('float32').")
        if not self.allow_nan and np.isnan(rows).any():
            raise ValueError("Input contains NaN.")
        flat = rows.ravel()
        base = (np.arange(rows.shape[0]) * self.n_features)[:, None]
        node = np.broadcast_to(self.roots, (rows.shape[0], self.n_trees))
        for _ in range(self.depth):
            value = flat[base + self.feature[node]]
            went_left = value <= self.threshold[node]
            if self.allow_nan:
                went_left |= np.isnan(value) & self.missing_left[node]
            node = self.children[2 * node + went_left]
        return node

    def _average(self, features: Any) -> np.ndarray:
        per_tree = self.leaf_values[self.leaves(features)]  # rows x trees x outputs
        # Summed tree after tree (cumulative sum), exactly like the forest's accumulation.
        return np.cumsum(per_tree, axis=1)[:, -1, :] / self.n_trees

    @property
    def predict_proba(self) -> Callable[[Any], np.ndarray]:
        if not hasattr(self, "classes_"):
            raise AttributeError("predict_proba: a regressor has no class probabilities")
        return self._average

    def predict(self, features: Any) -> np.ndarray:
        average = self._average(features)
        if hasattr(self, "classes_"):
            return self.classes_.take(average.argmax(axis=1), axis=0)
        return average[:, 0]


class CompiledBoosting:
    """A fitted HistGradientBoosting model as flat arrays, all trees walked at once.

    scikit-learn starts each row at the baseline and adds tree after tree (iteration by
    iteration, one tree per class), comparing float64 features with float64 thresholds, a NaN
    taking the branch recorded in training; the loss turns the sum into probabilities. Here the
    same: the leaves of every tree at once, summed in the same order (a cumulative sum that
    starts at the baseline), then the model's own loss. Categorical splits are not compiled.
    """

    def __init__(self, model: Any) -> None:
        if getattr(model, "_preprocessor", None) is not None or (
            model.is_categorical_ is not None and model.is_categorical_.any()
        ):
            raise CannotCompile("categorical features")
        # predictors[iteration][k]: tree k of that iteration (one per class, or one)
        self.per_iteration = model.n_trees_per_iteration_
        trees = [tree.nodes for iteration in model._predictors for tree in iteration]
        sizes = np.array([len(nodes) for nodes in trees])
        offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self.roots = offsets.astype(np.intp)
        self.n_trees = len(trees)
        self.n_features = model.n_features_in_
        self.depth = max(int(nodes["depth"].max()) for nodes in trees)
        nodes = np.concatenate(trees)
        index = np.arange(len(nodes))
        leaf = nodes["is_leaf"].astype(bool)
        owner = np.repeat(offsets, sizes)
        left = np.where(leaf, index, nodes["left"].astype(np.intp) + owner)
        right = np.where(leaf, index, nodes["right"].astype(np.intp) + owner)
        self.children = np.column_stack([right, left]).ravel().astype(np.intp)
        self.feature = np.where(leaf, 0, nodes["feature_idx"]).astype(np.intp)
        self.threshold = nodes["num_threshold"].astype(np.float64)
        self.missing_left = nodes["missing_go_to_left"].astype(bool)
        self.values = nodes["value"].astype(np.float64)
        self.baseline = np.asarray(model._baseline_prediction, dtype=np.float64).reshape(-1)
        self.loss = model._loss
        self.classes_ = getattr(model, "classes_", None)

    def raw(self, features: Any) -> np.ndarray:
        rows = dense_rows(features, np.float64)
        if rows.ndim != 2 or rows.shape[1] != self.n_features:
            raise ValueError(f"expected {self.n_features} features, got shape {rows.shape}")
        flat = rows.ravel()
        base = (np.arange(rows.shape[0]) * self.n_features)[:, None]
        node = np.broadcast_to(self.roots, (rows.shape[0], self.n_trees))
        for _ in range(self.depth):
            value = flat[base + self.feature[node]]
            went_left = (value <= self.threshold[node]) | (
                np.isnan(value) & self.missing_left[node]
            )
            node = self.children[2 * node + went_left]
        leaves = self.values[node].reshape(rows.shape[0], -1, self.per_iteration)
        start = np.broadcast_to(self.baseline, (rows.shape[0], 1, self.per_iteration))
        # baseline + tree 1 + tree 2 ..., added in scikit-learn's order
        return np.cumsum(np.concatenate([start, leaves], axis=1), axis=1)[:, -1, :]

    @property
    def predict_proba(self) -> Callable[[Any], np.ndarray]:
        if self.classes_ is None:
            raise AttributeError("predict_proba: a regressor has no class probabilities")
        return self._probabilities

    def _probabilities(self, features: Any) -> np.ndarray:
        return self.loss.predict_proba(np.asfortranarray(self.raw(features)))

    def predict(self, features: Any) -> np.ndarray:
        if self.classes_ is not None:
            return self.classes_[self._probabilities(features).argmax(axis=1)]
        return self.loss.link.inverse(self.raw(features).ravel())
