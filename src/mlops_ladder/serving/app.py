"""The HTTP API of the model: POST /predict, GET /health, /ready, /model, /metrics.

`create_app` builds it from the environment (settings.py); uvicorn runs it (`serve`, or the
image's command). The server answers at once: /health says the process is alive, /ready stays
503 until the model is loaded (a background thread does it, retrying with backoff while the
registry is unreachable), so an orchestrator sends traffic only to replicas that can answer. A
loaded model is in memory: it keeps answering when the tracking server goes away. Requests are
checked against schema.yaml (payloads.py), predicted by the compiled model (inference.py), logged
for monitoring (prediction_log.py) and counted (telemetry.py). Who may call what (an API key,
/metrics and the docs open, behind the key or off, a per-client rate limit): access.py.
"""

# No `from __future__ import annotations` here: FastAPI reads the parameters' types from the
# annotations of the endpoints.
import gc
import logging
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mlops_ladder import project as projects
from mlops_ladder.config import Settings
from mlops_ladder.errors import ProjectError
from mlops_ladder.privacy import require_key
from mlops_ladder.schema import Schema, load_schema
from mlops_ladder.serving import payloads
from mlops_ladder.serving.access import PROBES, Access, rule_for
from mlops_ladder.serving.loading import LoadedModel, load_model
from mlops_ladder.serving.online import OnlineRecords
from mlops_ladder.serving.prediction_log import Batch, PredictionLog
from mlops_ladder.serving.routing import choose_variant
from mlops_ladder.serving.settings import (
    CHALLENGER,
    CHAMPION,
    ServingSettings,
    load_serving_settings,
)
from mlops_ladder.serving.telemetry import (
    MetricsMiddleware,
    Telemetry,
    multiprocess,
    multiprocess_mode,
    value_buckets,
)

log = logging.getLogger(__name__)

ENDPOINTS = {
    "/predict",
    "/health",
    "/ready",
    "/model",
    "/metrics",
    "/docs",
    "/redoc",
    "/openapi.json",
}
MAX_ERRORS = 20  # validation errors listed in one response
# A client's request id (X-Request-ID) is echoed and logged: printable ASCII, bounded.
TOKEN = r"^[!-~]{1,128}$"
# A model that fails to load is tried again after 1 s, then 2, 4, ... up to every 30 s.
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 30.0


class Models:
    """The models by variant, loaded off the event loop; `error` says why loading failed."""

    def __init__(
        self, serving: ServingSettings, project: Settings, schema: Schema, telemetry: Telemetry
    ) -> None:
        self.serving, self.project, self.schema = serving, project, schema
        self.telemetry = telemetry
        self.loaded: dict[str, LoadedModel] = {}
        self.ready = False
        self.error: str | None = None
        self.attempts = 0
        self.retry_in = 0.0
        self.stopping = threading.Event()

    def load(self) -> None:
        """Load the model, retrying with backoff until it works or the app stops: a registry
        that is down when serving starts is waited for (/ready says 503 and why meanwhile).
        Each attempt already includes MLflow's own HTTP retries."""
        delay = RETRY_FIRST_SECONDS
        while not self._attempt():
            self.attempts += 1
            self.retry_in = delay
            log.warning("retrying in %.0f s (attempt %d failed)", delay, self.attempts)
            if self.stopping.wait(delay):
                return
            delay = min(delay * 2, RETRY_MAX_SECONDS)

    def _attempt(self) -> bool:
        try:
            source = self.serving.champion_uri(self.project)
            champion = load_model(source, self.project, self.schema, self.compiled)
        except ProjectError as error:
            self.error = str(error)
            log.error("cannot serve: %s", error)
            return False
        except Exception as error:  # anything else: keep /health up and say why in /ready
            self.error = f"{type(error).__name__}: {error}"
            log.exception("cannot serve: the model failed to load")
            return False
        self._add(CHAMPION, champion)
        self._load_challenger(champion)
        settle_memory()
        self.ready = True
        self.error = None
        return True

    def _add(self, variant: str, model: LoadedModel) -> None:
        self.loaded[variant] = model
        info = model.description
        self.telemetry.model_loaded(variant, info.name, info.version, info.alias)

    def _load_challenger(self, champion: LoadedModel) -> None:
        """Load the challenger if traffic goes to it; without one, the champion takes it all."""
        source = self.serving.challenger_source(self.project)
        if source is None:
            return
        try:
            challenger = load_model(source, self.project, self.schema, self.compiled)
        except Exception as error:  # the champion still serves: a missing challenger is no outage
            log.warning("no challenger (%s): the champion answers every request", error)
            return
        if challenger.description.version == champion.description.version:
            log.info("the challenger is the champion (v%s): no split", champion.description.version)
            return
        self._add(CHALLENGER, challenger)

    @property
    def compiled(self) -> bool:
        return self.serving.compiled_inference

    @property
    def challenger_share(self) -> float:
        return self.serving.challenger_share if CHALLENGER in self.loaded else 0.0

    def status(self) -> str:
        if self.ready:
            return "ready"
        if not self.error:
            return "loading the model"
        retry = f" (attempt {self.attempts}, retrying every {self.retry_in:.0f} s)"
        return f"model failed to load: {self.error}{retry if self.attempts else ''}"


