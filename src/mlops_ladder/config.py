"""Configuration: where things live (environment variables) and how the model learns (params.yaml).

Locations come from environment variables prefixed with the project's package name
(`TABULAR_MODEL_DATA_DIR`, ...; project.py), with defaults relative to the project root that
work offline on one machine. ML parameters come from params.yaml, checked strictly so that a
typo is an error, not a silently ignored setting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from mlops_ladder import project
from mlops_ladder.errors import ConfigError


class Settings(BaseSettings):
    """Paths and services, each overridable with `<PACKAGE>_<NAME>` (`Settings.load`)."""

    model_config = SettingsConfigDict(env_prefix="MLOPS_LADDER_")

    params_file: Path = Path("params.yaml")
    schema_file: Path = Path("schema.yaml")
    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    # Feast's project folder (feature_store.yaml): serving reads the online store it names.
    feature_repo: Path = Path("feature_repo")

    @property
    def raw_data(self) -> Path:
        return self.data_dir / "raw" / "dataset.parquet"

    @property
    def train_split(self) -> Path:
        return self.data_dir / "processed" / "train.parquet"

    @property
    def test_split(self) -> Path:
        return self.data_dir / "processed" / "test.parquet"

    @property
    def train_features(self) -> Path:
        return self.data_dir / "features" / "train.parquet"

    @property
    def test_features(self) -> Path:
        return self.data_dir / "features" / "test.parquet"

    @property
    def model_file(self) -> Path:
        return self.models_dir / "model.joblib"

    @property
    def metadata_file(self) -> Path:
        return self.models_dir / "metadata.json"

    @property
    def validation_report(self) -> Path:
        return self.reports_dir / "validation.json"

    @property
    def feature_cost_file(self) -> Path:
        return self.reports_dir / "feature_cost.json"

    @property
    def tuning_report(self) -> Path:
        return self.reports_dir / "tuning.json"

    @property
    def metrics_file(self) -> Path:
        return self.reports_dir / "metrics.json"

    @property
    def plots_dir(self) -> Path:
        return self.reports_dir / "plots"

    @property
    def figures_dir(self) -> Path:
        return self.reports_dir / "figures"

    # MLflow: a local sqlite file and artifact folder by default (offline, no server); set
    # MLFLOW_TRACKING_URI to use a tracking server instead. Nothing else changes.
    mlflow_tracking_uri: str = Field(
        default="sqlite:///mlflow.db", validation_alias="MLFLOW_TRACKING_URI"
    )
    artifacts_dir: Path = Path("mlartifacts")
    # The project's distribution name (pyproject.toml), unless set.
    experiment_name: str = Field(default_factory=lambda: project.current().distribution)
    model_name: str = Field(default_factory=lambda: project.current().distribution)

    @property
    def registration_report(self) -> Path:
        return self.reports_dir / "registration.json"

    # Monitoring: the serving app's prediction log, and an optional Prometheus Pushgateway.
    prediction_log_dir: Path = Path("logs/predictions")
    pushgateway_url: str = ""
    # Privacy (privacy.py): the key of the hashes that replace values tagged pii in the log
    # (one per deployment, kept secret and unchanged), and the days a log file is kept.
    pii_key: SecretStr = Field(
        default_factory=lambda: SecretStr(f"{project.current().distribution}-pii")
    )
    prediction_log_retention_days: float = Field(default=90, ge=0)

    @property
    def monitoring_dir(self) -> Path:
        return self.reports_dir / "monitoring"

    @field_validator("mlflow_tracking_uri")
    @classmethod
    def _absolute_sqlite(cls, uri: str) -> str:
        """A relative sqlite store (the default `sqlite:///mlflow.db`) made absolute: MLflow
        keeps one store per URI for the life of the process, so a relative one would stay bound
        to the folder it was first opened in (one process working in two projects: tests,
        notebooks), and the URI MLflow exports to the environment would name another file in a
        subprocess started elsewhere."""
        prefix = "sqlite:///"
        path = uri.removeprefix(prefix)
        if not uri.startswith(prefix) or path.startswith(("/", ":memory:")):
            return uri
        return prefix + str(Path(path).resolve())

    @classmethod
    def load(cls) -> Settings:
        """The settings of the current project, its variables read with its prefix; one clear
        error naming the variable that is wrong."""
        prefix = project.current().env_prefix
        try:
            return cls(_env_prefix=prefix)
        except ValidationError as error:
            problems = "; ".join(
                f"{prefix}{str(item['loc'][0]).upper()}: {item['msg']}" for item in error.errors()
            )
            raise ConfigError(f"invalid setting: {problems}") from None


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class IngestParams(_Section):
    source: str = Field(description="the .csv/.parquet file to learn from")


class SplitParams(_Section):
    test_size: float = Field(gt=0, lt=1)
    stratify: bool = True


class TrainParams(_Section):
    """`estimator` names one of the built-in estimators or the project's own (its model.py);
    a section of that name holds its hyperparameters."""

    model_config = ConfigDict(extra="allow", frozen=True)

    estimator: str
    random_forest: dict[str, Any] = {}
    gradient_boosting: dict[str, Any] = {}
    linear: dict[str, Any] = {}

    @property
    def sections(self) -> dict[str, dict[str, Any]]:
        """Every estimator's hyperparameters, by estimator name."""
        named = {"random_forest", "gradient_boosting", "linear", *(self.model_extra or {})}
        return {name: dict(getattr(self, name) or {}) for name in named}

    @property
    def hyperparameters(self) -> dict[str, Any]:
        """The settings of the chosen estimator."""
        return self.sections.get(self.estimator, {})


