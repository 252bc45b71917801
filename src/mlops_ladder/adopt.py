"""Adopting the ladder in an existing repository: the copier command that brings the next
level there, its answers read from the repository's files, and what the user moves by hand."""

from __future__ import annotations

import keyword
import re
import shlex
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mlops_ladder.checks import Findings, S, code, find, first_per_file
from mlops_ladder.scan import Repository

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
LEVEL_NAMES = {0: "manual", 1: "pipeline automation", 2: "CI/CD/CT"}
SLUG = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")
PACKAGE = re.compile(r"^[a-z_][a-z0-9_]*$")
EMAIL = re.compile(r"^[^@ ]+@[^@ ]+[.][A-Za-z]{2,}$")
OWNER = re.compile(r"^[A-Za-z0-9](-?[A-Za-z0-9])*$")
# Files of a generated project that repositories often have already (a subset of what the
# template writes; tests/test_assess.py checks each is still rendered at its level). copier is
# told to skip every file that exists, so these are the ones to merge by hand.
MODULE_ADVICE = (
    "the template's module of that name is not written, and the generated package needs it: "
    "rename yours (git mv), run the command again, then move your code into the template's"
)
TEMPLATE_FILES = {
    0: {
        ".gitignore": "add the template's ignores (data/, models/, reports/, mlruns) to yours",
        ".pre-commit-config.yaml": "merge the template's hooks (ruff, notebook output stripping)",
        ".python-version": "keep one Python version for uv",
        "LICENSE": "the license you chose stays",
        "Makefile": "add the template's targets (setup, all, test, lint) to yours, or rename "
        "yours and keep the template's",
        "README.md": "add the template's sections on the commands by hand",
        "params.yaml": "merge the template's sections (ingest, split, train, ...) with yours",
        "pyproject.toml": "merge the template's dependencies, [project.scripts] and tool settings "
        "into yours (uv sync must install the generated package)",
        "schema.yaml": "the template's data contract describes the sample: describe your columns",
        "tests/conftest.py": "merge the template's fixtures with yours",
        **{
            f"src/{{package}}/{module}": MODULE_ADVICE
            for module in (
                "__main__.py",
                "cli.py",
                "config.py",
                "data.py",
                "evaluate.py",
                "features.py",
                "model.py",
                "predict.py",
                "train.py",
            )
        },
    },
    1: {
        "Dockerfile": "the template's builds the serving image",
        ".dockerignore": "merge the template's entries",
        "dvc.yaml": "merge the template's stages into your pipeline",
        ".dvc/config": "keep your remote; the template's sets a local one",
        ".dvcignore": "merge",
        ".github/workflows/ci.yml": "add the template's jobs (lint, test, pipeline, image) to it",
        **{f"src/{{package}}/{module}": MODULE_ADVICE for module in ("registry.py", "tracking.py")},
    },
    2: {
        ".github/workflows/cd.yml": "compare with the template's staged deploy",
        ".github/workflows/ct.yml": "compare with the template's retraining",
    },
}
DATA_SUFFIXES = {".csv", ".parquet", ".tsv", ".feather", ".xlsx"}
CLASSIFICATION = [
    S(
        "classification",
        r"\b\w+Classifier\b|LogisticRegression|roc_auc|accuracy_score|f1_score|"
        r"predict_proba|classification_report|log_loss|confusion_matrix",
        code,
    ),
]
REGRESSION = [
    S(
        "regression",
        r"\b\w+Regressor\b|LinearRegression|\bRidge\(|\bLasso\(|ElasticNet|"
        r"mean_squared_error|mean_absolute_error|r2_score|root_mean_squared",
        code,
    ),
]


@dataclass
class Answer:
    value: str
    source: str  # where it was read (path:line), or how it was derived


@dataclass
class Adoption:
    level: int | None  # the level to adopt; None at the top
    answers: dict[str, Answer] = field(default_factory=dict)
    command: str | None = None
    by_hand: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "level": self.level,
            "answers": {k: {"value": a.value, "from": a.source} for k, a in self.answers.items()},
            "by_hand": self.by_hand,
            "notes": self.notes,
        }


def _line_of(repo: Repository, path: str, pattern: str) -> str:
    f = repo.file(path)
    if f:
        for line in f.lines:
            if re.search(pattern, line.text):
                return f"{path}:{line.number}"
    return path


