"""`mlops-ladder assess` on hostile repositories, made here in tmp_path: it finishes within a
bound, prints a report in every form (text, HTML, JSON) that names each limit it reached, prints
nothing from outside the repository and no raw control character.

Each run goes through `mlops_ladder.cli.main` in a forked copy of the test process that is
killed past its bound: the regex engine runs in C, where no signal reaches it, so a pattern that
went quadratic again fails a test instead of hanging the suite. A few runs use the real
`mlops-ladder` command under a subprocess timeout, one measures its peak memory.
"""

from __future__ import annotations

import html
import io
import json
import os
import random
import re
import select
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest
from rendering import BIN

from mlops_ladder import adopt, answers, checks, cli, scan

P = re._parser  # the standard library's regex parser: the patterns' audit walks its trees
REPEATS = {P.MAX_REPEAT, P.MIN_REPEAT, P.POSSESSIVE_REPEAT}

ASSESS = BIN / "mlops-ladder"
# Bounds for one repository's three forms: CPU time (linear runs take 0.1 to 2 s), and wall time
# past which the run is killed (a hang; generous, for a 2-core machine running other work).
CPU_BOUND = 10.0
BOUND = 60.0
SECRET = "stolen-owner-4711"  # in every file outside the repository: never in a report
# What must never reach a terminal raw: C0 but "\n", DEL, C1, separators, bidi controls, and the
# surrogates of undecodable bytes. Written here again, not taken from scan.py, to check it.
UNSAFE = re.compile(
    "[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069"
    "\ud800-\udfff]"
)
TIME_CAP = "stopped matching patterns"  # the backstop: a linear run never reaches it


# --------------------------------------------------------------------------------------------
# Running assess, bounded
# --------------------------------------------------------------------------------------------
def remove_tree(top: bytes) -> None:
    """top and all under it, links and FIFOs unfollowed: a loop over open folders, not
    recursion, each name relative to its folder (a 1,100-level path is slow to resolve)."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    stack: list[tuple[int, list[str]]] = []

    def enter(fd: int) -> None:
        with os.scandir(fd) as listing:
            entries = list(listing)
        for entry in entries:
            if not entry.is_dir(follow_symlinks=False):
                os.unlink(entry.name, dir_fd=fd)
        stack.append((fd, [e.name for e in entries if e.is_dir(follow_symlinks=False)]))

    enter(os.open(top, flags))
    while stack:
        fd, folders = stack[-1]
        if folders:
            enter(os.open(folders[-1], flags, dir_fd=fd))
            continue
        os.close(fd)
        stack.pop()
        if stack:
            parent, siblings = stack[-1]
            os.rmdir(siblings.pop(), dir_fd=parent)
    os.rmdir(top)


def in_child(work: Callable[[], object], bound: float) -> object:
    """work() in a forked copy of this process, its JSON result sent back through a pipe; the
    child is killed, and the test fails, past `bound` seconds."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        os.close(read_end)
        try:
            payload = json.dumps({"result": work()}).encode()
        except BaseException as error:  # a crash is a failed test, reported by the parent
            payload = json.dumps({"crash": f"{type(error).__name__}: {error}"}).encode()
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(payload)
        os._exit(0)
    os.close(write_end)
    deadline = time.monotonic() + bound
    chunks = []
    with os.fdopen(read_end, "rb") as pipe:
        while True:
            ready, _, _ = select.select([pipe], [], [], max(0.0, deadline - time.monotonic()))
            if not ready:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail(f"assess did not finish within {bound:.0f} s")
            chunk = os.read(pipe.fileno(), 1 << 20)
            if not chunk:
                break
            chunks.append(chunk)
    os.waitpid(pid, 0)
    outcome = json.loads(b"".join(chunks))
    assert "crash" not in outcome, outcome["crash"]
    return outcome["result"]


def main(*argv: str) -> tuple[int, str, str]:
    """cli.main(argv) with its standard output and error captured."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue(), err.getvalue()


@dataclass
class Reports:
    text: str
    html: str
    json: str
    seconds: float  # of CPU, the three forms

    @property
    def data(self) -> dict:
        return json.loads(self.json)

    def forms(self) -> dict[str, str]:
        return {"text": self.text, "html": self.html, "json": self.json}


def assess(repo: Path, bound: float = BOUND) -> Reports:
    """The three forms of the report on repo, each through the command line's entry."""

    def work() -> dict:
        started = time.process_time()  # the child's own CPU: not slowed by a busy machine
        runs = {
            form: main("assess", str(repo), *flag, "--template", "/t")
            for form, flag in (("json", ["--json"]), ("text", []), ("html", ["--html"]))
        }
        return {"runs": runs, "seconds": time.process_time() - started}

    outcome = in_child(work, bound)
    for form, (code, _, err) in outcome["runs"].items():
        assert (code, err) == (0, ""), f"{form}: exit {code}: {err}"
    assert outcome["seconds"] < CPU_BOUND, f"{outcome['seconds']:.1f} s of CPU"
    return Reports(
        **{form: out for form, (_, out, _) in outcome["runs"].items()},
        seconds=outcome["seconds"],
    )


def strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, (list, dict)):
        for item in value.values() if isinstance(value, dict) else value:
            yield from strings(item)


def said(needle: str, form: str, output: str) -> bool:
    """needle is in this form of the report (text wraps lines, HTML escapes, JSON quotes)."""
    if form == "json":
        return any(needle in value for value in strings(json.loads(output)))
    if form == "html":
        needle, output = html.escape(needle), output.replace("\n", " ")
    return re.sub(r"\s+", "", needle) in re.sub(r"\s+", "", output)


def check(reports: Reports, *named: str, time_cap: bool = False) -> None:
    """The invariants every hostile repository must keep, and each of `named` in every form."""
    json.loads(reports.json)
    assert reports.json.isascii()
    for form, output in reports.forms().items():
        assert not UNSAFE.search(output), (form, UNSAFE.findall(output)[:5])
        assert SECRET not in output, form
        assert "Traceback" not in output, form
        for needle in named:
            assert said(needle, form, output), (form, needle, reports.data["notes"])
        partial = reports.data["partial"] if form == "json" else "Partial report" in output
        assert partial == bool(reports.data["limits"]), form
    assert time_cap == any(TIME_CAP in note for note in reports.data["limits"]), reports.data


# --------------------------------------------------------------------------------------------
# Hostile repositories
# --------------------------------------------------------------------------------------------
def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    return path


def outside(tmp_path: Path) -> Path:
    """A folder beside the repository, every file of it holding SECRET."""
    folder = tmp_path / "outside"
    write(folder / "config", f'[remote "origin"]\n\turl = git@github.com:{SECRET}/x.git\n')
    write(folder / "train.py", f"import mlflow  # {SECRET}\n")
    return folder


def deep_tree(repo: Path, levels: int, name: str = "d") -> str:
    """A chain of `levels` folders (os.makedirs recurses), each made in the last one's open
    descriptor, and the path of the last folder relative to repo."""
    fd = os.open(repo, os.O_RDONLY | os.O_DIRECTORY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=fd)
        inner = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)
    return "/".join([name] * levels)


def contents(where: str, text: str) -> Callable[[Path, Path], None]:
    def build(repo: Path, _: Path) -> None:
        write(repo / where, text)

    return build


def blank_lines(size: int, where: str = "blank.py") -> Callable[[Path, Path], None]:
    """A line of every pattern's keywords, so that each pattern is tried, then blank lines."""

    def build(repo: Path, _: Path) -> None:
        keys = {k for p in FILE_PATTERNS.values() for k in checks.keywords(p) or ()}
        write(repo / where, " ".join(sorted(keys)) + "\n" * size)

    return build


def short_lines(repo: Path, _: Path) -> None:
    for n in range(3):  # 5.7 MB in files under the 2 MB limit, each of them read
        write(repo / f"lines{n}.py", "x\n" * 950_000)


def git_config_link(target: str) -> Callable[[Path, Path], None]:
    def build(repo: Path, elsewhere: Path) -> None:
        (repo / ".git").mkdir()
        os.symlink(target.format(outside=elsewhere), repo / ".git/config")

    return build


def git_config_fifo(repo: Path, _: Path) -> None:
    (repo / ".git").mkdir()
    os.mkfifo(repo / ".git/config")


def git_folder_link(repo: Path, elsewhere: Path) -> None:
    os.symlink(elsewhere, repo / ".git")


def very_deep(repo: Path, _: Path) -> None:
    write(repo / deep_tree(repo, 50) / "tracked.py", "import wandb\n")  # found
    write(repo / deep_tree(repo, 1100, "e") / "train.py", "import mlflow\n")  # too deep


def nested_notebook(repo: Path, _: Path) -> None:
    write(repo / "deep.ipynb", "[" * 100_000 + "]" * 100_000)


def big_one_line_notebook(repo: Path, _: Path) -> None:
    cells = [{"cell_type": "code", "source": ["import mlflow\n"]}] * 60_000
    write(repo / "big.ipynb", json.dumps({"cells": cells}))


def pyproject(text: str) -> Callable[[Path, Path], None]:
    return contents("pyproject.toml", text)


def undecodable_name(repo: Path, _: Path) -> None:
    write(Path(os.fsdecode(os.fsencode(repo) + b"/bad\xff\xfe.py")), "import mlflow\n")


def control_names(repo: Path, _: Path) -> None:
    for name in (
        "\x1b[2J\x1b[31mred\x1b[0m\x07.py",
        "\u202eyp.niart.py",
        "new\nline\r.py",
        "<img src=x onerror=alert(1)>.py",
    ):
        write(repo / name, "import mlflow\n")


