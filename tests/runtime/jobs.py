"""One job per task, run once per test session and shared by the model-area tests.

A job is a level-0 project on the bundled sample of its task, its stages (what `make all` runs)
run once through the command line: the tests read what the stages wrote (the raw table, the
splits, the training features, the model, the evaluation report) instead of training again.
Read-only: a test that changes one of them works on a copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from harness import Made, inside, make_project, run

from mlops_ladder.config import Params, load_params
from mlops_ladder.schema import Schema, load_schema

TASKS = ("classification", "regression")
STAGES = ("ingest", "validate", "split", "featurize", "tune", "train", "evaluate")


@dataclass(frozen=True)
class Job:
    made: Made

    @property
    def root(self) -> Path:
        return self.made.root

    @property
    def task(self) -> str:
        return self.made.task

    @cached_property
    def params(self) -> Params:
        return load_params(self.root / "params.yaml")

    @cached_property
    def schema(self) -> Schema:
        return load_schema(self.root / "schema.yaml")

    def table(self, relative: str) -> pd.DataFrame:
        """A table the stages wrote (a fresh copy each time: tests may change it)."""
        return pd.read_parquet(self.root / "data" / relative)

    @property
    def dataset(self) -> pd.DataFrame:
        return self.table("raw/dataset.parquet")

    @property
    def splits(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        return self.table("processed/train.parquet"), self.table("processed/test.parquet")

    @property
    def train_features(self) -> pd.DataFrame:
        return self.table("features/train.parquet")

    @cached_property
    def model(self) -> Any:
        from mlops_ladder.train import load

        with inside(self.root):
            return load(self.root / "models" / "model.joblib")

    def report(self, name: str = "metrics") -> dict[str, Any]:
        return json.loads((self.root / "reports" / f"{name}.json").read_text())


_jobs: dict[str, Job] = {}


def job(task: str, factory: pytest.TempPathFactory) -> Job:
    """The job of `task`: made and run on first use, then shared."""
    if task not in _jobs:
        root = factory.mktemp(f"job-{task}")
        made = make_project(root, task=task, level=0)
        made.set_params(tune={"n_trials": 2, "timeout": None})
        run(root, *STAGES)
        _jobs[task] = Job(made)
    return _jobs[task]
