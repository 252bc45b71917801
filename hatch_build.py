"""Hatch build hook: the wheel of mlops-ladder records the template folder it was built from.

`uvx --from PATH mlops-ladder assess` builds a wheel from PATH; the adoption command it prints
then names PATH as the template (copier copy PATH ...). Editable installs find their checkout
without it.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hatchling.builders.hooks.plugin.interface import BuildHookInterface


class CustomBuildHook(BuildHookInterface):
    def initialize(self, version: str, build_data: dict) -> None:
        if self.target_name != "wheel" or version == "editable":
            return
        root = Path(self.root).resolve()
        if not (root / "copier.yml").is_file():  # built from an sdist: not a template checkout
            return
        self._folder = Path(tempfile.mkdtemp(prefix="mlops-ladder-build-"))
        module = self._folder / "_built_from.py"
        module.write_text(f'"""Written by hatch_build.py."""\n\nSOURCE = {str(root)!r}\n')
        build_data["force_include"][str(module)] = "mlops_ladder/_built_from.py"

    def finalize(self, version: str, build_data: dict, artifact_path: str) -> None:
        folder = getattr(self, "_folder", None)
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
