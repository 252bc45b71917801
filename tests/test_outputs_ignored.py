"""Pipeline outputs stay out of git whatever a run did: the project's .gitignore ignores them
itself, because DVC takes back the .gitignore lines it added when a stage fails. And DVC still
runs the whole pipeline with its outputs ignored that way."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from rendering import LEVELS, Renderer, run

# dvc.yaml's cached outs (reports/*.json, plots and figures are `cache: false`, kept in git).
OUTPUT_FOLDERS = ("data/raw/", "data/processed/", "data/features/", "models/")
# Where users put their input files (`dvc add` them from level 1): never ignored by the project.
INPUTS = ("data/external/customers.csv", "data/sample/rows.csv", "data/mine.parquet")


def dvc_repro(project: Path, env: dict[str, str], label: str, check: bool = True):
    return run(["uv", "run", "--frozen", "dvc", "repro"], project, env, label=label, check=check)


def changed(project: Path, env: dict[str, str]) -> list[str]:
    """Every path git would list as changed or new, one per file (no folder summaries)."""
    status = run(["git", "status", "--porcelain", "--untracked-files=all"], project, env).stdout
    return [line[3:] for line in status.splitlines()]


def refuse_the_data(project: Path) -> str:
    """Make schema.yaml require a column the data does not have; return the original text."""
    schema_file = project / "schema.yaml"
    original = schema_file.read_text()
    schema = yaml.safe_load(original)
    schema["features"]["column_the_data_lacks"] = {"dtype": "float"}
    schema_file.write_text(yaml.safe_dump(schema, sort_keys=False))
    return original


def assert_no_output_listed(paths: list[str]) -> None:
    listed = [path for path in paths if path.startswith(OUTPUT_FOLDERS)]
    assert not listed, f"pipeline outputs git would commit: {listed}"


@pytest.mark.parametrize("level", LEVELS)
def test_gitignore_ignores_the_outputs_and_not_the_inputs(
    renderer: Renderer, env: dict[str, str], level: int, tmp_path: Path
) -> None:
    # Given the .gitignore of a rendered project, in a repository of its own
    shutil.copy(renderer.get("copier", maturity_level=str(level)) / ".gitignore", tmp_path)
    run(["git", "init", "--quiet"], tmp_path, env)
    outputs = [f"{folder}file.parquet" for folder in OUTPUT_FOLDERS]
    # Then git ignores every pipeline output, and none of the user's input files
    check = run(
        ["git", "check-ignore", "--no-index", *outputs, *INPUTS], tmp_path, env, check=False
    )
    assert check.stdout.split() == outputs


@pytest.mark.slow
def test_pipeline_outputs_stay_ignored_after_failed_and_successful_runs(
    renderer: Renderer, env: dict[str, str]
) -> None:
    # Given a fresh level-1 project, set up and committed
    project = renderer.fresh("copier", maturity_level="1", light=True)
    run(["make", "setup"], project, env, label="L1 copier: make setup")
    run(["git", "add", "--all"], project, env)
    run(["git", "commit", "--quiet", "--no-verify", "-m", "Generated project"], project, env)
    original = refuse_the_data(project)

    # When its first `dvc repro` fails at validate, after ingest wrote data/raw/
    failed = dvc_repro(project, env, "dvc repro, data refused", check=False)
    assert failed.code != 0
    assert "failed to reproduce 'validate'" in failed.stdout + failed.stderr
    assert (project / "data" / "raw").is_dir()
    # Then git lists the validation report (kept in git) but no pipeline output
    paths = changed(project, env)
    assert "reports/validation.json" in paths
    assert_no_output_listed(paths)

    # When the data is accepted again, the whole pipeline runs, with nothing to say about
    # outputs that git ignores
    (project / "schema.yaml").write_text(original)
    done = dvc_repro(project, env, "dvc repro, outputs git-ignored")
    assert "Running stage 'register'" in done.stdout
    output = done.stdout + done.stderr
    assert "is ignored" not in output, output
    assert "git-ignored" not in output, output
    status = run(["uv", "run", "--frozen", "dvc", "status"], project, env).stdout
    assert "Data and pipelines are up to date." in status
    for folder in OUTPUT_FOLDERS:
        assert any((project / folder).iterdir()), f"{folder} is empty"
    assert_no_output_listed(changed(project, env))
    assert "dvc.lock" in changed(project, env)

    # And when a later run fails again, every output folder now full stays out of git
    refuse_the_data(project)
    failed = dvc_repro(project, env, "dvc repro, data refused again", check=False)
    assert failed.code != 0
    assert_no_output_listed(changed(project, env))