def symlink_loops(repo: Path, _: Path) -> None:
    os.symlink("self", repo / "self")
    os.symlink("b", repo / "a")
    os.symlink("a", repo / "b")
    os.symlink(".", repo / "here")
    os.symlink("..", repo / "up")  # outside: the folder above


def link_to_outside_folder(repo: Path, elsewhere: Path) -> None:
    os.symlink(elsewhere, repo / "src")


def link_to_outside_file(repo: Path, elsewhere: Path) -> None:
    os.symlink(elsewhere / "train.py", repo / "train.py")
    os.symlink("../outside/config", repo / "setup.cfg")


def special_files(repo: Path, _: Path) -> None:
    os.mkfifo(repo / "data.py")
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(repo / "serve.py"))


def huge_python_version(repo: Path, _: Path) -> None:
    write(repo / ".python-version", "3." + "1" * 5000 + "\n")
    write(repo / "pyproject.toml", f'[project]\nrequires-python = ">=3.{"9" * 5000}"\n')


def hostile_answers(repo: Path, _: Path) -> None:
    write(
        repo / "pyproject.toml",
        '[project]\nname = "\\u001b]0;pwned\\u0007"\ndescription = "\\u202eevil"\n'
        'authors = [{name = "A\\u001b[2J", email = "x\\u001b@y.zz"}]\n',
    )
    write(repo / "setup.py", "setup(name='\x1b[31mred')\n")


def runtime_pyproject(repo: Path, _: Path) -> None:
    """On the runtime: a 160 KB requirement, after 2,000 comment lines that start like it."""
    marker = "extra != 'x' and " * 9_400 + "python_version >= '3.11'"
    requirement = f"mlops-ladder[pipeline,serving]==0.2.0 ; {marker}"
    comments = "# mlops-ladder[pipeline,serving]==0.1\n" * 2_000
    write(
        repo / "pyproject.toml",
        f'[project]\n{comments}dependencies = [\n  "{requirement}",\n]\n'
        "[tool.mlops-ladder]\nlevel = 1\n",
    )


def included_groups(repo: Path, _: Path) -> None:
    """On the runtime, its pipeline extra at the end of 6,000 dependency groups that each
    include the next (PEP 735): read as a chain, not a recursion 6,000 deep."""
    chain = "".join(f'g{n} = [{{include-group = "g{n + 1}"}}]\n' for n in range(6_000))
    write(
        repo / "pyproject.toml",
        '[project]\ndependencies = ["mlops-ladder[serving]"]\n[dependency-groups]\n'
        + chain
        + 'g6000 = ["mlops-ladder[pipeline]"]\n[tool.uv]\ndefault-groups = ["g0"]\n'
        "[tool.mlops-ladder]\nlevel = 1\n",
    )


