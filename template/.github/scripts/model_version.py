"""Print the version of an exported model as `version=N`, a step output for GitHub Actions.

`make export-model` writes registered_model.json beside the model: the version read there is
the one inside the image, whatever the registry's champion becomes a minute later. CD tags the
image with it, and the smoke test checks that the service answers with it.

    python3 model_version.py build/model >> "$GITHUB_OUTPUT"
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(folder: str = "build/model") -> int:
    described = json.loads((Path(folder) / "registered_model.json").read_text())
    print(f"version={described['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
