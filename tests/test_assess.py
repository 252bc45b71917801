"""`mlops-ladder assess`: repositories made here (notebooks only; scripts + MLflow; a scheduled
retraining workflow with drift checks; GitLab CI + Prefect + W&B) and every generated level get
the level and the items they must; bad input gives one line, never a traceback; the adoption
command really adopts level 1 in a notebooks-and-scripts repository and keeps its files.

Rendering only (copier, as the other render tests): nothing is installed in generated projects.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
from expected import expected_files
from rendering import BIN, DEFAULT_PACKAGE, LEVELS, ROOT, TASKS, Renderer
from test_answers import CONTEXT, COPIER, HOSTILE, TEXT, copier_environment, copier_rule
from test_answers import answers as hook_rules

from mlops_ladder import answers as rules
from mlops_ladder import cli, scan
from mlops_ladder.adopt import OWNER_MODULES, RUNTIME_EXTRAS, TEMPLATE_FILES

ASSESS = BIN / "mlops-ladder"


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def notebook(*cells: str) -> str:
    """A notebook as Jupyter writes it (one JSON string per source line, indent 1)."""
    return json.dumps(
        {
            "cells": [
                {
                    "cell_type": "code",
                    "execution_count": None,
                    "metadata": {},
                    "outputs": [],
                    "source": cell.splitlines(keepends=True),
                }
                for cell in cells
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        },
        indent=1,
    )


def assess_json(path: Path, *args: str, stdin: str | None = None) -> dict:
    done = subprocess.run(
        [ASSESS, "assess", str(path), "--json", *args],
        capture_output=True, text=True, input=stdin, check=False, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def items(report: dict) -> dict[str, dict]:
    return {item["item"]: item for item in report["items"]}


def met(report: dict) -> dict[str, bool | None]:
    return {item["item"]: item["met"] for item in report["items"]}


# --------------------------------------------------------------------------------------------
# Repositories made by the tests
# --------------------------------------------------------------------------------------------
@pytest.fixture
def notebooks_only(tmp_path: Path) -> Path:
    return write(
        tmp_path / "eda",
        {
            "README.md": "# Churn analysis\nWe use MLflow and DVC some day.\n",
            "explore.ipynb": notebook("import pandas as pd\ndf = pd.read_csv('churn.csv')"),
            "model.ipynb": notebook(
                "from sklearn.ensemble import RandomForestClassifier",
                "clf = RandomForestClassifier()\nclf.fit(X, y)",
            ),
        },
    )


@pytest.fixture
def scripts_mlflow(tmp_path: Path) -> Path:
    return write(
        tmp_path / "churn-scripts",
        {
            "requirements.txt": "mlflow==3.1.0\nscikit-learn==1.7.0\n",
            "train.py": (
                "import mlflow\n"
                "from sklearn.linear_model import LogisticRegression\n"
                "\n"
                "\n"
                "def main():\n"
                "    mlflow.set_experiment('churn')\n"
                "    with mlflow.start_run():\n"
                "        model = LogisticRegression().fit(X, y)\n"
                "        mlflow.log_metric('auc', 0.9)\n"
                "        mlflow.sklearn.log_model(model, 'model', registered_model_name='churn')\n"
                "\n"
                "\n"
                "if __name__ == '__main__':\n"
                "    main()\n"
            ),
            "serve.py": "from flask import Flask\n\napp = Flask(__name__)\n",
            "notebooks/eda.ipynb": notebook("import pandas as pd"),
        },
    )


SCHEDULED_RETRAIN = """\
name: retrain
on:
  schedule:
    - cron: "0 3 * * 1"
  workflow_dispatch:
permissions:
  contents: read
jobs:
  retrain:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - run: pip install -r requirements.txt
      - run: python -m pytest tests
      - run: dvc repro
"""
DRIFT_WORKFLOW = """\
name: drift
on:
  schedule:
    - cron: "0 6 * * *"
permissions:
  issues: write
jobs:
  drift:
    runs-on: ubuntu-latest
    steps:
      - run: python monitoring/drift.py || gh issue create --title "Drift" --body "see the run"
"""


@pytest.fixture
def scheduled_with_drift(tmp_path: Path) -> Path:
    return write(
        tmp_path / "retrainer",
        {
            "dvc.yaml": "stages:\n  train:\n    cmd: python src/train.py\n    deps: [data]\n",
            "src/train.py": (
                "import mlflow\n\n"
                "def train(frame):\n"
                "    mlflow.autolog()\n"
                "    result = mlflow.register_model('runs:/x/model', 'churn')\n"
                "    mlflow.MlflowClient().set_registered_model_alias('churn', 'champion', 1)\n"
            ),
            "monitoring/drift.py": (
                "from scipy.stats import ks_2samp\n\n"
                "def column_drift(reference, current):\n"
                "    return ks_2samp(reference, current).pvalue < 0.05\n"
            ),
            "tests/test_data.py": (
                "def test_no_missing_values(frame):\n    assert frame.notna().all().all()\n"
            ),
            "tests/test_model.py": (
                "def test_model_beats_baseline(model):\n    assert model.score > 0.5\n"
            ),
            ".github/workflows/retrain.yml": SCHEDULED_RETRAIN,
            ".github/workflows/drift.yml": DRIFT_WORKFLOW,
        },
    )


GITLAB_CI = """\
stages: [test, train, deploy]
test:
  stage: test
  script:
    - pytest tests
