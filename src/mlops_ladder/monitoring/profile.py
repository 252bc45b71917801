"""Streaming summaries of one column: fed chunk by chunk, their size never depends on the rows.

- `Moments`: count, missing values, mean, variance, minimum, maximum.
- `Sample`: a uniform random sample of fixed size (the values with the smallest random keys),
  from which a large reference's histogram points are chosen.
- `Histogram`: counts on fixed points, and how far the values beyond them lie (stats.py reads
  its cells).
- `Counts`: counts per category, with a cap on how many distinct categories are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

OTHER = "(other)"


@dataclass
class Moments:
    """Count, mean and variance merged chunk by chunk (Chan et al.), minimum and maximum."""

    rows: int = 0
    missing: int = 0
    mean: float = 0.0
    m2: float = 0.0
    low: float = np.inf
    high: float = -np.inf

    def add(self, values: np.ndarray, missing: int) -> None:
        self.missing += missing
        if not len(values):
            return
        count, mean = len(values), float(values.mean())
        m2 = float(((values - mean) ** 2).sum())
        total = self.rows + count
        delta = mean - self.mean
        self.mean += delta * count / total
        self.m2 += m2 + delta**2 * self.rows * count / total
        self.rows = total
        self.low = min(self.low, float(values.min()))
        self.high = max(self.high, float(values.max()))

    @property
    def std(self) -> float:
        """Population standard deviation (numpy's default, ddof=0)."""
        return float(np.sqrt(self.m2 / self.rows)) if self.rows else 0.0

    def to_dict(self) -> dict[str, float | None]:
        known = self.rows > 0
        return {
            "mean": self.mean if known else None,
            "std": self.std if known else None,
            "min": self.low if known else None,
            "max": self.high if known else None,
        }


@dataclass
class Sample:
    """A uniform random sample without replacement of at most `size` values: each value gets a
    random key and the `size` smallest keys are kept. Seeded, so a report is reproducible."""

    size: int
    seed: int
    values: np.ndarray = field(default_factory=lambda: np.empty(0))
    keys: np.ndarray = field(default_factory=lambda: np.empty(0))
    seen: int = 0

    def __post_init__(self) -> None:
        self._random = np.random.default_rng(self.seed)

    def add(self, values: np.ndarray) -> None:
        self.seen += len(values)
        keys = self._random.random(len(values))
        if len(self.keys) == self.size:  # full: only keys below the largest kept can enter
            entering = keys < self.keys.max()
            keys, values = keys[entering], values[entering]
        keys = np.concatenate([self.keys, keys])
        values = np.concatenate([self.values, values])
        if len(values) > self.size:
            keep = np.argpartition(keys, self.size)[: self.size]
            keys, values = keys[keep], values[keep]
        self.keys, self.values = keys, values

    @property
    def complete(self) -> bool:
        """Whether the sample holds every value seen."""
        return self.seen == len(self.values)


def choose_points(sample: Sample, low: float, high: float, max_points: int) -> np.ndarray:
    """The histogram's points: every distinct value when the whole column is known and has few
    of them (statistics are then exact), else `max_points` quantiles from the minimum to the
    maximum."""
    distinct = np.unique(sample.values)
    if sample.complete and len(distinct) <= max_points:
        return distinct
    inner = np.quantile(sample.values, np.linspace(0, 1, max_points))
    return np.unique(np.concatenate([[low], inner, [high]]))


class Histogram:
    """Counts of a numeric column on sorted points: cell 0 below the first point, cell 2j+1 at
    point j, cell 2j+2 strictly between points j and j+1, the last cell above the last point.

    `offsets` adds up, per cell, how far its values lie from the point on their left (from
    the first point, for cell 0): with it, the area under the CDF over a cell is exact.
    """

    def __init__(self, points: np.ndarray) -> None:
        self.points = np.asarray(points, dtype=float)
        self.cells = np.zeros(2 * len(self.points) + 1, dtype=np.int64)
        self.offsets = np.zeros(len(self.cells))

    def add(self, values: np.ndarray) -> None:
        """Count a chunk of values (no missing ones): sorted once, the cells' bounds are
        where the points fall among them, which costs far less than placing every value
        among the points."""
        ordered = np.sort(values)
        points = self.points
        bounds = np.empty(len(self.cells) + 1, dtype=np.int64)
        bounds[0], bounds[-1] = 0, len(ordered)
        bounds[1:-1:2] = np.searchsorted(ordered, points, side="left")
        bounds[2:-1:2] = np.searchsorted(ordered, points, side="right")
        counts = np.diff(bounds)
        # Sums per cell, of the distances to a central point (precision), plus a trailing 0
        # so that every cell, empty ones at the end too, starts inside the array.
        centre = points[len(points) // 2]
        shifted = np.zeros(len(ordered) + 1)
        np.subtract(ordered, centre, out=shifted[:-1])
        sums = np.where(counts > 0, np.add.reduceat(shifted, bounds[:-1]), 0.0)
        left = np.concatenate([points[:1], np.repeat(points, 2)])  # each cell's left point
        offsets = np.abs(sums - counts * (left - centre))
        offsets[1::2] = 0.0  # values at a point are at distance 0 from it
        self.cells += counts
        self.offsets += offsets

    @property
    def rows(self) -> int:
        return int(self.cells.sum())

    def cdf(self, at: np.ndarray) -> np.ndarray:
        """The CDF at `at`, values taken as spread evenly between points (for plots)."""
        shares = self.cells / max(self.rows, 1)
        after_point = np.cumsum(shares)[1::2]  # CDF just after each point
        before_point = after_point - shares[1::2]
        right = np.searchsorted(self.points, at, side="right")
        result = np.where(right > 0, after_point[np.maximum(right - 1, 0)], 0.0)
        inside = (right > 0) & (right < len(self.points))
        if inside.any():
            index = right[inside]
            low, high = self.points[index - 1], self.points[index]
            fraction = (at[inside] - low) / (high - low)
            gap = before_point[index] - after_point[index - 1]
            result[inside] = after_point[index - 1] + fraction * gap
        return result


@dataclass
class Counts:
    """Counts per category; past `max_categories` distinct values the rest count as OTHER."""

    max_categories: int = 1000
    counts: dict[str, int] = field(default_factory=dict)
    missing: int = 0

    def add(self, keys: pd.Series) -> None:
        self.missing += int(keys.isna().sum())
        for value, count in keys.dropna().value_counts().items():
            key = cast(str, value)  # category_keys: categories as text
            if key not in self.counts and len(self.counts) >= self.max_categories:
                key = OTHER
            self.counts[key] = self.counts.get(key, 0) + int(count)

    @property
    def rows(self) -> int:
        return sum(self.counts.values())


def category_keys(values: pd.Series) -> pd.Series:
    """Categories as text, the same whether a file, a CSV or JSON gave 1, 1.0 or "1", and
    booleans as "True" and "False" (never "1" and "0"), whatever their type was."""
    text = values.astype("string")
    if pd.api.types.is_bool_dtype(values):
        return text
    numbers = pd.to_numeric(values, errors="coerce")
    whole = numbers.notna() & (numbers % 1 == 0)
    if values.dtype == object and whole.any():
        whole &= ~values.map(lambda value: isinstance(value, bool | np.bool_)).astype(bool)
    if whole.any():
        text[whole] = numbers[whole].astype("int64").astype("string")
    return text


def category_lookup(values: list[Any]) -> dict[str, Any]:
    """Each value by its key (category_keys): the way back from the text to the value."""
    keys = category_keys(pd.Series(values, dtype=object)).tolist()
    return dict(zip(keys, values, strict=True))