def settle_memory() -> None:
    """Put what lives as long as the process out of the garbage collector's reach.

    The libraries (MLflow, scikit-learn, pandas) and the model are some 350,000 objects that
    are never garbage. Left in the collector's oldest generation, every full collection walks
    them all: 200-700 ms with the event loop stopped, every few seconds under load; these were
    the tail of /predict (p99 at 30x p50 for 100 records). Frozen once loaded, a full
    collection walks only what requests made since.
    """
    gc.collect()  # the garbage of loading goes first: frozen objects are never freed
    gc.freeze()


def create_app(serving: ServingSettings | None = None, project: Settings | None = None) -> FastAPI:
    """The application; settings default to the environment's."""
    serving = serving or load_serving_settings()
    project = project or Settings.load()
    schema = load_schema(project.schema_file)
    require_key(project, schema)  # pii is never hashed under the public default key
    identity = projects.current()
    classification = schema.task == "classification"
    telemetry = Telemetry(None if classification else value_buckets(schema))
    models = Models(serving, project, schema, telemetry)
    prediction_log = PredictionLog(
        project.prediction_log_dir,
        tuple(schema.tagged("pii")),
        project.pii_key.get_secret_value(),
        project.prediction_log_retention_days,
        serving.prediction_log_max_bytes,
    )
    # Entity keys as well as records when the project has a feature store (params.yaml).
    online = OnlineRecords.of_project(schema, project)
    request_body = payloads.request_model(schema, serving.max_records, online is not None)
    response_body = payloads.response_model(schema, classification)
    to_frame = payloads.frame_builder(schema)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prediction_log.start()
        threading.Thread(target=models.load, name="model-loader", daemon=True).start()
        yield
        models.stopping.set()
        prediction_log.close()  # after the last request: every prediction is on disk
        if multiprocess_mode():
            multiprocess.mark_process_dead(os.getpid())

    docs = serving.docs_access != "off"
    app = FastAPI(
        title=identity.distribution,
        version=distribution_version(identity.distribution),
        description="Predictions from the registered model, checked against schema.yaml.",
        lifespan=lifespan,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    # The last added runs first: requests are counted (refusals too), a body over the limit is
    # refused (by its declared size: nothing read), then access is checked (a refused body,
    # within the limit, is dropped unparsed).
    app.add_middleware(
        Access,
        keys=serving.api_keys,
        metrics=serving.metrics_access,
        docs=serving.docs_access,
        rate_limit=serving.rate_limit,
    )
    app.add_middleware(BodyLimit, max_bytes=serving.max_body_bytes)
    app.add_middleware(MetricsMiddleware, telemetry=telemetry, endpoints=ENDPOINTS)
    app.add_exception_handler(RequestValidationError, validation_failed)
    app.state.models = models
    app.state.prediction_log = prediction_log

    @app.get("/health", summary="The process is alive")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/ready",
        summary="The model is loaded and answers (503 until then)",
        responses={503: {"description": "not ready yet, or the model failed to load"}},
    )
    async def ready() -> JSONResponse:
        body = {"ready": models.ready, "status": models.status()}
        return JSONResponse(body, status_code=200 if models.ready else 503)

    @app.get(
        "/model",
        summary="Which model answers: name, version, alias, training run, metrics",
        responses={503: {"description": "no model loaded yet"}},
    )
    async def model() -> dict[str, Any]:
        require_ready(models)
        described: dict[str, Any] = {
            variant: {
                **loaded.description.to_dict(),
                "loaded_at": loaded.loaded_at,
                "inference": loaded.inference,
            }
            for variant, loaded in models.loaded.items()
        }
        described["challenger_share"] = models.challenger_share
        return described

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        body, content_type = telemetry.exposition()
        return Response(body, media_type=content_type)

    @app.post(
        "/predict",
        summary="Predict for one or more records",
        response_model=response_body,
        dependencies=[Depends(require_json)],
        openapi_extra={"requestBody": documented_body(request_body)},
        responses={
            413: {"description": "body larger than the limit"},
            415: {"description": "the body is not JSON"},
            404: {"description": "an entity key the online store does not know"},
            503: {"description": "no model loaded yet"},
        },
    )
    async def predict(
        request: Request,
        x_request_id: Annotated[str | None, Header(pattern=TOKEN)] = None,
        x_routing_key: Annotated[str | None, Header(pattern=TOKEN)] = None,
    ) -> JSONResponse:
        started = time.perf_counter()
        body: Any = parse_body(request_body, await request.body())
        require_ready(models)
        request_id = x_request_id or uuid.uuid4().hex
        variant = choose_variant(x_routing_key or request_id, models.challenger_share)
        loaded = models.loaded[variant]
        records = body.records if online is None else await online.records_of(body)
        frame = to_frame(records)
        try:
            answer = payloads.answer(loaded.predictor, frame)
        except ValueError as error:  # values inside schema.yaml's ranges the model cannot use
            return unusable(loaded.predictor, frame, error)
        info = loaded.description
        content: dict[str, Any] = {
            "request_id": request_id,
            "model_name": info.name,
            "model_version": info.version,
            "variant": variant,
            "predictions": answer.predictions,
        }
        if classification:
            content["classes"] = loaded.classes
            content["probabilities"] = answer.probabilities
        prediction_log.append(
            Batch(
                timestamp=datetime.now(UTC),
                request_id=request_id,
                model_name=info.name,
                model_version=info.version,
                variant=variant,
                records=records,
                predictions=answer.predictions,
                probability=answer.predicted,
                probabilities=answer.probabilities,
                classes=loaded.classes if classification else None,
            )
        )
        telemetry.predicted(
            variant,
            info.version,
            time.perf_counter() - started,
            answer.predictions,
            answer.predicted,
        )
        return JSONResponse(content, headers={"X-Request-ID": request_id})

    # FastAPI's way to extend its OpenAPI document: replace the app's method.
    app.openapi = documented(app, request_body, serving)  # type: ignore[method-assign]
    return app


