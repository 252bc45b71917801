"""The project a command runs in: who it is, and the code of its owner that the runtime calls.

A generated project says who it is in its pyproject.toml:

    [project]
    name = "tabular-model"              # the experiment and registered model name

    [tool.mlops-ladder]
    package = "tabular_model"           # its package: <PACKAGE>_ prefixes its variables
    level = 2                           # its maturity level: 1 and up track and register
    features = "tabular_model.features:DERIVED"      # derived features (optional)
    estimators = "tabular_model.model:ESTIMATORS"    # estimators beside the built-in ones
    ingest = "tabular_model.ingest:ingest"           # how the data comes in (optional)
    metrics = "tabular_model.metrics:METRICS"        # extra metrics (optional)
    ejected = ["monitoring.drift"]      # runtime modules replaced by the project's copy

That table is the one mechanism that wires the owner's code in (docs/architecture.md). Commands
run from the project's root, where pyproject.toml is; the serving image carries the file too.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import os
import sys
import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlops_ladder.errors import ConfigError

TABLE = "mlops-ladder"
HOOKS = ("features", "estimators", "ingest", "metrics")
RUNTIME = "mlops_ladder"


@dataclass(frozen=True)
class Identity:
    """What pyproject.toml says of the project (defaults where a file says nothing)."""

    root: Path
    package: str = "model"
    distribution: str = "model"
    description: str = ""
    level: int = 0
    hooks: dict[str, str] = field(default_factory=dict)
    ejected: tuple[str, ...] = ()

    @property
    def env_prefix(self) -> str:
        """The prefix of the project's environment variables: `TABULAR_MODEL_DATA_DIR`, ..."""
        return f"{self.package.upper()}_"

    @property
    def tracked(self) -> bool:
        """Level 1 and up track runs in MLflow and register models."""
        return self.level >= 1

    def ejected_file(self, module: str) -> Path:
        """Where the project's copy of runtime module `module` (e.g. `monitoring.drift`) lives:
        `<package>/ejected/monitoring/drift.py`, in the source tree or where it is installed."""
        spec = importlib.util.find_spec(self.package)
        locations = list(spec.submodule_search_locations or []) if spec else []
        folder = Path(locations[0]) if locations else self.root / "src" / self.package
        return folder / "ejected" / Path(*module.split(".")).with_suffix(".py")


def read_identity(root: Path) -> Identity:
    """The identity in `root`/pyproject.toml, one clear error for each malformed entry."""
    path = root / "pyproject.toml"
    try:
        content = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path} not found: run the command from the project's root") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ConfigError(f"{path} is not valid TOML: {error}") from None
    project = content.get("project", {})
    table = content.get("tool", {}).get(TABLE)
    if not isinstance(table, dict):
        raise ConfigError(f"{path} has no [tool.{TABLE}] table: is this an mlops-ladder project?")
    unknown = sorted(set(table) - {"package", "level", "ejected", *HOOKS})
    if unknown:
        raise ConfigError(f"{path} [tool.{TABLE}]: unknown key {', '.join(unknown)}")
    package = table.get("package")
    if not isinstance(package, str) or not package.isidentifier():
        raise ConfigError(f"{path} [tool.{TABLE}] package: give the import name of the package")
    level = table.get("level", 0)
    if isinstance(level, bool) or level not in (0, 1, 2):  # true == 1 to Python, not to TOML
        raise ConfigError(f"{path} [tool.{TABLE}] level: 0, 1 or 2, not {level!r}")
    hooks = {name: table[name] for name in HOOKS if name in table}
    for name, reference in hooks.items():
        if not isinstance(reference, str) or reference.count(":") != 1:
            raise ConfigError(f"{path} [tool.{TABLE}] {name}: write it as 'module:attribute'")
    ejected = table.get("ejected", [])
    if not isinstance(ejected, list) or not all(isinstance(name, str) for name in ejected):
        raise ConfigError(f"{path} [tool.{TABLE}] ejected: a list of module names")
    return Identity(
        root=root,
        package=package,
        distribution=str(project.get("name", package.replace("_", "-"))),
        description=str(project.get("description", "")),
        level=level,
        hooks=hooks,
        ejected=tuple(ejected),
    )


_active: Identity | None = None


def current() -> Identity:
    """The project of this process: the one activated, else the one in the working folder."""
    global _active
    if _active is None:
        _active = read_identity(Path(os.environ.get("MLOPS_LADDER_PROJECT", ".")).resolve())
        install_ejected(_active)
    return _active


def activate(identity: Identity) -> None:
    """Make `identity` this process's project (tests, and commands given a package)."""
    global _active
    _active = identity
    install_ejected(identity)


@contextmanager
def using(root: Path) -> Iterator[Identity]:
    """The project at `root` for the duration (the runtime's own tests run many projects)."""
    global _active
    before = _active
    identity = read_identity(root)
    activate(identity)
    try:
        yield identity
    finally:
        _active = before


def resolve(reference: str) -> Any:
    """The object a 'module:attribute' reference names, one clear error when it cannot."""
    module_name, _, attribute = reference.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        raise ConfigError(f"pyproject.toml [tool.{TABLE}]: cannot import {error.name}") from None
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigError(
            f"pyproject.toml [tool.{TABLE}]: {module_name} has no {attribute}"
        ) from None


def hook(name: str, default: Any = None) -> Any:
    """The owner's object for hook `name` (features, estimators, ingest, metrics), else
    `default`."""
    reference = current().hooks.get(name)
    return default if reference is None else resolve(reference)


class _EjectedFinder(importlib.abc.MetaPathFinder):
    """Loads the project's copy of an ejected runtime module under the runtime's name, so that
    every import of it, and every model pickled with its classes, gets the copy."""

    def __init__(self, files: dict[str, Path]) -> None:
        self.files = files

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        file = self.files.get(fullname)
        if file is None:
            return None
        return importlib.util.spec_from_file_location(fullname, file)


def install_ejected(identity: Identity) -> None:
    """Put the project's ejected modules ahead of the runtime's (once per process)."""
    for finder in [f for f in sys.meta_path if isinstance(f, _EjectedFinder)]:
        sys.meta_path.remove(finder)
    files = {}
    for module in identity.ejected:
        file = identity.ejected_file(module)
        if not file.is_file():
            raise ConfigError(
                f"pyproject.toml [tool.{TABLE}] ejected names {module}, but {file} is missing"
            )
        files[f"{RUNTIME}.{module}"] = file
    if files:
        sys.meta_path.insert(0, _EjectedFinder(files))
