"""Adopting the ladder in an existing repository: the copier command that brings the next
level there, its answers read from the repository's files, and what the user moves by hand."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mlops_ladder import answers as rules
from mlops_ladder.checks import Findings, S, code, compiled, find, first_per_file, matching_lines
from mlops_ladder.scan import Repository, printable, read_inside, read_pyproject

PYTHON_VERSIONS = ("3.11", "3.12", "3.13")
# A Python version in a file: 3.N, N of 3 digits at most (int() of thousands of digits raises).
PYTHON_VERSION = r"(3\.[0-9]{1,3})(?![0-9])"
PYTHON_VERSION_FILES = (
    ("runtime.txt", r"python-" + PYTHON_VERSION),
    ("environment.yml", r"\bpython[ \t]*[=>]=?[ \t]*" + PYTHON_VERSION),
    ("setup.py", r"python_requires[ \t]*=[ \t]*['\"]>=[ \t]*" + PYTHON_VERSION),
    ("Dockerfile", r"^FROM[ \t]+\S*python:" + PYTHON_VERSION),
)
NAME_FILES = (
    ("setup.cfg", r"^name[ \t]*=[ \t]*(\S+)"),
    ("setup.py", r"name[ \t]*=[ \t]*['\"]([^'\"\n]+)['\"]"),
)
LEVEL_NAMES = {0: "manual", 1: "pipeline automation", 2: "CI/CD/CT"}
# `url = ...github.com:OWNER/` in .git/config; GitHub owners have 39 characters at most.
REMOTE = re.compile(r"^[ \t]*\w*url[ \t]*=[ \t]*\S*github\.com[:/]([^/ \t\n]{1,39})/")
MAX_ANSWER = 1_000  # characters of an answer read from a file: it goes into a shell command
MAX_GIT_CONFIG_BYTES = 1_000_000
# The owner's code in a generated project (src/<package>/), what the runtime calls in each
# (pyproject.toml [tool.mlops-ladder] names it), and what of a repository's code goes there.
# Everything else (training, tracking, the registry, serving, monitoring) is the runtime's.
OWNER_MODULES = {
    "model.py": ("ESTIMATORS", "estimators", "your estimator"),
    "features.py": ("DERIVED", "features", "derived features"),
    "ingest.py": ("ingest", "ingest", "reading your data"),
    "metrics.py": ("METRICS", "metrics", "metrics of your own"),
}
# What the runtime brings a project of level 1 or 2 (template/pyproject.toml.jinja's extras).
RUNTIME_EXTRAS = "pipeline,serving,monitoring"
RUNTIME_BRINGS = (
    "training, evaluation, the pipeline's stages, MLflow tracking and the model registry, "
    "serving and monitoring"
)


def _module_advice(module: str) -> str:
    attribute, hook, what = OWNER_MODULES[module]
    return (
        f"the runtime calls its {attribute} (pyproject.toml [tool.mlops-ladder] {hook}), and "
        "copier does not overwrite yours: rename yours (git mv), run the command again, then "
        f"move {what} into the template's {module}"
    )


# Files of a generated project that repositories often have already (a subset of what the
# template writes; tests/test_assess.py checks each is rendered at its level, and that every
# file of the owner's package is here). copier is told to skip every file that exists, so
# these are the ones to merge by hand.
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
        "pyproject.toml": "merge the template's into yours: the mlops-ladder dependency (the "
        "runtime), the [tool.mlops-ladder] table that wires your package into it, "
        "[project.scripts] and the tool settings (uv sync must install the package)",
        "schema.yaml": "the template's data contract describes the sample: describe your columns",
        "src/{package}/__init__.py": "yours is kept; the template's only documents the package",
        "src/{package}/__main__.py": "the template's hands `python -m {package}` to the "
        "runtime's command line (the Makefile runs it): rename yours (git mv) and run the "
        "command again",
        **{f"src/{{package}}/{module}": _module_advice(module) for module in OWNER_MODULES},
        "tests/test_data.py": "the template's specifies your data (the contract holds, no "
        "leakage) on the runtime's pytest fixtures: merge its tests into yours",
        "tests/test_features.py": "the template's tests your derived features: merge",
        "tests/test_model.py": "the template's specifies your model (beats the baselines on "
        "every slice, invariances, reproducibility): merge its tests into yours",
    },
    1: {
        "Dockerfile": "the template's builds the serving image",
        ".dockerignore": "merge the template's entries",
        "dvc.yaml": "merge the template's stages into your pipeline",
        ".dvc/config": "keep your remote; the template's sets a local one",
        ".dvcignore": "merge",
        ".github/workflows/ci.yml": "add the template's jobs (lint, test, pipeline, image) to it",
        ".github/dependabot.yml": "add the template's updates (uv, actions, docker) to yours",
        "tests/test_pipeline.py": "the template's runs the pipeline end to end: merge",
        "tests/test_serving.py": "the template's tests the served model: merge",
        "tests/test_monitoring.py": "the template's tests the monitoring job: merge",
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
    layout: str = ""  # what the command adds: where the owner's code goes, what is the runtime's
    by_hand: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict:
        return {
            "level": self.level,
            "answers": {k: {"value": a.value, "from": a.source} for k, a in self.answers.items()},
            "layout": self.layout,
            "by_hand": self.by_hand,
            "notes": self.notes,
        }


def _first_match(repo: Repository, path: str, pattern: str) -> tuple[re.Match[str], str] | None:
    """The first match of pattern in a line of the file at path, and where (path:line)."""
    f = repo.file(path)
    regex = compiled(pattern)
    for line in matching_lines(repo, f, regex) if f else ():
        match = regex.search(line.text)
        if match:
            return match, f"{path}:{line.number}"
    return None


def _line_of(repo: Repository, path: str, pattern: str) -> str:
    found = _first_match(repo, path, pattern)
    return found[1] if found else path


def _usable(value: object, field: str, what: str, notes: list[str]) -> str | None:
    """A value read from a file, stripped, if it can go into a command and a report as it is
    and copier accepts it as the answer `field` (the template's rules, mlops_ladder.answers);
    else None, and a note on `what` (say, "pyproject.toml's description") when it was text."""
    if not isinstance(value, str) or not value.strip():
        return None
    value = value.strip()
    rule = rules.text_error(field, value)
    if printable(value) != value or rule == rules.ONE_LINE:
        notes.append(f"{what} has control characters: not used")
    elif len(value) > MAX_ANSWER:
        notes.append(f"{what} is over {MAX_ANSWER} characters: not used")
    elif rule:
        notes.append(f"{what} breaks the template's rule for {field} ({rule}): not used")
    else:
        return value
    return None


def infer_answers(repo: Repository) -> tuple[dict[str, Answer], list[str]]:
    answers: dict[str, Answer] = {}
    notes: list[str] = []
    project = read_pyproject(repo).get("project", {})
    project = project if isinstance(project, dict) else {}
    name = _usable(project.get("name"), "project_name", "pyproject.toml's name", notes)
    source = None
    if name:
        source = _line_of(repo, "pyproject.toml", r"^name[ \t]*=")
    else:
        for path, pattern in NAME_FILES:
            found = _first_match(repo, path, pattern)
            name = _usable(found[0][1], "project_name", f"{path}'s name", notes) if found else None
            if name and found:
                source = found[1]
                break
    if not name:
        name = _usable(repo.root.name, "project_name", "the folder's name", notes)
        source = "the folder's name"
    if not name:
        name, source = "ml-project", "a default"
    assert source is not None  # each way to a name says where it was read
    answers["project_name"] = Answer(name, source)
    slug = rules.valid_slug(name)
    answers["project_slug"] = Answer(slug, f"from the project name ({source})")

    packages = sorted(
        {
            PurePosixPath(p).parts[-2]
            for p in repo.all_paths
            if re.fullmatch(r"(src/)?[^/]+/__init__\.py", p)
            and PurePosixPath(p).parts[-2] not in {"tests", "test", "notebooks", "scripts", "docs"}
        }
    )
    valid = [p for p in packages if not rules.package_name_error(p)]
    if valid:
        chosen = slug.replace("-", "_") if slug.replace("-", "_") in valid else valid[0]
        where = next(p for p in sorted(repo.all_paths) if p.endswith(f"{chosen}/__init__.py"))
        answers["package_name"] = Answer(chosen, f"{where}:1")
        if len(valid) > 1:
            notes.append(f"several packages ({', '.join(valid)}): took {chosen}")
    else:
        answers["package_name"] = Answer(rules.valid_package(slug), "from the project name")

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

    description = _usable(
        project.get("description"), "description", "pyproject.toml's description", notes
    )
    if description:
        answers["description"] = Answer(
            description, _line_of(repo, "pyproject.toml", r"^description[ \t]*=")
        )
    authors = project.get("authors")
    if isinstance(authors, list) and authors and isinstance(authors[0], dict):
        where = _line_of(repo, "pyproject.toml", r"^authors[ \t]*=")
        author = _usable(authors[0].get("name"), "author_name", "pyproject.toml's author", notes)
        if author:
            answers["author_name"] = Answer(author, where)
        email = _usable(
            authors[0].get("email"), "author_email", "pyproject.toml's author e-mail", notes
        )
        if email:
            answers["author_email"] = Answer(email, where)
    owner = _github_owner(repo)
    if owner:
        answers["github_owner"] = owner
    return answers, notes


def _python_version(repo: Repository, project: dict) -> tuple[str, str] | None:
    f = repo.file(".python-version")
    first = next(f.iter_lines(), None) if f else None
    if first:
        match = re.match(r"[ \t]*(?:python-?)?" + PYTHON_VERSION, first.text)
        if match:
            return match[1], f".python-version:{first.number}"
    requires = project.get("requires-python")
    if isinstance(requires, str):
        match = re.search(r"(?:>=|~=|==)[ \t]*" + PYTHON_VERSION, requires)
        if match:
            return match[1], _line_of(repo, "pyproject.toml", r"^requires-python")
    for path, pattern in PYTHON_VERSION_FILES:
        found = _first_match(repo, path, pattern)
        if found:
            return found[0][1], found[1]
    return None


def _github_owner(repo: Repository) -> Answer | None:
    """The owner in the git remote's URL: .git/config read only if it is a regular file inside
    the repository (no link followed, no FIFO waited on), and of a sane size."""
    text = read_inside(repo, ".git/config", MAX_GIT_CONFIG_BYTES)
    for number, line in enumerate((text or "").split("\n"), start=1):
        match = REMOTE.search(line)
        if match and not rules.text_error("github_owner", match[1]):
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
    if ".copier-answers.yml" in repo.all_paths:
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
        adoption.command = shlex.join([*parts, printable(destination)])
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
        parts += [printable(template), printable(destination)]
        adoption.command = shlex.join(parts)
    package = answers["package_name"].value
    adoption.layout = (
        f"It adds src/{package}/ for your own code ({', '.join(sorted(OWNER_MODULES))}), "
        f"wired by pyproject.toml's [tool.mlops-ladder] table to the mlops-ladder runtime "
        f"(mlops-ladder[{RUNTIME_EXTRAS}]), which brings {RUNTIME_BRINGS}."
    )
    adoption.by_hand = _by_hand(repo, findings, level, package)
    return adoption


def _by_hand(repo: Repository, findings: Findings, level: int, package: str) -> list[str]:
    steps = []
    for step in range(level + 1):
        for path, advice in TEMPLATE_FILES[step].items():
            path = path.format(package=package)
            if path in repo.all_paths:
                steps.append(f"{path} (yours, kept): {advice.format(package=package)}")
    notebooks = sorted(
        p for p in repo.all_paths if p.endswith(".ipynb") and not p.startswith("notebooks/")
    )
    if notebooks:
        steps.append(
            f"move your notebooks into notebooks/ (pre-commit strips their outputs): "
            f"{', '.join(notebooks[:5])}{' ...' if len(notebooks) > 5 else ''}"
        )
    owned = {f"src/{package}/{module}" for module in OWNER_MODULES}
    training = [
        e for e in findings.training if e.path not in owned and not e.path.startswith("tests/")
    ]
    if training:
        refs = ", ".join(e.ref for e in first_per_file(training)[:4])
        places = ", ".join(
            f"{what} into {module} ({attribute})"
            for module, (attribute, _, what) in OWNER_MODULES.items()
        )
        steps.append(
            f"move your training code ({refs}) into src/{package}/: {places}; training, "
            "tracking, the registry, serving and monitoring are the mlops-ladder runtime's: "
            "leave that code behind, `make all` runs them"
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
