"""Traffic for the monitoring tests, run with a rendered project's own Python.

The test split, optionally with some features shifted up by one standard deviation, cut into
requests of four records, and a labels file for them (true, or shuffled for a model that has
become wrong), keyed by (request_id, record). Either

    python monitoring_traffic.py LOG_DIR LABELS_FILE [--shift a,b,c] [--shuffle-labels]

writes the prediction log exactly as the serving contract says (one JSON line per predicted
record, `predictions-*.jsonl`) from the project's trained model, or, with `--requests FILE`,
writes the requests (`[{"request_id": ..., "records": [...]}, ...]`) for a test to send to
the served model, whose own prediction log then goes to LOG_DIR.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import yaml


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("log_dir", type=Path)
    parser.add_argument("labels", type=Path)
    parser.add_argument("--shift", default="")
    parser.add_argument("--shuffle-labels", action="store_true")
    parser.add_argument("--requests", type=Path, help="write the requests here instead of a log")
    args = parser.parse_args()

    schema = yaml.safe_load(Path("schema.yaml").read_text())
    features, target = list(schema["features"]), schema["target"]["name"]
    frame = pd.read_parquet("data/processed/test.parquet")
    for name in filter(None, args.shift.split(",")):
        frame[name] = frame[name] + frame[name].std()
    inputs = frame[features]
    labels = frame[target].to_numpy()
    if args.shuffle_labels:
        labels = np.random.default_rng(7).permutation(labels)
    pd.DataFrame(
        {
            "request_id": [f"request-{row // 4}" for row in range(len(frame))],
            "record": [row % 4 for row in range(len(frame))],
            target: labels,
        }
    ).to_csv(args.labels, index=False)
    records = [
        {name: np.asarray(value).item() for name, value in record.items()}
        for record in inputs.to_dict("records")
    ]
    if args.requests:
        requests = [
            {"request_id": f"request-{start // 4}", "records": records[start : start + 4]}
            for start in range(0, len(records), 4)
        ]
        args.requests.write_text(json.dumps(requests))
        return

    model = joblib.load("models/model.joblib")
    predictions = model.predict(inputs)
    scores = model.predict_proba(inputs)[:, 1] if hasattr(model, "predict_proba") else None
    version = json.loads(Path("reports/registration.json").read_text())["version"]

    args.log_dir.mkdir(parents=True, exist_ok=True)
    with (args.log_dir / "predictions-traffic.jsonl").open("w") as log:
        for row, record in enumerate(records):
            line = {
                "timestamp": "2026-11-26T12:00:00+00:00",
                "request_id": f"request-{row // 4}",
                "record": row % 4,
                "model_name": "tabular-model",
                "model_version": version,
                "variant": "champion",
                "inputs": record,
                "prediction": np.asarray(predictions[row]).item(),
            }
            if scores is not None:
                line["probability"] = float(scores[row])
            log.write(json.dumps(line) + "\n")


if __name__ == "__main__":
    main()
