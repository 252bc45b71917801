"""{{ cookiecutter.project_name.strip() }}

The model, its pipeline stages and their command line.
"""

__version__ = "0.1.0"
