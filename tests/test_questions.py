"""copier.yml and cookiecutter.json ask the same questions: names, order, defaults, choices,
prompts, and the same derived values for the template files."""

from __future__ import annotations

import json
import keyword
import re
import sys

import pytest
import yaml
from cookiecutter.environment import StrictEnvironment
from jinja2.sandbox import SandboxedEnvironment
from rendering import ROOT

COPIER = yaml.safe_load((ROOT / "copier.yml").read_text())
COOKIECUTTER = json.loads((ROOT / "cookiecutter.json").read_text())
QUESTIONS = [
    "project_name",
    "project_slug",
    "package_name",
    "description",
    "author_name",
    "author_email",
    "github_owner",
    "python_version",
    "maturity_level",
    "task",
    "license",
    "feature_store",
]
CHOICES = {
    "python_version": ["3.11", "3.12", "3.13"],
    "maturity_level": ["0", "1", "2"],
    "task": ["classification", "regression"],
    "license": ["MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"],
    "feature_store": ["none", "feast"],
}
LEVEL_LABELS = {"0": "0 - manual", "1": "1 - pipeline automation", "2": "2 - CI/CD/CT"}
# Project name -> the slug its default derives (the package name is the slug with underscores).
DERIVED_SLUGS = {
    "Tabular Model": "tabular-model",
    "Prix Immobilier Édition 2 (beta)": "prix-immobilier-edition-2-beta",
    "Über Model": "uber-model",
    "Ça va -- ok!": "ca-va-ok",
    "  spaced  name  ": "spaced-name",
    "snake_case_name": "snake-case-name",
    "Straße Œuvre Æther": "strasse-oeuvre-aether",
    "Łódź Señor Ångström Øre Čeština": "lodz-senor-angstrom-ore-cestina",
    "2 Fast": "2-fast",  # still not a valid slug: the validators refuse it (test_validation.py)
    "!!!": "",
    # Hostile names (tests/test_answers.py renders such names with both engines).
    "Rocket 🚀 東京 Model": "rocket-model",
    'Ab """ C:\\Users\\': "ab-c-users",
    "Model {{ 7*7 }} {% if x %}": "model-7-7-if-x",
    "Cre\u0300me bru\u0302le\u0301e": "creme-brulee",  # decomposed accents (macOS)
    "שלום Model مرحبا": "model",
}


def copier_questions() -> dict:
    return {
        name: spec
        for name, spec in COPIER.items()
        if not name.startswith("_") and spec.get("when") is not False
    }


def cookiecutter_questions() -> dict:
    return {name: value for name, value in COOKIECUTTER.items() if not name.startswith("_")}


def copier_default(name: str) -> str:
    return str(copier_questions()[name]["default"])


def cookiecutter_default(name: str) -> str:
    value = cookiecutter_questions()[name]
    first = value[0] if isinstance(value, list) else value
    return first.replace("cookiecutter.", "")


def copier_choices(name: str) -> dict[str, str]:
    """Choice value -> label."""
    choices = copier_questions()[name]["choices"]
    if isinstance(choices, dict):
        return {str(value): label for label, value in choices.items()}
    return {str(value): str(value) for value in choices}


def test_both_engines_ask_the_same_questions_in_the_same_order() -> None:
    assert list(copier_questions()) == QUESTIONS
    assert list(cookiecutter_questions()) == QUESTIONS


@pytest.mark.parametrize("name", QUESTIONS)
def test_both_engines_have_the_same_default(name: str) -> None:
    assert copier_default(name) == cookiecutter_default(name)


def test_defaults_are_the_documented_ones() -> None:
    assert copier_default("python_version") == "3.11"
    assert copier_default("maturity_level") == "1"
    assert copier_default("task") == "classification"
    assert copier_default("license") == "MIT"
    assert copier_default("feature_store") == "none"


@pytest.mark.parametrize("name", CHOICES)
def test_both_engines_offer_the_same_choices(name: str) -> None:
    assert sorted(copier_choices(name)) == sorted(CHOICES[name])
    # cookiecutter offers its default first; the set of choices is what must agree.
    assert sorted(cookiecutter_questions()[name]) == sorted(CHOICES[name])


