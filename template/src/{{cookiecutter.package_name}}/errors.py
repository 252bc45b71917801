"""Errors the command line reports as one clear message instead of a traceback."""


class ProjectError(Exception):
    """An expected failure: bad configuration, bad data, a missing input."""


class ConfigError(ProjectError):
    """params.yaml, schema.yaml or an environment variable is invalid."""


class DataError(ProjectError):
    """Input data is missing, unreadable or breaks the data contract."""
