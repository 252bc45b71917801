"""How the server runs: which model, request limits, the champion/challenger split.

Environment variables, like every location in this project (see config.py): the same image
serves any registered model, anywhere, with no code change.
"""

from __future__ import annotations

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_ladder import project
from mlops_ladder.config import Settings
from mlops_ladder.errors import ConfigError

CHAMPION = "champion"
CHALLENGER = "challenger"


class ServingSettings(BaseSettings):
    """Serving options: `MODEL_URI`, and the others prefixed like every project variable:
    <PACKAGE>_MAX_RECORDS, ...
    """

    model_config = SettingsConfigDict(populate_by_name=True)

    # `models:/<name>@<alias>` or `models:/<name>/<version>` from the tracking server, or a
    # folder written by `export-model` (what the image carries). Empty: the registry's champion.
    model_uri: str = Field(default="", validation_alias="MODEL_URI")
    # Requests are refused before they cost anything: a 413 above this size, a 422 above this
    # many records.
    max_body_bytes: int = Field(default=2_000_000, ge=1)
    max_records: int = Field(default=1000, ge=1)
    # Champion/challenger: this share of requests (0 to 1), chosen by a hash of the request key,
    # goes to the challenger. Its model: CHALLENGER_MODEL_URI, or the registry's `challenger`
    # alias when MODEL_URI names the champion by alias.
    challenger_share: float = Field(default=0.0, ge=0, le=1)
    challenger_uri: str = Field(default="", validation_alias="CHALLENGER_MODEL_URI")
    # The compiled inference engine (inference.py): the fast path, used only where it gives the
    # pipeline's answers bit for bit on the model's input example. False: scikit-learn answers.
    compiled_inference: bool = True

    def champion_uri(self, project: Settings) -> str:
        return self.model_uri or f"models:/{project.model_name}@{CHAMPION}"

    def challenger_source(self, project: Settings) -> str | None:
        """Where the challenger comes from; None when no traffic goes to it."""
        if self.challenger_share == 0:
            return None
        if self.challenger_uri:
            return self.challenger_uri
        champion = self.champion_uri(project)
        suffix = f"@{CHAMPION}"
        if champion.startswith("models:/") and champion.endswith(suffix):
            return champion.removesuffix(suffix) + f"@{CHALLENGER}"
        return None


def load_serving_settings() -> ServingSettings:
    """The settings, or one clear error naming the variable that is wrong."""
    try:
        return ServingSettings(_env_prefix=project.current().env_prefix)
    except ValidationError as error:
        problems = "; ".join(
            f"{variable_name(str(item['loc'][0]))}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"invalid serving setting: {problems}") from None


def variable_name(field: str) -> str:
    """The environment variable behind a field (errors name aliased fields by their alias)."""
    if field not in ServingSettings.model_fields:
        return field
    return f"{project.current().env_prefix}{field}".upper()
