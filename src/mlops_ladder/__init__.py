"""mlops-ladder: the runtime of the projects the template generates (their command line, data
contract, training, evaluation, registry gate, serving, monitoring and readiness card), and
`mlops-ladder assess`, which finds where an existing repository stands on the MLOps maturity
ladder and prints the copier command that adopts the next level there."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mlops-ladder")
except PackageNotFoundError:  # imported from a source tree that was never installed
    __version__ = "unknown"
