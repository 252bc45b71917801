"""The exact files a rendered project has, per level. A file appearing or vanishing fails."""

from __future__ import annotations

LEVEL0 = {
    ".gitignore",
    ".pre-commit-config.yaml",
    ".python-version",
    "LICENSE",
    "Makefile",
    "README.md",
    "notebooks/01-exploration.ipynb",
    "params.yaml",
    "pyproject.toml",
    "schema.yaml",
    "src/{package}/__init__.py",
    "src/{package}/__main__.py",
    "src/{package}/backtest.py",
    "src/{package}/cli.py",
    "src/{package}/config.py",
    "src/{package}/data.py",
    "src/{package}/draft.py",
    "src/{package}/errors.py",
    "src/{package}/evaluate.py",
    "src/{package}/explain.py",
    "src/{package}/features.py",
    "src/{package}/metrics.py",
    "src/{package}/model.py",
    "src/{package}/predict.py",
    "src/{package}/readiness.py",
    "src/{package}/schema.py",
    "src/{package}/train.py",
    "src/{package}/tuning.py",
    "src/{package}/validate.py",
    "tests/conftest.py",
    "tests/test_cli.py",
    "tests/test_data.py",
    "tests/test_draft.py",
    "tests/test_features.py",
    "tests/test_model.py",
    "tests/test_notebooks.py",
}
LEVEL1 = {
    ".dockerignore",
    ".github/CODEOWNERS",
    ".github/actions/setup/action.yml",
    ".github/dependabot.yml",
    ".github/workflows/ci.yml",
    ".github/zizmor.yml",
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvcignore",
    ".hadolint.yaml",
    "Dockerfile",
    "deploy/.env.example",
    "deploy/compose.yaml",
    "deploy/mlflow-auth.ini",
    "deploy/mlflow.Dockerfile",
    "deploy/prometheus/alerts.yml",
    "deploy/prometheus/alerts_test.yml",
    "docs/monitoring.md",
    "dvc.yaml",
    "src/{package}/monitoring/__init__.py",
    "src/{package}/monitoring/drift.py",
    "src/{package}/monitoring/job.py",
    "src/{package}/monitoring/performance.py",
    "src/{package}/monitoring/profile.py",
    "src/{package}/monitoring/push.py",
    "src/{package}/monitoring/report.py",
    "src/{package}/monitoring/sources.py",
    "src/{package}/monitoring/stats.py",
    "src/{package}/privacy.py",
    "src/{package}/registry.py",
    "src/{package}/scoring.py",
    "src/{package}/serving/__init__.py",
    "src/{package}/serving/app.py",
    "src/{package}/serving/inference.py",
    "src/{package}/serving/loading.py",
    "src/{package}/serving/payloads.py",
    "src/{package}/serving/prediction_log.py",
    "src/{package}/serving/server.py",
    "src/{package}/serving/settings.py",
    "src/{package}/serving/telemetry.py",
    "src/{package}/tracking.py",
    "tests/test_model_quality.py",
    "tests/test_monitoring.py",
    "tests/test_monitoring_stats.py",
    "tests/test_pipeline.py",
    "tests/test_registry.py",
    "tests/test_repository.py",
    "tests/test_scoring.py",
    "tests/test_serving.py",
    "tests/test_splits.py",
}
LEVEL2 = {
    ".github/actions/deploy/action.yml",
    ".github/scripts/ct_decision.py",
    ".github/scripts/deploy.sh",
    ".github/scripts/github_rest.py",
    ".github/scripts/model_version.py",
    ".github/scripts/monitoring_summary.py",
    ".github/scripts/service.sh",
    ".github/scripts/smoke_test.py",
    ".github/workflows/cd.yml",
    ".github/workflows/ct.yml",
    ".github/workflows/monitor.yml",
    ".github/workflows/rollback.yml",
    "deploy/k8s/deployment.yaml",
    "deploy/k8s/hpa.yaml",
    "deploy/k8s/service.yaml",
    "src/{package}/serving/routing.py",
}
# feature_store=feast (level 2 only): Feast's project and what reads and writes it.
FEAST = {
    "feature_repo/definitions.py",
    "feature_repo/feature_store.yaml",
    "src/{package}/feature_store.py",
    "src/{package}/serving/online.py",
    "tests/test_feature_store.py",
    "docs/feature-store.md",
}
ADDED_AT = {0: LEVEL0, 1: LEVEL1, 2: LEVEL2}
COPIER_ONLY = {".copier-answers.yml"}


# The bundled sample: a real public dataset per task, from scikit-learn.
SAMPLES = {
    "classification": "data/sample/breast_cancer.csv",
    "regression": "data/sample/diabetes.csv",
}


def expected_files(
    level: int, package: str, engine: str, task: str = "classification", feature_store: str = "none"
) -> set[str]:
    files = set().union(*(ADDED_AT[step] for step in range(level + 1)), {SAMPLES[task]})
    if feature_store == "feast" and level >= 2:
        files |= FEAST
    if engine == "copier":
        files |= COPIER_ONLY
    return {name.format(package=package) for name in files}
