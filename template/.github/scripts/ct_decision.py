"""Turn the registry gate's report (reports/registration.json) into step outputs for CT.

Prints `promoted=true|false` and `version=N`; CT deploys only a model the gate promoted.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(path: str) -> int:
    decision = json.loads(Path(path).read_text())
    print(f"promoted={'true' if decision['promoted'] else 'false'}")
    print(f"version={decision['version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:]))
