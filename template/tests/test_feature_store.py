"""The feature store (Feast) of your data: training sees only feature values known at each
label's time; serving reads the online store off the event loop; monitoring can take the offline
store as its reference."""

import asyncio
import shutil
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
from mlops_ladder.config import Settings, load_params
from mlops_ladder.data import ingest
from mlops_ladder.errors import DataError
from mlops_ladder.feature_store import (
    LABELS_TABLE,
    OFFLINE_TABLE,
    REPO,
    OnlineFeatures,
    definitions,
    materialize,
    store,
    tables,
    training_set,
)
from mlops_ladder.monitoring.job import default_reference
from mlops_ladder.schema import load_schema
from mlops_ladder.serving.online import OnlineRecords

pytestmark = pytest.mark.filterwarnings("ignore")


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory):
    """A feature store of the project's data in a scratch folder, laid out as the project's."""
    root = tmp_path_factory.mktemp("store")
    shutil.copytree(REPO, root / REPO, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    schema = load_schema(Path("schema.yaml"))
    params = load_params(Path("params.yaml"))
    features, labels = tables(ingest(params.ingest.source), schema, params.feature_store)
    return root, schema, params.feature_store, features, labels


def apply(root: Path, schema, params, features: pd.DataFrame):
    (root / OFFLINE_TABLE).parent.mkdir(parents=True, exist_ok=True)
    features.to_parquet(root / OFFLINE_TABLE, index=False)
    fs = store(root / REPO)
    fs.apply(definitions(schema, params))
    return fs


def test_every_row_gets_a_key_and_a_time_by_the_rule(setup) -> None:
    _root, _schema, params, features, labels = setup
    assert features[params.entity].is_unique
    assert features[params.timestamp].is_monotonic_increasing
    assert len(labels) == len(features)


def test_a_value_recorded_after_the_label_never_reaches_training(setup) -> None:
    root, schema, params, features, labels = setup
    column = schema.feature_names[0]
    row = labels.iloc[[0]]
    key, when = row[params.entity].iloc[0], row[params.timestamp].iloc[0]
    # A later value of the same entity, far outside anything real.
    planted = features[features[params.entity] == key].copy()
    planted[params.timestamp] = when + pd.Timedelta(days=1)
    planted[column] = 1e9
    fs = apply(root, schema, params, pd.concat([features, planted], ignore_index=True))
    trained = training_set(fs, labels, schema, params)
    assert len(trained) == len(labels)
    assert (trained[column] != 1e9).all()
    original = features.loc[features[params.entity] == key, column].iloc[0]
    assert trained[column].iloc[0] == pytest.approx(original)
    # The same label asked a day later does see it: the join is by time, not by luck.
    later = row.assign(**{params.timestamp: when + pd.Timedelta(days=2)})
    assert training_set(fs, later, schema, params)[column].iloc[0] == 1e9


def test_the_online_read_leaves_the_event_loop_free(setup, monkeypatch) -> None:
    # Given the online store loaded, and a read that takes half a second (a slow network store)
    root, schema, params, features, _labels = setup
    materialize(apply(root, schema, params, features))
    read = OnlineFeatures.read

    def slow_read(self, keys):
        time.sleep(0.5)
        return read(self, keys)

    monkeypatch.setattr(OnlineFeatures, "read", slow_read)
    online = OnlineRecords(schema, Settings.load().model_copy(update={"feature_repo": root / REPO}))

    async def lookup_while_ticking():
        gaps: list[float] = []

        async def tick() -> None:
            last = time.perf_counter()
            while True:
                await asyncio.sleep(0.01)
                gaps.append(time.perf_counter() - last)
                last = time.perf_counter()

        ticking = asyncio.create_task(tick())
        await asyncio.sleep(0.05)
        records = await online.records_of(SimpleNamespace(records=None, entities=[1]))
        await asyncio.sleep(0.05)  # the ticker notes the gap a blocked loop would leave
        ticking.cancel()
        return records, max(gaps)

    # When an entity's record is read in the event loop
    records, longest_gap = asyncio.run(lookup_while_ticking())
    # Then it is the entity's record, and the loop went on running meanwhile (other requests)
    column = schema.feature_names[0]
    assert records[0].model_dump(by_alias=True)[column] == pytest.approx(features[column].iloc[0])
    assert longest_gap < 0.25


def test_monitoring_can_take_the_offline_store_as_its_reference(setup, monkeypatch) -> None:
    # Given the offline store and its labels, and params.yaml's monitoring_reference set to it
    root, schema, params, features, labels = setup
    apply(root, schema, params, features)
    labels.to_parquet(root / LABELS_TABLE, index=False)
    project = load_params(Path("params.yaml"))
    chosen = project.model_copy(
        update={
            "feature_store": params.model_copy(update={"monitoring_reference": "offline_store"})
        }
    )
    monkeypatch.chdir(root)
    # When the monitoring job picks its default reference
    reference = pd.read_parquet(default_reference(Settings.load(), chosen, schema))
    # Then it is every labelled entity's features read from the store, as training reads them
    assert list(reference.columns) == [*schema.feature_names, schema.target.name]
    assert len(reference) == len(labels)
    by_entity = features.set_index(params.entity).loc[labels[params.entity], schema.feature_names]
    pd.testing.assert_frame_equal(
        reference[schema.feature_names], by_entity.reset_index(drop=True), check_dtype=False
    )
    assert reference[schema.target.name].tolist() == labels[schema.target.name].tolist()
    # And the default stays the champion's training data (no model here: it says so)
    with pytest.raises(DataError, match="train a model first"):
        default_reference(Settings.load(), project, schema)