class SearchRange(_Section):
    """One hyperparameter's search space: `choices`, or `low`..`high` (whole numbers when both
    bounds are; `log: true` samples on a log scale)."""

    low: int | float | None = None
    high: int | float | None = None
    log: bool = False
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _check(self) -> SearchRange:
        if self.choices is None:
            if self.low is None or self.high is None:
                raise ValueError("give choices, or low and high")
            if self.low > self.high:
                raise ValueError(f"low {self.low} is above high {self.high}")
        if self.log and self.low is not None and self.low <= 0:
            raise ValueError("a log scale needs low > 0")
        return self


class TuneParams(_Section):
    """The hyperparameter study (tuning.py): its budget, its seed, its folds, the search space of
    each estimator, and how far below the best found the configured hyperparameters may score."""

    n_trials: int = Field(default=10, ge=1)
    timeout: float | None = Field(default=120, gt=0)
    seed: int = 0
    cv_folds: int = Field(default=3, ge=2)
    tolerance: float = Field(default=0.05, ge=0)
    # Configured hyperparameters more than `tolerance` below the best: train fits the study's
    # best and says so (`use_best`), or the tune stage fails (`error`).
    on_shortfall: str = Field(default="use_best", pattern="^(use_best|error)$")
    space: dict[str, dict[str, SearchRange]] = {}

    def space_of(self, estimator: str) -> dict[str, dict[str, Any]]:
        """The search space of `estimator`, as plain values (whole-number bounds stay whole)."""
        ranges = self.space.get(estimator)
        if not ranges:
            raise ConfigError(f"tune.space has no search space for train.estimator {estimator}")
        return {name: spec.model_dump(exclude_none=True) for name, spec in ranges.items()}


class FeaturizeParams(_Section):
    """What one derived feature may cost (reports/feature_cost.json): time over a thousand
    rows (training, batch scoring), time for one record (serving), memory per row."""

    max_ms_per_1k_rows: float = Field(default=100, gt=0)
    max_ms_per_record: float = Field(default=5, gt=0)
    max_bytes_per_row: float = Field(default=64, gt=0)


class EvaluateParams(_Section):
    # The slices themselves are the data's: schema.yaml `slices`.
    min_slice_rows: int = Field(default=20, ge=1)
    # Permutation importance of each feature (reports/metrics.json feature_importance).
    importance_repeats: int = Field(default=5, ge=1)
    max_harmful_importance: float = Field(default=0.05, ge=0)
    # All features are beneficial (data-2): at most this share may never help the model.
    max_useless_share: float = Field(default=0.3, ge=0, le=1)
    # The staleness backtest (backtest.py; reports/metrics.json staleness): order_by names the
    # data's time column, of dates or of whole calendar years.
    order_by: str | None = None
    backtest_windows: int = Field(default=6, ge=3)
    max_staleness_drop: float = Field(default=0.05, ge=0)


