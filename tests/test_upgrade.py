"""Climbing the ladder: a generated project upgrades with `copier update` (or cruft), from level 0
to 1 to 2 and from the previous template release to this one, keeping its user's work.

The commands are the tested blocks of docs/upgrading.md, run as written. The strongest check is
equality: after an update, every file of the project is byte for byte what a fresh render at the
new level would be with the same user edits made to it, so the merge lost nothing, added nothing
and left no conflict. The template repository the tests render from is a temporary one, tagged
like a release (tests/template_repo.py).
"""

from __future__ import annotations

import difflib
import re
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
import yaml
from expected import LEVEL1, LEVEL2, expected_files
from rendering import BIN, DEFAULT_PACKAGE, LIGHT_PARAMS, ROOT, Outcome, run
from template_repo import TemplateRepo, build_template_repo

pytestmark = pytest.mark.slow

DOC = ROOT / "docs" / "upgrading.md"
TESTED_BLOCK = re.compile(r"<!-- tested: (?P<name>[\w-]+) -->\n```bash\n(?P<body>.*?)\n```", re.S)
CONFLICT_MARKER = re.compile(r"^(<{7}|>{7}|={7})( |$)", re.MULTILINE)
# Files a project has that no template renders: the lock files its tools write, and the outputs
# of its pipeline (with the .gitignore files DVC writes beside them). .tools/ is the machine's:
# uv's bootstrap, where the runtime came from, and the runtime's wheel `make setup` builds.
TOOL_FILES = {"uv.lock", "dvc.lock"}
TOOL_DIR = ".tools/"
# Pipeline outputs; data/sample/ (and a user's own files in data/) are inputs the template or
# the user wrote.
OUTPUT_DIRS = ("data/raw/", "data/processed/", "data/features/", "models/", "reports/")


# ---------------------------------------------------------------------------------------------
# What a user changes in a generated project
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Edit:
    """One change of a user's: replace `anchor` by `text`, or (no anchor) append `text`, or
    create the file with `text`."""

    path: str
    text: str
    anchor: str | None = None
    create: bool = False

    def apply(self, project: Path) -> None:
        path = project / self.path.format(package=DEFAULT_PACKAGE)
        if self.create:
            assert not path.exists(), f"{self.path} already exists"
            path.write_text(self.text)
        elif self.anchor is None:
            path.write_text(path.read_text() + self.text)
        else:
            content = path.read_text()
            assert content.count(self.anchor) == 1, f"{self.path}: anchor not found once"
            path.write_text(content.replace(self.anchor, self.text))

    def present_in(self, project: Path) -> bool:
        return self.text in (project / self.path.format(package=DEFAULT_PACKAGE)).read_text()


