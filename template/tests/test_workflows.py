"""Workflow tests: the scheduled jobs of .github/workflows/ do what they say, run here as GitHub
runs them.

`scheduled_monitor(records)` (mlops-ladder's pytest plugin) runs monitor.yml's monitoring step
with `records` as the prediction log and their labels, the repository's variables standing for
the registry the job's model went to: what the step is not given, it cannot read.
"""

import pytest


@pytest.mark.ml_test_score("monitoring-4", "model-2", "monitoring-7")
def test_the_scheduled_monitoring_reads_the_champion_from_the_registry(
    scheduled_monitor, splits, params
) -> None:
    report = scheduled_monitor(splits[1])
    # The champion's age, from the registry, within the bound (not "registry not read")
    champion = report["model"]["champion"]
    assert champion, report["notes"]
    assert champion["age_days"] <= params.monitor.max_model_age_days
    # Each served version's offline score beside its live one, on labelled traffic
    versions = report["performance"]["versions"]
    assert versions, report["performance"]
    assert all(entry["offline"] is not None and not entry["flagged"] for entry in versions.values())
    assert report["step_outputs"]["retrain_needed"] == "false", report["reasons"]