def test_levels_are_shown_with_their_labels_in_both_engines() -> None:
    assert copier_choices("maturity_level") == LEVEL_LABELS
    prompt = COOKIECUTTER["__prompts__"]["maturity_level"]
    assert {key: label for key, label in prompt.items() if key != "__prompt__"} == LEVEL_LABELS


@pytest.mark.parametrize("name", QUESTIONS)
def test_both_engines_prompt_with_the_same_words(name: str) -> None:
    prompt = COOKIECUTTER["__prompts__"][name]
    text = prompt["__prompt__"] if isinstance(prompt, dict) else prompt
    assert copier_questions()[name]["help"] == text


def test_derived_values_are_the_same_in_both_engines() -> None:
    # copier's computed `cookiecutter` map mirrors cookiecutter.json's `__` variables, so that
    # template files can say cookiecutter.__x under both engines.
    computed = COPIER["cookiecutter"]["default"]
    copier_keys = re.findall(r"^(\w+):", computed, flags=re.MULTILINE)
    derived = [name for name in COOKIECUTTER if name.startswith("__") and name != "__prompts__"]
    assert copier_keys == QUESTIONS + derived
    for name in ("__pipeline", "__cicd", "__classification", "__feast"):
        copier_expr = re.search(rf"^{name}: \"(.*)\"$", computed, flags=re.MULTILINE).group(1)
        assert copier_expr == COOKIECUTTER[name].replace("cookiecutter.", "")


def test_name_rules_know_every_keyword_and_standard_module() -> None:
    keywords = yaml.safe_load(COPIER["python_keywords"]["default"])
    modules = set(yaml.safe_load(COPIER["python_stdlib_modules"]["default"]))
    assert [str(word) for word in keywords] == keyword.kwlist
    public = {name for name in sys.stdlib_module_names if not name.startswith("_")}
    assert public <= modules


def copier_derive(name: str) -> tuple[str, str]:
    """(slug, package) from copier.yml's defaults, in copier's sandboxed Jinja with its options."""
    env = SandboxedEnvironment(**COPIER["_envops"])
    slug = env.from_string(COPIER["project_slug"]["default"]).render(project_name=name)
    package = env.from_string(COPIER["package_name"]["default"]).render(project_slug=slug)
    return slug, package


def cookiecutter_derive(name: str) -> tuple[str, str]:
    """(slug, package) from cookiecutter.json's defaults, in cookiecutter's own environment."""
    env = StrictEnvironment(context=COOKIECUTTER, **COOKIECUTTER["_jinja2_env_vars"])
    answers = {"project_name": name}
    for field in ("project_slug", "package_name"):
        answers[field] = env.from_string(COOKIECUTTER[field]).render(cookiecutter=answers)
    return answers["project_slug"], answers["package_name"]


@pytest.mark.parametrize(("name", "slug"), DERIVED_SLUGS.items())
def test_both_engines_derive_the_same_slug_and_package_from_a_name(name: str, slug: str) -> None:
    assert copier_derive(name) == (slug, slug.replace("-", "_"))
    assert cookiecutter_derive(name) == (slug, slug.replace("-", "_"))


def test_cookiecutter_json_is_generated_from_copier_yml() -> None:
    # The questions are written once (copier.yml): tests/engines.py writes cookiecutter.json,
    # and copier.yml's standard-library names, from it; an edit to either alone fails here.
    import engines

    assert engines.main(["--check"]) == 0, "run: uv run python tests/engines.py"


def test_a_project_pins_the_runtime_released_with_the_template() -> None:
    import tomllib

    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert COOKIECUTTER["__runtime_version"] == version
    assert f'__runtime_version: "{version}"' in COPIER["cookiecutter"]["default"]


def test_every_template_file_is_plain_unless_named_jinja() -> None:
    # Only `.jinja` files are templates: a `{{`/`{%` in any other file would reach the project
    # as it is (GitHub's `${{ }}` aside), and a `.jinja` file without any is a template for nothing.
    template = ROOT / "template"
    for path in sorted(template.rglob("*")):
        if not path.is_file() or path.suffix in {".csv", ".ipynb"}:
            continue
        text = path.read_text(encoding="utf-8")
        templated = re.search(r"(?<!\$)\{[{%]", text) is not None
        assert templated == path.name.endswith(".jinja"), path.relative_to(template)
