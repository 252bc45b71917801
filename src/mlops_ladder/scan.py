"""Reading a repository: every regular file under it, as text, without executing anything.

A repository is anyone's input, so reading it is bounded and follows nothing: symbolic links and
special files (FIFOs, sockets, devices) are listed in a note, never opened; the walk is a loop
(no recursion) that stops at a depth; each file, and all the text kept, have a size cap. Files
that cannot be read as text (binary, too large, unreadable) are skipped and counted in notes;
folders that hold environments, caches and tool state are not entered. Every cap reached is a
note in `Repository.limits`: the report says it is partial, it is never missing.
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import stat
import sys
import tomllib
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path, PurePosixPath

MAX_FILE_BYTES = 2_000_000
MAX_NOTEBOOK_BYTES = 20_000_000  # notebooks carry their outputs (images) inline
MAX_JSON_BYTES = MAX_FILE_BYTES  # a notebook on one line is parsed whole: its objects cost memory
MAX_FILES = 50_000
MAX_ENTRIES = 200_000  # names seen in folders: files, folders, links and the rest
MAX_DEPTH = 100  # folders below the top; the walk holds one descriptor per level
MAX_TOML_BYTES = 256_000  # a pyproject.toml is parsed whole (tomllib): bound its cost
MAX_TOML_KEY_PARTS = 32
# A dotted key of MAX_TOML_KEY_PARTS parts or more: tomllib's memory grows with the square of a
# key's parts (100,000 parts: gigabytes). It starts only where a part can start, so it is linear.
DEEP_TOML_KEY = re.compile(
    r"(?<![\w\"'-])(?:[\w-]+|\"[^\"\n]*\"|'[^'\n]*')"
    rf"(?:[ \t]*\.[ \t]*(?:[\w-]+|\"[^\"\n]*\"|'[^'\n]*')){{{MAX_TOML_KEY_PARTS - 1}}}"
)
# Arrays and inline tables (TOML), arrays and objects (a notebook's JSON) inside one another:
# tomllib and json recurse for each level, so a file nested past the interpreter's recursion
# limit fails them, and one nested less deeply than a raised limit (another library may raise
# it) passes: bounded here, the same in every process.
MAX_NESTING = 100
MAX_TEXT_BYTES = 100_000_000  # the memory of all the text kept for the checks
LISTED = 5  # names a note lists before "and N more"
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
# What str.splitlines() breaks lines at: made "\n" so that line numbers stay what they were and
# patterns, which never match "\n", stay within one line.
LINE_BREAKS = re.compile("\r\n?|[\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# A line of a notebook that is one JSON string (nbformat writes a source line so), and the
# number of them decoded by one json.loads.
JSON_STRING_LINE = re.compile(r'^[^\S\n]*("(?:[^"\\\n]|\\.)*"),*[^\S\n]*$', re.MULTILINE)
DECODE_BATCH = 2_000
# A JSON string (a bracket in one is text), what is not a bracket, and what a bracket does.
JSON_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')
NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")
LEVEL = {"[": 1, "{": 1, "]": -1, "}": -1}
BREAK_CHARACTERS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
# Control characters (C0 and DEL, C1), line and paragraph separators, bidirectional controls,
# and the surrogates that stand for a file name's undecodable bytes.
_OTHER_CONTROLS = r"\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
UNPRINTABLE = re.compile(rf"[\x00-\x1f{_OTHER_CONTROLS}]")
UNPRINTABLE_BUT_NEWLINE = re.compile(rf"[\x00-\x09\x0b-\x1f{_OTHER_CONTROLS}]")
NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: were a FIFO put in a file's place after it was listed, opening it cannot block.
FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC


class AssessError(Exception):
    """Bad input: reported as one line, never as a traceback."""


def _escape(match: re.Match[str]) -> str:
    char = match[0]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (os.fsdecode's surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    return NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


def lines_broken_at_newlines(text: str) -> str:
    # A few scans for one character each (memchr) cost less than a regex over every position.
    if any(char in text for char in BREAK_CHARACTERS):
        return LINE_BREAKS.sub("\n", text)
    return text


def printable(text: str) -> str:
    """text with every control character written as an escape (\\x1b, \\u202e): shown in a
    terminal or a page it can neither move the cursor, recolour, reorder nor fail to encode."""
    return UNPRINTABLE.sub(_escape, text)


def printable_lines(text: str) -> str:
    """printable(), keeping the line breaks of a text made of lines (a whole report)."""
    return UNPRINTABLE_BUT_NEWLINE.sub(_escape, text)


@dataclass(slots=True)
class Line:
    number: int
    text: str


@dataclass
class SourceFile:
    path: str  # relative, POSIX, printable()
    text: str  # what patterns search: the file's lines joined by "\n" (a notebook's: its cells')
    numbers: array | None = None  # each text line's number in the file, where not 1, 2, 3, ...
    seconds: float = 0.0  # spent matching patterns in it (checks.py caps it)
    stopped: bool = False  # over that cap: the checks after it leave the file alone
    first: dict[str, int] = field(default_factory=dict)  # a keyword's first place, -1: none

    def find(self, key: str) -> int:
        """Where key is first in the text (-1: nowhere), looked for once: patterns share keys."""
        if key not in self.first:
            self.first[key] = self.text.find(key)
        return self.first[key]

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def suffix(self) -> str:
        return PurePosixPath(self.path).suffix.lower()

    def number(self, index: int) -> int:
        """The file's line number of the text's line `index` (from 0)."""
        return index + 1 if self.numbers is None else self.numbers[index]

    def is_comment(self, text: str) -> bool:
        if self.suffix in HASH_COMMENTS or self.name in {"Makefile", "Dockerfile", "Jenkinsfile"}:
            return text.lstrip().startswith("#")
        return False

    def iter_lines(self) -> Iterator[Line]:
        """Every line but whole-line comments, one at a time (a file may have a million)."""
        for index, text in enumerate(split_lines(self.text)):
            if not self.is_comment(text):
                yield Line(self.number(index), text)

    @property
    def lines(self) -> list[Line]:
        return list(self.iter_lines())


@dataclass
class Repository:
    root: Path
    files: list[SourceFile] = field(default_factory=list)
    all_paths: set[str] = field(default_factory=set)  # every regular file seen, read or not
    notes: list[str] = field(default_factory=list)
    limits: list[str] = field(default_factory=list)  # the notes on what was not assessed
    match_seconds: float = 0.0  # spent matching patterns in all (checks.py caps it)
    tables: dict | None = None  # pyproject.toml's, parsed once (read_pyproject)

    def file(self, path: str) -> SourceFile | None:
        return next((f for f in self.files if f.path == path), None)

    def limit(self, note: str) -> None:
        """A cap reached or something left unread: the report is partial, and says why."""
        if note not in self.limits:
            self.notes.append(note)
            self.limits.append(note)


def read_pyproject(repo: Repository) -> dict:
    """The top pyproject.toml's tables, when it can be parsed at a bounded cost; else {}, and a
    note (once: assess and the adoption both read it)."""
    if repo.tables is None:
        repo.tables = _parse_pyproject(repo)
    return repo.tables


def _parse_pyproject(repo: Repository) -> dict:
    f = repo.file("pyproject.toml")
    if not f:
        return {}
    why = None
    if len(f.text) > MAX_TOML_BYTES:
        why = f"over {MAX_TOML_BYTES // 1000} KB"
    elif DEEP_TOML_KEY.search(f.text):
        why = f"a key of {MAX_TOML_KEY_PARTS} dotted parts or more"
    elif toml_nesting(f.text) > MAX_NESTING:
        why = "values nested too deep to parse"
    else:
        try:
            return tomllib.loads(f.text)
        except tomllib.TOMLDecodeError:
            return {}
        except RecursionError:
            why = "values nested too deep to parse"
    repo.limit(
        f"pyproject.toml not parsed ({why}): its dependencies and [tool.mlops-ladder] are not "
        "seen, and the answers come from other files"
    )
    return {}


def toml_nesting(text: str) -> int:
    """The deepest nesting of brackets and braces in a TOML text, outside its strings and
    comments (a table header counts one). One pass over the text."""
    depth = deepest = 0
    at, end = 0, len(text)
    while at < end:
        char = text[at]
        if char in "\"'":
            quote = char * 3 if text.startswith(char * 3, at) else char
            at += len(quote)
            while at < end and not text.startswith(quote, at):
                if len(quote) == 1 and text[at] == "\n":
                    break  # an unclosed one-line string: tomllib refuses the file anyway
                at += 2 if char == '"' and text[at] == "\\" else 1
            at += len(quote)
        elif char == "#":
            newline = text.find("\n", at)
            at = end if newline < 0 else newline
        else:
            if char in "[{":
                depth += 1
                deepest = max(deepest, depth)
            elif char in "]}":
                depth = max(depth - 1, 0)
            at += 1
    return deepest


def json_nesting(text: str) -> int:
    """The deepest nesting of arrays and objects in a JSON text: its brackets outside strings,
    summed (all in C: a Python loop over 20 MB takes seconds). Past a closing bracket too many,
    json stops, so the count there need not be right."""
    brackets = NOT_A_BRACKET.sub("", JSON_STRING.sub("", text))
    return max(accumulate(map(LEVEL.__getitem__, brackets)), default=0)


def split_lines(text: str) -> Iterator[str]:
    """text's lines, one at a time, as str.splitlines() gives them once breaks are "\n": no list
    of a million strings, no io.StringIO (which holds 4 bytes a character)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        yield text[start:end]
        start = end + 1


