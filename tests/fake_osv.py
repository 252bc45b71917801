"""A stand-in for the OSV vulnerability database's query API (POST /v1/query), for the audit step
of the generated CI (pip-audit --vulnerability-service osv): the real one is on the network.

A mock: it knows one made-up advisory, for the packages it is told are vulnerable, and answers
"no known vulnerability" for every other one. It records each query, so that a test can check
that the audit asked about every locked package.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ADVISORY = "PYSEC-0000-TEST"


class FakeOSV(BaseHTTPRequestHandler):
    vulnerable: frozenset[str]
    queries: list[tuple[str, str]]

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        query = json.loads(self.rfile.read(length))
        name, version = query["package"]["name"], query["version"]
        self.queries.append((name, version))
        answer: dict[str, Any] = {}
        if name in self.vulnerable:
            answer = {
                "vulns": [
                    {
                        "id": ADVISORY,
                        "summary": f"A made-up advisory against {name} {version}, for the tests",
                        "affected": [
                            {
                                "package": {"name": name, "ecosystem": "PyPI"},
                                "ranges": [
                                    {
                                        "type": "ECOSYSTEM",
                                        "events": [{"introduced": "0"}, {"fixed": "999.0"}],
                                    }
                                ],
                            }
                        ],
                    }
                ]
            }
        content = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)


@contextmanager
def serve_fake_osv(vulnerable: set[str]) -> Iterator[tuple[str, type[FakeOSV]]]:
    """Serve on a free loopback port; yield the query URL (PIP_AUDIT_OSV_URL) and its state."""
    handler = type("Handler", (FakeOSV,), {"vulnerable": frozenset(vulnerable), "queries": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/query", handler
    finally:
        server.shutdown()
        server.server_close()
