"""`python -m {{ cookiecutter.package_name }}`: the command line."""

from {{ cookiecutter.package_name }}.cli import main

raise SystemExit(main())
