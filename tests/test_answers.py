"""Hostile answers: each is refused by both engines with one line naming the field and the rule,
nothing written, or renders the same project in both, whose files parse and compile and show the
answer as typed.

The rules exist twice, as copier.yml's Jinja validators and as the runtime's answers.py, which
hooks/answers.py (cookiecutter's pre-gen hook and extension) loads: the first tests run both on
every hostile value of every text question, in process; the rest go through both engines' real
command lines.
"""

from __future__ import annotations

import functools
import importlib
import json
import sys
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import jinja2_ansible_filters
import pytest
import yaml
from cookiecutter.environment import StrictEnvironment
from jinja2 import Template
from jinja2.sandbox import SandboxedEnvironment
from markdown_it import MarkdownIt
from rendering import BIN, ENGINES, ROOT, Outcome, engine_command, project_dir, run


def hook_rules() -> ModuleType:
    """hooks/answers.py as cookiecutter imports it (`hooks.answers`, the template on sys.path)."""
    if str(ROOT) not in sys.path:
        sys.path.append(str(ROOT))
    return importlib.import_module("hooks.answers")


answers = hook_rules()
COPIER = yaml.safe_load((ROOT / "copier.yml").read_text(encoding="utf-8"))
COOKIECUTTER = json.loads((ROOT / "cookiecutter.json").read_text(encoding="utf-8"))
TEXT = answers.TEXT
ONE_LINE = answers.ONE_LINE

# Hostile values for every text question: label -> value.
HOSTILE = {
    "trailing newline": "abc\n",
    "leading newline": "\nabc",
    "carriage return": "a\rb",
    "crlf": "a\r\nb",
    "nul": "a\x00b",
    "tab": "a\tb",
    "escape code": "\x1b[31mred",
    "delete": "a\x7fb",
    "next line (C1)": "a\x85b",
    "line separator": "a\u2028b",
    "paragraph separator": "a\u2029b",
    "lone surrogate (invalid UTF-8 byte)": "caf\udce9",
    "non-character": "a\uffffb",
    "triple quotes": 'ab """ cd',
    "backslashes": "C:\\Users\\me\\",
    "quotes of every kind": "'single' \"double\" `back` “curly” \u2018curly\u2019 «guill» „low“",
    "jinja expression": "{{ 7*7 }}",
    "jinja statement": "{% if true %}x{% endif %}",
    "jinja comment": "{# hidden #}",
    "jinja code": "{{ lipsum.__globals__['os'].getcwd() }}",
    "emoji": "Rocket 🚀",
    "zwj emoji and flag": "👨‍👩‍👧 🇫🇷",
    "cjk": "東京データ",
    "rtl": "שלום مرحبا",
    "rtl override": "a\u202eb\u202c",
    "combining": "e\u0301 Z̤͔ͧ̑̓",
    "zero width and bom": "a\u200bb\ufeffc",
    "markdown": "# *b* _i_ `c` [l](u) <b>h</b> &amp; ~~s~~ $m$",
    "html comment": "<!--",
    "yaml words": "null",
    "yaml syntax": "- ? : & * ! | > % @ #",
    "toml syntax": 'a = "b" # c',
    "shell": "$(id) `id`; rm -rf /",
    "path": "../../etc/passwd",
    "slash": "a/b",
    "empty": "",
    "spaces": "   ",
    "long": "a" * 5000,
    "long words": "word " * 1000,
    "valid slug": "fraud-scoring",
    "valid package": "fraud_scoring",
    "valid email": "josé.o'brien+ml@exemple.fr",
    "valid owner": "Example-Org-1",
    "slug at the limit": "a" * 63,
    "slug over the limit": "a" * 64,
    "email quote": 'a"b@x.co',
    "email comma": "a,b@x.co",
    "email space": "a b@x.co",
    "email long": "a" * 250 + "@x.co",
    "runtime name": "mlops_ladder",
    "keyword": "class",
    "stdlib": "json",
    "leading underscore": "_private",
    "dunder": "__pycache__",
}


