"""Who may call what: the API key, the access to /metrics and the docs, a per-client rate limit.

- With an API key set (`<PACKAGE>_API_KEY`; several, comma-separated, while one is rotated),
  every endpoint but /health and /ready (the orchestrator's probes) needs it, as
  `Authorization: Bearer <key>` or `X-API-Key: <key>`: /predict, /model, and any path not
  listed here (deny by default). Without a key the API is open, for local use.
- /metrics and the API's documentation (/docs, /redoc, /openapi.json) are each `open`, behind
  the `key`, or `off` (404): `<PACKAGE>_METRICS_ACCESS`, `<PACKAGE>_DOCS_ACCESS`.
- `<PACKAGE>_RATE_LIMIT` requests a minute per client address (0: no limit): a token bucket per
  address that holds a minute's allowance, answered 429 with Retry-After once empty. The probes
  are never limited. Each worker process counts on its own (the limit of a replica is the
  setting times its workers); behind a proxy every client shares the proxy's address, unless
  the proxy's X-Forwarded-For is trusted (uvicorn's --forwarded-allow-ips): limit at the
  ingress then. At most MAX_CLIENTS addresses are remembered (the least recent forgotten), so
  a scan of many addresses cannot grow memory.

Checked before the body is parsed: a refused request costs neither parsing nor the model. Its
body (within the size limit, which BodyLimit checks first) is read and dropped before the
answer, so that a client still sending gets the 401 or 429 rather than a connection reset.
Behind the key, the docs page cannot fetch its document in a browser: `key` is for tools that
send the header.
"""

from __future__ import annotations

import hmac
import math
import time
from collections import OrderedDict
from typing import Literal

from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

Rule = Literal["open", "key", "off"]
PROBES = frozenset({"/health", "/ready"})
METRICS = frozenset({"/metrics"})
DOCS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc", "/openapi.json"})
MAX_CLIENTS = 10_000


def rule_for(path: str, metrics: Rule, docs: Rule) -> Rule:
    """What a path needs: the probes are open, /metrics and the docs as set, the rest the key."""
    if path in PROBES:
        return "open"
    if path in METRICS:
        return metrics
    if path in DOCS:
        return docs
    return "key"


class RateLimit:
    """A token bucket per client: `per_minute` tokens, refilled continuously."""

    def __init__(self, per_minute: int, max_clients: int = MAX_CLIENTS) -> None:
        self.capacity = float(per_minute)
        self.per_second = per_minute / 60
        self.max_clients = max_clients
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()

    def wait(self, client: str, now: float | None = None) -> float:
        """0 when the request may go (a token is taken), else the seconds until it may."""
        now = time.monotonic() if now is None else now
        tokens, then = self.buckets.pop(client, (self.capacity, now))
        tokens = min(self.capacity, tokens + (now - then) * self.per_second)
        waiting = 0.0 if tokens >= 1 else (1 - tokens) / self.per_second
        self.buckets[client] = (tokens - 1 if waiting == 0 else tokens, now)
        while len(self.buckets) > self.max_clients:
            self.buckets.popitem(last=False)  # the least recently seen
        return waiting


class Access:
    """ASGI middleware: the rules above, before the application sees the request."""

    def __init__(
        self,
        app: ASGIApp,
        keys: tuple[str, ...],
        metrics: Rule = "open",
        docs: Rule = "open",
        rate_limit: int = 0,
    ) -> None:
        self.app = app
        self.keys = tuple(key.encode() for key in keys)
        self.metrics, self.docs = metrics, docs
        self.limit = RateLimit(rate_limit) if rate_limit else None

    def rule(self, path: str) -> Rule:
        return rule_for(path, self.metrics, self.docs)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        rule = self.rule(path)
        if rule == "off":
            await self.refuse(JSONResponse({"detail": "Not Found"}, 404), scope, receive, send)
            return
        if self.limit is not None and path not in PROBES:
            client = scope.get("client")
            waiting = self.limit.wait(client[0] if client else "unknown")
            if waiting:
                retry = str(max(1, math.ceil(waiting)))
                detail = (
                    f"more than {self.limit.capacity:.0f} requests a minute from this client: "
                    f"retry in {retry} s"
                )
                answer = JSONResponse({"detail": detail}, 429, headers={"Retry-After": retry})
                await self.refuse(answer, scope, receive, send)
                return
        if rule == "key" and self.keys and not self.holds_key(scope):
            detail = (
                "this endpoint needs the API key: send `Authorization: Bearer <key>` or "
                "`X-API-Key: <key>`"
            )
            answer = JSONResponse({"detail": detail}, 401, headers={"WWW-Authenticate": "Bearer"})
            await self.refuse(answer, scope, receive, send)
            return
        await self.app(scope, receive, send)

    @staticmethod
    async def refuse(answer: JSONResponse, scope: Scope, receive: Receive, send: Send) -> None:
        """Read and drop the request's body (bounded by BodyLimit, outside), then answer."""
        more = scope["method"] not in ("GET", "HEAD")
        while more:
            message = await receive()
            more = message["type"] == "http.request" and message.get("more_body", False)
        await answer(scope, receive, send)

    def holds_key(self, scope: Scope) -> bool:
        """Whether the request carries one of the keys (compared in constant time)."""
        given = []
        for name, value in scope["headers"]:
            if name == b"x-api-key":
                given.append(value.strip())
            elif name == b"authorization":
                scheme, _, token = value.strip().partition(b" ")
                if scheme.lower() == b"bearer":
                    given.append(token.strip())
        # Every key compared with every value given: the time says nothing of which matched.
        found = False
        for value in given:
            for key in self.keys:
                found |= hmac.compare_digest(value, key)
        return found
