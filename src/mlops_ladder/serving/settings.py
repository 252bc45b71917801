"""How the server runs: which model, request limits, access, the champion/challenger split.

Environment variables, like every location in this project (see config.py): the same image
serves any registered model, anywhere, with no code change.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_ladder import project
from mlops_ladder.config import Settings
from mlops_ladder.errors import ConfigError, ProjectError

CHAMPION = "champion"
CHALLENGER = "challenger"
MIN_KEY_CHARACTERS = 16  # an API key shorter than this could be guessed


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
    # Access (access.py): with a key (several, comma-separated, while rotating one) every
    # endpoint but /health and /ready needs it; empty, the API is open (local use). /metrics and
    # the docs: open, behind the key, or off. Requests a minute per client address (0: no limit).
    api_key: SecretStr = SecretStr("")
    metrics_access: Literal["open", "key", "off"] = "open"
    docs_access: Literal["open", "key", "off"] = "open"
    rate_limit: int = Field(default=0, ge=0)
    # The prediction log's folder is kept under this size: the oldest files are deleted first
    # (0: no cap; the age limit is <PACKAGE>_PREDICTION_LOG_RETENTION_DAYS).
    prediction_log_max_mb: float = Field(default=1024, ge=0)
    # The compiled inference engine (inference.py): the fast path, used only where it gives the
    # pipeline's answers bit for bit on the model's input example. False: scikit-learn answers.
    compiled_inference: bool = True

    @property
    def api_keys(self) -> tuple[str, ...]:
        return tuple(
            key.strip() for key in self.api_key.get_secret_value().split(",") if key.strip()
        )

    @field_validator("api_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        keys = [key.strip() for key in value.get_secret_value().split(",") if key.strip()]
        if any(len(key) < MIN_KEY_CHARACTERS for key in keys):
            raise ValueError(
                f"an API key needs at least {MIN_KEY_CHARACTERS} characters "
                "(`openssl rand -base64 32` makes a good one)"
            )
        return value

    @model_validator(mode="after")
    def _key_where_asked(self) -> ServingSettings:
        asked = ("metrics_access", "docs_access")
        behind = [name for name in asked if getattr(self, name) == "key"]
        if behind and not self.api_keys:
            names = " and ".join(variable_name(name) for name in behind)
            raise ValueError(f"{names} = key, but no API key is set ({variable_name('api_key')})")
        return self

    @property
    def prediction_log_max_bytes(self) -> int:
        return int(self.prediction_log_max_mb * 1024 * 1024)

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
            f"{variable_name(str(item['loc'][0]))}: {reason(item['msg'])}"
            if item["loc"]
            else reason(item["msg"])
            for item in error.errors()
        )
        raise ConfigError(f"invalid serving setting: {problems}") from None


def reason(message: str) -> str:
    return message.removeprefix("Value error, ")


def variable_name(field: str) -> str:
    """The environment variable behind a field (errors name aliased fields by their alias)."""
    if field not in ServingSettings.model_fields:
        return field
    try:
        prefix = project.current().env_prefix
    except ProjectError:  # settings made outside a project (a test, a notebook)
        prefix = "<PACKAGE>_"
    return f"{prefix}{field}".upper()