FEATURES = "src/{package}/features.py"
# A derived feature added the documented way: one entry in features.py's DERIVED.
FEATURES_START = "DERIVED: list[Derived] = [\n"
NEW_FEATURE = """\
DERIVED: list[Derived] = [
    # Ours: area per unit of radius, how much cell each unit of radius holds.
    Derived(
        "area_per_radius",
        ("mean_area", "mean_radius"),
        lambda frame: frame["mean_area"] / frame["mean_radius"].replace(0, np.nan),
    ),
"""
NEW_FEATURE_TEST = """

def test_area_per_radius_is_mean_area_over_mean_radius() -> None:
    frame = pd.DataFrame({"worst_radius": [5.0], "mean_radius": [4.0], "mean_area": [50.0]})
    out = add_derived_features(frame, derived_for(frame.columns))
    assert out["area_per_radius"].iloc[0] == pytest.approx(12.5)
"""
# The list: a feature transform with its test, a hyperparameter, a test file, the README.
PARAMS_EDIT = Edit("params.yaml", anchor="    n_estimators: 100\n", text="    n_estimators: 150\n")
# A shorter study and backtest, as a user with a slow machine might keep (the climb's level-2
# pipeline runs them: rendering.LIGHT_PARAMS's values).
STUDY_EDITS = [
    Edit("params.yaml", anchor=f"  {key}: {default}\n", text=f"  {key}: {light}\n")
    for key, (default, light) in LIGHT_PARAMS.items()
]
README_EDIT = Edit(
    "README.md",
    anchor="\nA tabular machine-learning model, from data to production.\n",
    text="\nScores tissue samples for the clinic's triage team, from data to production.\n",
)
CORE_EDITS = [
    Edit(FEATURES, anchor=FEATURES_START, text=NEW_FEATURE),
    Edit("tests/test_features.py", text=NEW_FEATURE_TEST),
    PARAMS_EDIT,
    *STUDY_EDITS,
    Edit(
        "tests/test_our_data.py",
        create=True,
        text=(
            '"""Our own checks on the data we train on."""\n\n'
            "import pandas as pd\n"
            "from mlops_ladder.features import add_derived_features, derived_for\n\n\n"
            "def test_every_record_has_a_positive_area_per_radius(dataset: pd.DataFrame) -> None:\n"
            "    derived = add_derived_features(dataset, derived_for(dataset.columns))\n"
            '    assert (derived["area_per_radius"] > 0).all()\n'
        ),
    ),
    README_EDIT,
]
# 0.2.0 rewrote features.py and tests/test_features.py (own data: DERIVED became a list of
# Derived), so a project of 0.1.x with edits there conflicts once on this update (CHANGELOG.md);
# the update from the previous release is checked with the edits elsewhere.
PREVIOUS_RELEASE_EDITS = [
    PARAMS_EDIT,
    README_EDIT,
    Edit(
        "tests/test_our_data.py",
        create=True,
        text=(
            '"""Our own checks on the data we train on."""\n\n'
            "import pandas as pd\n\n\n"
            "def test_we_train_on_at_least_500_records(dataset: pd.DataFrame) -> None:\n"
            "    assert len(dataset) >= 500\n"
        ),
    ),
]
PHONY = ".PHONY: help setup data features tune train evaluate all schema test lint format clean"
# What users add at the ends of shared files: these merge cleanly from 0.2.0 on.
APPENDED_EDITS = [
    Edit("README.md", text="\n## Our data\n\nThe sample set stands in until the export lands.\n"),
    Edit(".gitignore", text="\n# Ours\n.env.local\n"),
    Edit(
        "Makefile",
        anchor=PHONY + "\n",
        text=PHONY + " report\n",
    ),
    Edit("Makefile", text="\nreport: ## Show the test metrics\n\tcat reports/metrics.json\n"),
    Edit(
        "pyproject.toml",
        anchor="    # Your own dependencies go below (`uv add` puts them there).\n]\n",
        text=(
            "    # Your own dependencies go below (`uv add` puts them there).\n"
            '    "tqdm>=4.66",\n]\n'
        ),
    ),
    Edit(
        ".pre-commit-config.yaml",
        text=(
            "      - id: no-breakpoints\n"
            "        name: no breakpoint() left in the code\n"
            "        entry: 'breakpoint\\('\n"
            "        language: pygrep\n"
            "        types: [python]\n"
        ),
    ),
]
ALL_EDITS = CORE_EDITS + APPENDED_EDITS
USER_FILES = {"tests/test_our_data.py"}


def make_edits(project: Path, edits: Iterable[Edit]) -> None:
    for edit in edits:
        edit.apply(project)


# ---------------------------------------------------------------------------------------------
# Commands: the tested blocks of docs/upgrading.md, and git
# ---------------------------------------------------------------------------------------------
def doc_blocks() -> dict[str, str]:
    return {match["name"]: match["body"] for match in TESTED_BLOCK.finditer(DOC.read_text())}


def run_block(
    name: str,
    cwd: Path,
    env: dict[str, str],
    label: str,
    check: bool = True,
    replace: tuple[str, str] | None = None,
) -> Outcome:
    """Run a tested block of docs/upgrading.md with bash, stopping at its first failure."""
    script = doc_blocks()[name]
    if replace:
        assert replace[0] in script, f"block {name} has no {replace[0]!r}"
        script = script.replace(*replace)
    return run(["bash", "-euo", "pipefail", "-c", script], cwd, env, label=label, check=check)


def git(project: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=project, capture_output=True, text=True, check=True
    ).stdout


def commit(project: Path, env: dict[str, str], message: str) -> None:
    run(["git", "add", "-A"], project, env)
    run(["git", "commit", "-q", "-m", message], project, env, label="git commit (hooks)")


