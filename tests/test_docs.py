"""The user guide (docs/) builds into a static site with zensical in strict mode: every page is
in the nav, in the order a user works, and every internal link and anchor resolves."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from rendering import BIN, ROOT

ORDER = ["Home", "Generate", "Work", "Assess and adopt", "Climb", "CI locally", "Scale",
         "Reference"]  # fmt: skip


def build(source: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BIN / "zensical", "build", "--strict", "--config-file", source / "mkdocs.yml"],
        cwd=source, capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip


@pytest.fixture
def site_source(tmp_path: Path) -> Path:
    """A copy of the docs and their configuration: the build writes nothing in the work tree."""
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    return tmp_path


def pages(nav: list) -> list[str]:
    found = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        found += pages(value) if isinstance(value, list) else [value]
    return found


def test_the_site_builds_in_strict_mode(site_source: Path) -> None:
    done = build(site_source)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "No issues found" in done.stdout + done.stderr
    site = site_source / "build" / "site"
    assert (site / "assess" / "index.html").is_file()
    assert "Assess a repository" in (site / "assess" / "index.html").read_text()


@pytest.mark.parametrize(
    ("link", "message"),
    [("levels.md#no-such-heading", "anchor does not exist"), ("no-such-page.md", "does not exist")],
)
def test_a_broken_link_fails_the_build(site_source: Path, link: str, message: str) -> None:
    with (site_source / "docs" / "scale.md").open("a") as page:
        page.write(f"\nSee [this]({link}).\n")
    done = build(site_source)
    assert done.returncode != 0
    assert message in done.stdout + done.stderr


def test_every_page_is_in_the_nav_in_the_order_a_user_works() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    assert [next(iter(entry)) for entry in config["nav"]] == ORDER
    listed = pages(config["nav"])
    assert len(listed) == len(set(listed))
    assert set(listed) == {path.name for path in (ROOT / "docs").glob("*.md")}
    assert config["site_dir"].startswith("build/")  # ignored by git (.gitignore: /build/)
