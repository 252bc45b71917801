"""Carry a user's edits over when a template release moves a file: a copier `_migrations` step.

copier merges a file only where it keeps its name. When a release moves `OLD` to `NEW`, an update
writes the template's `NEW` and deletes `OLD`, and the user's edits of `OLD` would be lost. This
step runs after the update (stage "after") and redoes the three-way merge copier would have
done, across the move:

- the user's version: `OLD` as committed before the update (an update needs a clean tree);
- the base: `OLD` as the previous release rendered it, with the answers of then (rendered again
  here, from the template clone copier is using, at the release the project came from);
- the template's version: `NEW` as the update just wrote it.

The result goes to `NEW`: the template's changes and the user's, with conflict markers where
both changed the same lines (then `git diff` shows them; resolve as after any update). A user
who never edited `OLD`, or deleted it, gets the template's `NEW` untouched.

copier.yml, for a release vX.Y.Z that moves a file (copier asks for `--trust` to run it):

    _migrations:
      - version: vX.Y.Z
        when: "{{ _stage == 'after' }}"
        command: ["{{ _copier_python }}", "{{ _copier_conf.src_path }}/migrations/move_file.py",
                  "OLD", "NEW", "{{ _copier_conf.src_path }}", "{{ _version_from }}"]

Usage: move_file.py OLD NEW TEMPLATE PREVIOUS_REF   (run in the project, by copier)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import yaml
from copier import run_copy

ANSWERS_FILE = ".copier-answers.yml"


def committed(path: str) -> str | None:
    """The file as the last commit has it, or None if it has no such file."""
    shown = subprocess.run(["git", "show", f"HEAD:{path}"], capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else None


def previous_render(template: str, ref: str, path: str) -> str | None:
    """`path` as release `ref` rendered it, with the answers the project had before the update."""
    answers = yaml.safe_load(committed(ANSWERS_FILE) or "{}") or {}
    data = {key: value for key, value in answers.items() if not key.startswith("_")}
    with tempfile.TemporaryDirectory() as folder:
        run_copy(template, folder, data=data, vcs_ref=ref, defaults=True, quiet=True)
        rendered = Path(folder, path)
        return rendered.read_text() if rendered.is_file() else None


def main(old: str, new: str, template: str, ref: str) -> int:
    ours = committed(old)
    target = Path(new)
    if ours is None or not target.is_file():
        return 0  # the user had deleted the file, or this level has none
    base = previous_render(template, ref, old)
    if base is None or ours == base:
        return 0  # not edited: the template's new file is right as it is
    theirs = target.read_text()
    with tempfile.TemporaryDirectory() as folder:
        base_file, ours_file = Path(folder, "base"), Path(folder, "ours")
        base_file.write_text(base)
        ours_file.write_text(ours)
        labels = ["-L", "after updating", "-L", "last update", "-L", "before updating"]
        merged = subprocess.run(
            ["git", "merge-file", *labels, str(target), str(base_file), str(ours_file)],
            check=False,
        )
    if merged.returncode < 0 or merged.returncode > 127:
        print(f"move_file: git merge-file failed on {new}", file=sys.stderr)
        return 1
    if merged.returncode:
        mark_conflicted(new, base, ours, theirs)
        print(f"{old} moved to {new}: your edits conflict there, resolve them", file=sys.stderr)
    else:
        print(f"{old} moved to {new}, with your edits", file=sys.stderr)
    return 0


def mark_conflicted(path: str, base: str, ours: str, theirs: str) -> None:
    """Record the three versions in git's index, as copier does for its own conflicts, so that
    `git status` and `git diff --name-only --diff-filter=U` list the file."""

    def stored(text: str) -> str:
        return subprocess.run(
            ["git", "hash-object", "-w", "--stdin"],
            input=text,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    mode = "100755" if Path(path).stat().st_mode & 0o111 else "100644"
    entries = [f"0 {'0' * 40}\t{path}"] + [
        f"{mode} {stored(text)} {stage}\t{path}"
        for stage, text in ((1, base), (2, ours), (3, theirs))
    ]
    subprocess.run(
        ["git", "update-index", "--index-info"],
        input="\n".join(entries) + "\n",
        text=True,
        check=True,
    )


if __name__ == "__main__":
    if len(sys.argv) != 5:
        sys.exit(__doc__.rsplit("Usage: ", 1)[1])
    sys.exit(main(*sys.argv[1:]))
