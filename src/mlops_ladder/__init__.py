"""mlops-ladder's own command: `mlops-ladder assess PATH` finds where an existing repository
stands on the MLOps maturity ladder, from its files alone, and prints the copier command that
adopts the next level there."""

__version__ = "0.1.0"