CASES: dict[str, tuple[Callable[[Path, Path], None], tuple[str, ...]]] = {
    "blank lines, 5 KB": (blank_lines(5_000), ()),
    "blank lines, 20 KB": (blank_lines(20_000), ()),
    "blank lines, 200 KB": (blank_lines(200_000), ()),
    "blank lines, 1.9 MB": (blank_lines(1_900_000), ()),
    "blank lines, 1.9 MB in a CI workflow": (
        blank_lines(1_900_000, ".github/workflows/ci.yml"),
        (),
    ),
    # The patterns of these two have no keywords: they search the whole text.
    "blank lines, 1.9 MB in requirements.txt": (blank_lines(1_900_000, "requirements.txt"), ()),
    "blank lines, 1.9 MB in a crontab": (blank_lines(1_900_000, "crontab"), ()),
    "lines of blanks and tabs, 1.9 MB": (contents("tabs.py", (" \t" * 475 + "\n") * 2000), ()),
    "short lines, 5.7 MB": (short_lines, ()),
    "a file over the size limit": (
        contents("big.py", "x\n" * 1_250_000),
        ("skipped big.py: 2.5 MB, over the 2 MB limit",),
    ),
    ".git/config linked to /dev/zero": (
        git_config_link("/dev/zero"),
        ("not followed: .git/config is a symbolic link",),
    ),
    ".git/config a FIFO": (
        git_config_fifo,
        ("not read: .git/config is not a regular file (FIFO, socket or device)",),
    ),
    ".git/config linked to a file outside": (
        git_config_link("{outside}/config"),
        ("not followed: .git/config is a symbolic link",),
    ),
    ".git linked to a folder outside": (
        git_folder_link,
        ("not followed: .git is a symbolic link",),
    ),
    "deeply nested notebook JSON": (
        nested_notebook,
        ("cells not read: deep.ipynb is JSON nested too deep to parse",),
    ),
    "a notebook on one line over 2 MB": (
        big_one_line_notebook,
        ("cells not read: big.ipynb is on one line and over 2 MB",),
    ),
    "nested pyproject arrays": (
        pyproject("a = " + "[" * 5000 + "]" * 5000 + "\n"),
        ("pyproject.toml not parsed (values nested too deep to parse)",),
    ),
    "nested pyproject inline tables": (
        pyproject("a = " + "{b = " * 3000 + "1" + "}" * 3000 + "\n"),
        ("pyproject.toml not parsed (values nested too deep to parse)",),
    ),
    "a pyproject key of 100,000 dotted parts": (
        pyproject(".".join(["a"] * 100_000) + " = 1\n"),
        ("pyproject.toml not parsed (a key of 32 dotted parts or more)",),
    ),
    "pyproject tables nested 10,000 deep": (
        pyproject("[" + ".".join(["t"] * 10_000) + "]\nx = 1\n"),
        ("pyproject.toml not parsed (a key of 32 dotted parts or more)",),
    ),
    "a pyproject on the runtime, its requirement 160 KB": (
        runtime_pyproject,
        ("MLflow tracking (mlops-ladder runtime)", "pyproject.toml:2003"),
    ),
    "a pyproject of 6,000 dependency groups, each including the next": (
        included_groups,
        ("MLflow tracking (mlops-ladder runtime)", "pyproject.toml:6004"),
    ),
    "a pyproject over 256 KB": (
        pyproject("[project]\n" + "".join(f"k{n} = {n}\n" for n in range(30_000))),
        ("pyproject.toml not parsed (over 256 KB)",),
    ),
    "a file name of invalid UTF-8": (undecodable_name, ("shown escaped", "bad\\xff\\xfe.py")),
    "file names with escape codes and bidi controls": (
        control_names,
        ("shown escaped", "\\x1b[2J\\x1b[31mred\\x1b[0m\\x07.py", "new\\nline\\r.py"),
    ),
    "symbolic link loops": (
        symlink_loops,
        (
            "symbolic link(s) within the repository",
            "symbolic link(s) to outside the repository: up",
        ),
    ),
    "a symbolic link to a folder outside": (
        link_to_outside_folder,
        ("not followed: 1 symbolic link(s) to outside the repository: src",),
    ),
    "symbolic links to files outside": (
        link_to_outside_file,
        ("not followed: 2 symbolic link(s) to outside the repository: setup.cfg, train.py",),
    ),
    "a FIFO and a socket among the files": (
        special_files,
        ("not read: 2 special file(s) (FIFO, socket or device): data.py, serve.py",),
    ),
    "a Python version of 5,000 digits": (huge_python_version, ()),
    "answers with control characters": (hostile_answers, ()),
}


@pytest.mark.parametrize("case", CASES)
def test_a_hostile_repository_gets_a_report_that_names_what_was_left_out(
    tmp_path: Path, case: str
) -> None:
    build, named = CASES[case]
    repo = tmp_path / "repo"
    repo.mkdir()
    build(repo, outside(tmp_path))
    check(assess(repo), *named)


def test_toml_nesting_counts_brackets_outside_strings_and_comments() -> None:
    text = '[tool.x]\na = "[[[{"\nb = [[1], {c = \'}]\'}]  # [[[[\nd = """\n[[[\n"""\ne = "\\"[["\n'
    assert scan.toml_nesting(text) == 2
    assert scan.toml_nesting("a = " + "[" * 101 + "]" * 101) == 101


def test_a_pyproject_nested_too_deep_is_refused_whatever_the_recursion_limit(
    tmp_path: Path,
) -> None:
    # Another library in the process may raise the limit (hypothesis does, for a while): tomllib
    # would then parse 5,000 levels, and the report depended on what ran before it.
    (tmp_path / "pyproject.toml").write_text("a = " + "[" * 5000 + "]" * 5000 + "\n")
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(60_000)
    try:
        repo = scan.read_repository(tmp_path)
        assert scan.read_pyproject(repo) == {}
    finally:
        sys.setrecursionlimit(limit)
    assert any("values nested too deep to parse" in note for note in repo.limits), repo.limits


def test_json_nesting_counts_brackets_outside_strings() -> None:
    text = '{"cells": [{"source": ["[[[{", "\\"]]]"]}, [[]]], "k": "\\\\"}'
    assert scan.json_nesting(text) == 4
    assert scan.json_nesting("[" * 101 + "]" * 101) == 101


def test_a_notebook_nested_too_deep_is_refused_whatever_the_recursion_limit(
    tmp_path: Path,
) -> None:
    # As the pyproject above: with a raised limit json would parse these 5,000 levels.
    (tmp_path / "deep.ipynb").write_text("[" * 5000 + "]" * 5000)
    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(60_000)
    try:
        repo = scan.read_repository(tmp_path)
    finally:
        sys.setrecursionlimit(limit)
    assert "cells not read: deep.ipynb is JSON nested too deep to parse" in repo.limits