def notebook_text(raw: str) -> tuple[str, array]:
    """The cell sources of a notebook (`raw`, lines broken at "\\n"), and each one's line number
    in the .ipynb file.

    nbformat writes one JSON string per source line; a notebook squeezed onto one line gives
    its cells' lines numbered 1. Raises RecursionError for JSON nested over MAX_NESTING levels
    (whatever the interpreter's recursion limit: json recurses for each level).
    """
    if raw.count("\n") + (not raw.endswith("\n")) < 3:
        if json_nesting(raw) > MAX_NESTING:
            raise RecursionError(f"JSON nested over {MAX_NESTING} levels")
        try:
            cells = json.loads(raw).get("cells", [])
        except (ValueError, AttributeError):
            return "", array("I")
        parts = [
            text.rstrip("\n")
            for cell in (cells if isinstance(cells, list) else [])
            if isinstance(cell, dict)
            for text in _source_list(cell.get("source", []))
        ]
        text = "\n".join(parts)
        return text, array("I", [1]) * (text.count("\n") + 1 if parts else 0)
    out, numbers = io.StringIO(), array("I")
    for number, value in _json_string_lines(raw):
        for part in value.splitlines():
            out.write(f"\n{part}" if numbers else part)
            numbers.append(number)
    return out.getvalue(), numbers


