"""A stand-in for the part of GitHub's REST API that the monitoring workflow calls.

A mock, and the only one in these tests: GitHub cannot be reached from here. It records every
call and keeps issues in memory, so tests can check that one issue is opened, then updated, and
that ct.yml is started with the right inputs.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

TOKEN = "test-token"


class FakeGitHub(BaseHTTPRequestHandler):
    """Issues (list, create, update, comment) and workflow dispatches of one repository."""

    issues: list[dict[str, Any]]
    calls: list[tuple[str, str, Any]]

    def log_message(self, *args: Any) -> None:  # keep the test output clean
        pass

    def answer(self, status: int, body: Any = None) -> None:
        content = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    def body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length)) if length else None

    def handle_any(self) -> None:
        payload = self.body()
        self.calls.append((self.command, self.path, payload))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            self.answer(401, {"message": "Bad credentials"})
            return
        path = self.path.split("?")[0]
        issue = re.fullmatch(r"/repos/[^/]+/[^/]+/issues/(\d+)(/comments)?", path)
        if path.endswith("/dispatches") and self.command == "POST":
            self.answer(204)
        elif path.endswith("/issues") and self.command == "GET":
            label = re.search(r"labels=([^&]+)", self.path)
            wanted = label.group(1) if label else None
            self.answer(200, [i for i in self.issues if not wanted or wanted in i["labels"]])
        elif path.endswith("/issues") and self.command == "POST":
            created = {"number": len(self.issues) + 1, **payload}
            self.issues.append(created)
            self.answer(201, created)
        elif issue and issue.group(2) and self.command == "POST":
            self.answer(201, {"id": 1})
        elif issue and self.command == "PATCH":
            found = self.issues[int(issue.group(1)) - 1]
            found.update(payload)
            self.answer(200, found)
        else:
            self.answer(404, {"message": "Not Found"})

    do_GET = do_POST = do_PATCH = handle_any


@contextmanager
def serve_fake_github() -> Iterator[tuple[str, type[FakeGitHub]]]:
    """Serve a fresh stand-in on a free loopback port; yield its URL and its recorded state."""
    handler = type("Handler", (FakeGitHub,), {"issues": [], "calls": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", handler
    finally:
        server.shutdown()
        server.server_close()
