"""Ejecting: a project takes one runtime module as its own.

`python -m <package> eject monitoring.drift` copies the runtime's monitoring/drift.py to
`src/<package>/ejected/monitoring/drift.py` and lists it in pyproject.toml
`[tool.mlops-ladder] ejected`. From then on every command, test and serving worker of the project
imports that copy under the runtime's name (project.py), so the owner can change what the
runtime's settings cannot. The price: a runtime upgrade no longer changes that module; diff the
copy against the new runtime's (`eject --list` names them) when upgrading.
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from pathlib import Path

from mlops_ladder import project
from mlops_ladder.errors import ConfigError

# Modules a project may not eject: the wiring itself, the template's own command, and what is
# imported before the project is read (by the command line, or pytest's plugin): a copy of those
# would never be loaded.
KEPT = {"project", "eject", "errors", "cli", "__main__", "__init__"}
KEPT |= {"commands", "config", "schema", "testing"}  # loaded before the project is known
ASSESS = {"adopt", "checks", "report", "scan"}


def modules() -> list[str]:
    """Every runtime module a project may eject, as dotted names below mlops_ladder."""
    root = resources.files(project.RUNTIME)
    found = []
    for path in sorted(Path(str(root)).rglob("*.py")):
        relative = path.relative_to(Path(str(root))).with_suffix("")
        parts = relative.parts
        if parts[-1] == "__init__" or parts[0] in KEPT | ASSESS or parts[0].startswith("_"):
            continue
        found.append(".".join(parts))
    return found


def eject(identity: project.Identity, module: str) -> Path:
    """Copy `module` into the project and list it in pyproject.toml; the copy's path."""
    if module not in modules():
        raise ConfigError(
            f"'{module}' is not a runtime module a project can eject "
            "(`python -m <package> eject --list` names them)"
        )
    if module in identity.ejected:
        raise ConfigError(f"{module} is ejected already: {identity.ejected_file(module)}")
    source = (
        Path(str(resources.files(project.RUNTIME))).joinpath(*module.split(".")).with_suffix(".py")
    )
    target = identity.root / "src" / identity.package / "ejected" / Path(*module.split("."))
    target = target.with_suffix(".py")
    if target.exists():
        raise ConfigError(f"{target} exists: move it away first (nothing was changed)")
    pyproject = identity.root / "pyproject.toml"
    updated = with_ejected(pyproject.read_text(encoding="utf-8"), [*identity.ejected, module])
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    pyproject.write_text(updated, encoding="utf-8")
    return target


def with_ejected(text: str, ejected: list[str]) -> str:
    """pyproject.toml's text with `ejected = [...]` in the [tool.mlops-ladder] table (comments
    and everything else kept as they are)."""
    entry = "ejected = [" + ", ".join(f'"{name}"' for name in ejected) + "]"
    table = re.search(r"^\[tool\.mlops-ladder\][ \t]*$", text, flags=re.MULTILINE)
    if table is None:
        raise ConfigError("pyproject.toml has no [tool.mlops-ladder] table")
    following = re.search(r"^\[", text[table.end() :], flags=re.MULTILINE)
    end = table.end() + following.start() if following else len(text)
    body = text[table.end() : end]
    existing = re.search(r"^ejected[ \t]*=.*$", body, flags=re.MULTILINE)
    if existing:
        body = body[: existing.start()] + entry + body[existing.end() :]
    else:
        body = body.rstrip("\n") + "\n" + entry + "\n" + ("\n" if following else "")
    return text[: table.end()] + body + text[end:]
