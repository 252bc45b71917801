"""The two GitHub calls the monitoring workflow makes: start a workflow, and open or update the
one issue that carries the latest monitoring report.

Standard library only. The API address is GITHUB_API_URL and the token GITHUB_TOKEN, both set
on GitHub. A local act run (ACT=true) without a token prints the requests it would send instead.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any

# Marks the issue this module owns, so that it updates that one instead of opening another.
MARKER = "<!-- model-monitoring-report -->"
MAX_BODY = 60_000  # GitHub refuses issue bodies over 65,536 characters


class GitHubError(Exception):
    """GitHub refused a request, or cannot be called."""


class GitHub:
    """One repository's REST API, with a token (or, under act without one, a dry run)."""

    def __init__(self, api_url: str, repository: str, token: str | None) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.token = token

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] = os.environ) -> GitHub:
        token = environ.get("GITHUB_TOKEN") or None
        if token is None and environ.get("ACT") != "true":
            raise GitHubError("GITHUB_TOKEN is not set")
        repository = environ.get("GITHUB_REPOSITORY")
        if not repository:
            raise GitHubError("GITHUB_REPOSITORY is not set (owner/name)")
        return cls(environ.get("GITHUB_API_URL", "https://api.github.com"), repository, token)

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        url = f"{self.api_url}/repos/{self.repository}{path}"
        if self.token is None:
            print(f"[dry run: no GITHUB_TOKEN] {method} {url} {json.dumps(body or {})[:500]}")
            return [] if method == "GET" else {"number": 0}
        request = urllib.request.Request(
            url,
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={
                "Accept": "application/vnd.github+json",
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/json",
                "X-GitHub-Api-Version": "2022-11-28",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                content = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:500]
            raise GitHubError(f"{method} {url}: HTTP {error.code} {detail}") from None
        except urllib.error.URLError as error:
            raise GitHubError(f"{method} {url}: {error.reason}") from None
        return json.loads(content) if content else None


def dispatch(github: GitHub, workflow: str, ref: str, inputs: dict[str, str]) -> str:
    """Start `workflow` on `ref` (workflow_dispatch), as the Actions tab's "Run workflow" does."""
    github.request(
        "POST", f"/actions/workflows/{workflow}/dispatches", {"ref": ref, "inputs": inputs}
    )
    return f"started {workflow} on {ref} with {inputs}"


def upsert_issue(github: GitHub, label: str, title: str, body: str) -> str:
    """Update the open issue this module opened before, or open it: one issue, never a pile."""
    body = f"{MARKER}\n{body}"[:MAX_BODY]
    query = urllib.parse.urlencode({"state": "open", "labels": label, "per_page": 100})
    issues = github.request("GET", f"/issues?{query}") or []
    ours = [
        issue
        for issue in issues
        if "pull_request" not in issue and MARKER in (issue.get("body") or "")
    ]
    if ours:
        number = ours[0]["number"]
        github.request("PATCH", f"/issues/{number}", {"title": title, "body": body})
        github.request("POST", f"/issues/{number}/comments", {"body": f"Updated: {title}"})
        return f"updated issue #{number}"
    created = github.request("POST", "/issues", {"title": title, "body": body, "labels": [label]})
    return f"opened issue #{created['number']}"


def parse_inputs(pairs: list[str]) -> dict[str, str]:
    """`NAME=VALUE` pairs as a workflow's inputs."""
    inputs = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator or not name:
            raise GitHubError(f"--input {pair!r}: expected NAME=VALUE")
        inputs[name] = value
    return inputs