@pytest.fixture(scope="module")
def deep_repository() -> Iterator[Path]:
    """A 1,100-level tree, and a link to a folder outside, made once (each level costs a
    millisecond or two to make and to remove), not under pytest's tmp_path: pytest removes old
    ones with shutil.rmtree, which recurses, and would fail on it if a run left it there."""
    top = Path(tempfile.mkdtemp(prefix="assess-deep-"))
    try:
        repo = top / "repo"
        repo.mkdir()
        very_deep(repo, top)
        link_to_outside_folder(repo, outside(top))
        yield repo
    finally:
        remove_tree(os.fsencode(top))


def test_a_1100_level_tree_is_a_report_of_the_levels_it_could_walk(deep_repository: Path) -> None:
    reports = assess(deep_repository)
    check(reports, "not entered: 1 folder(s) deeper than 100 levels", "e/e/e/e/e/e")
    tools = reports.data["tools"]
    assert "Weights & Biases" in tools  # 50 levels down
    assert "MLflow" not in tools  # 1,100 levels down, or through the link


def test_answers_with_control_characters_are_not_used(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    hostile_answers(repo, tmp_path)
    adoption = assess(repo).data["adoption"]
    assert adoption["answers"]["project_name"] == {"value": "repo", "from": "the folder's name"}
    assert not {"description", "author_name", "author_email"} & set(adoption["answers"])
    assert {
        f"{what} has control characters: not used"
        for what in ("pyproject.toml's name", "setup.py's name", "pyproject.toml's description")
    } <= set(adoption["notes"])


def test_a_link_to_outside_is_not_the_github_owner_and_a_regular_config_is(
    tmp_path: Path,
) -> None:
    linked = tmp_path / "linked"
    linked.mkdir()
    git_config_link("{outside}/config")(linked, outside(tmp_path))
    assert "github_owner" not in assess(linked).data["adoption"]["answers"]
    regular = tmp_path / "regular"
    write(regular / ".git/config", '[remote "origin"]\n\turl = https://github.com/team/x.git\n')
    owner = assess(regular).data["adoption"]["answers"]["github_owner"]
    assert owner == {"value": "team", "from": ".git/config:2"}


# The caps that need too large an input to reach in a test are lowered here: the forked child
# inherits the patched module.
CAPPED = {
    "files": (scan, {"MAX_FILES": 20}, "stopped reading after 20 files: the rest is not assessed"),
    "names": (scan, {"MAX_ENTRIES": 25}, "stopped listing after 25 names"),
    "text": (scan, {"MAX_TEXT_BYTES": 2_000}, "file(s) after 0.002 MB of text"),
    "time per file": (
        checks,
        {"MAX_FILE_SECONDS": 0.0, "MAX_FILE_SECONDS_PER_MB": 0.0},
        "stopped matching patterns in a00.py after 0 s (the limit for a file of its size)",
    ),
    "time in all": (
        checks,
        {"MAX_MATCH_SECONDS": -1.0},
        "stopped matching patterns after -1 s in all",
    ),
}


@pytest.mark.parametrize("cap", CAPPED)
def test_each_cap_reached_is_named_in_every_form(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cap: str
) -> None:
    module, values, note = CAPPED[cap]
    for name, value in values.items():
        monkeypatch.setattr(module, name, value)
    repo = tmp_path / "repo"
    for n in range(30):
        write(repo / f"a{n:02}.py", "import mlflow\n" * 20)
    check(assess(repo), note, time_cap=cap.startswith("time"))


# --------------------------------------------------------------------------------------------
# Through the real command: bad input, a FIFO, /dev/zero, a strict UTF-8 output
# --------------------------------------------------------------------------------------------
def command(*args: str | Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ASSESS, "assess", *args], capture_output=True, check=False, timeout=BOUND,
        env={**os.environ, **(env or {})},
    )  # fmt: skip


def test_the_command_reads_past_a_fifo_and_dev_zero(tmp_path: Path) -> None:
    fifo, zero = tmp_path / "fifo", tmp_path / "zero"
    for repo, build in ((fifo, git_config_fifo), (zero, git_config_link("/dev/zero"))):
        repo.mkdir()
        build(repo, tmp_path)
        done = command(repo)
        assert (done.returncode, done.stderr) == (0, b"")
        assert b"Level reached: 0" in done.stdout
        assert b".git/config" in done.stdout


