"""The Feast feature store: offline (a Parquet file) for training, online (SQLite) for serving.

One definition of the features: the feature view's fields are schema.yaml's features and the
derived features of features.py, computed by the same code that training and serving run.
feature_repo/ holds Feast's project (feature_store.yaml: registry, stores); its definitions
come from here.

Entities and time: every row of the data is one entity (params.yaml `feature_store.entity`)
observed at one time (`feature_store.timestamp`). Data that has these columns keeps them (list
them in schema.yaml `ignored`: `schema draft` does); data without them (the bundled sample)
gets them by the stated rule: the entity key is the row's number in the file (1, 2, ...), its
event time `origin` plus that many hours. A label is known at its row's event time, so
training retrieves, point in time, the feature values known then and none recorded later.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource, ValueType
from feast.types import Bool, Float64, Int64, String

from mlops_ladder import project
from mlops_ladder.config import FeatureStoreParams
from mlops_ladder.errors import DataError
from mlops_ladder.features import add_derived_features, derived_for
from mlops_ladder.schema import Schema

REPO = Path("feature_repo")
# Paths as feature_repo/feature_store.yaml and the definitions see them (relative to REPO).
OFFLINE_TABLE = Path("data/feast/features.parquet")
LABELS_TABLE = Path("data/feast/labels.parquet")
REFERENCE_TABLE = Path("data/feast/reference.parquet")


def view_name() -> str:
    """The feature view's name: the project's package, then `_features`."""
    return f"{project.current().package}_features"


def service_name() -> str:
    return f"{project.current().package}_model"


TYPES = {"float": Float64, "int": Int64, "bool": Bool, "category": String}


def with_keys(frame: pd.DataFrame, params: FeatureStoreParams) -> pd.DataFrame:
    """The table with its entity key and event time: its own columns, else the stated rule."""
    out = frame.reset_index(drop=True).copy()
    position = pd.RangeIndex(1, len(out) + 1)
    if params.entity not in out.columns:
        out.insert(0, params.entity, position.to_numpy())
    if params.timestamp not in out.columns:
        origin = pd.Timestamp(params.origin)
        out.insert(1, params.timestamp, origin + pd.to_timedelta(position.to_numpy(), unit="h"))
    out[params.timestamp] = pd.to_datetime(out[params.timestamp], utc=True)
    if out[params.entity].isna().any():
        raise DataError(f"entity column '{params.entity}' has missing keys")
    return out


def feature_columns(schema: Schema) -> list[str]:
    return [*schema.feature_names, *(item.name for item in derived_for(schema.feature_names))]


def tables(
    raw: pd.DataFrame, schema: Schema, params: FeatureStoreParams
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(offline source, labels): features with derived ones, and the labels, both keyed and
    timed. Rows without a label are features still, not labels."""
    keyed = with_keys(raw, params)
    keys = [params.entity, params.timestamp]
    features = add_derived_features(keyed[[*keys, *schema.feature_names]])
    labels = keyed.loc[keyed[schema.target.name].notna(), [*keys, schema.target.name]]
    return features, labels.reset_index(drop=True)


def definitions(schema: Schema, params: FeatureStoreParams) -> list[Any]:
    """Feast's objects for feature_repo/: the entity, the offline source, the view, the service."""
    derived = [item.name for item in derived_for(schema.feature_names)]
    entity = Entity(
        name="record",
        join_keys=[params.entity],
        value_type=ValueType.INT64 if params.entity_dtype == "int" else ValueType.STRING,
    )
    source = FileSource(
        name=f"{view_name()}_source",
        path=str(Path("..") / OFFLINE_TABLE),
        timestamp_field=params.timestamp,
    )
    fields = [Field(name=name, dtype=TYPES[spec.dtype]) for name, spec in schema.features.items()]
    fields += [Field(name=name, dtype=Float64) for name in derived]
    view = FeatureView(
        name=view_name(),
        entities=[entity],
        ttl=timedelta(days=params.ttl_days) if params.ttl_days else None,
        schema=fields,
        source=source,
        online=True,
    )
    return [entity, source, view, FeatureService(name=service_name(), features=[view])]


def store(repo: Path = REPO) -> FeatureStore:
    return FeatureStore(repo_path=str(repo))


def training_set(
    fs: FeatureStore, labels: pd.DataFrame, schema: Schema, params: FeatureStoreParams
) -> pd.DataFrame:
    """Point-in-time retrieval: for each label row, the feature values of its entity known at its
    event time (never later ones), as the table the pipeline trains on: features, then target."""
    rows = labels.reset_index(drop=True).assign(_row=lambda frame: range(len(frame)))
    joined = fs.get_historical_features(
        entity_df=rows, features=fs.get_feature_service(service_name())
    ).to_df()
    joined = joined.sort_values("_row").reset_index(drop=True)
    return joined[[*schema.feature_names, schema.target.name]]


def reference_table(schema: Schema, params: FeatureStoreParams, root: Path = Path(".")) -> Path:
    """Monitoring's reference from the offline store: the features of every labelled entity as of
    its label's time (what training retrieves, both splits), written to REFERENCE_TABLE."""
    labels = pd.read_parquet(root / LABELS_TABLE)
    table = training_set(store(root / REPO), labels, schema, params)
    table.to_parquet(root / REFERENCE_TABLE, index=False)
    return root / REFERENCE_TABLE


def materialize(fs: FeatureStore, until: datetime | None = None) -> None:
    """Copy each entity's latest feature values up to `until` (now) into the online store."""
    fs.materialize(start_date=datetime(1970, 1, 1, tzinfo=UTC), end_date=until or datetime.now(UTC))


class OnlineFeatures:
    """Reads records for entity keys from the online store, in the model's input columns."""

    def __init__(self, schema: Schema, params: FeatureStoreParams, repo: Path = REPO) -> None:
        self.fs = store(repo)
        self.entity = params.entity
        self.names = schema.feature_names
        self.refs = [f"{view_name()}:{name}" for name in self.names]

    def read(self, keys: list[Any]) -> tuple[list[dict[str, Any]], list[Any]]:
        """(one record per key, in order; the keys the store does not know)."""
        found = self.fs.get_online_features(
            features=self.refs, entity_rows=[{self.entity: key} for key in keys]
        ).to_dict()
        records = [{name: found[name][row] for name in self.names} for row in range(len(keys))]
        missing = [
            key
            for key, record in zip(keys, records, strict=True)
            if all(value is None for value in record.values())
        ]
        return records, missing