@functools.cache
def copier_environment() -> SandboxedEnvironment:
    """copier's Jinja: sandboxed, its default filters (regex_search), copier.yml's options."""
    extensions = [jinja2_ansible_filters.AnsibleCoreFiltersExtension]
    return SandboxedEnvironment(extensions=extensions, **COPIER["_envops"])


def computed(name: str) -> object:
    """A computed (`when: false`) value of copier.yml, rendered and parsed as copier does."""
    text = copier_environment().from_string(COPIER[name]["default"]).render()
    return yaml.safe_load(text)


COMPUTED = ("patterns", "python_keywords", "python_stdlib_modules")
CONTEXT = {name: computed(name) for name in COMPUTED}


@functools.cache
def validator(field: str) -> Template:
    return copier_environment().from_string(COPIER[field]["validator"])


def copier_rule(field: str, value: str) -> str:
    """What copier's validator says about `value` ("" = accepted), as copier renders it."""
    template = validator(field)
    return template.render({**CONTEXT, field: value}).strip()


def test_copier_matches_what_the_hook_matches() -> None:
    patterns = CONTEXT["patterns"]
    assert patterns["control"] == answers.CONTROL.pattern
    assert patterns["slug"] == answers.SLUG.pattern
    assert patterns["package"] == answers.PACKAGE.pattern
    assert patterns["email"] == answers.EMAIL.pattern
    assert patterns["owner"] == answers.OWNER.pattern
    assert patterns["one_line"] == ONE_LINE
    # Whole-string anchors: `$` would let a trailing newline through.
    for name in ("slug", "package", "email", "owner"):
        assert patterns[name].startswith("\\A"), name
        assert patterns[name].endswith("\\Z"), name


def test_every_text_question_has_a_validator_in_both_engines() -> None:
    for field in TEXT:
        assert COPIER[field].get("validator"), field
        assert copier_rule(field, "a\nb") == ONE_LINE
        assert answers.field_error(field, "a\nb") == ONE_LINE


@pytest.mark.parametrize("field", TEXT)
def test_both_rule_sets_give_the_same_verdict_on_every_hostile_value(field: str) -> None:
    verdicts = {}
    for label, value in HOSTILE.items():
        copier, hook = copier_rule(field, value), answers.field_error(field, value)
        assert copier == hook, f"{field} = {label}: copier {copier!r}, hook {hook!r}"
        verdicts[label] = hook
    # Nothing with a control character, a line break or a broken code point gets through.
    for label, value in HOSTILE.items():
        if answers.CONTROL.search(value):
            assert verdicts[label] == ONE_LINE, label


def test_the_rules_refuse_what_would_break_a_file_and_accept_real_names() -> None:
    error = answers.field_error
    assert error("project_slug", "a" * 63) == ""
    assert "at most 63" in error("project_slug", "a" * 64)
    assert "at most 63" in error("package_name", "a" * 64)
    assert error("package_name", "_private").startswith("must be a Python identifier")
    assert "runtime" in error("package_name", "mlops_ladder")
    assert error("description", "d" * 512) == ""
    assert "512" in error("description", "d" * 513)
    assert error("author_email", "josé.o'brien+ml@exemple.fr") == ""
    for email in ('a"b@x.co', "a,b@x.co", "a b@x.co", "<a@x.co>", "a@x.co\n", "a" * 250 + "@x.co"):
        assert error("author_email", email), email
    assert error("github_owner", "a" * 39) == ""
    assert error("github_owner", "a" * 40)
    for name in ("Rocket 🚀", "東京データ", 'ab """ cd', "C:\\Users\\", "{{ 7*7 }}", "<!--"):
        assert error("project_name", name) == "", name
        assert error("description", name) == "", name
        assert error("author_name", name) == "", name


