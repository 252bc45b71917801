"""Finish a cookiecutter render the way copier finishes its own (copier.yml says the same).

1. Drop the `.jinja` suffix of the templates (copier's `_templates_suffix`); remove copier's
   answers file, which cookiecutter copies as a bare `.jinja`.
2. Remove what the answers leave out: the blocks of copier.yml's `_exclude`, which
   cookiecutter.json carries as `_exclude_by_answers` (tests/engines.py writes it), rendered
   with the answers; each line is a path.
3. Remove the folders left empty, deepest first.
"""

import json
import os
import shutil
from pathlib import Path

from jinja2 import Environment

# The one line of Jinja in this hook: cookiecutter renders the answers in as JSON.
ANSWERS = json.loads(r"""{{ cookiecutter | tojson }}""")
SUFFIX = ".jinja"


def excluded(answers: dict) -> list[str]:
    environment = Environment(**answers.get("_jinja2_env_vars", {}))
    paths = []
    for rule in answers.get("_exclude_by_answers", []):
        rendered = environment.from_string(rule).render(cookiecutter=answers)
        # `/docs`: copier's anchor at the project's root, a path under it here.
        paths += [line.strip().lstrip("/") for line in rendered.splitlines() if line.strip()]
    return paths


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def drop_suffixes(root: Path) -> None:
    for path in sorted(root.rglob(f"*{SUFFIX}")):
        if path.name == SUFFIX:  # copier's answers file: cookiecutter has none
            path.unlink()
        else:
            path.rename(path.with_name(path.name.removesuffix(SUFFIX)))


def remove_empty_dirs(root: Path) -> None:
    for current, _dirs, _files in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        path = Path(current)
        if path != root and not any(path.iterdir()):
            path.rmdir()


if __name__ == "__main__":
    here = Path.cwd()
    drop_suffixes(here)
    for relative in excluded(ANSWERS):
        remove(here / relative)
    remove_empty_dirs(here)
    print(f"Your project is ready in {here.name}/. Next:\n")
    print(f"    cd {here.name}")
    print("    make setup   # locked environment, git repository, pre-commit hooks")
    print("    make all     # the full job on the bundled sample data")
    print("    make help    # every command")