class QualityParams(_Section):
    primary_metric: str
    thresholds: dict[str, float] = {}
    beat_baselines: dict[str, float] = {}
    slice_thresholds: dict[str, float] = {}
    slice_beat_baselines: dict[str, float] = {}
    # Inclusion: across the groups of a feature tagged `sensitive` in schema.yaml, the primary
    # metric may differ by at most this much (groups with fewer than min_slice_rows: reported).
    max_group_gap: float = Field(default=0.1, ge=0)


class GateParams(_Section):
    max_drop_vs_champion: float = Field(default=0.01, ge=0)
    on_fail: str = Field(default="error", pattern="^(error|warn)$")
    # Only a model trained from committed code and params is promoted: `ci` where a GitHub
    # workflow runs (GITHUB_ACTIONS), `always`, or `never`.
    require_committed: str = Field(default="ci", pattern="^(ci|always|never)$")
    # Computing costs against the champion's (monitoring-6): how many times slower (latency per
    # record, rows per second) or larger a challenger may be, and how much longer to train.
    max_slowdown: float = Field(default=2.0, ge=1)
    max_training_slowdown: float = Field(default=3.0, ge=1)
    max_size_growth: float = Field(default=3.0, ge=1)


class MonitorParams(_Section):
    """Drift tests, the dataset verdict and alert thresholds (params.yaml explains each)."""

    small_sample: int = Field(default=1000, ge=1)
    p_value: float = Field(default=0.05, gt=0, lt=1)
    numeric_test: str = Field(default="wasserstein", pattern="^(wasserstein|psi)$")
    wasserstein_threshold: float = Field(default=0.1, gt=0)
    psi_threshold: float = Field(default=0.2, gt=0)
    psi_bins: int = Field(default=10, ge=2)
    drift_share: float = Field(default=0.5, gt=0, le=1)
    key_features: list[str] = []
    min_rows: int = Field(default=30, ge=1)
    max_missing_increase: float = Field(default=0.05, ge=0)
    max_out_of_range: float = Field(default=0.01, ge=0)
    max_performance_drop: float = Field(default=0.05, ge=0)
    min_labelled_rows: int = Field(default=30, ge=1)
    max_offline_online_gap: float = Field(default=0.05, ge=0)
    max_model_age_days: float = Field(default=30, gt=0)


class FeatureStoreParams(_Section):
    """Entity key and event time of each row (feature_store.py states the rule without them)."""

    entity: str = "record_id"
    entity_dtype: str = Field(default="int", pattern="^(int|str)$")
    timestamp: str = "event_timestamp"
    origin: str = "2024-01-01T00:00:00+00:00"
    ttl_days: int = Field(default=0, ge=0)
    monitoring_reference: str = Field(default="model", pattern="^(model|offline_store)$")


class Params(_Section):
    task: Literal["classification", "regression"]
    seed: int
    ingest: IngestParams
    split: SplitParams
    train: TrainParams
    featurize: FeaturizeParams = FeaturizeParams()
    tune: TuneParams = TuneParams()
    evaluate: EvaluateParams
    quality: QualityParams
    gate: GateParams = GateParams()
    monitor: MonitorParams = MonitorParams()
    # Present in a project with the feature store (Feast) only.
    feature_store: FeatureStoreParams | None = None
    # The project's own parameters, free-form: its code reads them (params.custom), DVC stages
    # can depend on them (params: - custom). Every other key is checked.
    custom: dict[str, Any] = {}

    def require_feature_store(self) -> FeatureStoreParams:
        """The feature_store section, for the commands of a project with a feature store."""
        if self.feature_store is None:
            raise ConfigError(
                "params.yaml has no feature_store section: this project has no feature store "
                "(`copier update -d feature_store=feast` adds it at level 2)"
            )
        return self.feature_store


def load_params(path: Path) -> Params:
    """Read params.yaml; every unknown or malformed key is reported with its location."""
    raw = _read_yaml(path)
    try:
        return Params.model_validate(raw)
    except ValidationError as error:
        raise ConfigError(f"{path} is invalid:\n{_format(error)}") from None


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{path} not found (run from the project root)") from None
    except yaml.YAMLError as error:
        raise ConfigError(f"{path} is not valid YAML: {error}") from None
    if not isinstance(content, dict):
        raise ConfigError(f"{path} must contain a mapping at the top level")
    return content


def _format(error: ValidationError) -> str:
    return "\n".join(
        f"  {'.'.join(str(part) for part in item['loc'])}: {item['msg']}" for item in error.errors()
    )
