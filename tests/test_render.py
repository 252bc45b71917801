"""Rendering: both engines give the same tree for every level and task, with exactly the
expected files, no leftover Jinja, parseable config files and lint-clean code."""

from __future__ import annotations

import ast
import json
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from expected import COPIER_ONLY, PROVIDED, expected_files
from rendering import BIN, DEFAULT_PACKAGE, ENGINES, LEVELS, ROOT, TASKS, Renderer, run

MATRIX = [(level, task) for level in LEVELS for task in TASKS]
IDS = [f"L{level}-{task}" for level, task in MATRIX]
# `{{`, `{%` or `{#` that Jinja should have consumed; GitHub's `${{ }}` and shell's `${#x}` are
# meant to be there.
LEFTOVER = re.compile(r"(?<!\$)\{[{%#]")


def files_of(project: Path) -> dict[str, Path]:
    """What the engine wrote (not the runtime's wheel the tests provide)."""
    return {
        path.relative_to(project).as_posix(): path
        for path in sorted(project.rglob("*"))
        if path.is_file() and not path.relative_to(project).as_posix().startswith(PROVIDED)
    }


def folders_of(project: Path) -> set[str]:
    """Every folder under the project, empty ones included (git keeps none of those, but DVC
    takes a stray `.dvc/` for a DVC repository)."""
    return {path.relative_to(project).as_posix() for path in project.rglob("*") if path.is_dir()}


def render(renderer: Renderer, engine: str, level: int, task: str) -> Path:
    return renderer.get(engine, maturity_level=str(level), task=task)


@pytest.mark.parametrize(("level", "task"), MATRIX, ids=IDS)
def test_both_engines_render_the_same_tree_byte_for_byte(
    renderer: Renderer, level: int, task: str
) -> None:
    copier_project = render(renderer, "copier", level, task)
    cookiecutter_project = render(renderer, "cookiecutter", level, task)
    assert folders_of(copier_project) == folders_of(cookiecutter_project)
    copier = files_of(copier_project)
    cookiecutter = files_of(cookiecutter_project)
    assert set(copier) - COPIER_ONLY == set(cookiecutter)
    for name, path in cookiecutter.items():
        assert copier[name].read_bytes() == path.read_bytes(), f"{name} differs"
        assert copier[name].stat().st_mode == path.stat().st_mode, f"{name} mode differs"


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("level", "task"), MATRIX, ids=IDS)
def test_exactly_the_expected_files(renderer: Renderer, engine: str, level: int, task: str) -> None:
    rendered = set(files_of(render(renderer, engine, level, task)))
    expected = expected_files(level, DEFAULT_PACKAGE, engine, task)
    assert rendered == expected, {
        "unexpected": sorted(rendered - expected),
        "missing": sorted(expected - rendered),
    }


@pytest.mark.parametrize("task", TASKS)
def test_a_feature_store_project_is_the_same_in_both_engines_with_its_files(
    renderer: Renderer, task: str
) -> None:
    answers = {"maturity_level": "2", "task": task, "feature_store": "feast"}
    copier = files_of(renderer.get("copier", **answers))
    cookiecutter = files_of(renderer.get("cookiecutter", **answers))
    assert set(copier) == expected_files(2, DEFAULT_PACKAGE, "copier", task, "feast")
    assert set(cookiecutter) == expected_files(2, DEFAULT_PACKAGE, "cookiecutter", task, "feast")
    for name, path in cookiecutter.items():
        assert copier[name].read_bytes() == path.read_bytes(), f"{name} differs"
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            assert not LEFTOVER.search(line), f"{name}:{number}: {line.strip()}"


@pytest.mark.parametrize("engine", ENGINES)
def test_a_feature_store_below_level_2_changes_nothing(renderer: Renderer, engine: str) -> None:
    plain = files_of(renderer.get(engine, maturity_level="1"))
    asked = files_of(renderer.get(engine, maturity_level="1", feature_store="feast"))
    assert set(plain) == set(asked)
    for name, path in plain.items():
        if name != ".copier-answers.yml":
            assert asked[name].read_bytes() == path.read_bytes(), name


@pytest.mark.parametrize(("level", "task"), MATRIX, ids=IDS)
def test_no_jinja_is_left_over(renderer: Renderer, level: int, task: str) -> None:
    for name, path in files_of(render(renderer, "copier", level, task)).items():
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            assert not LEFTOVER.search(line), f"{name}:{number}: {line.strip()}"


@pytest.mark.parametrize(("level", "task"), MATRIX, ids=IDS)
def test_every_config_file_parses(renderer: Renderer, level: int, task: str) -> None:
    parsers = {
        ".yml": yaml.safe_load,
        ".yaml": yaml.safe_load,
        ".toml": tomllib.loads,
        ".json": json.loads,
        ".ipynb": json.loads,
    }
    checked = 0
    for name, path in files_of(render(renderer, "copier", level, task)).items():
        parse = parsers.get(path.suffix)
        if parse:
            try:
                parse(path.read_text())
            except Exception as error:  # any parser's error: name the file
                pytest.fail(f"{name} does not parse: {error}")
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize(("level", "task"), MATRIX, ids=IDS)
def test_rendered_code_passes_its_own_ruff_rules(
    renderer: Renderer, env: dict[str, str], level: int, task: str
) -> None:
    project = render(renderer, "copier", level, task)
    run([BIN / "ruff", "check", "--no-cache", "."], project, env)
    run([BIN / "ruff", "format", "--check", "--no-cache", "."], project, env)


