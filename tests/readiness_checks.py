"""The readiness card's checks (`make readiness`: the ML Test Score, Breck et al. 2017), mixed into
the level-1 and level-2 project classes of test_level1.py, which have already run the pipeline
and `make test` in their project: the card follows its format, every point rests on checks that
passed (read here again, independently), the scores are the ones measured, the level's target
is met; then properties are broken one at a time and the matching point drops.

A breakage that reruns the pipeline works in a scratch copy of the project's outputs (data,
models, reports, registry: `scratch`): the project itself stays as it was for the tests that
follow. A breakage of a file the card reads (a workflow, a deployment) is undone after it.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import pandas as pd
import pytest
import yaml
from rendering import Outcome, run

PACKAGE = "tabular_model"
PREFIX = PACKAGE.upper() + "_"
CLI = ["uv", "run", "--frozen", "python", "-m", PACKAGE]
PYTEST = ["uv", "run", "--frozen", "pytest", "-q", "-p", "no:cacheprovider"]
# An evaluation without what a breakage does not test: one importance repeat, three windows.
LIGHT = {"importance_repeats": 1, "backtest_windows": 3}
SECTIONS = ("data", "model", "infrastructure", "monitoring")
# The paper's 28 tests, in its order and wording (Tables I to IV).
PAPER = {
    "data": [
        "Feature expectations are captured in a schema",
        "All features are beneficial",
        "No feature's cost is too much",
        "Features adhere to meta-level requirements",
        "The data pipeline has appropriate privacy controls",
        "New features can be added quickly",
        "All input feature code is tested",
    ],
    "model": [
        "Model specs are reviewed and submitted",
        "Offline and online metrics correlate",
        "All hyperparameters have been tuned",
        "The impact of model staleness is known",
        "A simpler model is not better",
        "Model quality is sufficient on important data slices",
        "The model is tested for considerations of inclusion",
    ],
    "infrastructure": [
        "Training is reproducible",
        "Model specs are unit tested",
        "The ML pipeline is integration tested",
        "Model quality is validated before serving",
        "The model is debuggable",
        "Models are canaried before serving",
        "Serving models can be rolled back",
    ],
    "monitoring": [
        "Dependency changes result in notification",
        "Data invariants hold for training and serving inputs",
        "Training and serving features compute the same values",
        "Models are not too stale",
        "The model is numerically stable",
        "The model has not experienced dramatic or slow-leak regressions in training speed, "
        "serving latency, throughput, or RAM usage",
        "The model has not experienced a regression in prediction quality on served data",
    ],
}


@contextmanager
def restored(*files: Path) -> Iterator[None]:
    """Whatever the block does to these files, they are put back as they were (or removed,
    those that did not exist)."""
    kept = {file: file.read_bytes() if file.exists() else None for file in files}
    try:
        yield
    finally:
        for file, content in kept.items():
            if content is None:
                file.unlink(missing_ok=True)
            else:
                file.write_bytes(content)


@contextmanager
def scratch(project: Path, env: dict[str, str], folder: Path) -> Iterator[dict[str, str]]:
    """An environment whose every output (data, models, reports, the MLflow store) goes to
    `folder`, seeded with the project's: params.yaml and schema.yaml are copies there too, so a
    breakage edits those, reruns stages, and leaves the project as it was."""
    for name in ("data", "models", "reports"):
        shutil.copytree(project / name, folder / name, ignore=shutil.ignore_patterns("sample"))
    for name in ("params.yaml", "schema.yaml", "mlflow.db"):
        shutil.copy(project / name, folder / name)
    yield {
        **env,
        f"{PREFIX}DATA_DIR": str(folder / "data"),
        f"{PREFIX}MODELS_DIR": str(folder / "models"),
        f"{PREFIX}REPORTS_DIR": str(folder / "reports"),
        f"{PREFIX}PARAMS_FILE": str(folder / "params.yaml"),
        f"{PREFIX}SCHEMA_FILE": str(folder / "schema.yaml"),
        f"{PREFIX}ARTIFACTS_DIR": str(folder / "mlartifacts"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{folder / 'mlflow.db'}",
    }


def edit_yaml(path: Path, change: Any) -> None:
    loaded = yaml.safe_load(path.read_text())
    change(loaded)
    path.write_text(yaml.safe_dump(loaded, sort_keys=False))


def readiness(project: Path, env: dict[str, str], check: bool = True) -> tuple[Outcome, dict]:
    outcome = run(["make", "readiness"], project, env, label="make readiness", check=check)
    reports = Path(env.get(f"{PREFIX}REPORTS_DIR", project / "reports"))
    card_file = reports / "readiness.json"
    return outcome, json.loads(card_file.read_text()) if card_file.is_file() else {}


def entries(card: dict) -> dict[str, dict[str, Any]]:
    return {test["id"]: test for s in card["sections"].values() for test in s["tests"]}


def card_entries(project: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """`make readiness`, then its card's entries by paper id."""
    return entries(readiness(project, env)[1])


