"""The drift statistics, held to scipy's reference implementations on fixed data and on a real
table, and the test each column gets (monitoring/drift.py).

The monitoring job never holds a column in memory: it computes every statistic from
histograms (monitoring/profile.py). These tests build the histograms the job builds and
compare the result with scipy run on the raw values.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from mlops_ladder.config import MonitorParams
from mlops_ladder.monitoring import drift, stats
from mlops_ladder.monitoring.profile import (
    Counts,
    Histogram,
    Moments,
    Sample,
    category_keys,
    choose_points,
)

RANDOM = np.random.default_rng(20261126)
# A small reference with ties (one decimal), a larger current with values between them.
SMALL_REFERENCE = np.round(RANDOM.normal(10, 2, 400), 1)
CURRENT = np.concatenate([RANDOM.normal(10.4, 2.2, 3000), SMALL_REFERENCE[:500]])


def histograms(reference: np.ndarray, current: np.ndarray, points: np.ndarray) -> tuple:
    counted = Histogram(points), Histogram(points)
    counted[0].add(reference)
    for chunk in np.array_split(current, 7):  # chunk by chunk, as the job reads
        counted[1].add(chunk)
    return counted


def profile(values: np.ndarray, size: int = 50_000, points: int = 1000) -> np.ndarray:
    sample, moments = Sample(size, seed=1), Moments()
    for chunk in np.array_split(values, 5):
        sample.add(chunk)
        moments.add(chunk, missing=0)
    return choose_points(sample, moments.low, moments.high, points)


def test_histogram_cells_are_below_at_between_and_above_the_points() -> None:
    histogram = Histogram(np.array([1.0, 2.0, 4.0]))
    histogram.add(np.array([0.0, 0.5, 1.0, 1.5, 2.0, 2.0, 3.0, 4.0, 6.0]))
    # cells: <1, =1, (1,2), =2, (2,4), =4, >4
    assert histogram.cells.tolist() == [2, 1, 1, 2, 1, 1, 1]
    # distances to the point on the left (to the first point, below it)
    assert histogram.offsets.tolist() == pytest.approx([1.5, 0, 0.5, 0, 1.0, 0, 2.0])


def test_ks_statistic_and_p_value_match_scipy() -> None:
    reference, current = histograms(SMALL_REFERENCE, CURRENT, np.unique(SMALL_REFERENCE))
    expected = scipy_stats.ks_2samp(SMALL_REFERENCE, CURRENT, method="asymp")
    statistic = stats.ks_statistic(reference.cells, current.cells)
    assert statistic == pytest.approx(expected.statistic, abs=1e-12)
    assert stats.ks_p_value(statistic, reference.rows, current.rows) == pytest.approx(
        expected.pvalue, rel=1e-9
    )


def test_ks_finds_a_shift_and_passes_a_sample_of_the_same_distribution() -> None:
    same = np.round(RANDOM.normal(10, 2, 300), 1)
    shifted = same + 1.0
    points = np.unique(SMALL_REFERENCE)
    for current, drifted in [(same, False), (shifted, True)]:
        reference, counted = histograms(SMALL_REFERENCE, current, points)
        statistic = stats.ks_statistic(reference.cells, counted.cells)
        p_value = stats.ks_p_value(statistic, reference.rows, counted.rows)
        assert (p_value < 0.05) is drifted
        assert p_value == pytest.approx(
            scipy_stats.ks_2samp(SMALL_REFERENCE, current, method="asymp").pvalue, rel=1e-9
        )


def test_wasserstein_is_exact_when_the_current_sits_on_the_reference_points() -> None:
    reference = RANDOM.integers(0, 21, 2000).astype(float)
    current = RANDOM.integers(-5, 26, 5000).astype(float)  # also beyond both ends
    counted = histograms(reference, current, np.unique(reference))
    distance = stats.wasserstein(
        counted[0].points,
        (counted[0].cells, counted[0].offsets),
        (counted[1].cells, counted[1].offsets),
    )
    assert distance == pytest.approx(scipy_stats.wasserstein_distance(reference, current), 1e-12)


@pytest.mark.parametrize(("shift", "scale"), [(0.0, 1.0), (0.05, 1.0), (0.3, 1.5), (2.0, 0.5)])
def test_wasserstein_on_quantile_points_is_within_a_thousandth_of_the_spread(
    shift: float, scale: float
) -> None:
    # Drift is decided on the distance divided by the reference's standard deviation: an
    # error of 0.001 std cannot move a decision at the default threshold of 0.1 std.
    reference = RANDOM.lognormal(0, 0.5, 200_000)
    current = reference[:100_000] * scale + shift + RANDOM.normal(0, 0.01, 100_000)
    counted = histograms(reference, current, profile(reference))
    distance = stats.wasserstein(
        counted[0].points,
        (counted[0].cells, counted[0].offsets),
        (counted[1].cells, counted[1].offsets),
    )
    expected = scipy_stats.wasserstein_distance(reference, current)
    assert distance == pytest.approx(expected, rel=1e-3, abs=1e-3 * reference.std())


def test_psi_matches_the_symmetric_kullback_leibler_divergence() -> None:
    reference, current = np.array([120.0, 300, 80, 500]), np.array([100.0, 250, 40, 610])
    expected = scipy_stats.entropy(current, reference) + scipy_stats.entropy(reference, current)
    assert stats.psi(reference, current) == pytest.approx(expected, rel=1e-12)


def test_psi_stays_finite_when_one_side_leaves_a_bin_empty() -> None:
    with_gap = stats.psi(np.array([120.0, 300, 0, 80]), np.array([100.0, 250, 40, 0]))
    assert np.isfinite(with_gap)
    assert with_gap > stats.psi(np.array([120.0, 300, 80]), np.array([100.0, 250, 40]))


def test_binned_psi_uses_reference_deciles() -> None:
    reference = RANDOM.normal(0, 1, 1000)
    current = RANDOM.normal(0.3, 1.2, 4000)
    counted = histograms(reference, current, np.unique(reference))
    edges = np.sort(reference)[100::100]  # lower bounds of deciles 2..10
    expected = stats.psi(
        np.bincount(np.searchsorted(edges, reference, side="right"), minlength=10),
        np.bincount(np.searchsorted(edges, current, side="right"), minlength=10),
    )
    assert stats.binned_psi(counted[0].cells, counted[1].cells, 10) == pytest.approx(expected)


def test_chi_squared_matches_scipy_contingency() -> None:
    reference = np.array([200.0, 150, 50, 0])
    current = np.array([30.0, 45, 20, 5])  # a category the reference never saw
    expected = scipy_stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    statistic, p_value = stats.chi_squared(reference, current)
    assert statistic == pytest.approx(expected.statistic, rel=1e-12)
    assert p_value == pytest.approx(expected.pvalue, rel=1e-9)


def test_moments_merged_chunk_by_chunk_equal_numpy() -> None:
    values = RANDOM.normal(1e6, 3, 100_000)  # a large mean: naive sums would lose precision
    moments = Moments()
    for chunk in np.array_split(values, 13):
        moments.add(chunk, missing=2)
    assert moments.rows == len(values)
    assert moments.missing == 26
    assert moments.mean == pytest.approx(values.mean(), rel=1e-12)
    assert moments.std == pytest.approx(values.std(), rel=1e-9)
    assert (moments.low, moments.high) == (values.min(), values.max())


def test_the_sample_keeps_everything_up_to_its_size_and_no_more() -> None:
    small, large = Sample(1000, seed=3), Sample(1000, seed=3)
    small.add(np.arange(600.0))
    for chunk in np.array_split(np.arange(100_000.0), 10):
        large.add(chunk)
    assert small.complete
    assert sorted(small.values) == list(np.arange(600.0))
    assert not large.complete
    assert len(large.values) == 1000
    assert len(np.unique(large.values)) == 1000
    # a uniform sample of 0..99999 has its median near the middle
    assert 40_000 < np.median(large.values) < 60_000


def test_categories_are_the_same_whatever_their_spelling() -> None:
    keys = category_keys(pd.Series([1, 2.0, "2", "x", None], dtype=object))
    assert keys.tolist()[:4] == ["1", "2", "2", "x"]
    counts = Counts(max_categories=2)
    counts.add(category_keys(pd.Series(["a", "b", "c", "a", None], dtype=object)))
    assert counts.counts == {"a": 2, "b": 1, "(other)": 1}
    assert counts.missing == 1


# ----------------------------------------------------------------------------------------------
# The test each column gets (drift.py), fed in chunks as the job feeds it
# ----------------------------------------------------------------------------------------------
PARAMS = MonitorParams()


def numeric_column(
    reference: np.ndarray, current: np.ndarray, params: MonitorParams, chunks: int = 4
) -> drift.NumericColumn:
    """A column seen as the job sees it: the reference once, again when its points need
    counting (a large reference), then the current data."""
    column = drift.NumericColumn("x", None, None, params, seed=0)
    for chunk in np.array_split(reference, chunks):
        column.see_reference(pd.Series(chunk))
    if column.fix_points():
        for chunk in np.array_split(reference, chunks):
            column.count_reference(pd.Series(chunk))
    for chunk in np.array_split(current, chunks):
        column.see_current(pd.Series(chunk))
    return column


def test_every_number_column_of_a_real_table_gets_scipys_ks_and_distance() -> None:
    # Given the wine table (sorted by cultivar): its first 118 rows as the reference and the
    # last 60 (another cultivar mostly) as the current data
    from sklearn.datasets import load_wine

    table = load_wine(as_frame=True).frame.drop(columns="target")
    reference, current = table.iloc[:118], table.iloc[118:]
    drifted = []
    for name in table.columns:
        column = numeric_column(reference[name].to_numpy(), current[name].to_numpy(), PARAMS)
        result = drift.column_report(column)
        # Then each column's KS is scipy's on the raw values, and its distance too
        expected = scipy_stats.ks_2samp(reference[name], current[name], method="asymp")
        assert result["test"] == "ks"
        assert result["statistic"] == pytest.approx(expected.statistic, abs=1e-6)
        assert result["p_value"] == pytest.approx(expected.pvalue, rel=1e-5, abs=1e-6)
        histograms = column.histograms
        distance = stats.wasserstein(
            histograms["reference"].points,
            (histograms["reference"].cells, histograms["reference"].offsets),
            (histograms["current"].cells, histograms["current"].offsets),
        )
        # (exact but where the CDFs cross between two reference values: there, within a
        # two-hundredth of the spread, far below the 0.1 of a drift decision)
        assert distance == pytest.approx(
            scipy_stats.wasserstein_distance(reference[name], current[name]),
            abs=5e-3 * reference[name].std(),
        )
        assert result["reference"]["mean"] == pytest.approx(reference[name].mean(), rel=1e-6)
        if result["drift"]:
            drifted.append(name)
    # and the cultivar's telltale measurements are found to drift
    assert {"flavanoids", "hue", "proline"} <= set(drifted)


def test_a_large_reference_is_judged_by_distance_not_by_p_value() -> None:
    # Given a reference larger than small_sample (and than the job's sample: two passes), and
    # current data moved by a twentieth of a standard deviation, then by a third
    reference = RANDOM.normal(50, 10, 60_000)
    slightly, clearly = reference[:20_000] + 0.5, reference[20_000:40_000] + 3.3
    # When each is tested
    small = numeric_column(reference, slightly, PARAMS)
    large = numeric_column(reference, clearly, PARAMS)
    # Then the slight move is no drift, though a KS test calls it significant; the clear one is
    assert not small.sample.complete
    assert scipy_stats.ks_2samp(reference, slightly).pvalue < PARAMS.p_value
    for column, moved, drifted in [(small, slightly, False), (large, clearly, True)]:
        result = column.test()
        expected = scipy_stats.wasserstein_distance(reference, moved) / reference.std()
        assert result["test"] == "wasserstein"
        assert result["p_value"] is None
        assert result["statistic"] == pytest.approx(expected, abs=1e-3)
        assert result["drift"] is drifted


def test_psi_on_reference_deciles_when_params_choose_it() -> None:
    params = MonitorParams(numeric_test="psi", small_sample=100)
    reference = RANDOM.normal(0, 1, 5000)
    current = RANDOM.normal(0.5, 1, 2000)
    result = numeric_column(reference, current, params).test()
    edges = np.quantile(reference, np.linspace(0, 1, 11)[1:-1])
    expected = stats.psi(
        np.bincount(np.searchsorted(edges, reference, side="right"), minlength=10),
        np.bincount(np.searchsorted(edges, current, side="right"), minlength=10),
    )
    assert result["test"] == "psi"
    assert result["threshold"] == params.psi_threshold
    assert result["statistic"] == pytest.approx(expected, rel=0.05)
    assert result["drift"] is True


def categorical_column(
    reference: list[str], current: list[str], params: MonitorParams
) -> drift.CategoricalColumn:
    column = drift.CategoricalColumn("colour", ["red", "green", "blue"], params)
    column.see_reference(pd.Series(reference, dtype=object))
    assert column.fix_points() is False  # counts are complete after one pass
    column.see_current(pd.Series(current, dtype=object))
    return column


def test_categories_get_chi_squared_on_a_small_side_and_psi_when_both_are_large() -> None:
    reference = ["red"] * 500 + ["green"] * 300 + ["blue"] * 200
    current = ["red"] * 40 + ["green"] * 30 + ["blue"] * 20 + ["purple"] * 10 + [None] * 5
    small = categorical_column(reference, current, MonitorParams(small_sample=1000)).test()
    expected = scipy_stats.chi2_contingency(
        np.array([[500, 300, 200, 0], [40, 30, 20, 10]]), correction=False
    )
    assert small["test"] == "chi_squared"
    assert small["p_value"] == pytest.approx(expected.pvalue, rel=1e-9)
    # A large reference but a small current window: still a p-value (the window's size counts)
    window = categorical_column(reference, current, MonitorParams(small_sample=999)).test()
    assert window["test"] == "chi_squared"
    # Both sides above small_sample: a distance
    large = categorical_column(reference, current, MonitorParams(small_sample=99))
    result = drift.column_report(large)
    assert result["test"] == "psi"
    assert result["statistic"] == pytest.approx(
        stats.psi(np.array([500, 300, 200, 0]), np.array([40, 30, 20, 10]))
    )
    # The category the reference never saw is new, outside the contract, and its own bar
    assert result["new_categories"] == ["purple"]
    assert result["current"]["out_of_range_rate"] == pytest.approx(0.1)
    assert result["current"]["missing_rate"] == pytest.approx(5 / 105, abs=1e-6)
    assert result["plot"]["categories"] == ["red", "green", "blue", "purple"]


def feature(drifted: bool, missing: float = 0.0, outside: float = 0.0) -> dict:
    """A column's report, as far as the verdict and the alerts read it."""
    side = {"missing_rate": 0.0, "out_of_range_rate": 0.0}
    current = {"missing_rate": missing, "out_of_range_rate": outside}
    return {"drift": drifted, "reference": side, "current": current}