# ---------------------------------------------------------------------------------------------
# Checks
# ---------------------------------------------------------------------------------------------
def project_files(project: Path) -> dict[str, Path]:
    """The files of a project that a template renders or its user wrote (not tool outputs)."""
    names = git(project, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    return {
        name: project / name
        for name in sorted(set(filter(None, names.split("\0"))))
        if name not in TOOL_FILES
        and not name.startswith((*OUTPUT_DIRS, TOOL_DIR))
        and (project / name).is_file()
    }


def assert_no_conflict(project: Path) -> None:
    unmerged = git(project, "diff", "--name-only", "--diff-filter=U").split()
    assert not unmerged, f"conflicts in {unmerged}"
    rejects = [path.name for path in project.rglob("*.rej") if ".venv" not in path.parts]
    assert not rejects, f"rejected hunks: {rejects}"
    for name, path in project_files(project).items():
        text = path.read_bytes().decode(errors="replace")
        assert not CONFLICT_MARKER.search(text), f"conflict markers in {name}"


def assert_same_tree(actual: Path, expected: Path, ignore: frozenset[str] = frozenset()) -> None:
    """`actual` has exactly the files of `expected`, byte for byte (a diff on failure)."""
    mine = {name: path for name, path in project_files(actual).items() if name not in ignore}
    theirs = {
        path.relative_to(expected).as_posix(): path
        for path in sorted(expected.rglob("*"))
        if path.is_file()
        and ".git" not in path.relative_to(expected).parts
        and not path.relative_to(expected).as_posix().startswith(TOOL_DIR)
    }
    theirs = {name: path for name, path in theirs.items() if name not in ignore}
    assert set(mine) == set(theirs), {
        "unexpected": sorted(set(mine) - set(theirs)),
        "missing": sorted(set(theirs) - set(mine)),
    }
    for name, path in theirs.items():
        want, got = path.read_bytes(), mine[name].read_bytes()
        if want != got:
            diff = difflib.unified_diff(
                want.decode(errors="replace").splitlines(),
                got.decode(errors="replace").splitlines(),
                "fresh render + edits",
                "updated project",
                lineterm="",
            )
            pytest.fail(
                f"{name} differs from a fresh render with the same edits:\n" + "\n".join(diff)
            )


def fresh_with_edits(
    engine_cmd: list[str | Path], parent: Path, env: dict[str, str], edits: Iterable[Edit]
) -> Path:
    """Run a render command (its last argument is the destination), make the edits there."""
    run(engine_cmd, parent, env, label="fresh render for comparison")
    project = Path(engine_cmd[-1])
    make_edits(project, edits)
    return project


def copier_render(
    repo: TemplateRepo, dest: Path, level: int, ref: str | None = None, *extra: str
) -> list:
    ref_args = ["--vcs-ref", ref] if ref else []
    return [
        BIN / "copier", "copy", "--quiet", "--defaults", *ref_args,
        "-d", f"maturity_level={level}", *extra, repo.url, dest,
    ]  # fmt: skip


def assert_climbed(project: Path, level: int, repo: TemplateRepo, tmp: Path, env: dict) -> None:
    """No conflict, every edit kept, the level's files, and equal to a fresh render + edits."""
    assert_no_conflict(project)
    missing = [edit for edit in ALL_EDITS if not edit.present_in(project)]
    assert not missing, f"user edits lost: {missing}"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["maturity_level"] == level
    assert answers["maturity_level_floor"] == level
    assert answers["_commit"] == f"v{repo.current}"
    files = set(project_files(project))
    assert files == rendered_files(level) | USER_FILES
    expected = fresh_with_edits(
        copier_render(repo, tmp / f"expected-{level}", level), tmp, env, ALL_EDITS
    )
    assert_same_tree(project, expected)


def rendered_files(level: int, engine: str = "copier", **options: str) -> set[str]:
    """The files a render at `level` has, but for the machine's .tools/ (project_files)."""
    files = expected_files(level, DEFAULT_PACKAGE, engine, **options)
    return {name for name in files if not name.startswith(TOOL_DIR)}


def lint_workflows(project: Path, env: dict[str, str]) -> list[str]:
    """Lint the project's GitHub workflows as the template's workflow tests do (actionlint,
    zizmor offline); return the files linted."""
    workflows = sorted(
        path.relative_to(project).as_posix()
        for path in (project / ".github" / "workflows").glob("*.y*ml")
    )
    expected = {name for name in LEVEL1 | LEVEL2 if name.startswith(".github/workflows/")}
    assert expected <= set(workflows), f"workflows missing: {sorted(expected - set(workflows))}"
    if not workflows:
        return workflows  # the template has no workflows (yet): nothing to lint
    for tool in ("actionlint", "zizmor"):
        assert (BIN / tool).is_file(), f"{tool} is not in the template's dev environment"
    run([BIN / "actionlint", "-no-color", *workflows], project, env, label="L2: actionlint")
    run([BIN / "zizmor", "--offline", "--no-progress", "."], project, env, label="L2: zizmor")
    return workflows


# ---------------------------------------------------------------------------------------------
# Fixtures
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory, env: dict[str, str]) -> TemplateRepo:
    return build_template_repo(tmp_path_factory.mktemp("template"), env)