def scores(project: Path, env: dict[str, str]) -> dict[str, float]:
    return {key: entry["score"] for key, entry in card_entries(project, env).items()}


def entry_after_edit(
    project: Path, env: dict[str, str], workflow: Path, change: Any, point: str
) -> dict[str, Any]:
    """One point's entry of the card while `change` edits `workflow` (put back afterwards)."""
    with restored(workflow):
        edit_yaml(workflow, change)
        return card_entries(project, env)[point]


def recorded(reports: Path) -> dict[str, dict[str, Any]]:
    """reports/tests.json's tests by node id, read here."""
    return {t["nodeid"]: t for t in json.loads((reports / "tests.json").read_text())["tests"]}


class CardChecks:
    LEVEL = 2
    # The lowest section score the level reaches on a fresh project (the paper: above 5 is
    # strong). The model section holds it down: CODEOWNERS names the generated placeholder, the
    # sample has no time order for staleness, live metrics need the repository's variables.
    TARGET = 4
    MEASURED: ClassVar[dict[str, float]] = {}  # every point, as measured on the sample

    @pytest.fixture(scope="class")
    @classmethod
    def card(cls, project: Path, env: dict[str, str]) -> tuple[Outcome, dict]:
        """The card of the class's project, after its pipeline and `make test` ran."""
        assert (project / "reports" / "tests.json").is_file(), "make test has not run"
        return readiness(project, env)

    def test_before_make_test_the_card_says_what_to_run(
        self, project: Path, env: dict[str, str], card: tuple[Outcome, dict]
    ) -> None:
        # Given a project whose tests and pipeline have not run (their records set aside)
        records = [project / "reports" / "tests.json", project / "reports" / "metrics.json"]
        with restored(*records):
            for path in records:
                path.unlink()
            early = run(["make", "readiness"], project, env, check=False)
        # Then the card says what to run first, with no traceback
        assert early.code != 0
        assert "reports/tests.json is missing: run `make test` first" in early.stderr
        assert "reports/metrics.json is missing: run `make all` first" in early.stderr
        assert "Traceback" not in early.stderr, early.tail()

    def test_the_card_follows_the_format(self, card: tuple[Outcome, dict]) -> None:
        outcome, result = card
        assert set(result) == {"final", "level", "run", "sections"}
        assert result["level"] == self.LEVEL
        assert result["run"]["status"] == "green", result["run"]
        assert list(result["sections"]) == list(SECTIONS)
        for section, names in PAPER.items():
            tests = result["sections"][section]["tests"]
            assert [test["id"] for test in tests] == [f"{section}-{n}" for n in range(1, 8)]
            assert [test["name"] for test in tests] == names
            for test in tests:
                assert set(test) == {"id", "name", "score", "evidence", "missing", "checks"}
                assert test["score"] in (0, 0.5, 1)
            assert result["sections"][section]["score"] == sum(t["score"] for t in tests)
        assert result["final"] == min(s["score"] for s in result["sections"].values())
        # The printed card shows the run, every test, its score and the final score
        assert "Last recorded run (reports/tests.json" in outcome.stdout
        for test in entries(result).values():
            assert f"{test['score']:<3g} {test['id']:<17} {test['name']}" in outcome.stdout
        assert f"Final score (lowest section): {result['final']:g}" in outcome.stdout

    def test_every_point_rests_on_checks_that_passed(
        self, project: Path, card: tuple[Outcome, dict]
    ) -> None:
        tests = recorded(project / "reports")
        for entry in entries(card[1]).values():
            automated = [c for c in entry["checks"] if not c.get("manual")]
            manual = [c for c in entry["checks"] if c.get("manual")]
            backing = {1: automated, 0.5: manual}.get(entry["score"], [])
            assert all(check["status"] == "passed" for check in backing), entry
            if entry["score"] < 1:
                assert entry["missing"], entry
                assert any(check["status"] != "passed" for check in automated), entry
            # A `tests:` check: the tests marked with the id, each passed in tests.json
            for check in backing:
                if check["id"].startswith("tests:"):
                    paper_id = check["id"].removeprefix("tests:")
                    marked = [t for t in tests.values() if paper_id in t["ml_test_score"]]
                    assert marked, (entry["id"], check)
                    assert all(t["outcome"] == "passed" for t in marked), (entry["id"], marked)

    def test_the_measured_scores(self, card: tuple[Outcome, dict]) -> None:
        found = {key: entry["score"] for key, entry in entries(card[1]).items()}
        assert found == self.MEASURED

    def test_every_section_clears_the_levels_target(self, card: tuple[Outcome, dict]) -> None:
        sections = {name: section["score"] for name, section in card[1]["sections"].items()}
        assert min(sections.values()) >= self.TARGET, sections
        assert card[1]["final"] >= self.TARGET

    # -- breakages: a property broken, the matching point drops ----------------------------

    def test_broken_repository_files_lose_their_points(
        self, project: Path, env: dict[str, str]
    ) -> None:
        github = project / ".github"
        # Dependabot gone: no notification of dependency changes
        with restored(github / "dependabot.yml"):
            (github / "dependabot.yml").unlink()
            monitoring_1 = card_entries(project, env)["monitoring-1"]
        # The generated placeholder replaced by a real owner: the model spec is reviewed
        with restored(github / "CODEOWNERS", github / "workflows" / "ci.yml"):
            example_owner = card_entries(project, env)["model-1"]
            owners = (github / "CODEOWNERS").read_text().replace("@example-org", "@acme-ml")
            (github / "CODEOWNERS").write_text(owners)
            reviewed = card_entries(project, env)["model-1"]
            # params.yaml's spec no longer reviewed by a code owner, and CI's review check removed
            (github / "CODEOWNERS").write_text(owners.replace("/params.yaml ", "# "))
            unowned = card_entries(project, env)["model-1"]
            edit_yaml(github / "workflows" / "ci.yml", drop_steps("readiness --code-owner-review"))
            unchecked = card_entries(project, env)["model-1"]
        # The alert rules no longer tested in CI; CI no longer runs the pipeline
        with restored(github / "workflows" / "ci.yml"):
            edit_yaml(github / "workflows" / "ci.yml", drop_steps("promtool"))
            untested = card_entries(project, env)["monitoring-6"]
            edit_yaml(github / "workflows" / "ci.yml", drop_steps("make pipeline"))
            unrun = card_entries(project, env)["infrastructure-3"]
        assert monitoring_1["score"] == 0
        assert ".github/dependabot.yml is missing" in monitoring_1["missing"]
        assert example_owner["score"] == 0.5
        assert ".github/CODEOWNERS names only @example-org" in example_owner["missing"]
        assert reviewed["score"] == 1
        # committed specs, the gate requiring commits: half a point, by hand
        assert unowned["score"] == unchecked["score"] == 0.5
        assert "no code owner reviews params.yaml" in unowned["missing"]
        assert "requires code-owner review" in unchecked["checks"][1]["detail"]
        assert untested["score"] == 0
        assert "promtool" in untested["missing"]
        assert unrun["score"] == 0
        # And all back as they were
        assert scores(project, env) == self.MEASURED


