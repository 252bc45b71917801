import sys

from mlops_ladder.cli import main

sys.exit(main())