@pytest.fixture(scope="module")
def user_env(env: dict[str, str], repo: TemplateRepo) -> dict[str, str]:
    """A user's shell: copier, cruft and uv on PATH, TEMPLATE set as docs/upgrading.md says."""
    return {**env, "PATH": f"{BIN}:{env['PATH']}", "TEMPLATE": repo.url}


# ---------------------------------------------------------------------------------------------
# Tests
# ---------------------------------------------------------------------------------------------
@pytest.mark.long
class TestClimb:
    """The long one (minutes): a class of its own, so that `pytest -n N --dist loadscope`
    runs it beside the other upgrade tests rather than after them."""

    def test_a_project_climbs_from_level_0_to_2_keeping_its_users_work(
        self, repo: TemplateRepo, user_env: dict[str, str], tmp_path: Path
    ) -> None:
        # Given a level-0 project, set up, run once and committed, as docs/upgrading.md starts
        run_block("generate", tmp_path, user_env, label="L0: generate, make setup all, commit")
        project = tmp_path / "my-project"
        # And its user's work, committed (the new dependency locked by `make setup`, as uv would)
        make_edits(project, ALL_EDITS)
        run(["make", "setup"], project, user_env, label="L0: make setup (user's dependency)")
        commit(project, user_env, "Our feature, params, tests and notes")

        for level in (1, 2):
            # When it climbs one level with the documented commands
            climb = ("maturity_level=1", f"maturity_level={level}")
            run_block("climb", project, user_env, label=f"L{level}: copier update", replace=climb)
            # Then nothing conflicts, every edit is kept, and the project is exactly a fresh render
            # of the level with the same edits
            assert_climbed(project, level, repo, tmp_path, user_env)
            if level == 2:
                linted = lint_workflows(project, user_env)
                print(f"level-2 workflows linted: {linted or 'none (no level-2 workflows yet)'}")
            if level == 1:
                # Level 1's pipeline and tests are level 2's minus CD/CT: the tree equals a fresh
                # level-1 render with the same edits (above), fresh renders run green in
                # test_level1, and the edits run at level 2 below. Running them here too cost
                # ~3 CPU-minutes; the new dependencies are locked and the climb committed.
                run(["make", "setup"], project, user_env, label="L1: make setup")
                commit(project, user_env, "Climb the ladder")
                assert not git(project, "status", "--porcelain")
                continue
            # And it sets up, runs its pipeline and passes its tests (then the user commits)
            run_block("run", project, user_env, label=f"L{level}: setup, dvc repro, test, commit")
            assert (project / "dvc.lock").is_file()
            assert not git(project, "status", "--porcelain")

        # When the user tries to go back down
        head = git(project, "rev-parse", "HEAD")
        refused = run_block("downgrade", project, user_env, label="L2 -> L1: refused", check=False)
        # Then copier refuses with the template's message, and nothing changed
        assert refused.code != 0
        assert "cannot go down from level 2 to level 1" in refused.stderr, refused.tail()
        assert git(project, "status", "--porcelain", "--untracked-files=all") == ""
        assert git(project, "rev-parse", "HEAD") == head


def test_a_project_of_the_previous_release_updates_to_this_one(
    repo: TemplateRepo, user_env: dict[str, str], tmp_path: Path
) -> None:
    if repo.previous is None:
        pytest.fail(f"cannot test the update from the previous release: {repo.missing}")
    # Given a level-1 project generated by the previous release, with its user's work committed
    # (the edits the issue names; appended lines conflict once on this update, see CHANGELOG.md)
    project = tmp_path / "project"
    run(copier_render(repo, project, 1, ref=f"v{repo.previous}"), tmp_path, user_env)
    run(["git", "init", "-q", "-b", "main"], project, user_env)
    commit(project, user_env, f"Generate with {repo.previous}")
    make_edits(project, PREVIOUS_RELEASE_EDITS)
    commit(project, user_env, "Our work")
    # When it updates to the newest release, as documented
    run_block("update", project, user_env, label=f"update {repo.previous} -> {repo.current}")
    # Then it is exactly the newest release's level-1 project with the same edits
    assert_no_conflict(project)
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["_commit"] == f"v{repo.current}"
    assert answers["maturity_level"] == 1
    render = copier_render(repo, tmp_path / "expected", 1)
    expected = fresh_with_edits(render, tmp_path, user_env, PREVIOUS_RELEASE_EDITS)
    assert_same_tree(project, expected)


