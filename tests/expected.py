"""The exact files a rendered project has, per level. A file appearing or vanishing fails."""

from __future__ import annotations

LEVEL0 = {
    ".gitignore",
    ".pre-commit-config.yaml",
    ".python-version",
    # Where the runtime comes from until it is on the package index (git-ignored).
    ".tools/template-source",
    "LICENSE",
    "Makefile",
    "README.md",
    "notebooks/01-exploration.ipynb",
    "params.yaml",
    "pyproject.toml",
    "schema.yaml",
    # The owner's code: the runtime (mlops-ladder) runs it.
    "src/{package}/__init__.py",
    "src/{package}/__main__.py",
    "src/{package}/features.py",
    "src/{package}/ingest.py",
    "src/{package}/metrics.py",
    "src/{package}/model.py",
    # The specification of the owner's data and model, on the runtime's pytest plugin.
    "tests/test_data.py",
    "tests/test_features.py",
    "tests/test_model.py",
    "tests/test_notebooks.py",
}
LEVEL1 = {
    ".dockerignore",
    ".github/CODEOWNERS",
    ".github/actions/setup/action.yml",
    ".github/dependabot.yml",
    # CI starts the image it builds (a container, or a host server under act) to smoke-test it
    ".github/scripts/service.sh",
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
    # uv and the MLflow server's packages, pinned by sha256, for the two images
    "deploy/requirements/mlflow-server.txt",
    "deploy/requirements/uv.txt",
    "deploy/prometheus/alerts.yml",
    "deploy/prometheus/alerts_test.yml",
    "docs/monitoring.md",
    "dvc.yaml",
    "tests/test_monitoring.py",
    "tests/test_pipeline.py",
    "tests/test_serving.py",
}
LEVEL2 = {
    ".github/actions/deploy/action.yml",
    # The shell steps: kubectl for deploys (the steps that are Python are the runtime's:
    # python -m mlops_ladder.ci).
    ".github/scripts/deploy.sh",
    ".github/workflows/cd.yml",
    ".github/workflows/ct.yml",
    ".github/workflows/monitor.yml",
    ".github/workflows/rollback.yml",
    "deploy/k8s/deployment.yaml",
    "deploy/k8s/hpa.yaml",
    "deploy/k8s/service.yaml",
    "tests/test_workflows.py",
}
# feature_store=feast (level 2 only): Feast's project and what reads and writes it.
FEAST = {
    "feature_repo/definitions.py",
    "feature_repo/feature_store.yaml",
    "tests/test_feature_store.py",
    "docs/feature-store.md",
}
# What the tests put in a render beside what the engines wrote: the runtime's wheel.
PROVIDED = ".tools/wheels/"
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
