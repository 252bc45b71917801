"""Finish a cookiecutter render the way copier finishes its own.

Files a level does not have render to empty names and are skipped by both engines; the folders
that held only such files are left empty by cookiecutter (copier drops them through `_exclude`).
Remove them, deepest first. No Jinja: this needs no answers.
"""

import os
from pathlib import Path


def remove_empty_dirs(root: Path) -> None:
    for current, _dirs, _files in sorted(os.walk(root), key=lambda entry: -len(entry[0])):
        path = Path(current)
        if path != root and not any(path.iterdir()):
            path.rmdir()


if __name__ == "__main__":
    remove_empty_dirs(Path.cwd())
    print(f"Your project is ready in {Path.cwd().name}/. Next:\n")
    print(f"    cd {Path.cwd().name}")
    print("    make setup   # locked environment, git repository, pre-commit hooks")
    print("    make all     # the full job on the bundled sample data")
    print("    make help    # every command")
