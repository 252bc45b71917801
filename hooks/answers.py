"""The answers' rules, for cookiecutter (copier checks the same with copier.yml's validators).

Two users:
- hooks/pre_gen_project.py checks every answer (given, typed or derived) with `errors` before a
  file is written, and stops generation with one line naming the field and the rule.
- cookiecutter.json's `_extensions` loads `KeepAnswersAsTyped` into cookiecutter's Jinja: by
  itself cookiecutter renders answers given on the command line (`key=value`) or in a config
  file's `default_context` as templates, so `{{ ... }}` in one runs code. The extension hands
  such an answer on as typed, as copier does, and checks the rules before any folder is made.

tests/test_answers.py runs these rules and copier.yml's validators on the same hostile values:
they must give the same verdict and the same message.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from cookiecutter.exceptions import FailedHookException
from jinja2 import Environment
from jinja2.ext import Extension

ROOT = Path(__file__).resolve().parents[1]


def runtime_rules() -> ModuleType:
    """The runtime's rules (src/mlops_ladder/answers.py), read from this template's own tree:
    cookiecutter's environment has no mlops-ladder installed, and the file needs only the
    standard library. One copy of the rules for copier's proposals (assess) and these hooks."""
    path = ROOT / "src" / "mlops_ladder" / "answers.py"
    spec = importlib.util.spec_from_file_location("mlops_ladder_answer_rules", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"the answers' rules are missing from this template: {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


RULES = runtime_rules()
# copier.yml `patterns` holds the same expressions (tests/test_answers.py checks it).
CONTROL, SLUG, PACKAGE = RULES.CONTROL, RULES.SLUG, RULES.PACKAGE
EMAIL, OWNER, ONE_LINE = RULES.EMAIL, RULES.OWNER, RULES.ONE_LINE
text_error = RULES.text_error

CHOICES = {
    "python_version": ("3.11", "3.12", "3.13"),
    "maturity_level": ("0", "1", "2"),
    "task": ("classification", "regression"),
    "license": ("MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"),
    "feature_store": ("none", "feast"),
}
TEXT = (
    "project_name",
    "project_slug",
    "package_name",
    "description",
    "author_name",
    "author_email",
    "github_owner",
)
JINJA = ("{{", "{%", "{#")


def field_error(field: str, value: Any) -> str:
    if field in TEXT:
        return text_error(field, value) if isinstance(value, str) else "must be text"
    if field in CHOICES and str(value) not in CHOICES[field]:
        return f"'{value}' is not one of {', '.join(CHOICES[field])}"
    return ""


def errors(answers: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, rule) for every answer that breaks a rule, in the questions' order."""
    found = [(field, field_error(field, answers[field])) for field in (*TEXT, *CHOICES)]
    return [(field, message) for field, message in found if message]


def message(field: str, rule: str) -> str:
    return f"Validation error for question '{field}': {rule}"


def rendered_as_template(
    typed: dict[str, Any], final: dict[str, Any], own: dict[str, Any]
) -> tuple[str, str] | None:
    """(field, rule) for an answer cookiecutter ran as a template: typed with Jinja delimiters,
    not the template's own default, and different once rendered. For the pre-gen hook, should
    the extension not have run (the code in it has run by then: the hook can only stop)."""
    for field in TEXT:
        value = typed.get(field)
        if (
            isinstance(value, str)
            and any(mark in value for mark in JINJA)
            and value != own.get(field)
            and final.get(field) != value
        ):
            rule = "cookiecutter ran it as a Jinja template (it holds {{, {% or {#)"
            return field, rule
    return None


# --- cookiecutter's side: answers kept as typed, checked before anything is made ----------------


def own() -> dict[str, Any]:
    """The template's cookiecutter.json, read when asked: cruft renders two commits of the
    template from one folder in one process, this module imported once."""
    return json.loads((ROOT / "cookiecutter.json").read_text("utf-8"))


def strings(value: Any) -> set[str]:
    """Every string in a cookiecutter.json value (choices are lists, prompts dicts)."""
    if isinstance(value, dict):
        return {text for key, item in value.items() for text in strings(key) | strings(item)}
    if isinstance(value, list):
        return {text for item in value for text in strings(item)}
    return {value} if isinstance(value, str) else set()


def prompting() -> FrameType | None:
    """cookiecutter's `prompt_for_config` if it is what renders now: the one place where it
    renders answers (file names and files render later, elsewhere)."""
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_name == "prompt_for_config" and frame.f_globals.get("__name__") == (
            "cookiecutter.prompt"
        ):
            return frame
        frame = frame.f_back
    return None


def literal(value: str) -> str:
    """A Jinja template whose output is `value`, whatever it holds (a quoted string literal,
    every character escaped that Jinja would read)."""
    escaped = value.encode("unicode_escape").decode("ascii").replace("'", "\\x27")
    return "{{ '" + escaped + "' }}"


class AnswerRefused(FailedHookException):
    """A hook failure to cookiecutter: its command line prints the message, one line, and
    exits 1 (another exception would end in a traceback)."""


class KeepAnswersAsTyped(Extension):
    """While cookiecutter prompts, a text it renders that is not the template's own (a default
    of cookiecutter.json) is an answer the user gave: it is checked, and rendered as typed.

    It also tells the pre-gen hook, through cookiecutter's Jinja, where this module is
    (`template_root`: cookiecutter's `_repo_dir` may be relative to a folder the hook does not
    run in) and whether the answers went through here (`answers_kept_as_typed`)."""

    # Whether the prompt of the current generation went through `preprocess`.
    seen_prompt = False

    def __init__(self, environment: Environment) -> None:
        super().__init__(environment)
        self.own: dict[str, Any] = {}
        if prompting() is not None:  # the prompt's own environment: a new generation
            KeepAnswersAsTyped.seen_prompt = False
            self.own = own()
        environment.globals["template_root"] = str(ROOT)
        environment.globals["answers_kept_as_typed"] = KeepAnswersAsTyped.seen_prompt

    def preprocess(self, source: str, name: str | None, filename: str | None = None) -> str:
        frame = prompting() if name is None else None
        if frame is None:
            return source
        KeepAnswersAsTyped.seen_prompt = True
        key = frame.f_locals.get("key")
        # Answers so far, given, typed or derived: refused before the project folder is made.
        for field, value in dict(frame.f_locals.get("cookiecutter_dict") or {}).items():
            rule = field_error(field, value)
            if rule:
                raise AnswerRefused(message(field, rule))
        if source in strings(self.own.get(key)):
            return source
        if key in TEXT:
            rule = text_error(key, source)
            if rule:
                raise AnswerRefused(message(key, rule))
        return literal(source)
