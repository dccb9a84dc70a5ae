"""The front door and the docs site: the README opens with the two commands, the configuration
reference in the docs is the one the schema generates, and the site builds with no warning."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from edu_affect_data.config_doc import REFERENCE_PAGE, config_reference_markdown

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"


def test_the_docs_hold_the_current_config_reference() -> None:
    assert config_reference_markdown() in (REPO / REFERENCE_PAGE).read_text(encoding="utf-8"), (
        f"{REFERENCE_PAGE}'s configuration reference is stale: replace the block between the "
        "config-reference markers with the output of `edu-data config-reference`"
    )


def test_readme_opens_with_the_two_commands() -> None:
    head = README.read_text(encoding="utf-8").split("\n## ", 1)[0]
    assert "make demo" in head and "make test" in head


def test_the_commands_table_is_written_once() -> None:
    """The README holds the table; the docs page includes that section of it (pymdownx.snippets)."""
    readme = README.read_text(encoding="utf-8")
    assert "<!-- --8<-- [start:commands] -->" in readme and "<!-- --8<-- [end:commands] -->" in readme
    assert readme.count("| `edu-data build CONFIG") == 1
    page = (REPO / "docs" / "commands.md").read_text(encoding="utf-8")
    assert '--8<-- "README.md:commands"' in page and "| `edu-data" not in page


@pytest.mark.slow
def test_the_docs_site_builds_without_a_warning(tmp_path: Path) -> None:
    """`mkdocs build --strict` (what `make docs` runs): a broken link or anchor, a page left out of
    the navigation or a missing included file fails it."""
    mkdocs = Path(sys.executable).parent / "mkdocs"
    done = subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=REPO, capture_output=True, text=True, timeout=300,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stderr, done.stderr
    # The included files are in the site: the measured figures and the guidelines.
    assert "## The demo" not in (tmp_path / "site" / "results.html").read_text(encoding="utf-8")
    assert "adaptive overlap" in (tmp_path / "site" / "results.html").read_text(encoding="utf-8")
    assert "Cannot tell" in (tmp_path / "site" / "guidelines.html").read_text(encoding="utf-8")
