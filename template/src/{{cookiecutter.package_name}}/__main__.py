"""`python -m <this package> <command>`: the project's command line, run by mlops-ladder."""

from mlops_ladder.commands import main

raise SystemExit(main())
