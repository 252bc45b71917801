"""Per-column drift: summaries of the reference and the current data, the test each column gets,
and the dataset verdict.

The test depends on the column's type and on the size of the smaller side, the reference or
the current window (params.yaml `monitor`):
- up to `small_sample` rows, a p-value: two-sample Kolmogorov-Smirnov for numbers,
  chi-squared for categories (categories too rare to expect 5 current rows pooled); drift when
  p < `p_value` divided by the number of features tested (Bonferroni: on data that has not
  drifted, the chance that any feature is flagged stays below `p_value`, whatever the number
  of features). A p-value weighs the current window's size: 45 rows that differ from the
  reference by chance are not drift;
- above it on both sides, a distance, since on many rows a test finds every negligible
  difference significant: the Wasserstein distance divided by the reference's standard
  deviation (drift from `wasserstein_threshold`) or PSI on reference deciles (from
  `psi_threshold`) for numbers, PSI over the categories for categories. A distance measured on
  a small window is mostly its sampling noise (PSI over 10 bins of 45 rows is about 0.2 by
  chance alone): it is kept for windows where that noise is small.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from mlops_ladder.config import MonitorParams
from mlops_ladder.errors import DataError
from mlops_ladder.monitoring import stats
from mlops_ladder.monitoring.profile import (
    OTHER,
    Counts,
    Histogram,
    Moments,
    Sample,
    category_keys,
    choose_points,
)

PLOT_BINS = 30
PLOT_CATEGORIES = 20
SAMPLE_SIZE = 50_000
HISTOGRAM_POINTS = 1000


def _rate(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 6)


class NumericColumn:
    """One numeric column, seen in two passes over the reference (moments and a sample, then
    counts on points chosen from the sample) and one over the current data."""

    kind = "numeric"

    def __init__(
        self, name: str, low: float | None, high: float | None, params: MonitorParams, seed: int
    ) -> None:
        self.name, self.low, self.high, self.params = name, low, high, params
        self.moments = {"reference": Moments(), "current": Moments()}
        self.out_of_range = {"reference": 0, "current": 0}
        self.sample = Sample(max(SAMPLE_SIZE, params.small_sample), seed)
        self.histograms: dict[str, Histogram] = {}

    def _values(self, side: str, column: pd.Series) -> np.ndarray:
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        present = values[~np.isnan(values)]
        outside = 0
        if self.low is not None:
            outside += int((present < self.low).sum())
        if self.high is not None:
            outside += int((present > self.high).sum())
        self.out_of_range[side] += outside
        self.moments[side].add(present, missing=len(values) - len(present))
        return present

    def see_reference(self, column: pd.Series) -> None:
        self.sample.add(self._values("reference", column))

    def fix_points(self) -> bool:
        """Choose the histogram's points; True when the reference must be read again to count
        on them (a large reference), False when the sample already holds all of it."""
        moments = self.moments["reference"]
        if not moments.rows:
            raise DataError(f"reference: column '{self.name}' has no values")
        points = choose_points(
            self.sample, moments.low, moments.high, max(HISTOGRAM_POINTS, self.params.small_sample)
        )
        self.histograms = {"reference": Histogram(points), "current": Histogram(points)}
        if self.sample.complete:
            self.histograms["reference"].add(self.sample.values)
            return False
        return True

    def count_reference(self, column: pd.Series) -> None:
        values = column.to_numpy(dtype="float64", na_value=np.nan)
        self.histograms["reference"].add(values[~np.isnan(values)])

    def see_current(self, column: pd.Series) -> None:
        self.histograms["current"].add(self._values("current", column))

    def test(self, family: int = 1) -> dict[str, Any]:
        """The column's test; `family`: how many columns are tested together (their p-values'
        Bonferroni correction)."""
        reference, current = self.histograms["reference"], self.histograms["current"]
        params = self.params
        if not current.rows:
            return {"test": None, "statistic": None, "p_value": None, "threshold": None}
        if min(self.moments["reference"].rows, current.rows) <= params.small_sample:
            statistic = stats.ks_statistic(reference.cells, current.cells)
            p_value = stats.ks_p_value(statistic, reference.rows, current.rows)
            threshold = params.p_value / max(family, 1)
            return {
                "test": "ks",
                "statistic": statistic,
                "p_value": p_value,
                "threshold": threshold,
                "drift": p_value < threshold,
            }
        if params.numeric_test == "psi":
            statistic = stats.binned_psi(reference.cells, current.cells, params.psi_bins)
            threshold = params.psi_threshold
        else:
            distance = stats.wasserstein(
                reference.points,
                (reference.cells, reference.offsets),
                (current.cells, current.offsets),
            )
            moments = self.moments["reference"]
            # A constant reference has no spread to measure by: use its scale instead.
            scale = moments.std if moments.std > 0 else max(abs(moments.mean), 1.0)
            statistic, threshold = distance / scale, params.wasserstein_threshold
        return {
            "test": params.numeric_test,
            "statistic": statistic,
            "p_value": None,
            "threshold": threshold,
            "drift": statistic >= threshold,
        }

    def describe(self, side: str) -> dict[str, Any]:
        moments = self.moments[side]
        total = moments.rows + moments.missing
        summary = {
            "rows": total,
            "missing_rate": _rate(moments.missing, total),
            "out_of_range_rate": _rate(self.out_of_range[side], moments.rows),
        }
        return summary | {key: _round(value) for key, value in moments.to_dict().items()}

    def plot(self) -> dict[str, Any]:
        """Shares on equal-width bins over the reference's range, and the current's shares
        below and above it."""
        reference, current = self.histograms["reference"], self.histograms["current"]
        low, high = float(reference.points[0]), float(reference.points[-1])
        if low == high:
            low, high = low - 0.5, high + 0.5
        edges = np.linspace(low, high, PLOT_BINS + 1)

        def shares(histogram: Histogram) -> tuple[list[float], float, float]:
            rows = max(histogram.rows, 1)
            below, above = histogram.cells[0] / rows, histogram.cells[-1] / rows
            cdf = np.concatenate([[below], histogram.cdf(edges[1:])])
            return [round(float(v), 6) for v in np.diff(cdf)], float(below), float(above)

        ref, _, _ = shares(reference)
        cur, below, above = shares(current)
        return {
            "kind": "histogram",
            "edges": [round(float(v), 6) for v in edges],
            "reference": ref,
            "current": cur,
            "current_below": round(below, 6),
            "current_above": round(above, 6),
        }


class CategoricalColumn:
    """One categorical column: counts per category, one pass over each side."""

    kind = "categorical"

    def __init__(self, name: str, allowed: list[str] | None, params: MonitorParams) -> None:
        self.name, self.allowed, self.params = name, allowed, params
        self.counts = {"reference": Counts(), "current": Counts()}

    def see_reference(self, column: pd.Series) -> None:
        self.counts["reference"].add(category_keys(column))

    def fix_points(self) -> bool:
        if not self.counts["reference"].rows:
            raise DataError(f"reference: column '{self.name}' has no values")
        return False

    def count_reference(self, column: pd.Series) -> None:
        """Counts are complete after one pass."""

    def see_current(self, column: pd.Series) -> None:
        self.counts["current"].add(category_keys(column))

    def _aligned(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        reference, current = self.counts["reference"].counts, self.counts["current"].counts
        names = sorted(set(reference) | set(current), key=lambda key: -reference.get(key, 0))
        return (
            names,
            np.array([reference.get(name, 0) for name in names], dtype=float),
            np.array([current.get(name, 0) for name in names], dtype=float),
        )

    def test(self, family: int = 1) -> dict[str, Any]:
        """The column's test; `family` as for numbers."""
        params = self.params
        _, reference, current = self._aligned()
        if not current.sum():
            return {"test": None, "statistic": None, "p_value": None, "threshold": None}
        if min(reference.sum(), current.sum()) <= params.small_sample:
            statistic, p_value = stats.chi_squared(reference, current)
            threshold = params.p_value / max(family, 1)
            return {
                "test": "chi_squared",
                "statistic": statistic,
                "p_value": p_value,
                "threshold": threshold,
                "drift": p_value < threshold,
            }
        statistic = stats.psi(reference, current)
        return {
            "test": "psi",
            "statistic": statistic,
            "p_value": None,
            "threshold": params.psi_threshold,
            "drift": statistic >= params.psi_threshold,
        }

    def describe(self, side: str) -> dict[str, Any]:
        counts = self.counts[side]
        total = counts.rows + counts.missing
        outside = 0
        if self.allowed is not None:
            outside = sum(n for key, n in counts.counts.items() if key not in self.allowed)
        return {
            "rows": total,
            "missing_rate": _rate(counts.missing, total),
            "out_of_range_rate": _rate(outside, counts.rows),
            "categories": len(counts.counts),
        }

    def new_categories(self) -> list[str]:
        known = self.counts["reference"].counts
        return sorted(key for key in self.counts["current"].counts if key not in known)

    def plot(self) -> dict[str, Any]:
        names, reference, current = self._aligned()
        shown = names[:PLOT_CATEGORIES]
        ref = reference / max(reference.sum(), 1)
        cur = current / max(current.sum(), 1)
        rest = len(shown)
        categories = shown + ([OTHER] if len(names) > rest else [])
        ref_shares = [*ref[:rest], *([ref[rest:].sum()] if len(names) > rest else [])]
        cur_shares = [*cur[:rest], *([cur[rest:].sum()] if len(names) > rest else [])]
        return {
            "kind": "bars",
            "categories": categories,
            "reference": [round(float(v), 6) for v in ref_shares],
            "current": [round(float(v), 6) for v in cur_shares],
        }