def test_the_hook_stops_an_answer_cookiecutter_ran_as_a_template() -> None:
    # The pre-gen hook's fallback, should the extension not have kept an answer as typed.
    own = {"project_slug": COOKIECUTTER["project_slug"]}
    given = {"description": "{{ 7*7 }}", "project_slug": own["project_slug"]}
    assert answers.rendered_as_template(given, {"description": "49"}, own) == (
        "description",
        "cookiecutter ran it as a Jinja template (it holds {{, {% or {#)",
    )
    # Kept as typed, or the template's own default rendered: nothing to stop.
    assert answers.rendered_as_template(given, {"description": "{{ 7*7 }}"}, own) is None
    assert answers.rendered_as_template(own, {"project_slug": "tabular-model"}, own) is None


def test_an_answer_is_handed_to_jinja_as_a_literal() -> None:
    environment = StrictEnvironment(**COOKIECUTTER["_jinja2_env_vars"])
    for value in HOSTILE.values():
        assert environment.from_string(answers.literal(value)).render() == value


# --- through the engines' command lines --------------------------------------------------------


def output(outcome: Outcome) -> str:
    return outcome.stdout + outcome.stderr


def render_both(answers_: dict[str, str], parent: Path, env: dict[str, str]) -> dict[str, Path]:
    projects = {}
    for engine in ENGINES:
        folder = parent / engine
        folder.mkdir()
        outcome = run(engine_command(engine, answers_, folder), ROOT, env, label=f"render {engine}")
        assert "Traceback" not in output(outcome), outcome.tail()
        projects[engine] = project_dir(engine, folder)
    return projects


def written(project: Path) -> dict[str, bytes]:
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file()
    }


def markdown_text(tokens: list, opening: str) -> str:
    """The text of the first block opened by `opening`, which must be plain text only: any
    emphasis, code, link, HTML or entity in it fails."""
    start = next(index for index, token in enumerate(tokens) if token.type == opening)
    inline = tokens[start + 1]
    kinds = {child.type for child in inline.children}
    assert kinds <= {"text"}, f"markup in {inline.content!r}: {kinds}"
    return "".join(child.content for child in inline.children)


DEFAULTS = {
    "description": COOKIECUTTER["description"],
    "author_name": COOKIECUTTER["author_name"],
    "author_email": COOKIECUTTER["author_email"],
}


def assert_shown_as_typed(project: Path, typed: dict[str, str]) -> None:
    given = {**DEFAULTS, **typed}
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["description"] == given["description"]
    assert pyproject["project"]["authors"] == [
        {"name": given["author_name"], "email": given["author_email"]}
    ]
    readme = MarkdownIt("commonmark").enable(["strikethrough", "table"])
    tokens = readme.parse((project / "README.md").read_text(encoding="utf-8"))
    assert markdown_text(tokens, "heading_open") == given["project_name"].strip()
    if given["description"].strip():
        assert markdown_text(tokens, "paragraph_open") == given["description"].strip()
    year = datetime.now(UTC).year
    license_text = (project / "LICENSE").read_text(encoding="utf-8")
    assert f"Copyright (c) {year} {given['author_name']}\n" in license_text
    if "package_name" in typed:
        assert (project / "src" / typed["package_name"] / "__init__.py").is_file()
        assert pyproject["tool"]["mlops-ladder"]["package"] == typed["package_name"]
    if "github_owner" in typed:
        codeowners = (project / ".github" / "CODEOWNERS").read_text(encoding="utf-8")
        assert f"/src/ @{typed['github_owner']}\n" in codeowners


PARSERS = {
    ".toml": tomllib.loads,
    ".yml": yaml.safe_load,
    ".yaml": yaml.safe_load,
    ".json": json.loads,
    ".ipynb": json.loads,
}


def assert_parses_and_compiles(project: Path) -> None:
    for name, content in written(project).items():
        path = project / name
        if path.suffix == ".py":
            compile(content, name, "exec")
        elif path.suffix in PARSERS:
            PARSERS[path.suffix](content.decode("utf-8"))


