"""The two GitHub calls the monitoring workflow makes: start a workflow, and open or update the
one issue that carries the latest monitoring report.

    python3 github_rest.py dispatch ct.yml --ref refs/heads/main --input reason=drift
    python3 github_rest.py issue --label model-monitoring --title "..." --body-file report.md

Standard library only. The API address is GITHUB_API_URL and the token GITHUB_TOKEN, both set
on GitHub. A local act run (ACT=true) without a token prints the requests it would send instead.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

# Marks the issue this script owns, so that it updates that one instead of opening another.
MARKER = "<!-- model-monitoring-report -->"
MAX_BODY = 60_000  # GitHub refuses issue bodies over 65,536 characters


class GitHubError(Exception):
    """GitHub refused a request."""


class GitHub:
    def __init__(self, api_url: str, repository: str, token: str | None) -> None:
        self.api_url = api_url.rstrip("/")
        self.repository = repository
        self.token = token

    @classmethod
    def from_environment(cls) -> GitHub:
        token = os.environ.get("GITHUB_TOKEN") or None
        if token is None and os.environ.get("ACT") != "true":
            raise GitHubError("GITHUB_TOKEN is not set")
        return cls(
            os.environ.get("GITHUB_API_URL", "https://api.github.com"),
            os.environ["GITHUB_REPOSITORY"],
            token,
        )

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
        return json.loads(content) if content else None


def dispatch(github: GitHub, workflow: str, ref: str, inputs: dict[str, str]) -> str:
    """Start `workflow` on `ref` (workflow_dispatch), as the Actions tab's "Run workflow" does."""
    github.request(
        "POST", f"/actions/workflows/{workflow}/dispatches", {"ref": ref, "inputs": inputs}
    )
    return f"started {workflow} on {ref} with {inputs}"


def upsert_issue(github: GitHub, label: str, title: str, body: str) -> str:
    """Update the open issue this script opened before, or open it: one issue, never a pile."""
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
    inputs = {}
    for pair in pairs:
        name, separator, value = pair.partition("=")
        if not separator:
            raise SystemExit(f"error: --input {pair!r}: expected NAME=VALUE")
        inputs[name] = value
    return inputs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    start = commands.add_parser("dispatch", help="start a workflow (workflow_dispatch)")
    start.add_argument("workflow", help="workflow file name, e.g. ct.yml")
    start.add_argument("--ref", required=True, help="branch or tag to run it on")
    start.add_argument("--input", action="append", default=[], help="NAME=VALUE")
    issue = commands.add_parser("issue", help="open or update the monitoring issue")
    issue.add_argument("--label", required=True)
    issue.add_argument("--title", required=True)
    issue.add_argument("--body-file", type=Path, required=True)
    args = parser.parse_args(argv)

    try:
        github = GitHub.from_environment()
        if args.command == "dispatch":
            print(dispatch(github, args.workflow, args.ref, parse_inputs(args.input)))
        else:
            print(upsert_issue(github, args.label, args.title, args.body_file.read_text()))
    except GitHubError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