def test_the_verdict_needs_a_share_of_features_or_a_key_one_and_enough_rows() -> None:
    features = {"a": feature(True), "b": feature(True), "c": feature(False), "d": feature(False)}
    half = drift.verdict(features, rows=100, params=PARAMS)
    assert half["drift"] is True
    assert half["reasons"] == ["2 of 4 features drifted (50%, threshold 50%): a, b"]
    keyed = MonitorParams(drift_share=0.75, key_features=["b", "c"])
    assert drift.verdict(features, rows=100, params=keyed)["reasons"] == ["key features drifted: b"]
    few = drift.verdict(features, rows=PARAMS.min_rows - 1, params=keyed)
    assert few["judged"] is False
    assert few["drift"] is False
    assert few["drifted_features"] == ["a", "b"]  # reported, not judged


def test_data_problems_are_alerts_whether_or_not_a_distribution_moved() -> None:
    features = {
        "fine": feature(False, missing=PARAMS.max_missing_increase),
        "gappy": feature(False, missing=0.2),
        "outside": feature(False, outside=0.5),
        "new": {**feature(False), "new_categories": ["purple"]},
    }
    assert drift.quality_alerts(features, PARAMS) == [
        "gappy: 20.0% missing values (reference 0.0%)",
        "outside: 50.0% of values outside schema.yaml's range",
        "new: new categories purple",
    ]