# Each renders with both engines (level 0 but where a case needs more): one hostile value per
# free-text field at once, to keep the renders few.
RENDERED = {
    "quotes-and-backslashes": {
        "project_name": 'Ab """ C:\\Users\\ \'q\' "d" `b`',
        "description": "He said \"hi\" \\ 'quoted' `tick` “curly” \u2018it\u2019 «guill» \\n \\",
        "author_name": 'O\'Brien \\ "Q" \\',
    },
    "jinja": {
        "project_name": "Model {{ 7*7 }} {% if true %}x{% endif %} {# c #}",
        "description": "{{ lipsum.__globals__['os'].mkdir(MARKER) }}",
        "author_name": "{% raw %}{{ cookiecutter.project_slug }}{% endraw %} }}",
    },
    "non-ascii": {
        "project_name": "Rocket 🚀 東京 Ünïcödé e\u0301",
        "description": "👨‍👩‍👧 🇫🇷 שלום עולם مرحبا \u202eRLO\u202c Z̤͔ͧ̑̓ zero\u200bwidth \ufeffbom",
        "author_name": "José 山田 😀",
        "author_email": "josé.o'brien+ml@exemple.fr",
    },
    "markdown-and-html": {
        "project_name": "# *bold* _under_ [link](http://x) <b>html</b> &amp; ~~s~~ $m$ #",
        "description": "- not a list <!-- not a comment `code` \\ | pipe > ![img](x) &#65;",
        "author_name": "<script>alert(1)</script>",
    },
    "markdown-blocks": {
        "project_name": "+ Plus --- rule",
        "description": "1986. A year, 2) and *** and > and    four spaces",
        "author_name": "> quote",
        # The name of a folder level 0 leaves out at the root (copier.yml `_exclude`).
        "package_name": "docs",
    },
    "yaml-and-shell": {
        "project_name": "No",
        "description": "   null: ~ # not a comment - ? | >  ",
        "author_name": "true",
        "github_owner": "1e3",
        "maturity_level": "1",
    },
    "long": {
        "project_name": "Long " * 400,
        "project_slug": "long-name",
        "description": "d" * 512,
        "author_name": "A" * 3000,
    },
}


@pytest.mark.parametrize("case", RENDERED)
def test_a_hostile_answer_renders_the_same_project_in_both_engines_as_typed(
    case: str, tmp_path: Path, env: dict[str, str]
) -> None:
    marker = tmp_path / "code-ran"
    typed = {
        field: value.replace("MARKER", repr(str(marker))) for field, value in RENDERED[case].items()
    }
    projects = render_both({"maturity_level": "0", **typed}, tmp_path, env)
    # Neither engine ran the answer as a template.
    assert not marker.exists()
    copier, cookiecutter = (written(projects[engine]) for engine in ENGINES)
    assert copier.pop(".copier-answers.yml")
    assert copier.keys() == cookiecutter.keys()
    for name, content in cookiecutter.items():
        assert copier[name] == content, f"{name} differs between the engines"
    for engine in ENGINES:
        assert_parses_and_compiles(projects[engine])
        assert_shown_as_typed(projects[engine], typed)
    recorded = yaml.safe_load((projects["copier"] / ".copier-answers.yml").read_text())
    for field, value in typed.items():
        assert str(recorded[field]) == value, field


# (field, value, rule): refused by both engines (tests/test_validation.py: one case per rule).
# The slug ones would be folder names.
SLUG_RULE = "use lowercase letters, digits and single hyphens, starting with a letter"
REFUSED = {
    "slug-trailing-newline": ("project_slug", "abc\n", ONE_LINE),
    "package-leading-newline": ("package_name", "\npkg", ONE_LINE),
    "owner-trailing-newline": ("github_owner", "org\n", ONE_LINE),
    "name-carriage-return": ("project_name", "Ab\rCd", ONE_LINE),
    "description-tab": ("description", "a\tb", ONE_LINE),
    "author-escape-code": ("author_name", "\x1b[31mred", ONE_LINE),
    "email-line-separator": ("author_email", "a@b.co\u2028", ONE_LINE),
    "name-invalid-utf8": ("project_name", "Caf\udce9", ONE_LINE),
    "slug-path": ("project_slug", "a/b", SLUG_RULE),
    "slug-parent": ("project_slug", "../escape", SLUG_RULE),
    # Would render to `ab`, a valid name, were it run as a template.
    "package-jinja": ("package_name", "{{'ab'}}", "must be a Python identifier"),
    "email-quote": ("author_email", 'a"b@x.co', "must be an email address"),
}


