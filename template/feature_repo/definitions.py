"""Feast's definitions of this project (`feast -c feature_repo apply` registers them), built by
the mlops-ladder runtime (mlops_ladder.feature_store) from schema.yaml, params.yaml and the
derived features of features.py."""

from pathlib import Path

from mlops_ladder import project
from mlops_ladder.config import Settings, load_params
from mlops_ladder.feature_store import definitions
from mlops_ladder.schema import load_schema

# Feast runs this from feature_repo/: the project's files are one folder up.
_root = Path(__file__).resolve().parent.parent
project.activate(project.read_identity(_root))
_settings = Settings.load()
record, source, features, model_features = definitions(
    load_schema(_root / _settings.schema_file),
    load_params(_root / _settings.params_file).feature_store,
)
