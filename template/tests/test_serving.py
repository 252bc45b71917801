"""Serving tests: the served model answers records of your data as the model predicts them,
refuses a record that breaks the contract, naming what is wrong, and never logs personal data
in clear.

`served` (mlops-ladder's pytest plugin) is the serving app answering with the champion of the
job's registry, through FastAPI's test client; `privacy` runs it with features tagged pii and
reads the prediction log it wrote.
"""

import numpy as np
import pytest
from mlops_ladder.model import predict


def records_of(frame, schema, rows=20):
    """Rows of the test split as a client sends them: JSON values, missing ones as null."""
    inputs = frame[schema.feature_names].head(rows).astype(object)
    return inputs.where(inputs.notna(), None).to_dict("records")


@pytest.mark.ml_test_score("infrastructure-5", "monitoring-3")
def test_the_served_model_answers_as_the_model_predicts(served, model, splits, schema) -> None:
    records = records_of(splits[1], schema)
    answer = served.post("/predict", json={"records": records})
    assert answer.status_code == 200, answer.text
    expected = predict(model, splits[1][schema.feature_names].head(len(records)))[0]
    if schema.task == "classification":
        assert [str(label) for label in answer.json()["predictions"]] == [str(x) for x in expected]
    else:
        np.testing.assert_allclose(answer.json()["predictions"], expected, rtol=1e-9)


@pytest.mark.ml_test_score("data-1", "monitoring-2")
def test_a_record_that_breaks_the_contract_is_refused_by_name(served, splits, schema) -> None:
    record = records_of(splits[1], schema, rows=1)[0]
    name = schema.feature_names[0]
    record[name] = "not a value of this column" if name in schema.numeric else 1e12
    answer = served.post("/predict", json={"records": [record]})
    assert answer.status_code == 422
    assert name in answer.text


@pytest.mark.ml_test_score("data-5")
def test_personal_data_is_tagged_and_never_logged_in_clear(privacy) -> None:
    # Every column whose name says personal data (email, phone, name, address, birth...) is
    # tagged pii or listed under ignored in schema.yaml
    assert not privacy.untagged, f"tag pii or list under ignored in schema.yaml: {privacy.untagged}"
    # A feature tagged pii reaches the prediction log as its hash under the deployment's key
    assert len(privacy.logged) == len(privacy.sent)
    for name in privacy.tagged:
        assert [inputs[name] for inputs in privacy.logged] == privacy.hashed[name]
        sent = {str(record[name]) for record in privacy.sent if record[name] is not None}
        assert not sent & {str(inputs[name]) for inputs in privacy.logged}
    # And serving refuses to start on the public default key once a feature is tagged pii
    assert "PII_KEY to a secret key" in privacy.refused