def assert_refused(engine: str, outcome: Outcome, field: str, rule: str) -> None:
    assert outcome.code != 0, outcome.tail()
    line = f"Validation error for question '{field}': {rule}"
    if engine == "cookiecutter":
        assert any(text.startswith(line) for text in output(outcome).splitlines()), outcome.tail()
        assert "Traceback" not in output(outcome), outcome.tail()
    else:
        # copier ends an answer given with --data/-d that a validator refuses in a traceback of
        # its own, the message last (copier's command line; its prompt asks again instead).
        assert outcome.stderr.splitlines()[-1].startswith(f"ValueError: {line}"), outcome.tail()


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", REFUSED)
def test_a_hostile_answer_is_refused_with_one_line_and_nothing_written(
    engine: str, case: str, tmp_path: Path, env: dict[str, str]
) -> None:
    field, value, rule = REFUSED[case]
    parent = tmp_path / "out"
    parent.mkdir()
    outcome = run(engine_command(engine, {field: value}, parent), ROOT, env, check=False)
    assert_refused(engine, outcome, field, rule)
    assert not any(parent.iterdir()), f"written: {list(parent.iterdir())}"
    assert [path.name for path in tmp_path.iterdir()] == ["out"], "written beside the output"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_nul_from_an_answers_file_is_refused(
    engine: str, tmp_path: Path, env: dict[str, str]
) -> None:
    # A command line cannot hold NUL; an answers file (copier) or a config file (cookiecutter) can.
    parent = tmp_path / "out"
    parent.mkdir()
    given = {"author_name": "a\x00b"}
    if engine == "copier":
        data = tmp_path / "answers.yml"
        data.write_text(yaml.safe_dump(given))
        command = [BIN / "copier", "copy", "--defaults", "--vcs-ref", "HEAD", "--data-file", data]
        command += [ROOT, parent / "project"]
    else:
        config = yaml.safe_load(Path(env["COOKIECUTTER_CONFIG"]).read_text())
        data = tmp_path / "config.yml"
        data.write_text(yaml.safe_dump({**config, "default_context": given}))
        command = [BIN / "cookiecutter", "--no-input", "--config-file", data, ROOT, "-o", parent]
    outcome = run(command, ROOT, env, check=False)
    assert_refused(engine, outcome, "author_name", ONE_LINE)
    assert not any(parent.iterdir())


def test_without_the_extension_cookiecutter_runs_the_answer_and_the_hook_can_only_stop_it(
    tmp_path: Path,
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    """What the pre-gen hook alone can do: cookiecutter has run the answer's code by then."""
    from cookiecutter.exceptions import FailedHookException
    from cookiecutter.main import cookiecutter

    # Given cookiecutter in process, with the extension's view of the prompt switched off
    monkeypatch.setattr(answers, "prompting", lambda: None)
    monkeypatch.setattr(answers.KeepAnswersAsTyped, "seen_prompt", False)
    marker = tmp_path / "code-ran"
    payload = "{{ lipsum.__globals__['os'].mkdir(" + repr(str(marker)) + ") }}"
    parent = tmp_path / "out"
    parent.mkdir()
    # When an answer on the command line holds Jinja
    with pytest.raises(FailedHookException):
        cookiecutter(
            str(ROOT),
            no_input=True,
            extra_context={"description": payload, "maturity_level": "0"},
            output_dir=str(parent),
            config_file=env["COOKIECUTTER_CONFIG"],
        )
    # Then its code ran, and the hook stopped generation afterwards: nothing is left
    assert marker.is_dir()
    assert not any(parent.iterdir())
    rule = "cookiecutter ran it as a Jinja template (it holds {{, {% or {#)"
    assert f"Validation error for question 'description': {rule}" in capfd.readouterr().err
