"""Feature tests: your derived features (features.py), one by one.

The first tests hold for any derived feature on your data; the last ones pin the bundled
samples' formulas on hand-made rows: write the same for yours.
"""

import numpy as np
import pandas as pd
import pytest
from mlops_ladder.features import add_derived_features, derived_for, feature_costs


@pytest.mark.ml_test_score("data-7")
def test_each_derived_feature_is_a_number_for_every_row(dataset, schema) -> None:
    derived = derived_for(schema.feature_names)
    out = add_derived_features(dataset, derived)
    for feature in derived:
        complete = dataset[list(feature.inputs)].notna().all(axis=1)
        values = pd.to_numeric(out.loc[complete, feature.name], errors="coerce")
        assert not np.isinf(values).any(), f"{feature.name} is infinite on some rows"
        assert values.notna().mean() >= 0.99, f"{feature.name} is missing where its inputs are not"


@pytest.mark.ml_test_score("data-7", "infrastructure-2", "monitoring-3")
def test_each_derived_feature_is_computed_row_by_row(dataset, schema) -> None:
    # Serving computes one record at a time: a row's value must not depend on the other rows.
    rows = dataset.head(20)
    derived = derived_for(schema.feature_names)
    together = add_derived_features(rows, derived)
    for index in range(len(rows)):
        alone = add_derived_features(rows.iloc[[index]], derived)
        for feature in derived:
            pd.testing.assert_series_equal(
                alone[feature.name], together[feature.name].iloc[[index]], check_names=False
            )


@pytest.mark.ml_test_score("data-3")
def test_each_derived_feature_fits_its_budget(dataset, schema, params) -> None:
    costs = feature_costs(dataset, derived_for(schema.feature_names), params.featurize)
    assert not costs["failures"], costs["failures"]


@pytest.mark.ml_test_score("data-7")
def test_the_sample_features_compute_their_formulas() -> None:
    rows = pd.DataFrame(
        {
            "worst_radius": [20.0, 20.0],
            "mean_radius": [10.0, 0.0],
            "mean_area": [np.e - 1, 0.0],
            "ldl": [120.0, 120.0],
            "hdl": [40.0, 0.0],
            "bmi": [29.9, 30.0],
        }
    )
    out = add_derived_features(rows, derived_for(rows.columns))
    assert out["radius_ratio"].iloc[0] == pytest.approx(2.0)
    assert np.isnan(out["radius_ratio"].iloc[1])  # a zero radius is missing, not infinite
    assert out["log_mean_area"].iloc[0] == pytest.approx(1.0)
    assert out["ldl_hdl_ratio"].iloc[0] == pytest.approx(3.0)
    assert np.isnan(out["ldl_hdl_ratio"].iloc[1])
    assert out["obese"].tolist() == [0.0, 1.0]