def _json_string_lines(raw: str) -> Iterator[tuple[int, str]]:
    """(line number, value) of each line of raw that is one JSON string, a trailing comma
    allowed, decoded a batch at a time: json.loads for each of a million lines costs seconds."""
    batch: list[tuple[int, str]] = []
    number, counted = 1, 0
    for match in JSON_STRING_LINE.finditer(raw):
        number += raw.count("\n", counted, match.start())
        counted = match.start()
        batch.append((number, match[1]))
        if len(batch) == DECODE_BATCH:
            yield from _decoded(batch)
            batch = []
    yield from _decoded(batch)


def _decoded(batch: list[tuple[int, str]]) -> Iterator[tuple[int, str]]:
    try:
        values = json.loads("[" + ",".join(literal for _, literal in batch) + "]")
    except ValueError:  # one literal json does not take (a raw tab, a bad escape): one by one
        values = [_decoded_one(literal) for _, literal in batch]
    for (number, _), value in zip(batch, values, strict=True):
        if value is not None:
            yield number, value


def _decoded_one(literal: str) -> str | None:
    try:
        return json.loads(literal)
    except ValueError:
        return None


def _source_list(source: object) -> list[str]:
    if isinstance(source, str):
        return source.splitlines()
    return [s for s in source if isinstance(s, str)] if isinstance(source, list) else []


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
    walk = Walk(Repository(root=root.resolve()))
    walk.run()
    walk.summarise()
    return walk.repo