def _pyproject(repo: Repository) -> dict:
    f = repo.file("pyproject.toml")
    if not f:
        return {}
    try:
        return tomllib.loads((repo.root / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")
    slug = re.sub(r"-+", "-", slug)
    if slug and not slug[0].isalpha():
        slug = f"project-{slug}"
    return slug or "ml-project"


def valid_package(name: str) -> bool:
    return (
        bool(PACKAGE.match(name))
        and not keyword.iskeyword(name)
        and name not in sys.stdlib_module_names
    )


def infer_answers(repo: Repository) -> tuple[dict[str, Answer], list[str]]:
    answers: dict[str, Answer] = {}
    notes: list[str] = []
    project = _pyproject(repo).get("project", {})
    name, source = None, None
    if isinstance(project.get("name"), str) and project["name"].strip():
        name, source = project["name"].strip(), _line_of(repo, "pyproject.toml", r"^name\s*=")
    else:
        for path, pattern in (
            ("setup.cfg", r"^name\s*=\s*(\S+)"),
            ("setup.py", r"name\s*=\s*['\"]([^'\"]+)['\"]"),
        ):
            f = repo.file(path)
            for line in f.lines if f else []:
                match = re.search(pattern, line.text)
                if match:
                    name, source = match[1], f"{path}:{line.number}"
                    break
            if name:
                break
    if not name:
        name, source = repo.root.name, "the folder's name"
    answers["project_name"] = Answer(name, source)
    slug = slugify(name)
    answers["project_slug"] = Answer(slug, f"from the project name ({source})")

    packages = sorted(
        {
            PurePosixPath(p).parts[-2]
            for p in repo.all_paths
            if re.fullmatch(r"(src/)?[^/]+/__init__\.py", p)
            and PurePosixPath(p).parts[-2] not in {"tests", "test", "notebooks", "scripts", "docs"}
        }
    )
    valid = [p for p in packages if valid_package(p)]
    if valid:
        chosen = slug.replace("-", "_") if slug.replace("-", "_") in valid else valid[0]
        where = next(p for p in sorted(repo.all_paths) if p.endswith(f"{chosen}/__init__.py"))
        answers["package_name"] = Answer(chosen, f"{where}:1")
        if len(valid) > 1:
            notes.append(f"several packages ({', '.join(valid)}): took {chosen}")
    else:
        package = slug.replace("-", "_")
        if not valid_package(package):
            package = f"{package}_model"
        answers["package_name"] = Answer(package, "from the project name")

    python = _python_version(repo, project)
    if python:
        version, where = python
        if version in PYTHON_VERSIONS:
            answers["python_version"] = Answer(version, where)
        else:
            low = tuple(int(x) for x in version.split(".")) < (3, 11)
            chosen = PYTHON_VERSIONS[0] if low else PYTHON_VERSIONS[-1]
            answers["python_version"] = Answer(
                chosen, f"{where} says {version}; the template has {', '.join(PYTHON_VERSIONS)}"
            )
            notes.append(
                f"Python {version} ({where}) is not one of the template's versions: "
                f"the command asks for {chosen}"
            )
    else:
        notes.append("no Python version in the files: the template's default (3.11) is used")

    classification = first_per_file(find(repo, CLASSIFICATION))
    regression = first_per_file(find(repo, REGRESSION))
    if classification and len(classification) >= 2 * len(regression):
        answers["task"] = Answer("classification", classification[0].ref)
    elif regression and len(regression) >= 2 * len(classification):
        answers["task"] = Answer("regression", regression[0].ref)
    elif classification or regression:
        notes.append(
            f"both classification ({classification[0].ref}) and regression "
            f"({regression[0].ref}) code: the command does not set the task"
        )
    else:
        notes.append("no model code that tells the task: copier's default (classification)")

    if isinstance(project.get("description"), str) and project["description"].strip():
        answers["description"] = Answer(
            project["description"].strip(), _line_of(repo, "pyproject.toml", r"^description\s*=")
        )
    authors = project.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        where = _line_of(repo, "pyproject.toml", r"^authors\s*=")
        if isinstance(authors[0].get("name"), str):
            answers["author_name"] = Answer(authors[0]["name"], where)
        if isinstance(authors[0].get("email"), str) and EMAIL.match(authors[0]["email"]):
            answers["author_email"] = Answer(authors[0]["email"], where)
    owner = _github_owner(repo)
    if owner:
        answers["github_owner"] = owner
    return answers, notes


def _python_version(repo: Repository, project: dict) -> tuple[str, str] | None:
    f = repo.file(".python-version")
    if f and f.lines:
        match = re.match(r"\s*(?:python-?)?(3\.\d+)", f.lines[0].text)
        if match:
            return match[1], f".python-version:{f.lines[0].number}"
    requires = project.get("requires-python")
    if isinstance(requires, str):
        match = re.search(r"(?:>=|~=|==)\s*(3\.\d+)", requires)
        if match:
            return match[1], _line_of(repo, "pyproject.toml", r"^requires-python")
    candidates = [
        ("runtime.txt", r"python-(3\.\d+)"),
        ("environment.yml", r"\bpython\s*[=>]=?\s*(3\.\d+)"),
        ("setup.py", r"python_requires\s*=\s*['\"]>=\s*(3\.\d+)"),
        ("Dockerfile", r"^FROM\s+\S*python:(3\.\d+)"),
    ]
    for path, pattern in candidates:
        f = repo.file(path)
        for line in f.lines if f else []:
            match = re.search(pattern, line.text)
            if match:
                return match[1], f"{path}:{line.number}"
    return None


def _github_owner(repo: Repository) -> Answer | None:
    config = repo.root / ".git" / "config"
    try:
        text = config.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for number, line in enumerate(text.splitlines(), start=1):
        match = re.search(r"url\s*=\s*\S*github\.com[:/]([^/\s]+)/", line)
        if match and OWNER.match(match[1]) and len(match[1]) <= 39:
            return Answer(match[1], f".git/config:{number}")
    return None


def plan(
    repo: Repository,
    findings: Findings,
    template: str | None,
    destination: str,
    vcs_ref: str | None = None,
) -> Adoption:
    if findings.level >= 2:
        return Adoption(None, notes=["at the top of the ladder: nothing to adopt"])
    level = findings.level + 1
    answers, notes = infer_answers(repo)
    adoption = Adoption(level, answers, notes=notes)
    if (repo.root / ".copier-answers.yml").is_file():
        # Generated by this template: copier update climbs it with its own recorded answers.
        adoption.answers = {}
        adoption.notes.append(
            "generated by copier (.copier-answers.yml): `copier update` climbs "
            "it with the answers it recorded, merging your changes "
            "(docs/upgrading.md)"
        )
        parts = ["copier", "update", "--defaults"]
        parts += ["--vcs-ref", vcs_ref] if vcs_ref else []
        parts += ["--data", f"maturity_level={level}"]
        adoption.command = shlex.join([*parts, destination])
        adoption.by_hand = [
            "resolve any conflict copier reports (`git status`), then "
            "`make setup && make all && make test`, and commit"
        ]
        return adoption
    if template is None:
        adoption.notes.append(
            "the template was not found: pass --template PATH-OR-GIT-URL to get the command"
        )
    else:
        parts = ["copier", "copy", "--defaults", "--skip", "*"]
        if vcs_ref:
            parts += ["--vcs-ref", vcs_ref]
        parts += ["--data", f"maturity_level={level}"]
        for key, answer in answers.items():
            parts += ["--data", f"{key}={answer.value}"]
        parts += [template, destination]
        adoption.command = shlex.join(parts)
    adoption.by_hand = _by_hand(repo, findings, level, answers["package_name"].value)
    return adoption


def _by_hand(repo: Repository, findings: Findings, level: int, package: str) -> list[str]:
    steps = []
    for step in range(level + 1):
        for path, advice in TEMPLATE_FILES[step].items():
            path = path.format(package=package)
            if path in repo.all_paths:
                steps.append(f"{path} (yours, kept): {advice}")
    notebooks = sorted(
        p for p in repo.all_paths if p.endswith(".ipynb") and not p.startswith("notebooks/")
    )
    if notebooks:
        steps.append(
            f"move your notebooks into notebooks/ (pre-commit strips their outputs): "
            f"{', '.join(notebooks[:5])}{' ...' if len(notebooks) > 5 else ''}"
        )
    training = [e for e in findings.training if not e.path.startswith(("src/", "tests/"))]
    if training:
        refs = ", ".join(e.ref for e in first_per_file(training)[:4])
        steps.append(
            f"move your training code ({refs}) into src/{package}/: the estimator into "
            f"model.py, feature code into features.py; then `make all` runs it"
        )
    data = sorted(p for p in repo.all_paths if PurePosixPath(p).suffix.lower() in DATA_SUFFIXES)
    if data:
        steps.append(
            f"point params.yaml `ingest.source` at your data ({data[0]}) and describe its "
            "columns and target in schema.yaml"
        )
    requirements = sorted(
        p
        for p in repo.all_paths
        if re.fullmatch(r"requirements[\w.-]*\.txt", PurePosixPath(p).name)
    )
    if requirements:
        steps.append(f"add your dependencies to pyproject.toml: `uv add -r {requirements[0]}`")
    ci = sorted(
        p
        for p in repo.all_paths
        if p.startswith(".github/workflows/")
        and p not in TEMPLATE_FILES[1]
        and p not in TEMPLATE_FILES[2]
    )
    if ci and level >= 1:
        steps.append(f"your own workflows keep running beside the template's: {', '.join(ci[:4])}")
    steps.append("then: `make setup && make all && make test` in the repository, and commit")
    return steps


def template_source(explicit: str | None) -> str | None:
    """Where the template is: --template, $MLOPS_LADDER_TEMPLATE, the checkout this package runs
    from (uv run in the template's repository), or the folder it was built from (uvx --from)."""
    import os

    if explicit:
        return explicit
    if os.environ.get("MLOPS_LADDER_TEMPLATE"):
        return os.environ["MLOPS_LADDER_TEMPLATE"]
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "copier.yml").is_file() and (checkout / "template").is_dir():
        return str(checkout)
    try:
        from mlops_ladder._built_from import SOURCE  # written by hatch_build.py into wheels
    except ImportError:
        return None
    built = Path(SOURCE)
    return SOURCE if (built / "copier.yml").is_file() else None
