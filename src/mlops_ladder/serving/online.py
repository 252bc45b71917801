"""Records for entity keys, from the feature store's online store (Feast).

A request gives full records (as without a store) or entity keys; for keys, the features are
read from the online store (feature_repo/feature_store.yaml: SQLite here, a team's Redis or
PostgreSQL by configuration) and checked against schema.yaml like any record. An unknown key
is a 404 that names it. The read is blocking I/O (Feast's client, SQLite or a network store):
it runs in a worker thread, so the event loop goes on answering other requests meanwhile.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import HTTPException
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ValidationError

from mlops_ladder.config import Settings, load_params
from mlops_ladder.schema import Schema
from mlops_ladder.serving.payloads import record_model


class OnlineRecords:
    @classmethod
    def of_project(cls, schema: Schema, project: Settings) -> OnlineRecords | None:
        """The online records of a project with a feature store (params.yaml feature_store),
        else None: requests then carry whole records only."""
        if load_params(project.params_file).feature_store is None:
            return None
        return cls(schema, project)

    def __init__(self, schema: Schema, project: Settings) -> None:
        self.schema = schema
        self.project = project
        self.record = record_model(schema)
        self._store: Any = None
        self._lock = threading.Lock()

    def store(self) -> Any:
        """The online store, opened on the first entity request (Feast is imported then)."""
        with self._lock:
            if self._store is None:
                from mlops_ladder.feature_store import OnlineFeatures

                params = load_params(self.project.params_file).require_feature_store()
                self._store = OnlineFeatures(self.schema, params, self.project.feature_repo)
            return self._store

    def read(self, entities: list[Any]) -> tuple[list[dict[str, Any]], list[Any]]:
        return self.store().read(entities)

    async def records_of(self, body: Any) -> list[BaseModel]:
        records, entities = body.records, body.entities
        if (records is None) == (entities is None):
            raise HTTPException(422, "give either `records` or `entities`, not both or neither")
        if records is not None:
            return records
        found, missing = await run_in_threadpool(self.read, entities)
        if missing:
            names = ", ".join(repr(key) for key in missing)
            raise HTTPException(404, f"unknown entity: {names} (not in the online store)")
        try:
            return [self.record.model_validate(values) for values in found]
        except ValidationError as error:
            raise HTTPException(
                422, f"the online store's features break schema.yaml: {error}"
            ) from None
