"""Derived features: numeric columns computed row by row from the data's columns.

Training, evaluation, serving and monitoring all compute them the same way: the saved model
starts with them, so a request is featurized exactly as the training data was. Add yours to
DERIVED, e.g. `Derived("price_per_m2", ("price", "area"), lambda f: f["price"] / f["area"])`:
their inputs must be features of schema.yaml, or training stops naming the missing column.

The bundled samples' features below are `optional`: each applies only to data that has its
columns, so they never get in the way of your table. Delete them when you no longer need them.
"""

import numpy as np
from mlops_ladder.features import Derived

DERIVED: list[Derived] = [
    # Breast cancer: how far the worst cell nucleus exceeds the average one (irregular growth).
    Derived(
        "radius_ratio",
        ("worst_radius", "mean_radius"),
        lambda frame: frame["worst_radius"] / frame["mean_radius"].replace(0, np.nan),
        optional=True,
    ),
    # Breast cancer: areas span two orders of magnitude; the log evens out their spacing.
    Derived(
        "log_mean_area",
        ("mean_area",),
        lambda frame: np.log1p(frame["mean_area"].clip(0)),
        optional=True,
    ),
    # Diabetes: the LDL/HDL cholesterol ratio, a standard cardiometabolic risk marker.
    Derived(
        "ldl_hdl_ratio",
        ("ldl", "hdl"),
        lambda frame: frame["ldl"] / frame["hdl"].replace(0, np.nan),
        optional=True,
    ),
    # Diabetes: obesity (a body mass index of 30 or more) as its own signal.
    Derived(
        "obese",
        ("bmi",),
        lambda frame: (frame["bmi"] >= 30).astype("float64"),
        optional=True,
    ),
]