Column = NumericColumn | CategoricalColumn


def column_report(column: Column, family: int = 1) -> dict[str, Any]:
    """Everything the report says about one column, tested as one of `family` columns."""
    result: dict[str, Any] = {"type": column.kind, "drift": False} | column.test(family)
    for key in ("statistic", "p_value"):
        result[key] = _round(result[key])
    result["reference"] = column.describe("reference")
    result["current"] = column.describe("current")
    if isinstance(column, CategoricalColumn):
        result["new_categories"] = column.new_categories()
    result["plot"] = column.plot()
    return result


def verdict(features: dict[str, dict[str, Any]], rows: int, params: MonitorParams) -> dict:
    """Dataset drift: enough features drift, or a key feature does."""
    drifted = [name for name, result in features.items() if result["drift"]]
    share = len(drifted) / len(features) if features else 0.0
    keys = [name for name in params.key_features if name in drifted]
    reasons = []
    judged = rows >= params.min_rows
    if judged and share >= params.drift_share:
        reasons.append(
            f"{len(drifted)} of {len(features)} features drifted ({share:.0%}, "
            f"threshold {params.drift_share:.0%}): {', '.join(drifted)}"
        )
    if judged and keys:
        reasons.append(f"key features drifted: {', '.join(keys)}")
    return {
        "features": len(features),
        "drifted": len(drifted),
        "share": round(share, 6),
        "drift_share": params.drift_share,
        "drifted_features": drifted,
        "key_features": list(params.key_features),
        "key_features_drifted": keys,
        "judged": judged,
        "drift": bool(reasons),
        "reasons": reasons,
    }


def quality_alerts(features: dict[str, dict[str, Any]], params: MonitorParams) -> list[str]:
    """Data problems worth a look, whether or not they move a distribution."""
    alerts = []
    for name, result in features.items():
        reference, current = result["reference"], result["current"]
        increase = current["missing_rate"] - reference["missing_rate"]
        if increase > params.max_missing_increase:
            alerts.append(
                f"{name}: {current['missing_rate']:.1%} missing values "
                f"(reference {reference['missing_rate']:.1%})"
            )
        if current["out_of_range_rate"] > params.max_out_of_range:
            alerts.append(
                f"{name}: {current['out_of_range_rate']:.1%} of values outside schema.yaml's range"
            )
        if result.get("new_categories"):
            alerts.append(f"{name}: new categories {', '.join(result['new_categories'][:10])}")
    return alerts