def _join(folder: str, name: str) -> str:
    return f"{folder}/{name}" if folder else name


def _listed(paths: list[str]) -> str:
    more = len(paths) - LISTED
    return ", ".join(paths[:LISTED]) + (f" and {more} more" if more > 0 else "")


def _shortened(path: str, keep: int = 80) -> str:
    return path if len(path) <= keep else f"{path[:keep]}... ({path.count('/') + 1} levels)"


@dataclass
class Folder:
    fd: int  # open, O_NOFOLLOW: what is listed is what was checked
    path: str  # relative, printable
    depth: int
    subfolders: Iterator[tuple[str, str]]  # (name on disk, printable name), still to walk


@dataclass
class Walk:
    """The walk over one repository: a loop over a stack of open folders, depth first in sorted
    order (os.walk's order), so a tree of any depth costs neither recursion nor more than
    MAX_DEPTH descriptors."""

    repo: Repository
    entries: int = 0
    text_bytes: int = 0
    binary: int = 0
    full: bool = False  # MAX_FILES or MAX_ENTRIES reached: nothing more is listed
    links: list[str] = field(default_factory=list)  # to a place inside the repository
    links_out: list[str] = field(default_factory=list)  # outside, or nowhere
    special: list[str] = field(default_factory=list)
    too_deep: list[str] = field(default_factory=list)
    not_kept: list[str] = field(default_factory=list)  # read past MAX_TEXT_BYTES
    escaped: list[str] = field(default_factory=list)  # names shown with escapes

    def run(self) -> None:
        stack: list[Folder] = []
        try:
            top = os.open(self.repo.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            self.enter(top, "", 0, stack)
            while stack:
                folder = stack[-1]
                name, shown = next(folder.subfolders, (None, ""))
                if name is None or self.full:
                    os.close(stack.pop().fd)
                    continue
                path = _join(folder.path, shown)
                if folder.depth >= MAX_DEPTH:
                    self.too_deep.append(path)
                    continue
                try:
                    fd = os.open(name, DIR_FLAGS, dir_fd=folder.fd)
                except OSError as error:
                    if _is_link(folder.fd, name):  # became a link after it was listed
                        self.links_out.append(path)
                    else:
                        self.unreadable_folder(path, error)
                    continue
                self.enter(fd, path, folder.depth + 1, stack)
        finally:
            for folder in stack:
                os.close(folder.fd)

    def enter(self, fd: int, path: str, depth: int, stack: list[Folder]) -> None:
        """Read one folder's files, and push it with its subfolders still to walk."""
        try:
            with os.scandir(fd) as listing:
                entries = self.listed(listing)
        except OSError as error:
            os.close(fd)
            self.unreadable_folder(path, error)
            return
        folders, files = [], []
        for entry in sorted(entries, key=lambda e: e.name):
            shown = printable(entry.name)
            if shown != entry.name:
                self.escaped.append(_join(path, shown))
            kind = _kind(entry)
            if kind == "link":
                self.link(fd, path, entry.name, shown)
            elif kind == "folder" and not self.skipped(path, entry.name, shown):
                folders.append((entry.name, shown))
            elif kind == "file":
                files.append((entry.name, shown))
            elif kind == "special":
                self.special.append(_join(path, shown))
        for name, shown in files:
            if self.full:
                break
            self.file(fd, name, _join(path, shown))
        stack.append(Folder(fd, path, depth, iter(folders)))

    def listed(self, listing: Iterator[os.DirEntry[str]]) -> list[os.DirEntry[str]]:
        entries = []
        for entry in listing:
            self.entries += 1
            if self.entries > MAX_ENTRIES:
                self.stop(f"stopped listing after {MAX_ENTRIES} names: the rest is not assessed")
                break
            entries.append(entry)
        return entries

    def link(self, fd: int, folder: str, name: str, shown: str) -> None:
        """Listed by where it points, read as text (readlink), never followed: one that points
        inside the repository loses nothing, its target is read where it is."""
        try:
            target = os.readlink(name, dir_fd=fd)
        except OSError:
            target = "/"
        resolved = os.path.normpath(os.path.join(folder, target))
        inside = not os.path.isabs(target) and resolved != ".." and not resolved.startswith("../")
        (self.links if inside else self.links_out).append(_join(folder, shown))

    def skipped(self, folder: str, name: str, shown: str) -> bool:
        return (
            name in SKIPPED_DIRS
            or name.endswith(".egg-info")
            or _join(folder, shown) in SKIPPED_SUBPATHS
        )

    def stop(self, note: str) -> None:
        self.full = True
        self.repo.limit(note)

    def unreadable_folder(self, path: str, error: OSError) -> None:
        self.repo.limit(f"skipped {path}/: cannot read this folder ({error.strerror})")

    def file(self, fd: int, name: str, path: str) -> None:
        repo = self.repo
        if len(repo.all_paths) >= MAX_FILES:
            self.stop(f"stopped reading after {MAX_FILES} files: the rest is not assessed")
            return
        repo.all_paths.add(path)
        if self.text_bytes >= MAX_TEXT_BYTES:
            self.not_kept.append(path)
            return
        suffix = PurePosixPath(path).suffix.lower()
        limit = MAX_NOTEBOOK_BYTES if suffix == ".ipynb" else MAX_FILE_BYTES
        read = read_regular(fd, name, path, limit)
        if read.data is None:
            if read.why == "link":  # a file that became a link after it was listed
                self.links_out.append(path)
            elif read.why == "special":
                self.special.append(path)
            else:
                repo.limit(read.note)
            return
        data = read.data
        read.data = None
        if b"\0" in data[:8192]:
            self.binary += 1
            return
        text = lines_broken_at_newlines(data.decode("utf-8", errors="replace"))
        del data
        source = notebook(repo, path, text) if suffix == ".ipynb" else SourceFile(path, text)
        self.text_bytes += sys.getsizeof(source.text) + (
            source.numbers.itemsize * len(source.numbers) if source.numbers is not None else 0
        )
        if self.text_bytes > MAX_TEXT_BYTES:
            self.not_kept.append(path)
            return
        repo.files.append(source)

    def summarise(self) -> None:
        repo = self.repo
        if self.links_out:
            repo.limit(
                f"not followed: {len(self.links_out)} symbolic link(s) to outside the "
                f"repository: {_listed(self.links_out)}"
            )
        if self.links:
            repo.notes.append(
                f"not followed: {len(self.links)} symbolic link(s) within the repository (what "
                f"they point to is read where it is): {_listed(self.links)}"
            )
        if self.special:
            repo.limit(
                f"not read: {len(self.special)} special file(s) (FIFO, socket or device): "
                f"{_listed(self.special)}"
            )
        if self.too_deep:
            repo.limit(
                f"not entered: {len(self.too_deep)} folder(s) deeper than {MAX_DEPTH} levels: "
                f"{_listed([_shortened(p) for p in self.too_deep])}"
            )
        if self.not_kept:
            repo.limit(
                f"not read: {len(self.not_kept)} file(s) after {MAX_TEXT_BYTES / 1e6:g} MB of "
                f"text (the limit for one repository): {_listed(self.not_kept)}"
            )
        if self.escaped:
            repo.notes.append(
                f"{len(self.escaped)} name(s) with control characters or bytes that are not "
                f"UTF-8, shown escaped (\\x..): {_listed(self.escaped)}"
            )
        if self.binary:
            repo.notes.append(f"{self.binary} binary file(s) not read (data, models, images)")


def _is_link(folder: int, name: str) -> bool:
    """Whether name in the open folder is a symbolic link (opening a link with O_NOFOLLOW fails
    with ELOOP, or with ENOTDIR when a folder was asked for)."""
    try:
        os.readlink(name, dir_fd=folder)
    except OSError:
        return False
    return True


def _kind(entry: os.DirEntry[str]) -> str:
    """link, folder, file or special, from the listing itself: no link is followed to know."""
    try:
        if entry.is_symlink():
            return "link"
        if entry.is_dir(follow_symlinks=False):
            return "folder"
        return "file" if entry.is_file(follow_symlinks=False) else "special"
    except OSError:  # gone since it was listed
        return "gone"


def notebook(repo: Repository, path: str, raw: str) -> SourceFile:
    """A notebook's cells; one whose JSON cannot be read is still a notebook, with a note."""
    if raw.count("\n") < 3 and len(raw) > MAX_JSON_BYTES:
        repo.limit(
            f"cells not read: {path} is on one line and over {MAX_JSON_BYTES / 1e6:.0f} MB "
            "(parsing it whole would cost too much memory)"
        )
        return SourceFile(path, "", array("I"))
    try:
        text, numbers = notebook_text(raw)
    except RecursionError:
        repo.limit(f"cells not read: {path} is JSON nested too deep to parse")
        return SourceFile(path, "", array("I"))
    return SourceFile(path, text, numbers)


@dataclass
class Read:
    data: bytes | None  # None: not read, for `why`
    why: str = ""  # "link", "special", "missing", or a note
    note: str = ""


def read_regular(folder: int, name: str, path: str, limit: int) -> Read:
    """The regular file `name` in the open folder: opened without following a link or blocking
    on a FIFO, then checked on the open descriptor, so what is read is what was checked."""
    try:
        fd = os.open(name, FILE_FLAGS, dir_fd=folder)
    except OSError as error:
        unreadable = f"skipped {path}: cannot read it ({error.strerror})"
        if error.errno == errno.ELOOP:
            return Read(None, "link")
        if error.errno in {errno.ENOENT, errno.ENOTDIR}:
            return Read(None, "missing", unreadable)
        return Read(None, "unreadable", unreadable)
    with open(fd, "rb", buffering=0) as handle:
        try:
            status = os.fstat(fd)
            if not stat.S_ISREG(status.st_mode):
                return Read(None, "special")
            size = status.st_size
            if size <= limit:
                data = handle.read(limit + 1)  # a file that grows, or lies about its size, stops
                size = len(data)
        except OSError as error:
            return Read(None, "unreadable", f"skipped {path}: cannot read it ({error.strerror})")
    if size > limit:
        return Read(
            None,
            "large",
            f"skipped {path}: {size / 1e6:.1f} MB, over the {limit / 1e6:.0f} MB limit",
        )
    return Read(data)


def read_inside(repo: Repository, path: str, limit: int) -> str | None:
    """The text of `path` (relative, "/"-separated, trusted: the code's own) under the repository,
    read as the walk reads: a link at any step, a special file or an oversize file is a note and
    None; a file that is not there is None."""
    parts = path.split("/")
    fd = os.open(repo.root, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for depth, part in enumerate(parts[:-1], start=1):
            try:
                inner = os.open(part, DIR_FLAGS, dir_fd=fd)
            except OSError as error:
                where = "/".join(parts[:depth])
                if _is_link(fd, part):
                    repo.limit(f"not followed: {where} is a symbolic link")
                elif error.errno not in {errno.ENOENT, errno.ENOTDIR}:
                    repo.limit(f"skipped {where}/: cannot read this folder ({error.strerror})")
                return None  # not there, or a file (a worktree's .git): nothing to read
            os.close(fd)
            fd = inner
        read = read_regular(fd, parts[-1], path, limit)
    finally:
        os.close(fd)
    if read.data is None:
        if read.why == "link":
            repo.limit(f"not followed: {path} is a symbolic link")
        elif read.why == "special":
            repo.limit(f"not read: {path} is not a regular file (FIFO, socket or device)")
        elif read.why != "missing":
            repo.limit(read.note)
        return None
    return lines_broken_at_newlines(read.data.decode("utf-8", errors="replace"))
