"""Reading a repository: every file under it, as text lines, without executing anything.

Files that cannot be read as text (binary, undecodable, too large, unreadable) are skipped and
counted in notes; folders that hold environments, caches and tool state are not entered.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 2_000_000
MAX_NOTEBOOK_BYTES = 20_000_000  # notebooks carry their outputs (images) inline
MAX_FILES = 50_000
SKIPPED_DIRS = {
    ".git",
    ".hg",
    ".svn",
    ".venv",
    "venv",
    ".env",
    "env",
    "node_modules",
    "__pycache__",
    ".tox",
    ".nox",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".ipynb_checkpoints",
    "site-packages",
    "mlruns",
    "mlartifacts",
    "wandb",
    ".cache",
    ".tools",
    ".eggs",
    ".idea",
    ".vscode",
    ".terraform",
}
SKIPPED_SUBPATHS = {".dvc/cache", ".dvc/tmp"}
# Comment syntax by file kind: whole-line comments are not evidence of anything.
HASH_COMMENTS = {".py", ".yml", ".yaml", ".toml", ".cfg", ".ini", ".sh", ".txt", ".r", ""}


class AssessError(Exception):
    """Bad input: reported as one line, never as a traceback."""


@dataclass
class Line:
    number: int
    text: str


@dataclass
class SourceFile:
    path: str  # relative, POSIX
    lines: list[Line]

    @cached_property
    def text(self) -> str:
        """Every line the patterns see, joined: one search tells whether a line may match."""
        return "\n".join(line.text for line in self.lines)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix.lower()


@dataclass
class Repository:
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    all_paths: set[str] = field(default_factory=set)  # every file seen, read or not
    notes: list[str] = field(default_factory=list)

    def file(self, path: str) -> SourceFile | None:
        return next((f for f in self.files if f.path == path), None)


def notebook_lines(raw: str) -> list[Line]:
    """The cell sources of a notebook, each line numbered where it sits in the .ipynb file.

    nbformat writes one JSON string per source line; a notebook squeezed onto one line gives
    its cells' lines numbered 1.
    """
    raw_lines = raw.splitlines()
    if len(raw_lines) < 3:
        try:
            cells = json.loads(raw).get("cells", [])
        except (ValueError, AttributeError):
            return []
        return [
            Line(1, text.rstrip("\n"))
            for cell in cells
            if isinstance(cell, dict)
            for text in _source_list(cell.get("source", []))
        ]
    lines = []
    for number, text in enumerate(raw_lines, start=1):
        stripped = text.strip().rstrip(",")
        if len(stripped) >= 2 and stripped[0] == '"' and stripped[-1] == '"':
            try:
                value = json.loads(stripped)
            except ValueError:
                continue
            for part in value.splitlines():
                lines.append(Line(number, part))
    return lines


def _source_list(source: object) -> list[str]:
    if isinstance(source, str):
        return source.splitlines()
    return [s for s in source if isinstance(s, str)] if isinstance(source, list) else []


def _is_comment(suffix: str, name: str, text: str) -> bool:
    stripped = text.lstrip()
    if suffix in HASH_COMMENTS or name in {"Makefile", "Dockerfile", "Jenkinsfile"}:
        return stripped.startswith("#")
    return False


def read_repository(path: str | os.PathLike[str]) -> Repository:
    root = Path(path).expanduser()
    if not root.exists():
        raise AssessError(f"{path}: no such file or directory")
    if not root.is_dir():
        raise AssessError(f"{path}: not a folder (give the repository's top folder)")
    try:
        next(os.scandir(root), None)
    except OSError as error:
        raise AssessError(f"{path}: cannot read this folder ({error.strerror})") from error
    repo = Repository(root=root.resolve())
    binary = 0
    for folder, dirs, names in os.walk(repo.root, onerror=lambda e: _unreadable(repo, e)):
        relative_folder = Path(folder).relative_to(repo.root).as_posix()
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIPPED_DIRS
            and not d.endswith(".egg-info")
            and _join(relative_folder, d) not in SKIPPED_SUBPATHS
            and not os.path.islink(os.path.join(folder, d))
        )
        for name in sorted(names):
            relative = _join(relative_folder, name)
            full = Path(folder) / name
            if full.is_symlink() or not full.is_file():
                continue
            if len(repo.all_paths) >= MAX_FILES:
                repo.notes.append(
                    f"stopped reading after {MAX_FILES} files: the rest is not assessed"
                )
                return repo
            repo.all_paths.add(relative)
            outcome, skipped = _read_text(full, relative)
            if outcome is None:
                if skipped == "binary":
                    binary += 1
                else:
                    repo.notes.append(skipped)
                continue
            suffix = full.suffix.lower()
            if suffix == ".ipynb":
                lines = notebook_lines(outcome)
            else:
                lines = [
                    Line(number, text)
                    for number, text in enumerate(outcome.splitlines(), start=1)
                    if not _is_comment(suffix, name, text)
                ]
            repo.files.append(SourceFile(relative, lines))
    if binary:
        repo.notes.append(f"{binary} binary file(s) not read (data, models, images)")
    return repo


def _join(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"


def _unreadable(repo: Repository, error: OSError) -> None:
    where = Path(error.filename).relative_to(repo.root) if error.filename else "?"
    repo.notes.append(f"skipped {where}/: cannot read this folder ({error.strerror})")


def _read_text(full: Path, relative: str) -> tuple[str | None, str | None]:
    """(the file's text, None), or (None, "binary"), or (None, a note saying why it was skipped)."""
    limit = MAX_NOTEBOOK_BYTES if full.suffix.lower() == ".ipynb" else MAX_FILE_BYTES
    try:
        size = full.stat().st_size
        if size > limit:
            return (
                None,
                f"skipped {relative}: {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit",
            )
        data = full.read_bytes()
    except OSError as error:
        return None, f"skipped {relative}: cannot read it ({error.strerror})"
    if b"\0" in data[:8192]:
        return None, "binary"
    return data.decode("utf-8", errors="replace"), None