def distribution_version(name: str) -> str:
    """The project's version (its installed distribution), or 'unknown' outside one."""
    try:
        return package_version(name)
    except PackageNotFoundError:
        return "unknown"


def parse_body(model: type[BaseModel], raw: bytes) -> BaseModel:
    """The request body, parsed and checked in one pass over the bytes: pydantic's JSON parser
    builds the records directly, 3x faster at 100 records than FastAPI's json.loads then
    validation of the Python objects. Problems are FastAPI's 422, located in the body."""
    try:
        return model.model_validate_json(raw)
    except ValidationError as error:
        problems = [
            {**item, "loc": ("body", *item["loc"])} for item in error.errors(include_url=False)
        ]
        raise RequestValidationError(problems) from None


def documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """/predict's body in the OpenAPI document (FastAPI no longer parses it, so cannot see it)."""
    schema = {"$ref": f"#/components/schemas/{model.__name__}"}
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def documented(app: FastAPI, model: type[BaseModel], serving: ServingSettings) -> Any:
    """app.openapi, with the schemas of the request body (and its records) as components, and
    what access.py asks of each operation: the API key, the 401 and 429 answers."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = generate()
            body = model.model_json_schema(ref_template="#/components/schemas/{model}")
            components = document.setdefault("components", {})
            schemas = components.setdefault("schemas", {})
            schemas.update(body.pop("$defs", {}))
            schemas[model.__name__] = body
            document_access(document, serving)
        if app.openapi_schema is None:  # FastAPI's openapi() keeps what it generates
            raise RuntimeError("FastAPI generated no OpenAPI document")
        return app.openapi_schema

    return openapi


def document_access(document: dict[str, Any], serving: ServingSettings) -> None:
    """The API key as security schemes (a bearer token or the X-API-Key header), and the
    answers of access.py on each operation it guards."""
    if serving.api_keys:
        document["components"]["securitySchemes"] = {
            "bearer": {"type": "http", "scheme": "bearer"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        }
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            answers = operation.setdefault("responses", {})
            rule = rule_for(path, serving.metrics_access, serving.docs_access)
            if serving.api_keys and rule == "key":
                operation["security"] = [{"bearer": []}, {"apiKey": []}]
                answers["401"] = {"description": "no API key, or not a valid one"}
            if serving.rate_limit and path not in PROBES:
                answers["429"] = {"description": "too many requests from this client"}


class BodyLimit:
    """413 for a body over `max_bytes`: by its Content-Length before it is parsed, or, for a
    chunked body, as soon as the bytes read pass the limit.

    The refused body is read and dropped (up to DRAIN_LIMIT bytes) before the answer, so that a
    client still sending gets the 413 rather than a connection reset.
    """

    DRAIN_LIMIT = 64 * 1024 * 1024

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None:
            # The server reads no more than Content-Length: checking it is enough.
            if declared.isdigit() and int(declared) > self.max_bytes:
                await self.refuse(scope, receive, send, drain=int(declared) <= self.DRAIN_LIMIT)
                return
            await self.app(scope, receive, send)
            return
        if b"chunked" not in headers.get(b"transfer-encoding", b""):
            await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self.refuse(scope, receive, send, drain=message.get("more_body", False))
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": b"".join(chunks), "more_body": False}

        await self.app(scope, replay, send)

    async def refuse(self, scope: Scope, receive: Receive, send: Send, drain: bool) -> None:
        dropped = 0
        while drain and dropped <= self.DRAIN_LIMIT:
            message = await receive()
            dropped += len(message.get("body", b""))
            drain = message["type"] == "http.request" and message.get("more_body", False)
        detail = f"the request body is larger than the limit of {self.max_bytes} bytes"
        await JSONResponse({"detail": detail}, status_code=413)(scope, receive, send)


def require_ready(models: Models) -> None:
    if not models.ready:
        raise HTTPException(503, detail=models.status(), headers={"Retry-After": "5"})


def require_json(request: Request) -> None:
    """415 for a body that is not declared as JSON (checked before the body is parsed)."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json" and not kind.endswith("+json"):
        shown = kind or "none"
        raise HTTPException(415, detail=f"Content-Type must be application/json, not {shown}")