def test_an_undecodable_name_prints_on_a_strict_utf8_output(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    undecodable_name(repo, tmp_path)
    for form, flag in (("text", []), ("html", ["--html"]), ("json", ["--json"])):
        done = command(repo, *flag, env={"PYTHONIOENCODING": "utf-8:strict"})
        assert (done.returncode, done.stderr) == (0, b""), form
        assert said("bad\\xff\\xfe.py:1", form, done.stdout.decode()), form


@pytest.mark.parametrize("kind", ["missing", "fifo", "escape codes"])
def test_bad_input_to_the_command_is_one_escaped_line(tmp_path: Path, kind: str) -> None:
    target = tmp_path / {"missing": "nowhere", "fifo": "fifo", "escape codes": "\x1b[31mred"}[kind]
    if kind == "fifo":
        os.mkfifo(target)
    code, out, err = in_child(lambda: main("assess", str(target)), BOUND)
    assert (code, out) == (2, "")
    assert err.count("\n") == 1
    assert err.startswith("mlops-ladder: error: ")
    assert not UNSAFE.search(err)


def test_5_7_mb_of_short_lines_stays_small_in_memory(tmp_path: Path) -> None:
    """Peak memory of the command on 5.7 MB of short lines, in .py files and in a notebook.
    Measured: 42 MB (before: 415 MB and 128 MB, counted as ru_maxrss)."""
    repo = tmp_path / "repo"
    repo.mkdir()
    short_lines(repo, tmp_path)
    cell = '    "x\\n",\n' * 518_000
    write(repo / "n.ipynb", '{\n "cells": [\n  {\n   "source": [\n' + cell + '    "x"\n]}]}\n')
    # The peak of this process's own memory (VmHWM): ru_maxrss keeps the peak of the process
    # that started it (Linux carries it across execve), here the pytest worker's.
    measure = (
        "import sys\nfrom mlops_ladder.cli import main\ncode = main(sys.argv[1:])\n"
        "peak = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
        "print(peak.split()[1], file=sys.stderr)\n"
        "sys.exit(code)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", measure, "assess", str(repo), "--json"],
        capture_output=True, text=True, check=False, timeout=BOUND,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    peak_mb = int(done.stderr.split()[-1]) / 1024
    assert peak_mb < 100, f"{peak_mb:.0f} MB"
    assert json.loads(done.stdout)["limits"] == []


# --------------------------------------------------------------------------------------------
# Every pattern: within a line, and linear
# --------------------------------------------------------------------------------------------
def file_patterns() -> dict[str, str]:
    """Every regex that searches a file's text (or a line of it), by where it is."""
    found = {}
    for module in (checks, adopt):
        for name, value in vars(module).items():
            if isinstance(value, list) and value and isinstance(value[0], checks.Signal):
                for n, signal_ in enumerate(value):
                    for kind in ("pattern", "requires"):
                        if getattr(signal_, kind):
                            found[f"{name}[{n}].{kind}"] = getattr(signal_, kind)
    found |= {f"adopt.NAME_FILES {path}": pattern for path, pattern in adopt.NAME_FILES}
    found |= {f"adopt.PYTHON_VERSION {p}": pattern for p, pattern in adopt.PYTHON_VERSION_FILES}
    found |= {f"checks.RUNTIME_LINES {kind}": p for kind, p in checks.RUNTIME_LINES.items()}
    found |= {
        "adopt.REMOTE": adopt.REMOTE.pattern,
        "scan.DEEP_TOML_KEY": scan.DEEP_TOML_KEY.pattern,
        "scan.JSON_STRING_LINE": scan.JSON_STRING_LINE.pattern,
    }
    return found


def value_patterns() -> dict[str, str]:
    """The regexes on paths and single values: linear, but newline is no concern there."""
    return {
        "checks.CI_FILE": checks.CI_FILE.pattern,
        "checks.REQUIREMENT": checks.REQUIREMENT.pattern,
        **{
            f"answers.{name}": getattr(answers, name).pattern
            for name in ("CONTROL", "SLUG", "PACKAGE", "EMAIL", "OWNER")
        },
        **{
            f"{name}[{n}].path": s.path
            for name, value in vars(checks).items()
            if isinstance(value, list) and value and isinstance(value[0], checks.Signal)
            for n, s in enumerate(value)
            if s.path
        },
    }


FILE_PATTERNS = file_patterns()
ALL_PATTERNS = FILE_PATTERNS | value_patterns()


def inner(op: object, arg: object) -> list:
    """The sequences inside one element of a parsed regex: a group's, each alternative's..."""
    if op is P.SUBPATTERN:
        return [arg[-1]]  # type: ignore[index]
    if op is P.BRANCH:
        return list(arg[1])  # type: ignore[index]
    if op in REPEATS:
        return [arg[2]]  # type: ignore[index]
    if op in {P.ASSERT, P.ASSERT_NOT}:
        return [arg[1]]  # type: ignore[index]
    return [arg] if op is P.ATOMIC_GROUP else []


def nodes(sequence: object) -> Iterator[tuple[object, object]]:
    """Every (op, argument) of a parsed regex, however deep."""
    for op, arg in sequence:  # type: ignore[attr-defined]
        yield op, arg
        for part in inner(op, arg):
            yield from nodes(part)


def matches_newline(op: object, arg: object, flags: int) -> bool:
    if op is P.LITERAL:
        return arg == 10
    if op is P.NOT_LITERAL:
        return arg != 10
    if op is P.ANY:
        return bool(flags & re.DOTALL)
    if op is P.IN:
        items = list(arg)  # type: ignore[call-overload]
        negated = bool(items) and items[0][0] is P.NEGATE
        newline_classes = {P.CATEGORY_SPACE, P.CATEGORY_NOT_WORD, P.CATEGORY_NOT_DIGIT}
        member = any(
            (kind is P.LITERAL and value == 10)
            or (kind is P.RANGE and value[0] <= 10 <= value[1])
            or (kind is P.CATEGORY and value in newline_classes)
            for kind, value in items
        )
        return member != negated
    return False


@pytest.mark.parametrize("name", FILE_PATTERNS)
def test_no_pattern_can_match_across_lines(name: str) -> None:
    """No class, literal or dot of a pattern matches "\\n": `\\s` would, and spanned a run of
    blank lines from every line of it (quadratic time: 20 KB of blank lines took minutes)."""
    parsed = P.parse(FILE_PATTERNS[name], re.MULTILINE)
    crossing = [
        (op, arg) for op, arg in nodes(parsed) if matches_newline(op, arg, parsed.state.flags)
    ]
    assert not crossing, crossing


def literal_runs(pattern: str) -> set[str]:
    """Every run of literal characters of a pattern, wherever it is (a branch, a lookahead)."""
    runs: set[str] = set()

    def walk(sequence: object) -> None:
        run = ""
        for op, arg in sequence:  # type: ignore[attr-defined]
            if op is P.LITERAL:
                run += chr(arg)
                continue
            runs.add(run)
            run = ""
            for part in inner(op, arg):
                walk(part)
        runs.add(run)

    walk(P.parse(pattern, re.MULTILINE))
    return {run for run in runs if run}


def atoms(pattern: str) -> list[str]:
    return sorted(literal_runs(pattern) | {"a", " ", "-", ".", "(", "="})


def costliest(regex: re.Pattern[str], pattern: str, count: int = 4) -> list[tuple[str, str]]:
    """The (head, unit) pairs whose line head + unit * n costs the most to search, at 1 KB: a
    line where a match can start again inside the run that another start consumed."""
    costs = []
    for head in atoms(pattern):
        for unit in (a + separator for a in atoms(pattern) for separator in ("", " ")):
            line = head + unit * (1_000 // len(unit))
            started = time.process_time()
            regex.search(line)
            costs.append((time.process_time() - started, head, unit))
    return [(head, unit) for _, head, unit in sorted(costs, reverse=True)[:count]]


@pytest.mark.parametrize("name", ALL_PATTERNS)
def test_every_pattern_is_linear_on_lines_of_its_own_words(name: str) -> None:
    """The costliest lines of the pattern's own words, at 64 KB, and 64 K blank lines: linear,
    a few milliseconds; the patterns this replaced took 2 s to hours on them."""
    pattern = ALL_PATTERNS[name]
    regex = re.compile(pattern, re.MULTILINE)
    texts = ["\n" * 64_000, " \n" * 32_000] + [
        head + unit * (64_000 // len(unit)) for head, unit in costliest(regex, pattern)
    ]
    for text in texts:
        started = time.process_time()  # CPU time: a busy machine does not make it fail
        regex.search(text)
        seconds = time.process_time() - started
        assert seconds < 0.25, f"{seconds:.2f} s on {text[:40]!r}..."


def class_member(items: list, rng: random.Random) -> str:
    if items and items[0][0] is P.NEGATE:
        return rng.choice("xQ7_")
    kind, value = rng.choice(items)
    if kind is P.LITERAL:
        return chr(value)
    if kind is P.RANGE:
        return chr(rng.randint(*value))
    return {
        P.CATEGORY_DIGIT: "7", P.CATEGORY_WORD: "w", P.CATEGORY_SPACE: " ",
        P.CATEGORY_NOT_SPACE: "x", P.CATEGORY_NOT_WORD: " ", P.CATEGORY_NOT_DIGIT: "x",
    }[value]  # fmt: skip


def sample(sequence: object, rng: random.Random) -> str:
    """A random string the parsed regex may match (anchors aside: the caller tries it)."""
    out = []
    for op, arg in sequence:  # type: ignore[attr-defined]
        if op is P.LITERAL:
            out.append(chr(arg))
        elif op in {P.NOT_LITERAL, P.ANY}:
            out.append("x" if arg != ord("x") else "y")
        elif op is P.IN:
            out.append(class_member(list(arg), rng))
        elif op is P.BRANCH:
            out.append(sample(rng.choice(arg[1]), rng))
        elif op is P.SUBPATTERN:
            out.append(sample(arg[-1], rng))
        elif op is P.ATOMIC_GROUP:
            out.append(sample(arg, rng))
        elif op in REPEATS:
            low, high, item = arg
            out += [sample(item, rng) for _ in range(rng.randint(low, min(high, low + 3)))]
        elif op is P.ASSERT and arg[0] == 1:  # a lookahead: what follows consumes it again
            out.append(sample(arg[1], rng))
        elif op is P.AT and arg is P.AT_BOUNDARY:
            out.append(" ")
    return "".join(out)


KEYWORDED = {name: p for name, p in FILE_PATTERNS.items() if checks.keywords(p)}


@pytest.mark.parametrize("name", KEYWORDED)
def test_a_patterns_keywords_are_in_every_line_it_matches(name: str) -> None:
    """The prefilter passes over a file without any keyword: on lines sampled from the
    pattern, every line it matches holds a keyword."""
    pattern, rng = KEYWORDED[name], random.Random(name)
    keys = checks.keywords(pattern)
    regex = re.compile(pattern, re.MULTILINE)
    parsed = P.parse(pattern, re.MULTILINE)
    lines = [sample(parsed, rng) for _ in range(300)]
    matched = [line for line in lines if regex.search(line)]
    assert matched, "no sampled line matches: the sampler cannot test this pattern"
    assert all(any(key in line for key in keys) for line in matched), (keys, matched[:3])


# --------------------------------------------------------------------------------------------
# Random hostile trees, from a fixed seed
# --------------------------------------------------------------------------------------------
SEED = 20_240_611
TREES = 12


def random_name(rng: random.Random) -> bytes:
    pieces = [
        b"\x1b[31m", b"\x1b]0;t\x07", b"\r", b"\n", b"\t", b"\x7f", b"\xff", b"\xc3", b"\x80",
        "\u202e".encode(), "\u2028".encode(), b"<b>", b"'", b'"', b"..", b" ", b"train", b".py",
    ]  # fmt: skip
    name = b"".join(rng.choice(pieces) for _ in range(rng.randint(1, 6)))
    return name if name not in {b".", b".."} else b"dots"


def random_content(rng: random.Random, words: list[str]) -> bytes:
    kind = rng.randrange(6)
    size = rng.randint(1_000, 60_000)
    if kind == 0:
        return rng.choice([b"\n", b" \n", b"\t\n", b"\r\n", b"\r", b"\x0c"]) * size
    if kind == 1:  # words of the patterns, in any order: evidence everywhere
        separators = [" ", "", "\n", "(", "=", ":", "-", "\t", "."]
        text = "".join(rng.choice(words) + rng.choice(separators) for _ in range(size // 8))
        return text.encode()
    if kind == 2:  # one long line of one word
        word = rng.choice(words)
        return (word * (size // len(word) + 1))[:size].encode()
    if kind == 3:  # bytes that are not UTF-8, and a NUL past the binary check
        return bytes(rng.randrange(256) for _ in range(size // 10)).replace(b"\0", b"") + b"\0"
    if kind == 4:
        return ("[" * size).encode()
    return b"# " + b"\x1b[2J" * (size // 4)


def build_random_tree(rng: random.Random, root: Path, elsewhere: Path) -> set[str]:
    """A repository of random hostile parts; the notes they must produce."""
    words = sorted({w for p in FILE_PATTERNS.values() for w in literal_runs(p)})
    named = set()
    base = os.fsencode(root)
    for _ in range(rng.randint(3, 8)):
        part = rng.randrange(8)
        name = base + b"/" + random_name(rng) + rng.choice([b".py", b".yml", b".ipynb", b""])
        if part <= 4 and os.path.lexists(name):
            continue
        if part <= 2:  # a file of hostile name and content
            with open(name, "wb") as handle:
                handle.write(random_content(rng, words))
        elif part == 3:
            target = rng.choice(["/dev/zero", str(elsewhere), f"{elsewhere}/config", "..", "/"])
            os.symlink(target, name)
            named.add("to outside the repository")
        elif part == 4:
            os.mkfifo(name)
            named.add("special file(s)")
        elif part == 5:
            levels = rng.randint(97, 104)
            deep_tree(root, levels, rng.choice(["d", "\x1b", "\udcff"]) + str(rng.random()))
            if levels > scan.MAX_DEPTH:
                named.add(f"deeper than {scan.MAX_DEPTH} levels")
        elif part == 6 and not (root / ".git").exists():
            git_config_fifo(root, elsewhere)
            named.add("not read: .git/config is not a regular file")
        else:
            nesting = rng.randint(10, 20_000)
            text = rng.choice(["a = " + "[" * nesting, "[" + ".a" * nesting + "]", "x"])
            write(root / "pyproject.toml", text)
    return named


def test_random_hostile_trees_keep_the_invariants(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    elsewhere = outside(tmp_path)
    for n in range(TREES):
        repo = tmp_path / f"tree{n}"
        repo.mkdir()
        named = build_random_tree(rng, repo, elsewhere)
        check(assess(repo), *sorted(named))
