"""Command-line tests: every command documents itself, errors are one clear line, and the
commands run the whole job end to end."""

from __future__ import annotations

from pathlib import Path

{% if cookiecutter.__classification %}
import numpy as np
{% endif %}
import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.schema import load_schema

COMMANDS = ["ingest", "validate", "split", "featurize", "train", "evaluate", "predict"]
ROOT = Path(__file__).resolve().parents[1]
ENV = "{{ cookiecutter.package_name | upper }}_"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([command, "--help"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("usage:")


def test_a_typo_in_params_is_one_clear_error(
    outputs_here: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given params.yaml with a misspelt key
    params = outputs_here / "params.yaml"
    params.write_text((ROOT / "params.yaml").read_text().replace("test_size:", "tset_size:"))
    monkeypatch.setenv(f"{ENV}PARAMS_FILE", str(params))
    # When a command reads it
    code = main(["split"])
    # Then it stops with a message naming the key, not a traceback
    error = capsys.readouterr().err
    assert code == 1
    assert error.startswith("error:")
    assert "tset_size" in error


def test_the_stages_produce_a_model_and_its_reports(job: Path) -> None:
    assert (job / "models" / "model.joblib").is_file()
    assert (job / "models" / "metadata.json").is_file()
    assert (job / "reports" / "metrics.json").is_file()
    assert any((job / "reports" / "figures").glob("*.png"))


def test_predict_adds_a_prediction_to_each_record(job: Path) -> None:
    records = pd.read_parquet(job / "data" / "processed" / "test.parquet").head(5)
    records.to_csv(job / "records.csv", index=False)
    assert main(["predict", str(job / "records.csv"), "--output", str(job / "out.csv")]) == 0
    predicted = pd.read_csv(job / "out.csv")
    assert len(predicted) == 5
    assert predicted["prediction"].notna().all()
{% if cookiecutter.__classification %}
    # The predicted class's probability, and each class's
    shares = predicted.filter(like="probability_")
    assert shares.shape[1] >= 2
    np.testing.assert_allclose(shares.sum(axis=1), 1.0)
    np.testing.assert_allclose(predicted["probability"], shares.max(axis=1))
{% endif %}


def test_records_missing_a_column_are_refused_with_its_name(
    job: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    records = pd.read_parquet(job / "data" / "processed" / "test.parquet").head(3)
    needed = load_schema(ROOT / "schema.yaml").feature_names[0]
    records.drop(columns=[needed]).to_csv(job / "bad.csv", index=False)
    assert main(["predict", str(job / "bad.csv")]) == 1
    assert needed in capsys.readouterr().err