retrain:
  stage: train
  rules:
    - if: $CI_PIPELINE_SOURCE == "schedule"
  script:
    - python -m churn train
deploy:
  stage: deploy
  script:
    - kubectl apply -f k8s/
"""


@pytest.fixture
def gitlab_prefect_wandb(tmp_path: Path) -> Path:
    return write(
        tmp_path / "churn",
        {
            ".gitlab-ci.yml": GITLAB_CI,
            "churn/__init__.py": "",
            "churn/flow.py": (
                "import wandb\nfrom prefect import flow, task\n\n\n@flow\ndef train():\n"
                "    run = wandb.init(project='churn')\n"
                "    run.link_model(path='model.pkl', registered_model_name='churn')\n"
            ),
            "churn/monitor.py": (
                "from evidently.presets import DataDriftPreset\n"
                "import requests\n\nSLACK_WEBHOOK = 'https://hooks.slack.com/services/T/B/X'\n"
            ),
            "tests/test_schema.py": (
                "import pandera as pa\n\ndef test_schema(frame):\n"
                "    pa.DataFrameSchema({'age': pa.Column(int)}).validate(frame)\n"
            ),
            "tests/test_model.py": "def test_model_accuracy(model):\n    assert model.acc > 0.8\n",
            "k8s/deployment.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: churn\n"
            ),
            "features/feature_store.yaml": "project: churn\nprovider: local\n",
        },
    )


def test_notebooks_only_is_level_0_and_deployment_is_not_visible(notebooks_only: Path) -> None:
    report = assess_json(notebooks_only)
    assert report["level"] == 0
    found = items(report)
    assert found["notebooks"]["met"] is True
    assert sorted(found["notebooks"]["evidence"]) == ["explore.ipynb:1", "model.ipynb:1"]
    assert found["manual deployment"]["met"] is None
    assert found["no monitoring"]["met"] is True
    assert found["no retraining triggers"]["met"] is True
    # The README's words are not evidence: only code and configuration count.
    for name in ("automated training pipeline", "experiment tracking", "model registry"):
        assert found[name]["met"] is False
    assert report["missing_for_next"] == [
        "automated training pipeline", "experiment tracking", "model registry",
    ]  # fmt: skip
    assert "maturity_level=1" in report["adopt"]


def test_notebook_evidence_points_at_the_line_of_the_notebook_file(tmp_path: Path) -> None:
    repo = write(
        tmp_path / "nb", {"track.ipynb": notebook("x = 1", "import mlflow\nmlflow.autolog()")}
    )
    report = assess_json(repo)
    lines = (repo / "track.ipynb").read_text().splitlines()
    refs = items(report)["experiment tracking"]["evidence"]
    assert refs, report
    number = int(refs[0].split(":")[1])
    assert "import mlflow" in lines[number - 1]


def test_scripts_and_mlflow_track_and_register_but_have_no_pipeline(scripts_mlflow: Path) -> None:
    report = assess_json(scripts_mlflow)
    found = items(report)
    assert report["level"] == 0
    assert found["experiment tracking"]["met"] is True
    assert "train.py:1" in found["experiment tracking"]["evidence"]
    assert found["model registry"]["evidence"] == ["train.py:10"]
    assert found["automated training pipeline"]["met"] is False
    assert report["missing_for_next"] == ["automated training pipeline"]
    # Flask serving with no deployment step: what would be deployed, but how is not visible.
    assert found["manual deployment"]["met"] is None
    assert "serve.py:1" in found["manual deployment"]["evidence"]
    answers = report["adoption"]["answers"]
    assert answers["project_name"]["value"] == "churn-scripts"
    assert answers["package_name"]["value"] == "churn_scripts"
    assert answers["task"] == {"value": "classification", "from": "train.py:2"}


def test_scheduled_retraining_and_drift_checks_reach_level_1_and_name_cd(
    scheduled_with_drift: Path,
) -> None:
    report = assess_json(scheduled_with_drift)
    found = items(report)
    assert report["level"] == 1
    assert found["continuous training"]["met"] is True
    assert {".github/workflows/retrain.yml:3", ".github/workflows/retrain.yml:15"} <= set(
        found["continuous training"]["evidence"]
    )
    assert found["drift detection and alerting"]["met"] is True
    assert "monitoring/drift.py:3" in found["drift detection and alerting"]["evidence"]
    assert ".github/workflows/drift.yml:6" in found["drift detection and alerting"]["evidence"]
    assert found["automated data and model tests"]["met"] is True
    assert found["CI/CD for ML"]["met"] is False
    assert found["no retraining triggers"]["met"] is False
    assert report["missing_for_next"] == ["CI/CD for ML"]
    assert "maturity_level=2" in report["adopt"]


def test_other_platforms_and_tools_reach_level_2(gitlab_prefect_wandb: Path) -> None:
    report = assess_json(gitlab_prefect_wandb)
    assert report["level"] == 2, report["missing_for_next"]
    found = items(report)
    assert found["automated training pipeline"]["evidence"] == ["churn/flow.py:2"]
    assert found["experiment tracking"]["evidence"] == ["churn/flow.py:1"]
    assert found["model registry"]["evidence"] == ["churn/flow.py:8"]
    assert set(found["CI/CD for ML"]["evidence"]) == {".gitlab-ci.yml:5", ".gitlab-ci.yml:15"}
    assert ".gitlab-ci.yml:9" in found["continuous training"]["evidence"]
    assert found["feature store"]["met"] is True
    assert found["A/B testing infrastructure"]["met"] is False
    assert found["manual deployment"]["met"] is False
    assert report["adopt"] is None
    assert report["missing_for_next"] == []
    assert set(report["tools"]) >= {
        "Prefect",
        "Weights & Biases",
        "W&B registry",
        "Evidently",
        "pandera",
        "Kubernetes manifest",
        "Feast",
        "Slack alert",
    }


# --------------------------------------------------------------------------------------------
# Every generated project assesses at its own level
# --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("level", LEVELS)
def test_generated_projects_assess_at_their_own_level(
    renderer: Renderer, level: int, task: str
) -> None:
    project = renderer.get("copier", maturity_level=str(level), task=task)
    report = assess_json(project)
    assert report["level"] == level, report["missing_for_next"]
    core = [i for i in report["items"] if i["core"] and i["level"] >= 1]
    assert all(i["met"] for i in core if i["level"] <= level)
    assert all(i["evidence"] for i in core if i["level"] <= level)
    if level < 2:
        assert report["missing_for_next"], "the next level must name what is missing"
        assert report["adopt"] == (
            f"copier update --defaults --data maturity_level={level + 1} {project}"
        )
    assert report["adoption"]["answers"] == {}
    assert met(report)["A/B testing infrastructure"] is (level == 2)
    assert met(report)["no monitoring"] is (level == 0)
    # Tracking and the registry are the runtime's: the evidence is pyproject.toml's requirement
    # of mlops-ladder with the pipeline extra (the `pipeline` group, which `uv sync` installs:
    # the serving image does not), and the [tool.mlops-ladder] table's level.
    lines = (project / "pyproject.toml").read_text().splitlines()
    for name in ("experiment tracking", "model registry"):
        cited = [lines[int(ref.split(":")[1]) - 1] for ref in items(report)[name]["evidence"]]
        assert all(ref.startswith("pyproject.toml:") for ref in items(report)[name]["evidence"])
        if level == 0:
            assert cited == []
        else:
            assert cited[0].startswith('pipeline = ["mlops-ladder[pipeline,monitoring]==')
            assert cited[1] == f"level = {level}"


def test_level_2_without_its_ct_workflow_drops_to_level_1(
    renderer: Renderer, tmp_path: Path
) -> None:
    project = shutil.copytree(renderer.get("copier", maturity_level="2"), tmp_path / "project")
    (project / ".github/workflows/ct.yml").unlink()
    report = assess_json(project)
    assert report["level"] == 1
    assert report["missing_for_next"] == ["continuous training"]
    assert items(report)["continuous training"]["met"] is False


@pytest.mark.parametrize("level", LEVELS)
def test_the_files_adoption_names_are_generated_at_their_level(level: int) -> None:
    rendered = expected_files(level, DEFAULT_PACKAGE, "copier")
    assert {name.format(package=DEFAULT_PACKAGE) for name in TEMPLATE_FILES[level]} <= rendered


def test_adoption_knows_every_file_of_the_owners_package() -> None:
    """The owner's modules adopt.py names are the generated package's (tests/expected.py), and
    every file of that package has advice when a repository has one already."""
    package = {
        name.removeprefix(f"src/{DEFAULT_PACKAGE}/")
        for name in expected_files(2, DEFAULT_PACKAGE, "copier")
        if name.startswith(f"src/{DEFAULT_PACKAGE}/")
    }
    assert set(OWNER_MODULES) == package - {"__init__.py", "__main__.py"}
    assert {f"src/{{package}}/{module}" for module in package} <= set(TEMPLATE_FILES[0])


# --------------------------------------------------------------------------------------------
# Adoption, for real: copier runs the printed command in a notebooks-and-scripts repository
# --------------------------------------------------------------------------------------------
def churn_lab(parent: Path) -> Path:
    """The notebooks-and-scripts repository of the worked example in docs/assess.md."""
    return write(
        parent / "churn-lab",
        {
            "README.md": "# Churn lab\n\nOur notebooks.\n",
            ".python-version": "3.12\n",
            "requirements.txt": "pandas\nscikit-learn\n",
            "train.py": (
                "import pandas as pd\nfrom sklearn.ensemble import RandomForestClassifier\n\n"
                "frame = pd.read_csv('data/churn.csv')\n"
                "model = RandomForestClassifier().fit(frame.drop(columns='y'), frame['y'])\n\n"
                "if __name__ == '__main__':\n    print(model)\n"
            ),
            "explore.ipynb": notebook("import pandas as pd"),
            "data/churn.csv": "a,y\n1,0\n2,1\n",
        },
    )


def test_the_worked_example_in_the_docs_is_what_assess_prints(tmp_path: Path) -> None:
    churn_lab(tmp_path)
    (tmp_path / "work").mkdir()
    done = subprocess.run(
        [ASSESS, "assess", "../churn-lab", "--template", "/path/to/mlops-ladder"],
        cwd=tmp_path / "work", capture_output=True, text=True, check=False,
        env={**os.environ, "COLUMNS": "100"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = (ROOT / "docs" / "assess.md").read_text()
    example = page.split("```console\n$ make assess REPO=../churn-lab\n", 1)[1].split("```", 1)[0]
    printed = done.stdout
    for chunk in example.split("...\n"):
        assert chunk.strip("\n") in printed, chunk


def test_adopting_level_1_in_a_notebooks_and_scripts_repository_keeps_its_files(
    tmp_path: Path, env: dict[str, str]
) -> None:
    repo = churn_lab(tmp_path)
    before = {p.relative_to(repo): p.read_bytes() for p in repo.rglob("*") if p.is_file()}
    report = assess_json(repo, "--template", str(ROOT), "--vcs-ref", "HEAD")
    assert report["level"] == 0
    command = shlex.split(report["adopt"])
    assert command[:2] == ["copier", "copy"]
    done = subprocess.run([BIN / "copier", *command[1:]], capture_output=True, text=True,
                          env=env, cwd=tmp_path, check=False, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    for name, content in before.items():
        assert (repo / name).read_bytes() == content, f"{name} was changed"
    answers = (repo / ".copier-answers.yml").read_text()
    for line in (
        "maturity_level: 1",
        "package_name: churn_lab",
        "python_version: '3.12'",
        "task: classification",
        "project_name: churn-lab",
    ):
        assert line in answers
    assert (repo / "dvc.yaml").is_file()
    # The owner's code goes where the adoption says, and the runtime it names runs it.
    pyproject = tomllib.loads((repo / "pyproject.toml").read_text())
    table = pyproject["tool"]["mlops-ladder"]
    for module, (attribute, hook, _) in OWNER_MODULES.items():
        assert (repo / "src/churn_lab" / module).is_file()
        assert table[hook] == f"churn_lab.{Path(module).stem}:{attribute}"
    # serving in the dependencies (the image's), the rest in the group `uv sync` installs
    assert "mlops-ladder[serving]==0.2.0" in pyproject["project"]["dependencies"]
    assert pyproject["dependency-groups"]["pipeline"] == [
        "mlops-ladder[pipeline,monitoring]==0.2.0"
    ]
    assert pyproject["tool"]["uv"]["default-groups"] == ["pipeline", "dev"]
    layout = report["adoption"]["layout"]
    assert "src/churn_lab/ for your own code" in layout
    assert f"mlops-ladder[{RUNTIME_EXTRAS}]" in layout
    by_hand = " ".join(report["adoption"]["by_hand"])
    assert "README.md (yours, kept)" in by_hand
    assert "move your training code (train.py:5) into src/churn_lab/" in by_hand
    assert "your estimator into model.py (ESTIMATORS)" in by_hand
    assert "mlops-ladder runtime's" in by_hand
    assert "data/churn.csv" in by_hand
    assert "uv add -r requirements.txt" in by_hand
    # Adopted: the repository now assesses at level 1, and climbs on with copier update.
    after = assess_json(repo)
    assert after["level"] == 1, after["missing_for_next"]
    assert after["adopt"].startswith("copier update --defaults --data maturity_level=2")


# --------------------------------------------------------------------------------------------
# Output forms, questions, bad input
# --------------------------------------------------------------------------------------------
def test_terminal_report_is_a_table_with_the_level_and_the_adoption(scripts_mlflow: Path) -> None:
    done = subprocess.run([ASSESS, "assess", scripts_mlflow, "--template", "gh:example/ml"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Level reached: 0 (manual)" in done.stdout
    assert "[x] experiment tracking" in done.stdout
    assert "[ ] automated training pipeline" in done.stdout
    assert "[?] manual deployment" in done.stdout
    assert "copier copy --defaults --skip '*' --data maturity_level=1" in done.stdout
    assert "gh:example/ml" in done.stdout


def test_html_is_one_self_contained_page(scheduled_with_drift: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    done = subprocess.run([ASSESS, "assess", scheduled_with_drift, "--html", "-o", out],
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert "<code>.github/workflows/retrain.yml:3</code>" in page
    assert "src=" not in page
    assert "<link" not in page


def test_interactive_answers_fold_into_the_report(notebooks_only: Path) -> None:
    report = assess_json(notebooks_only, "--interactive", stdin="m\n2\n")
    deployment = items(report)["manual deployment"]
    assert deployment["met"] is True
    assert "deployed by hand" in deployment["note"]
    assert "a few times a year" in deployment["note"]
    assert report["answers"] == {
        "deployment": "by hand", "deployment_frequency": "a few times a year or less",
    }  # fmt: skip


def test_interactive_with_no_answers_is_one_line(notebooks_only: Path) -> None:
    done = subprocess.run([ASSESS, "assess", notebooks_only, "--interactive"], input="",
                          capture_output=True, text=True, check=False)  # fmt: skip
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("mlops-ladder: error: --interactive")


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_bad_paths_give_one_line(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "nowhere"
    if kind == "file":
        target.write_text("not a folder\n")
    done = subprocess.run([ASSESS, "assess", target], capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stdout == ""
    expected = "no such file or directory" if kind == "missing" else "not a folder"
    assert done.stderr == f"mlops-ladder: error: {target}: {expected}\n" or (
        kind == "file" and done.stderr.startswith(f"mlops-ladder: error: {target}: {expected}")
    )
    assert "Traceback" not in done.stderr


def test_binary_huge_and_unreadable_files_are_skipped_with_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = write(
        tmp_path / "odd",
        {
            "train.py": "import mlflow\n",
            "broken.ipynb": "{not json",
            "pyproject.toml": "[project\nname=",
            "secret.py": "x = 1\n",
        },
    )
    (repo / "model.pkl").write_bytes(b"\x80\x04\x95\x00\x00binary")
    (repo / "latin1.py").write_bytes("caf\xe9 = 1\n".encode("latin-1"))
    (repo / "big.csv").write_text("a,b\n" + "1,2\n" * 600_000)  # 2.4 MB
    real = os.open

    def refuse_secret(path: str, flags: int, *args: object, **kwargs: object) -> int:
        # As root, file modes do not refuse a read: the refusal is made here.
        if os.path.basename(path) == "secret.py":
            raise PermissionError(13, "Permission denied")
        return real(path, flags, *args, **kwargs)

    monkeypatch.setattr(scan.os, "open", refuse_secret)
    assert cli.main(["assess", str(repo), "--json"]) == 0
    out = capsys.readouterr()
    report = json.loads(out.out)
    assert out.err == ""
    assert "skipped secret.py: cannot read it (Permission denied)" in report["notes"]
    assert "skipped big.csv: 2.4 MB, over the 2 MB limit" in report["notes"]
    assert "1 binary file(s) not read (data, models, images)" in report["notes"]
    assert items(report)["experiment tracking"]["evidence"] == ["train.py:1"]
    assert any("skipped secret.py" in line for line in report["notes"])


def test_an_unreadable_folder_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    repo = tmp_path / "locked"
    repo.mkdir()

    def scandir(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(scan.os, "scandir", scandir)
    assert cli.main(["assess", str(repo)]) == 2
    assert capsys.readouterr().err == (
        f"mlops-ladder: error: {repo}: cannot read this folder (Permission denied)\n"
    )


# --------------------------------------------------------------------------------------------
# The tools people use, one at a time: each file alone makes its item met, by that tool
# --------------------------------------------------------------------------------------------
TOOLS = [
    ("automated training pipeline", "Airflow", {"dags/train.py": "from airflow import DAG\n"}),
    (
        "automated training pipeline",
        "Kubeflow Pipelines",
        {"pipeline.py": "from kfp import dsl\n\n@dsl.pipeline\ndef p(): ...\n"},
    ),
    ("automated training pipeline", "Dagster", {"assets.py": "from dagster import asset\n"}),
    ("automated training pipeline", "ZenML", {"run.py": "from zenml import pipeline\n"}),
    (
        "automated training pipeline",
        "Kedro",
        {"src/p/pipeline_registry.py": "from kedro.pipeline import Pipeline\n"},
    ),
    ("automated training pipeline", "DVC pipeline", {"dvc.yaml": "stages:\n  train:\n"}),
    ("experiment tracking", "Neptune", {"train.py": "import neptune\n"}),
    ("experiment tracking", "Weights & Biases", {"train.py": "import wandb\n"}),
    (
        "model registry",
        "MLflow model registry",
        {"promote.py": "client.transition_model_version_stage('m', 3, 'Production')\n"},
    ),
    (
        "model registry",
        "Neptune model registry",
        {"reg.py": "model_version = neptune.init_model_version(model='CHURN')\n"},
    ),
    (
        "CI/CD for ML",
        "deployment step",
        {
            ".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n      - run: pytest\n"
            "      - run: helm upgrade churn chart/\n"
        },
    ),
    (
        "automated data and model tests",
        "Great Expectations",
        {
            "tests/test_model.py": "def test_model_auc(m):\n    assert m\n",
            "checks.py": "import great_expectations as gx\n",
            ".gitlab-ci.yml": "test:\n  script:\n    - pytest\n",
        },
    ),
    (
        "continuous training",
        "Airflow schedule",
        {
            "dags/retrain.py": "from airflow import DAG\n\nwith DAG('r', schedule='@weekly'):\n"
            "    train_model()\n"
        },
    ),
    (
        "continuous training",
        "Kubernetes CronJob",
        {
            "k8s/retrain.yaml": "apiVersion: batch/v1\nkind: CronJob\n"
            "spec:\n  schedule: '0 3 * * *'\n"
            "  jobTemplate:\n    spec:\n      template:\n        spec:\n          containers:\n"
            "            - args: [python, -m, churn, train]\n"
        },
    ),
    (
        "continuous training",
        "schedule",
        {
            "Jenkinsfile": "pipeline {\n  triggers { cron('H 3 * * 1') }\n"
            "  stages { stage('train') { steps { sh 'make train' } } }\n}\n"
        },
    ),
    (
        "CI/CD for ML",
        "deployment step",
        {
            "cloudbuild.yaml": "steps:\n  - name: python\n    args: [pytest]\n"
            "  - name: gcr.io/cloud-builders/gcloud\n    entrypoint: gcloud\n"
            "    args: [run, deploy, churn, --image, gcr.io/p/churn]\n"
        },
    ),
    (
        "drift detection and alerting",
        "Evidently",
        {
            "monitor.py": "from evidently.presets import DataDriftPreset\n",
            "alerts/rules.yml": "groups:\n  - name: model\n    rules:\n      - alert: Drift\n",
        },
    ),
    ("basic monitoring", "whylogs / WhyLabs", {"log.py": "import whylogs as why\n"}),
    (
        "A/B testing infrastructure",
        "traffic split (Istio)",
        {"k8s/vs.yaml": "apiVersion: networking.istio.io/v1\nkind: VirtualService\n"},
    ),
    ("feature store", "Feast", {"repo/features.py": "from feast import FeatureView\n"}),
]


@pytest.mark.parametrize(
    ("item", "tool", "files"), TOOLS, ids=[f"{t[1]}-{next(iter(t[2]))}" for t in TOOLS]
)
def test_each_tool_is_recognised(tmp_path: Path, item: str, tool: str, files: dict) -> None:
    report = assess_json(write(tmp_path / "repo", files))
    found = items(report)[item]
    assert found["met"] is True, found
    assert tool in report["tools"] or tool in found["note"], (report["tools"], found["note"])


def test_a_learning_rate_schedule_is_not_continuous_training(tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {
        "train.py": "schedule = CosineSchedule(10)\ninterval = 5\nmodel.fit(X, y)\n",
        "README.md": "We retrain every Monday with cron.\n",
    })  # fmt: skip
    report = assess_json(repo)
    assert items(report)["continuous training"]["met"] is False
    assert items(report)["no retraining triggers"]["met"] is True


def test_an_existing_package_is_the_package_name_and_its_clashing_modules_are_named(
    tmp_path: Path,
) -> None:
    repo = write(tmp_path / "ml-repo", {
        "pyproject.toml": '[project]\nname = "Churn Predictor"\nrequires-python = ">=3.13"\n'
                          'description = "Predict churn."\n'
                          'authors = [{name = "Data Team", email = "data@example.org"}]\n',
        "src/churn/__init__.py": "",
        "src/churn/train.py": "from sklearn.linear_model import Ridge\nRidge().fit(X, y)\n",
    })  # fmt: skip
    (repo / ".git").mkdir()
    (repo / ".git/config").write_text(
        '[remote "origin"]\n\turl = git@github.com:data-team/churn.git\n'
    )
    adoption = assess_json(repo, "--template", "/t")["adoption"]
    values = {key: answer["value"] for key, answer in adoption["answers"].items()}
    assert values == {
        "project_name": "Churn Predictor", "project_slug": "churn-predictor",
        "package_name": "churn", "python_version": "3.13", "task": "regression",
        "description": "Predict churn.", "author_name": "Data Team",
        "author_email": "data@example.org", "github_owner": "data-team",
    }  # fmt: skip
    assert adoption["answers"]["github_owner"]["from"] == ".git/config:2"
    assert adoption["answers"]["python_version"]["from"] == "pyproject.toml:3"
    # The package's training code moves into the owner's modules; the runtime does the rest.
    assert any(step.startswith("move your training code (src/churn/train.py:2) into src/churn/")
               for step in adoption["by_hand"])  # fmt: skip
    kept = next(s for s in adoption["by_hand"] if s.startswith("pyproject.toml (yours, kept)"))
    assert "[tool.mlops-ladder]" in kept


@pytest.mark.slow
def test_uvx_from_the_template_runs_assess_and_points_the_adoption_at_it(
    tmp_path: Path, env: dict[str, str]
) -> None:
    """`uvx --from PATH mlops-ladder` builds the wheel (hatch_build.py records PATH in it)."""
    repo = churn_lab(tmp_path)
    done = subprocess.run(
        ["uv", "tool", "run", "--from", ROOT, "mlops-ladder", "assess", repo, "--json"],
        capture_output=True, text=True, env=env, cwd=tmp_path, check=False, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["level"] == 0
    assert shlex.split(report["adopt"])[-2:] == [str(ROOT), str(repo)]


def test_an_import_pattern_needs_the_import(tmp_path: Path) -> None:
    """Alternatives in an import pattern are grouped: `hyperopt` in a string is no import."""
    score = {
        files: {t["test"].split(":")[0]: t["met"] for t in assess_json(
            write(tmp_path / files, {"tune.py": text}))["ml_test_score"]}["Model 3"]
        for files, text in [("without", "mode = 'hyperopt-free'\nlabel = 'evidently fine'\n"),
                            ("with", "import optuna\n")]
    }  # fmt: skip
    assert score == {"without": False, "with": True}


# --------------------------------------------------------------------------------------------
# A repository on the mlops-ladder runtime: what its pyproject.toml says the runtime provides
# --------------------------------------------------------------------------------------------
TABLE = '[tool.mlops-ladder]\npackage = "churn"\nlevel = {level}\n'
# Serving in the dependencies, dependency groups to follow (a generated project's layout).
SERVING_GROUPS = '[project]\ndependencies = ["mlops-ladder[serving]"]\n[dependency-groups]\n'
RUNTIME_USES = {
    # name: (pyproject.toml, items met by the runtime)
    "table and every extra": (
        '[project]\nname = "churn"\ndependencies = [\n    "pandas>=2",\n'
        '    # "mlops-ladder[pipeline]==0.1.0",\n'
        '    "mlops-ladder[pipeline,serving,monitoring]==0.2.0",\n]\n\n' + TABLE.format(level=1),
        {"experiment tracking", "model registry", "basic monitoring"},
    ),
    "the name as PEP 503 allows it": (
        '[project]\ndependencies = ["MLOps_Ladder [ Pipeline ] >=0.2"]\n' + TABLE.format(level=2),
        {"experiment tracking", "model registry"},
    ),
    "no table: the runtime runs nothing of it": (
        '[project]\ndependencies = ["mlops-ladder[pipeline,serving,monitoring]==0.2.0"]\n',
        set(),
    ),
    "the dependency only in a group": (
        '[project]\ndependencies = []\n[dependency-groups]\ndev = ["mlops-ladder[pipeline]"]\n'
        + TABLE.format(level=1),
        set(),
    ),
    # A generated project: serving in the dependencies (all its image installs), the pipeline's
    # extras in a group that `uv sync` installs.
    "the pipeline's extras in a default group": (
        '[project]\ndependencies = ["mlops-ladder[serving]==0.2.0"]\n[dependency-groups]\n'
        'pipeline = [{include-group = "dev"}, "mlops-ladder[pipeline,monitoring]==0.2.0"]\n'
        'dev = ["pytest"]\n[tool.uv]\ndefault-groups = ["pipeline", "dev"]\n'
        + TABLE.format(level=2),
        {"experiment tracking", "model registry", "basic monitoring"},
    ),
    "the pipeline's extras in a group the default group includes": (
        SERVING_GROUPS
        + 'Pipeline = ["mlops-ladder[pipeline]"]\ndev = [{include-group = "pipeline"}]\n'
        + TABLE.format(level=1),
        {"experiment tracking", "model registry", "basic monitoring"},
    ),
    "groups that include each other": (
        SERVING_GROUPS
        + 'a = [{include-group = "b"}]\nb = [{include-group = "a"}, {include-group = 5}]\n'
        '[tool.uv]\ndefault-groups = ["a"]\n' + TABLE.format(level=2),
        {"basic monitoring"},
    ),
    "every group installed": (
        SERVING_GROUPS
        + 'pipeline = ["mlops-ladder[pipeline]"]\n[tool.uv]\ndefault-groups = "all"\n'
        + TABLE.format(level=1),
        {"experiment tracking", "model registry", "basic monitoring"},
    ),
    "the pipeline's extras in a group uv does not install": (
        SERVING_GROUPS + 'pipeline = ["mlops-ladder[pipeline]"]\n' + TABLE.format(level=2),
        {"basic monitoring"},
    ),
    "default groups that are not names": (
        SERVING_GROUPS
        + 'pipeline = ["mlops-ladder[pipeline]"]\n[tool.uv]\ndefault-groups = [5, {a = 1}]\n'
        + TABLE.format(level=2),
        {"basic monitoring"},
    ),
    "level 0 tracks nothing": (
        '[project]\ndependencies = ["mlops-ladder[pipeline,serving]==0.2.0"]\n'
        + TABLE.format(level=0),
        {"basic monitoring"},
    ),
    "a level that is not one": (
        '[project]\ndependencies = ["mlops-ladder[pipeline]==0.2.0"]\n' + TABLE.format(level=True),
        set(),
    ),
    "no extras": (
        '[project]\ndependencies = ["mlops-ladder==0.2.0"]\n' + TABLE.format(level=1),
        set(),
    ),
}


@pytest.mark.parametrize("name", RUNTIME_USES)
def test_a_repository_on_the_runtime_gets_what_its_extras_provide(
    tmp_path: Path, name: str
) -> None:
    text, provided = RUNTIME_USES[name]
    repo = write(tmp_path / "repo", {"pyproject.toml": text, "src/churn/__init__.py": ""})
    report = assess_json(repo)
    found = {item for item, ok in met(report).items() if ok and item != "no retraining triggers"}
    assert found == provided | ({"no monitoring"} if "basic monitoring" not in provided else set())
    lines = text.splitlines()
    for item in provided:
        refs = items(report)[item]["evidence"]
        assert refs, item
        cited = [lines[int(ref.removeprefix("pyproject.toml:")) - 1] for ref in refs]
        assert "mlops-ladder[" in cited[0] or "MLOps_Ladder [" in cited[0], cited
        assert not cited[0].lstrip().startswith("#")
        if item in {"experiment tracking", "model registry"}:
            assert cited[1].startswith("level = ")


def test_the_runtimes_challenger_split_is_ab_testing_where_a_deployment_sets_it(
    tmp_path: Path,
) -> None:
    deployment = "env:\n  - name: CHURN_CHALLENGER_SHARE\n    value: '0.1'\n"
    runtime = '[project]\ndependencies = ["mlops-ladder[serving]"]\n' + TABLE.format(level=2)
    with_runtime = write(
        tmp_path / "on",
        {"pyproject.toml": runtime, "k8s/deployment.yaml": deployment},
    )
    without = write(tmp_path / "off", {"k8s/deployment.yaml": deployment})
    ab = items(assess_json(with_runtime))["A/B testing infrastructure"]
    assert (ab["met"], ab["evidence"]) == (True, ["k8s/deployment.yaml:2"])
    assert items(assess_json(without))["A/B testing infrastructure"]["met"] is False


def test_a_module_the_runtime_calls_that_a_repository_has_is_named_with_what_goes_there(
    tmp_path: Path,
) -> None:
    repo = write(tmp_path / "churn", {
        "src/churn/__init__.py": "",
        "src/churn/features.py": "def add_ratio(frame):\n    return frame\n",
    })  # fmt: skip
    steps = assess_json(repo, "--template", "/t")["adoption"]["by_hand"]
    step = next(s for s in steps if s.startswith("src/churn/features.py (yours, kept): "))
    assert "DERIVED" in step
    assert "features.py" in step


# --------------------------------------------------------------------------------------------
# The answers' rules: the runtime's (adopt.py) are copier.yml's and the cookiecutter hooks'
# --------------------------------------------------------------------------------------------
def test_the_runtimes_answer_patterns_are_copiers() -> None:
    patterns = CONTEXT["patterns"]  # copier.yml's, rendered and parsed as copier does
    assert patterns["control"] == rules.CONTROL.pattern
    assert patterns["slug"] == rules.SLUG.pattern
    assert patterns["package"] == rules.PACKAGE.pattern
    assert patterns["email"] == rules.EMAIL.pattern
    assert patterns["owner"] == rules.OWNER.pattern
    assert patterns["one_line"] == rules.ONE_LINE


def test_the_runtime_copier_and_the_hooks_give_one_verdict_on_every_hostile_answer() -> None:
    for field in TEXT:
        for label, value in HOSTILE.items():
            runtime = rules.text_error(field, value)
            assert runtime == copier_rule(field, value), (field, label)
            assert runtime == hook_rules.field_error(field, value), (field, label)


NAMES = [
    "Tabular Model", "Café Prédictions", "Straße & Œuvre", "e\u0301te\u0301", "3D scans",
    "東京データ", "Rocket 🚀 launch", "--a--b--", "x" * 80, "  spaced   out  ",
]  # fmt: skip


@pytest.mark.parametrize("name", NAMES)
def test_the_slug_and_package_proposed_are_copiers_default_or_one_it_accepts(name: str) -> None:
    default = copier_environment().from_string(COPIER["project_slug"]["default"])
    assert rules.slug_from(name) == default.render({**CONTEXT, "project_name": name})
    slug = rules.valid_slug(name)
    assert copier_rule("project_slug", slug) == ""
    if copier_rule("project_slug", rules.slug_from(name)) == "":
        assert slug == rules.slug_from(name)
    assert copier_rule("package_name", rules.valid_package(slug)) == ""


def test_adoption_proposes_only_answers_copier_accepts(tmp_path: Path) -> None:
    repo = write(tmp_path / "repo", {
        "pyproject.toml": '[project]\nname = "2nd ' + "Modèle " * 12 + '"\n'
                          f'description = "{"d" * 600}"\n'
                          'authors = [{name = "Team", email = "team@example"}]\n',
        "src/mlops_ladder/__init__.py": "", "src/json/__init__.py": "",
        "src/_private/__init__.py": "", "src/Churn/__init__.py": "",
    })  # fmt: skip
    adoption = assess_json(repo, "--template", "/t")["adoption"]
    values = {key: answer["value"] for key, answer in adoption["answers"].items()}
    for field, value in values.items():
        if field in TEXT:
            assert copier_rule(field, value) == "", (field, value)
    assert values["project_slug"].startswith("project-2nd-modele-modele")
    assert len(values["project_slug"]) <= rules.NAME_LENGTH
    assert values["package_name"] == values["project_slug"].replace("-", "_")
    assert {"description", "author_email"}.isdisjoint(values)
    notes = " ".join(adoption["notes"])
    assert "pyproject.toml's description breaks the template's rule for description" in notes
    assert "pyproject.toml's author e-mail breaks the template's rule for author_email" in notes