def test_copier_records_the_answers_for_later_updates(renderer: Renderer) -> None:
    answers = yaml.safe_load(
        (render(renderer, "copier", 0, "regression") / ".copier-answers.yml").read_text()
    )
    assert answers["_src_path"]
    assert answers["_commit"]
    assert answers["maturity_level"] == 0
    assert answers["task"] == "regression"
    # Computed values are not answers: they must not be stored.
    assert "cookiecutter" not in answers
    assert "python_stdlib_modules" not in answers


@pytest.mark.parametrize("engine", ENGINES)
def test_custom_names_flow_everywhere(renderer: Renderer, env: dict[str, str], engine: str) -> None:
    # Given a name of the user's own, whose slug and package are derived from it
    project = renderer.get(engine, project_name="Fraud Scoring Service", maturity_level="0")
    # Then the folder, package and distribution follow it, and the code still lints clean
    assert project.name in {"fraud-scoring-service", "project"}
    assert (project / "src" / "fraud_scoring_service" / "__main__.py").is_file()
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == "fraud-scoring-service"
    scripts = {"fraud-scoring-service": "mlops_ladder.commands:main"}
    assert pyproject["project"]["scripts"] == scripts
    assert pyproject["tool"]["mlops-ladder"]["package"] == "fraud_scoring_service"
    run([BIN / "ruff", "check", "--no-cache", "."], project, env)
    run([BIN / "ruff", "format", "--check", "--no-cache", "."], project, env)


NAMES = {
    "Prix Immobilier Édition 2 (beta)": "prix-immobilier-edition-2-beta",
    "Über Model": "uber-model",
    "Ça va -- ok!": "ca-va-ok",
    "  spaced  name  ": "spaced-name",
}


def first_party_imports(project: Path, known: set[str]) -> set[str]:
    """Top-level names that the project's code imports, among `known` ones and its own folders."""
    local = known | {path.name for path in (project / "src").iterdir()}
    found = set()
    for path in [*project.glob("src/**/*.py"), *project.glob("tests/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            found |= {name.split(".")[0] for name in names} & local
    return found


def wired_packages(pyproject: dict) -> set[str]:
    """The packages the project's hooks ([tool.mlops-ladder]) name."""
    table = pyproject["tool"]["mlops-ladder"]
    hooks = ("features", "estimators", "ingest", "metrics")
    return {table[hook].split(".")[0] for hook in hooks if hook in table}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", NAMES, ids=NAMES.values())
def test_accents_and_punctuation_give_a_valid_slug_and_package(
    renderer: Renderer, env: dict[str, str], engine: str, name: str
) -> None:
    # Given a name with accents, punctuation and extra spaces, and no slug or package of its own
    slug = NAMES[name]
    package = slug.replace("-", "_")
    project = renderer.get(engine, project_name=name, maturity_level="0")
    # Then the derived slug names the folder (cookiecutter) and is the answer copier records
    if engine == "cookiecutter":
        assert project.name == slug
    else:
        answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
        assert (answers["project_slug"], answers["package_name"]) == (slug, package)
    # And the distribution, its command and the package folder follow it
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    assert pyproject["project"]["name"] == slug
    assert pyproject["project"]["scripts"] == {slug: "mlops_ladder.commands:main"}
    assert pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [f"src/{package}"]
    assert [path.name for path in (project / "src").iterdir()] == [package]
    # And the runtime runs that package's code, and no other name for it is imported
    assert pyproject["tool"]["mlops-ladder"]["package"] == package
    assert wired_packages(pyproject) == {package}
    assert first_party_imports(project, {DEFAULT_PACKAGE}) <= {package}
    imported = run(
        [BIN / "python", "-c", f"import {package}; print({package}.__name__)"],
        project,
        {**env, "PYTHONPATH": str(project / "src"), "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert imported.stdout.strip() == package
    # And the name itself is kept as written (but for spaces at either end), for people to read
    assert (project / "README.md").read_text().splitlines()[0] == f"# {name.strip()}"
    run([BIN / "ruff", "check", "--no-cache", "."], project, env)
    run([BIN / "ruff", "format", "--check", "--no-cache", "."], project, env)


@pytest.mark.parametrize("license_id", ["MIT", "Apache-2.0", "BSD-3-Clause", "Proprietary"])
def test_license_file_matches_the_choice(renderer: Renderer, license_id: str) -> None:
    project = renderer.get("cookiecutter", license=license_id, maturity_level="0")
    text = (project / "LICENSE").read_text()
    first_words = {
        "MIT": "MIT License",
        "Apache-2.0": "Apache License",
        "BSD-3-Clause": "BSD 3-Clause License",
        "Proprietary": "All rights reserved",
    }
    assert first_words[license_id] in text
    assert "ML Engineer" in text or license_id == "Apache-2.0"
    assert tomllib.loads((project / "pyproject.toml").read_text())["project"]["license"] in {
        license_id,
        "LicenseRef-Proprietary",
    }


def test_the_template_folder_is_the_cookiecutter_folder() -> None:
    alias = ROOT / "{{cookiecutter.project_slug}}"
    assert alias.is_symlink()
    assert alias.resolve() == (ROOT / "template").resolve()
