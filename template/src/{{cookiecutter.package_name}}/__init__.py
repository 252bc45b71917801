"""This project's own code: what the model learns from and how.

The mlops-ladder runtime runs it (`python -m <this package> --help`); pyproject.toml's
`[tool.mlops-ladder]` table names each piece:

- features.py  derived features, computed the same way in training, serving and monitoring
- model.py     estimators of your own, beside the built-in ones params.yaml can name
- ingest.py    how the data comes in (a file by default; a database or an API is yours to add)
- metrics.py   metrics of your own, beside the built-in ones
"""
