import sys

from mlops_ladder.ci.cli import main

sys.exit(main())
