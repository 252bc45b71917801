"""The data's upstream sources: data imported with `dvc import-url` asked for a new version
(`dvc update`), and which imports changed, for a scheduled workflow to report.

Dependabot watches code and images; a table imported from a bucket or a URL changes without a
commit, so CT's schedule asks its source, retrains on what it finds, and says so in an issue.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

DVC = [sys.executable, "-m", "dvc"]  # the project environment's own dvc


class SourceError(Exception):
    """An upstream source could not be asked: gone, refused, unreachable."""


def dvc_files(folders: list[Path]) -> dict[Path, bytes]:
    """Every .dvc file under `folders`, as it is now."""
    return {path: path.read_bytes() for folder in folders for path in folder.rglob("*.dvc")}


def update_imports(folders: list[Path]) -> str:
    """`dvc update --recursive` of `folders` (a file `dvc add`ed or kept in git is left alone),
    then the step outputs `changed=` (the .dvc files whose data changed, a JSON list) and
    `new_data=true|false`."""
    missing = [str(folder) for folder in folders if not folder.is_dir()]
    if missing:
        raise SourceError(f"no folder {', '.join(missing)} here (run from the project's root)")
    before = dvc_files(folders)
    targets = [str(folder) for folder in folders]
    update = [*DVC, "update", "--recursive", *targets]
    done = subprocess.run(update, capture_output=True, text=True, check=False)
    if done.returncode:
        # dvc removes the data it failed to replace: back from the cache, as the .dvc file says
        restore = [*DVC, "checkout", "--quiet", "--recursive", *targets]
        subprocess.run(restore, capture_output=True, check=False)
        said = [line for line in done.stderr.splitlines() if line.strip()]
        reason = said[-1].removeprefix("ERROR: ") if said else f"exit {done.returncode}"
        raise SourceError(f"dvc update of the imported data failed: {reason}")
    after = dvc_files(folders)
    changed = sorted(str(path) for path, content in after.items() if before.get(path) != content)
    new_data = "true" if changed else "false"
    return f"changed={json.dumps(changed)}\nnew_data={new_data}\n"
