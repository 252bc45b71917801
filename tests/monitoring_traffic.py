"""Traffic for the monitoring tests, run with a rendered project's own Python.

The test split, optionally with some features shifted up by one standard deviation, cut into
requests of four records, and a labels file for them (true, or shuffled for a model that has
become wrong), keyed by (request_id, record):

    python monitoring_traffic.py REQUESTS_FILE LABELS_FILE [--shift NAME ...] [--shuffle-labels]

writes the requests (`[{"request_id": ..., "records": [...]}, ...]`) that a test sends to the
served champion, whose own prediction log is then the monitoring job's input.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
import yaml


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("requests", type=Path)
    parser.add_argument("labels", type=Path)
    parser.add_argument("--shift", action="append", default=[], help="a feature (repeatable)")
    parser.add_argument("--shuffle-labels", action="store_true")
    args = parser.parse_args()

    schema = yaml.safe_load(Path("schema.yaml").read_text())
    features, target = list(schema["features"]), schema["target"]["name"]
    frame = pd.read_parquet("data/processed/test.parquet")
    dtypes = {name: spec["dtype"] for name, spec in schema["features"].items()}
    for name in args.shift:
        step = frame[name].std()
        # whole-number columns move by a whole number: requests must still hold integers
        frame[name] = frame[name] + (max(1, round(step)) if dtypes[name] == "int" else step)
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

    def plain(name: str, value: object) -> object:
        """JSON as a client sends it: null when missing, whole numbers for int columns."""
        if pd.isna(value):
            return None
        value = np.asarray(value).item()
        return int(value) if dtypes[name] == "int" else value

    records = [
        {name: plain(name, value) for name, value in record.items()}
        for record in inputs.to_dict("records")
    ]
    requests = [
        {"request_id": f"request-{start // 4}", "records": records[start : start + 4]}
        for start in range(0, len(records), 4)
    ]
    args.requests.write_text(json.dumps(requests))


if __name__ == "__main__":
    main()