def test_cruft_climbs_a_cookiecutter_project(
    repo: TemplateRepo, user_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a level-0 project generated with cruft, with its user's work committed
    run_block("cruft-create", tmp_path, user_env, label="cruft create L0")
    project = tmp_path / "tabular-model"
    make_edits(project, ALL_EDITS)
    commit(project, user_env, "Our work")
    # When cruft climbs it to level 1
    run_block("cruft-climb", project, user_env, label="cruft update L0 -> L1")
    # Then nothing conflicts and it is a fresh level-1 render with the same edits
    assert_no_conflict(project)
    state = yaml.safe_load((project / ".cruft.json").read_text())
    assert state["context"]["cookiecutter"]["maturity_level"] == "1"
    assert state["context"]["cookiecutter"]["__pipeline"] == "yes"
    parent = tmp_path / "expected"
    parent.mkdir()
    cookiecutter = [BIN / "cookiecutter", "--no-input", repo.url, "maturity_level=1", "-o", parent]
    run(cookiecutter, tmp_path, user_env, label="fresh cookiecutter render")
    expected = parent / "tabular-model"
    make_edits(expected, ALL_EDITS)
    assert_same_tree(project, expected, ignore=frozenset({".cruft.json"}))


def test_a_cookiecutter_project_moves_to_copier_and_climbs(
    repo: TemplateRepo, user_env: dict[str, str], tmp_path: Path, env: dict[str, str]
) -> None:
    # Given a level-0 project generated by plain cookiecutter, with its user's work committed
    generated = tmp_path / "generated"
    generated.mkdir()
    run(
        [BIN / "cookiecutter", "--no-input", repo.url, "maturity_level=0", "-o", generated],
        tmp_path,
        user_env,
        label="cookiecutter L0",
    )
    project = generated / "tabular-model"
    run(["git", "init", "-q", "-b", "main"], project, user_env)
    commit(project, user_env, "Generate the project at level 0")
    make_edits(project, ALL_EDITS)
    commit(project, user_env, "Our work")
    # When it gets a copier answers file from its cookiecutter answers, as documented
    replay = yaml.safe_load(Path(env["COOKIECUTTER_CONFIG"]).read_text())["replay_dir"]
    adopt_env = {
        **user_env,
        "ANSWERS": str(Path(replay) / "mlops-ladder.json"),
        "VERSION": f"v{repo.current}",
    }
    run_block("adopt", project, adopt_env, label="copier adopts a cookiecutter project")
    # Then copier climbs it like any copier project
    run_block("climb", project, user_env, label="copier update L0 -> L1 (adopted)")
    assert_climbed(project, 1, repo, tmp_path, user_env)


def release_moving_a_file(repo: TemplateRepo, env: dict[str, str], old: str, new: str) -> str:
    """Commit and tag, in the throwaway template repository, a next release that moves `old` to
    `new` (and rewords its docstring), with the `_migrations` step that carries edits along."""
    version = ".".join([*repo.current.split(".")[:2], str(int(repo.current.split(".")[2]) + 1)])
    source = repo.path / "template"
    run(["git", "mv", source / old, source / new], repo.path, env)
    moved = source / new
    first, rest = moved.read_text().split("\n", 1)
    moved.write_text(first.replace('"""Feature tests:', '"""Derived-feature tests:') + "\n" + rest)
    migration = f"""
_migrations:
  - version: v{version}
    when: "{{{{ _stage == 'after' }}}}"
    command:
      - "{{{{ _copier_python }}}}"
      - "{{{{ _copier_conf.src_path }}}}/migrations/move_file.py"
      - {old}
      - {new}
      - "{{{{ _copier_conf.src_path }}}}"
      - "{{{{ _version_from }}}}"
"""
    copier_yml = repo.path / "copier.yml"
    copier_yml.write_text(copier_yml.read_text() + migration)
    run(["git", "commit", "-q", "-am", f"Release {version}: move {old}"], repo.path, env)
    run(["git", "tag", "-a", f"v{version}", "-m", f"Release {version}"], repo.path, env)
    return version


def test_a_release_that_moves_a_file_carries_the_users_edits_along(
    user_env: dict[str, str], tmp_path: Path, env: dict[str, str]
) -> None:
    old, new = "tests/test_features.py", "tests/test_derived_features.py"
    repo = build_template_repo(tmp_path, env)  # its own: this test adds a release to it
    # Given a level-1 project of the current release whose user added a test to `old`
    project = tmp_path / "project"
    run(copier_render(repo, project, 1), tmp_path, user_env, label="render L1")
    run(["git", "init", "-q", "-b", "main"], project, user_env)
    commit(project, user_env, "Generate")
    make_edits(project, CORE_EDITS)
    commit(project, user_env, "Our work")
    # And a next release that moves `old` to `new`, changing it too, with its migration
    version = release_moving_a_file(repo, env, old, new)
    # When the project updates to it (copier runs migrations only when trusted)
    update = [BIN / "copier", "update", "--defaults", "--trust"]
    outcome = run(update, project, user_env, label=f"update {repo.current} -> {version}")
    # Then `new` holds the template's change and the user's test, `old` is gone, and the project
    # is exactly a fresh render of the new release with the same edits made to the moved file
    assert f"{old} moved to {new}, with your edits" in outcome.stderr, outcome.tail()
    assert not (project / old).exists()
    assert_no_conflict(project)
    edits = [replace(edit, path=new) if edit.path == old else edit for edit in CORE_EDITS]
    render = copier_render(repo, tmp_path / "expected", 1)
    expected = fresh_with_edits(render, tmp_path, user_env, edits)
    assert (expected / new).read_text().startswith('"""Derived-feature tests:')
    assert_same_tree(project, expected)

    # Given another project whose user rewrote the very line the release changes
    clash = tmp_path / "clash"
    run(copier_render(repo, clash, 1, ref=f"v{repo.current}"), tmp_path, user_env)
    run(["git", "init", "-q", "-b", "main"], clash, user_env)
    commit(clash, user_env, "Generate")
    make_edits(clash, [Edit(old, anchor='"""Feature tests:', text='"""Our feature tests:')])
    commit(clash, user_env, "Our docstring")
    # When it updates, the move reports the conflict and marks it as copier marks its own
    outcome = run(update, clash, user_env, label=f"update {repo.current} -> {version}, clash")
    assert f"{old} moved to {new}: your edits conflict there" in outcome.stderr, outcome.tail()
    assert git(clash, "diff", "--name-only", "--diff-filter=U").split() == [new]
    text = (clash / new).read_text()
    assert '<<<<<<< after updating\n"""Derived-feature tests:' in text
    assert '=======\n"""Our feature tests:' in text


def test_a_level_2_project_adds_the_feature_store_keeping_its_users_work(
    repo: TemplateRepo, user_env: dict[str, str], tmp_path: Path
) -> None:
    # Given a level-2 project without a feature store, with its user's work committed
    project = tmp_path / "my-project"
    run(copier_render(repo, project, 2), tmp_path, user_env, label="L2: generate")
    run(["git", "init", "-q", "-b", "main"], project, user_env)
    commit(project, user_env, "Generated")
    make_edits(project, ALL_EDITS)
    commit(project, user_env, "Our feature, params, tests and notes")
    # When it adds Feast with copier update
    update = [BIN / "copier", "update", "--quiet", "--defaults", "-d", "feature_store=feast"]
    run(update, project, user_env, label="L2: copier update -d feature_store=feast")
    # Then nothing conflicts, every edit is kept, and it is a fresh feast render with the edits
    assert_no_conflict(project)
    missing = [edit for edit in ALL_EDITS if not edit.present_in(project)]
    assert not missing, f"user edits lost: {missing}"
    answers = yaml.safe_load((project / ".copier-answers.yml").read_text())
    assert answers["feature_store"] == "feast"
    expected_set = rendered_files(2, feature_store="feast")
    assert set(project_files(project)) == expected_set | USER_FILES
    fresh = copier_render(repo, tmp_path / "expected", 2, None, "-d", "feature_store=feast")
    assert_same_tree(project, fresh_with_edits(fresh, tmp_path, user_env, ALL_EDITS))
