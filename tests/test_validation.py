"""Bad answers stop generation before anything is written, with one line that names the field
and the rule. Every rule, through both engines' command lines (tests/test_answers.py: hostile
values, and the two engines' rules compared on each)."""

from __future__ import annotations

from pathlib import Path

import pytest
from rendering import ENGINES, ROOT, engine_command, run

# (field, bad value, words of the rule that the message must contain)
RULES = [
    ("project_name", "   ", "must not be empty"),
    ("project_slug", "Bad Name", "must not contain spaces"),
    ("project_slug", "BadName", "must not contain capitals"),
    ("project_slug", "bad_name", "use lowercase letters, digits and single hyphens"),
    ("package_name", "bad name", "must not contain spaces"),
    ("package_name", "Bad_name", "must not contain capitals"),
    ("package_name", "9lives", "must be a Python identifier"),
    ("package_name", "_private", "starting with a letter"),
    ("package_name", "a" * 64, "at most 63 characters"),
    ("package_name", "class", "'class' is a Python keyword"),
    ("package_name", "json", "'json' is the name of a standard-library module"),
    ("package_name", "mlops_ladder", "'mlops_ladder' is the name of the runtime"),
    ("project_slug", "a" * 64, "at most 63 characters"),
    ("description", "d" * 513, "at most 512 characters (PyPI's limit for a summary)"),
    ("author_email", "not-an-email", "must be an email address: name@domain.tld"),
    ("github_owner", "-org-", "use letters, digits and single hyphens"),
]
# Unknown choices are refused by each engine's own choice check, in its own words.
CHOICE_WORDS = {"copier": "Invalid choice for '{field}'", "cookiecutter": "choice variable {field}"}
CHOICES = [
    ("maturity_level", "3"),
    ("task", "clustering"),
    ("python_version", "2.7"),
    ("feature_store", "hopsworks"),
]
# A question asked only from a level on is checked at that level.
ASKED_WITH = {"feature_store": {"maturity_level": "2"}}


def assert_refused(outcome, parent: Path, field: str, words: str) -> None:
    assert outcome.code != 0, outcome.tail()
    # cookiecutter prints on stdout what its extension refuses, on stderr what its hook does.
    output = outcome.stdout + outcome.stderr
    lines = [line for line in output.splitlines() if field in line and words in line]
    assert lines, f"no line names {field!r} and {words!r}:\n{outcome.tail()}"
    assert not any(parent.iterdir()), f"something was written: {list(parent.iterdir())}"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("field", "value", "words"), RULES)
def test_bad_answer_stops_generation(
    engine: str, field: str, value: str, words: str, tmp_path: Path, env: dict[str, str]
) -> None:
    # A blank name would also blank the derived slug, which cookiecutter needs first as the
    # folder name; give a valid slug so the name rule itself is what stops generation.
    answers = {field: value, **({"project_slug": "ok"} if field == "project_name" else {})}
    outcome = run(engine_command(engine, answers, tmp_path), ROOT, env, check=False)
    assert_refused(outcome, tmp_path, field, words)
    assert f"Validation error for question '{field}': " in outcome.stdout + outcome.stderr


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("field", "value"), CHOICES)
def test_unknown_choice_stops_generation(
    engine: str, field: str, value: str, tmp_path: Path, env: dict[str, str]
) -> None:
    answers = {field: value, **ASKED_WITH.get(field, {})}
    outcome = run(engine_command(engine, answers, tmp_path), ROOT, env, check=False)
    assert_refused(outcome, tmp_path, field, CHOICE_WORDS[engine].format(field=field))


@pytest.mark.parametrize("engine", ENGINES)
def test_a_name_that_cannot_make_a_slug_stops_generation(
    engine: str, tmp_path: Path, env: dict[str, str]
) -> None:
    # Given a name whose derived slug starts with a digit, and no slug of the user's own
    answers = {"project_name": "2 Fast Models"}
    outcome = run(engine_command(engine, answers, tmp_path), ROOT, env, check=False)
    # Then the derived slug meets the slug rule, in its usual words, and nothing is written
    assert_refused(outcome, tmp_path, "project_slug", "starting with a letter")
    assert "Validation error for question 'project_slug': " in outcome.stdout + outcome.stderr