def drop_steps(pattern: str) -> Any:
    """An edit of a workflow: every step whose command holds `pattern` removed."""

    def change(workflow: dict) -> None:
        for job in workflow["jobs"].values():
            job["steps"] = [s for s in job.get("steps", []) if pattern not in str(s.get("run"))]

    return change


class PipelineBreakages:
    """Breakages that rerun stages or tests: the runtime behind them is one for every level,
    so the level-2 project runs them (each costs a stage or a test session)."""

    def test_a_red_make_test_is_a_red_card(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given a derived feature's formula inverted, and the data and feature tests run again
        features = project / "src" / PACKAGE / "features.py"
        formula = 'frame["worst_radius"] / frame["mean_radius"].replace(0, np.nan)'
        inverted = 'frame["mean_radius"] / frame["worst_radius"].replace(0, np.nan)'
        with restored(features), scratch(project, env, tmp_path) as broken:
            code = features.read_text()
            assert formula in code
            features.write_text(code.replace(formula, inverted))
            tests = ["tests/test_data.py", "tests/test_features.py"]
            assert run([*PYTEST, *tests], project, broken, check=False).code == 1
            outcome, result = readiness(project, broken)
            strict = run([*CLI, "readiness", "--fail-on-red"], project, broken, check=False)
        # Then the card is red and says which tests failed; the feature tests back nothing
        assert result["run"]["status"] == "red"
        assert "RED: the last `make test` failed" in outcome.stdout
        assert strict.code == 1
        found = entries(result)
        assert found["data-7"]["score"] == 0
        assert "test_the_sample_features_compute_their_formulas" in found["data-7"]["missing"]
        # a point resting on the failed module, not on the failed test, drops too
        assert found["data-3"]["score"] == 0
        assert "tests/test_features.py had failures" in found["data-3"]["missing"]
        # the data tests passed: their points stand; the model tests did not run: none
        assert found["data-1"]["score"] == 1
        assert found["model-5"]["score"] == 0
        assert "no test of the last run is marked" in found["model-5"]["missing"]

    def test_a_model_clearly_worse_than_the_linear_baseline_loses_model_5(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given a forest of three one-split trees, trained and evaluated
        with scratch(project, env, tmp_path) as broken:

            def change(params: dict) -> None:
                params["train"]["random_forest"].update(n_estimators=3, max_depth=1)
                params["evaluate"].update(LIGHT)

            edit_yaml(tmp_path / "params.yaml", change)
            run([*CLI, "train"], project, broken)
            evaluated = run([*CLI, "evaluate"], project, broken)
            found = card_entries(project, broken)
        # Then the bar says a simpler model is better, and the card loses model-5
        assert "clearly worse than the linear baseline" in evaluated.stderr
        assert found["model-5"]["score"] == 0
        assert "clearly worse than the linear baseline" in found["model-5"]["missing"]

    def test_features_that_never_help_lose_data_2(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given three columns of pure noise added to the data and to its contract
        with scratch(project, env, tmp_path) as broken:
            noisy = tmp_path / "noisy.csv"
            script = (
                "import numpy as np, pandas as pd, sys; f = pd.read_csv(sys.argv[1]);"
                "rng = np.random.default_rng(0);"
                "[f.insert(0, f'noise_{i}', rng.normal(size=len(f))) for i in range(3)];"
                "f.to_csv(sys.argv[2], index=False)"
            )
            source = yaml.safe_load((tmp_path / "params.yaml").read_text())["ingest"]["source"]
            run(["uv", "run", "--frozen", "python", "-c", script, source, noisy], project, env)
            # the bar allows fewer useless features than three of 33; staleness is not tested

            def change(params: dict) -> None:
                params["ingest"]["source"] = str(noisy)
                params["evaluate"].update(max_useless_share=0.05, backtest_windows=3)

            edit_yaml(tmp_path / "params.yaml", change)
            edit_yaml(
                tmp_path / "schema.yaml",
                lambda s: s["features"].update(
                    {f"noise_{i}": {"dtype": "float"} for i in range(3)}
                ),
            )
            for stage in ("ingest", "validate", "split", "featurize", "train", "evaluate"):
                run([*CLI, stage], project, broken, label=f"noise: {stage}")
            flagged = json.loads((tmp_path / "reports" / "metrics.json").read_text())
            found = card_entries(project, broken)["data-2"]
        # Then the noise is named as never helping, and past the stated share data-2 drops
        assert {f"noise_{i}" for i in range(3)} <= set(flagged["feature_importance"]["useless"])
        assert found["score"] == 0
        assert "never help" in found["missing"]

    def test_an_unscored_slice_contract_loses_model_6_and_inclusion_drops_for_a_group_served_worse(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given the contract's slices removed and its first feature tagged sensitive, evaluated
        with scratch(project, env, tmp_path) as broken:
            schema = tmp_path / "schema.yaml"
            contract = yaml.safe_load(schema.read_text())
            feature, target = next(iter(contract["features"])), contract["target"]["name"]

            def change(contract: dict) -> None:
                contract["slices"] = []
                contract["features"][feature]["tags"] = ["sensitive"]

            edit_yaml(schema, change)
            edit_yaml(tmp_path / "params.yaml", lambda params: params["evaluate"].update(LIGHT))
            run([*CLI, "evaluate"], project, broken)
            tagged = card_entries(project, broken)
            # When the model serves one of its groups worse: the test split's classes inverted
            # above the feature's median, as for a group whose cases follow another rule
            split = tmp_path / "data" / "processed" / "test.parquet"
            rows = pd.read_parquet(split)
            above = rows[feature] > rows[feature].median()
            rows.loc[above, target] = 1 - rows.loc[above, target]
            rows.to_parquet(split)
            run([*CLI, "evaluate"], project, broken)
            unequal = card_entries(project, broken)
            gaps = json.loads((tmp_path / "reports" / "metrics.json").read_text())["groups"]
        # Then model-6 has no slice to stand on; model-7 scores with a sensitive feature
        # served alike, and drops when a group is served worse, past the bound and chance
        assert tagged["model-6"]["score"] == 0
        assert "no slice of schema.yaml scored" in tagged["model-6"]["missing"]
        assert tagged["model-7"]["score"] == 1
        gap = gaps["features"][feature]
        assert gap["gap"] > max(gaps["bound"], gap["chance_gap"])
        assert unequal["model-7"]["score"] == 0
        assert f"sensitive feature {feature}" in unequal["model-7"]["missing"]

    def test_broken_data_loses_the_schema_and_leakage_points(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given a copy of the target planted as a feature of the data and of its contract
        with scratch(project, env, tmp_path) as broken:
            leaky = tmp_path / "leaky.csv"
            contract = yaml.safe_load((tmp_path / "schema.yaml").read_text())
            target = contract["target"]["name"]
            script = (
                "import pandas as pd, sys; f = pd.read_csv(sys.argv[1]);"
                f"f.insert(0, 'copy', f['{target}'] * 2.0); f.to_csv(sys.argv[2], index=False)"
            )
            source = yaml.safe_load((tmp_path / "params.yaml").read_text())["ingest"]["source"]
            run(["uv", "run", "--frozen", "python", "-c", script, source, leaky], project, env)
            edit_yaml(tmp_path / "params.yaml", lambda p: p["ingest"].update(source=str(leaky)))
            edit_yaml(
                tmp_path / "schema.yaml", lambda s: s["features"].update(copy={"dtype": "float"})
            )
            run([*CLI, "ingest"], project, broken)
            refused = run([*CLI, "validate"], project, broken, check=False)
            found = card_entries(project, broken)
        # Then validate names the leak; the card loses data-4, and data-1 (the data is invalid)
        assert refused.code == 1
        assert "copy.leakage" in refused.stderr
        assert found["data-4"]["score"] == 0
        assert "leakage: copy.leakage" in found["data-4"]["missing"]
        assert found["data-1"]["score"] == found["monitoring-2"]["score"] == 0

    def test_a_costly_feature_and_untuned_hyperparameters_lose_their_points(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given a derived-feature budget no feature can meet, and a forest of one small tree
        with scratch(project, env, tmp_path) as broken:

            def change(params: dict) -> None:
                params["featurize"]["max_bytes_per_row"] = 1
                params["train"]["random_forest"].update(n_estimators=1, max_depth=1)
                params["tune"]["n_trials"] = 3
                # the study's best would be trained instead (use_best): the spec's own must fail
                params["tune"]["on_shortfall"] = "error"

            edit_yaml(tmp_path / "params.yaml", change)
            costly = run([*CLI, "featurize"], project, broken, check=False)
            untuned = run([*CLI, "tune"], project, broken, check=False)
            found = card_entries(project, broken)
        # Then featurize and tune fail, saying why, and the card loses data-3 and model-3
        assert costly.code == untuned.code == 1
        assert "bytes per row is over the budget of 1" in costly.stderr
        assert "copy these into params.yaml train.random_forest:" in untuned.stderr
        assert found["data-3"]["score"] == found["model-3"]["score"] == 0

    def test_a_personal_column_left_untagged_fails_the_privacy_test_and_loses_data_5(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given the data with a column of e-mail addresses that schema.yaml does not mention
        params_file = project / "params.yaml"
        with restored(params_file), scratch(project, env, tmp_path) as broken:
            personal = tmp_path / "personal.csv"
            script = (
                "import pandas as pd, sys; f = pd.read_csv(sys.argv[1]);"
                "f.insert(0, 'email', [f'patient{i}@example.org' for i in range(len(f))]);"
                "f.to_csv(sys.argv[2], index=False)"
            )
            source = yaml.safe_load(params_file.read_text())["ingest"]["source"]
            run(["uv", "run", "--frozen", "python", "-c", script, source, personal], project, env)
            # the tests read the project's own params.yaml: it points at that data for them
            edit_yaml(params_file, lambda p: p["ingest"].update(source=str(personal)))
            test = "tests/test_serving.py::test_personal_data_is_tagged_and_never_logged_in_clear"
            failed = run([*PYTEST, test], project, broken, check=False)
            found = card_entries(project, broken)["data-5"]
        # Then the project's privacy test names the column, and data-5 drops: a privacy test
        # that fails is personal data in the clear, no half point for the deployment's secret
        assert failed.code == 1, failed.tail()
        assert "email" in failed.stdout
        assert found["score"] == 0
        assert "failed in the last run" in found["missing"]
        assert "test_personal_data_is_tagged_and_never_logged_in_clear" in found["missing"]


class Level2Card(PipelineBreakages, CardChecks):
    LEVEL = 2
    MEASURED: ClassVar[dict[str, float]] = {
        **{f"data-{n}": 1 for n in range(1, 8)},
        "model-1": 0.5,  # CODEOWNERS names the placeholder @example-org; the gate needs commits
        "model-2": 0.5,  # monitor.yml's step tested and wired; no report against the champion
        "model-3": 1,
        "model-4": 0,  # the sample has no time column: params.yaml evaluate.order_by is null
        "model-5": 1,
        "model-6": 1,
        "model-7": 0,  # the sample tags no feature sensitive: nothing to be inclusive of
        **{f"infrastructure-{n}": 1 for n in range(1, 8)},
        "monitoring-1": 1,  # Dependabot, and ct.yml's schedule asks data/'s imported sources
        "monitoring-2": 1,
        "monitoring-3": 1,
        "monitoring-4": 0.5,  # as model-2: the champion's age read by the step's test only
        "monitoring-5": 1,
        "monitoring-6": 0.5,  # the first champion: the gate had none to compare costs with
        "monitoring-7": 0.5,  # as model-2
    }

    def test_cd_without_its_smoke_test_or_staging_loses_the_canary(
        self, project: Path, env: dict[str, str]
    ) -> None:
        cd = project / ".github" / "workflows" / "cd.yml"
        unsmoked = entry_after_edit(project, env, cd, drop_steps("smoke-test"), "infrastructure-6")
        unstaged = entry_after_edit(
            project, env, cd, lambda w: w["jobs"].pop("staging"), "infrastructure-6"
        )
        with restored(project / ".github" / "workflows" / "rollback.yml"):
            (project / ".github" / "workflows" / "rollback.yml").unlink()
            by_hand = card_entries(project, env)["infrastructure-7"]
        assert unsmoked["score"] == unstaged["score"] == 0
        assert "no smoke test" in unsmoked["missing"]
        assert "no staging job" in unstaged["missing"]
        # without its workflow a rollback is done by hand (make rollback): half a point
        assert by_hand["score"] == 0.5

    def test_pii_key_not_from_a_secret_loses_data_5_and_serving_refuses_the_default(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        deployment = project / "deploy" / "k8s" / "deployment.yaml"
        with restored(deployment):
            text = deployment.read_text()
            deployment.write_text(text.replace("secretKeyRef:", "configMapKeyRef:"))
            found = card_entries(project, env)["data-5"]
        assert found["score"] == 0
        assert f"no container takes {PREFIX}PII_KEY from a secret" in found["missing"]
        # And with a feature tagged pii, serving refuses to start on the public default key
        with scratch(project, env, tmp_path) as tagged:
            schema = tmp_path / "schema.yaml"
            feature = next(iter(yaml.safe_load(schema.read_text())["features"]))
            edit_yaml(schema, lambda s: s["features"][feature].update(tags=["pii"]))
            refused = run([*CLI, "serve", "--port", "0"], project, tagged, check=False)
        assert refused.code == 1
        assert f"set {PREFIX}PII_KEY to a secret key of this deployment" in refused.stderr

    def test_a_scheduled_monitor_without_the_registry_loses_staleness_and_offline_online(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given monitor.yml's monitoring step no longer given the registry
        monitor = project / ".github" / "workflows" / "monitor.yml"

        def unregistered(workflow: dict) -> None:
            for job in workflow["jobs"].values():
                for step in job.get("steps", []):
                    step.get("env", {}).pop("MLFLOW_TRACKING_URI", None)

        with restored(monitor), scratch(project, env, tmp_path) as broken:
            edit_yaml(monitor, unregistered)
            read = card_entries(project, broken)
            # When the workflow test runs that step as the schedule does
            ran = run([*PYTEST, "tests/test_workflows.py"], project, broken, check=False)
            found = card_entries(project, broken)
        # Then the card reads it off the workflow, and the step's report has no champion
        for paper_id in ("monitoring-4", "model-2"):
            assert read[paper_id]["score"] == 0
            assert "not given the registry" in read[paper_id]["missing"]
        assert ran.code == 1, ran.tail()
        assert "assert None" in ran.stdout or "registry" in ran.stdout
        for paper_id in ("monitoring-4", "model-2", "monitoring-7"):
            assert "test_the_scheduled_monitoring_reads_the_champion" in found[paper_id]["missing"]

    def test_a_second_model_against_the_same_registry_compares_costs_for_monitoring_6(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given the first champion's decision: no champion before it, no costs compared
        first = card_entries(project, env)["monitoring-6"]
        # When a model is trained again and put to the gate against the same registry (bounds
        # loosened: the comparison is under test here, not this shared machine's timing)
        with scratch(project, env, tmp_path) as again:

            def change(params: dict) -> None:
                params["gate"].update(max_slowdown=20, max_training_slowdown=20, max_size_growth=20)
                params["evaluate"].update(LIGHT)

            edit_yaml(tmp_path / "params.yaml", change)
            for stage in ("train", "evaluate", "register"):
                run([*CLI, stage], project, again)
            decision = json.loads((tmp_path / "reports" / "registration.json").read_text())
            second = card_entries(project, again)["monitoring-6"]
        # Then the gate compared its costs with the champion's, and the point is whole
        assert first["score"] == 0.5
        assert "the first champion: none to compare with" in first["missing"]
        assert decision["costs"]["compared"] is True, decision["costs"]
        assert second["score"] == 1, second["missing"]

    def test_a_monitoring_report_against_the_champion_with_labels_is_automated(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given the test split served by the champion (its prediction log) and its labels
        with scratch(project, env, tmp_path) as served:
            fresh = card_entries(project, served)
            script = (
                "import sys, datetime, pathlib, joblib, pandas as pd;"
                "from mlops_ladder.testing import prediction_log;"
                "from mlops_ladder.schema import load_schema;"
                "folder, version, name = sys.argv[1:4];"
                "schema = load_schema(pathlib.Path('schema.yaml'));"
                "test = pd.read_parquet('data/processed/test.parquet');"
                "model = joblib.load('models/model.joblib');"
                "lines = prediction_log(model, test, schema, version, name);"
                "day = datetime.datetime.now(datetime.UTC).strftime('%Y-%m-%d');"
                "open(f'{folder}/predictions-{day}-runner-1.jsonl', 'w')"
                ".write('\\n'.join(lines) + '\\n');"
                "ids = [f'scheduled-{i}' for i in range(len(test))];"
                "labels = pd.DataFrame({'request_id': ids, 'record': 0});"
                "labels[schema.target.name] = test[schema.target.name].to_numpy();"
                "labels.to_csv(f'{folder}/labels.csv', index=False)"
            )
            log = tmp_path / "log"
            log.mkdir()
            champion = json.loads((tmp_path / "reports" / "registration.json").read_text())
            arguments = [log, champion["version"], champion["model_name"]]
            run(["uv", "run", "--frozen", "python", "-c", script, *arguments], project, served)
            # When the monitoring job runs against the registry's champion, with the labels
            labelled = ["--current", log, "--labels", log / "labels.csv"]
            run([*CLI, "monitor", *labelled], project, served)
            found = card_entries(project, served)
        # Then model-2, monitoring-4 and monitoring-7 rest on that report, not on the wiring
        for paper_id in ("model-2", "monitoring-4", "monitoring-7"):
            assert fresh[paper_id]["score"] == 0.5, paper_id
            assert "PREDICTION_LOG_URI" in fresh[paper_id]["missing"]
            assert found[paper_id]["score"] == 1, found[paper_id]["missing"]

    def test_a_challenger_far_costlier_than_the_champion_is_refused_and_loses_monitoring_6(
        self, project: Path, env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given a forest of four times the trees, trained, evaluated and put to the gate
        with scratch(project, env, tmp_path) as broken:

            def change(params: dict) -> None:
                params["train"]["random_forest"]["n_estimators"] = 400
                params["evaluate"].update(LIGHT)

            edit_yaml(tmp_path / "params.yaml", change)
            for stage in ("train", "evaluate"):
                run([*CLI, stage], project, broken)
            refused = run([*CLI, "register"], project, broken, check=False)
            decision = json.loads((tmp_path / "reports" / "registration.json").read_text())
            found = card_entries(project, broken)["monitoring-6"]
        # Then the gate refuses it for its computing costs, and the card loses monitoring-6
        assert refused.code == 1
        assert decision["costs"]["failures"], decision["costs"]
        assert found["score"] == 0
        assert "times worse, more than the gate's" in found["missing"]

    def test_dependency_notification_is_dependabot_s_half_once_the_data_source_is_not_asked(
        self, project: Path, env: dict[str, str]
    ) -> None:
        ct = project / ".github" / "workflows" / "ct.yml"
        fresh = card_entries(project, env)["monitoring-1"]
        with restored(ct):
            # ct.yml's schedule no longer asks data/'s imports for a new version (dvc update)
            edit_yaml(ct, drop_steps("update-imports"))
            unasked = card_entries(project, env)["monitoring-1"]
        assert fresh["score"] == 1
        assert unasked["score"] == 0.5
        assert "no scheduled workflow watches the data's upstream source" in unasked["missing"]

    def test_ci_without_the_image_smoke_test_leaves_the_canary_half(
        self, project: Path, env: dict[str, str]
    ) -> None:
        ci = project / ".github" / "workflows" / "ci.yml"
        found = entry_after_edit(project, env, ci, drop_steps("smoke-test"), "infrastructure-6")
        assert found["score"] == 0.5
        assert "ci.yml does not start the image it builds and smoke-test it" in found["missing"]


class Level1Card(CardChecks):
    LEVEL = 1
    TARGET = 3.5
    MEASURED: ClassVar[dict[str, float]] = {
        **{f"data-{n}": 1 for n in range(1, 8)},
        "model-1": 0.5,  # CODEOWNERS names the placeholder @example-org
        "model-2": 0,  # level 2's scheduled monitoring reads the registry (by hand: a report)
        "model-3": 1,
        "model-4": 0,  # the sample has no time column
        "model-5": 1,
        "model-6": 1,
        "model-7": 0,  # the sample tags no feature sensitive
        **{f"infrastructure-{n}": 1 for n in range(1, 6)},
        "infrastructure-6": 0,  # level 2's CD: smoke test, staging, production
        "infrastructure-7": 0.5,  # make rollback by hand (tested); level 2 adds rollback.yml
        "monitoring-1": 0.5,  # Dependabot; nothing watches the data's upstream source
        "monitoring-2": 1,
        "monitoring-3": 1,
        "monitoring-4": 0,  # `make monitor` by hand; level 2 schedules it with the registry
        "monitoring-5": 1,
        "monitoring-6": 0.5,  # the first champion: no costs compared
        "monitoring-7": 0,  # by hand with labels; level 2 schedules it
    }

    def test_the_image_run_without_the_pii_key_loses_data_5(
        self, project: Path, env: dict[str, str]
    ) -> None:
        makefile = project / "Makefile"
        with restored(makefile):
            makefile.write_text(makefile.read_text().replace(f"-e {PREFIX}PII_KEY ", ""))
            found = card_entries(project, env)["data-5"]
        assert found["score"] == 0
        assert f"docker-run does not pass {PREFIX}PII_KEY" in found["missing"]
