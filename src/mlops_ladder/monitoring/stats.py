"""Drift statistics computed from histograms, so that no input ever has to fit in memory.

A numeric column is summarised on sorted points: the count of values below the first point,
at each point, strictly between two points, and above the last point, with the sum of their
distances to the point on their left (see profile.Histogram). When the points are every
distinct value of the reference (small references), the Kolmogorov-Smirnov statistic from
these cells is exact, whatever the size of the other sample. When they are quantiles of a
large reference, the Wasserstein distance is exact but where the two CDFs cross inside a cell,
and KS is read at the points only. Each function names the scipy function it agrees with;
the tests hold them to it.
"""

from __future__ import annotations

import numpy as np

# PSI is infinite for a bin that one side leaves empty: such shares are raised to this floor.
PSI_FLOOR = 1e-4


def shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total else np.zeros(len(counts))


def ks_statistic(reference_cells: np.ndarray, current_cells: np.ndarray) -> float:
    """Largest gap between the two empirical CDFs, read at every cell boundary.

    Equals `scipy.stats.ks_2samp(...).statistic` when the reference has no values strictly
    between its points (every distinct reference value is a point).
    """
    gaps = np.cumsum(shares(reference_cells)) - np.cumsum(shares(current_cells))
    return float(np.abs(gaps).max())


def ks_p_value(statistic: float, reference_rows: int, current_rows: int) -> float:
    """Smirnov's asymptotic p-value: `scipy.stats.ks_2samp(..., method="asymp").pvalue`."""
    # scipy.stats takes a second to import: only the tests that need a distribution pay it.
    from scipy import stats

    large, small = sorted([float(reference_rows), float(current_rows)], reverse=True)
    effective = np.round(large * small / (large + small))
    return float(np.clip(stats.kstwo.sf(statistic, effective), 0.0, 1.0))


def wasserstein(
    points: np.ndarray,
    reference: tuple[np.ndarray, np.ndarray],
    current: tuple[np.ndarray, np.ndarray],
) -> float:
    """Earth mover's distance between the two distributions: `scipy.stats.wasserstein_distance`.

    `reference` and `current` are a histogram's (cells, offsets). The distance is the area
    between the two CDFs. Over each cell, the area under a CDF is exact from the cell's count
    and the sum of its values' offsets; the area between the CDFs is the difference of the
    two areas, exact unless the CDFs cross inside the cell, where they are taken as linear.
    """
    (ref_cells, ref_offsets), (cur_cells, cur_offsets) = reference, current
    ref_rows, cur_rows = max(ref_cells.sum(), 1), max(cur_cells.sum(), 1)
    ref, cur = ref_cells / ref_rows, cur_cells / cur_rows
    # Beyond the points: the mean distance of the values outside (no crossing possible when
    # only one sample is there, as for the reference, whose extremes are the first and last
    # points).
    tails = sum(abs(ref_offsets[i] / ref_rows - cur_offsets[i] / cur_rows) for i in (0, -1))
    # Between point j and j + 1: CDFs just after point j, shares and offsets of the gap.
    ref_after, cur_after = np.cumsum(ref)[1:-2:2], np.cumsum(cur)[1:-2:2]
    ref_gap, cur_gap = ref[2:-1:2], cur[2:-1:2]
    widths = np.diff(points)
    ref_area = (ref_after + ref_gap) * widths - ref_offsets[2:-1:2] / ref_rows
    cur_area = (cur_after + cur_gap) * widths - cur_offsets[2:-1:2] / cur_rows
    start = ref_after - cur_after
    end = start + ref_gap - cur_gap
    with np.errstate(divide="ignore", invalid="ignore"):
        crossing = widths * (start**2 + end**2) / (2 * np.abs(start - end))
    inside = np.where(start * end >= 0, np.abs(ref_area - cur_area), crossing)
    return float(tails + inside.sum())


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    """Population stability index over bins: sum of (c - r) * ln(c / r) of the two shares.

    Equals `scipy.stats.entropy(c, r) + scipy.stats.entropy(r, c)` once empty shares are
    raised to PSI_FLOOR.
    """
    reference = np.maximum(shares(reference_counts), PSI_FLOOR)
    current = np.maximum(shares(current_counts), PSI_FLOOR)
    return float(((current - reference) * np.log(current / reference)).sum())


def quantile_bins(reference_cells: np.ndarray, bins: int) -> np.ndarray:
    """For each cell, the bin it falls in when the points are grouped into `bins` bins of
    about equal reference share (PSI's usual bins: reference deciles for 10). A gap between
    two points goes with the point on its left, the cell below the first point with it."""
    before = np.cumsum(shares(reference_cells)) - shares(reference_cells)
    at_points = np.minimum(np.floor(before[1::2] * bins + 1e-9).astype(np.int64), bins - 1)
    groups = np.zeros(len(reference_cells), dtype=np.int64)
    groups[1::2] = at_points
    groups[2::2] = at_points
    return groups


def binned_psi(reference_cells: np.ndarray, current_cells: np.ndarray, bins: int) -> float:
    """PSI of a numeric column over `bins` reference-quantile bins."""
    groups = quantile_bins(reference_cells, bins)
    return psi(
        np.bincount(groups, weights=reference_cells, minlength=bins),
        np.bincount(groups, weights=current_cells, minlength=bins),
    )


# A chi-squared cell whose expected count is below this is too sparse for the test's
# distribution: such categories are pooled into one (Cochran's rule).
MIN_EXPECTED = 5.0


def chi_squared(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, float]:
    """Chi-squared test of homogeneity over categories: are both samples drawn from the same
    distribution? `scipy.stats.chi2_contingency([reference, current], correction=False)`.

    Returns (statistic, p-value); categories that neither sample has are left out, and those
    where either sample expects fewer than MIN_EXPECTED rows are pooled into one (on a small
    window, rare categories would otherwise make chance look like drift).
    """
    table = np.vstack([reference_counts, current_counts]).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.size and table.sum():
        expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
        sparse = (expected < MIN_EXPECTED).any(axis=0)
        if sparse.any():
            pooled = table[:, sparse].sum(axis=1, keepdims=True)
            table = np.hstack([table[:, ~sparse], pooled])
    if table.shape[1] < 2 or (table.sum(axis=1) == 0).any():
        return 0.0, 1.0
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    from scipy import stats

    return statistic, float(stats.chi2.sf(statistic, table.shape[1] - 1))