def unusable(predictor: Any, frame: Any, error: ValueError) -> JSONResponse:
    """422 naming the records the model cannot predict for, e.g. a derived feature that
    overflows; found by trying each record alone (only on this error path)."""
    bad = []
    for index in range(len(frame)):
        try:
            payloads.answer(predictor, frame.iloc[[index]])
        except ValueError:
            bad.append(index)
    problems = [
        {
            "loc": ["body", "records", index],
            "field": f"records[{index}]",
            "msg": f"the model cannot predict from these values: {error}",
            "type": "model_input",
        }
        for index in bad or range(len(frame))
    ]
    summary = f"{problems[0]['field']}: {problems[0]['msg']}"
    if len(problems) > 1:
        summary += f"; and {len(problems) - 1} more"
    return JSONResponse(
        {"detail": problems[:MAX_ERRORS], "message": summary, "errors": len(problems)},
        status_code=422,
    )


async def validation_failed(request: Request, error: Exception) -> JSONResponse:
    """422 that names each field and what is wrong with it (never echoes a large input).
    Registered for RequestValidationError only (Starlette types handlers for any Exception)."""
    if not isinstance(error, RequestValidationError):
        raise error
    problems = [describe_problem(item) for item in error.errors()]
    summary = "; ".join(f"{item['field']}: {item['msg']}" for item in problems[:3])
    if len(problems) > 3:
        summary += f"; and {len(problems) - 3} more"
    return JSONResponse(
        {"detail": problems[:MAX_ERRORS], "message": summary, "errors": len(problems)},
        status_code=422,
    )


def describe_problem(item: dict[str, Any]) -> dict[str, Any]:
    """One problem: where (records[0].age), what is wrong, and the value when it is short."""
    location = list(item.get("loc", ()))
    message = str(item.get("msg", "invalid"))
    if item.get("type") == "json_invalid":
        reason = (item.get("ctx") or {}).get("error", "")  # pydantic's says line and column
        return {
            "loc": location,
            "field": "body",
            "msg": f"the body is not valid JSON: {reason}",
            "type": "json_invalid",
        }
    path = [part for part in location if part != "body"]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
    shown = item.get("input")
    short = isinstance(shown, int | float | str | bool) and len(repr(shown)) <= 80
    if short and "(got " not in message:  # a check of ours may have said it already
        message = f"{message} (got {shown!r})"
    return {
        "loc": location,
        "field": field.lstrip(".") or "body",
        "msg": message,
        "type": item.get("type", ""),
    }
