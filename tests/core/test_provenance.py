"""core.provenance: the package version and the commit of the checkout, or none outside one."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edu_affect_data import __version__
from edu_affect_data.core.provenance import code_version

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("git") is None or not (REPO / ".git").exists(), reason="needs a git checkout")
def test_the_commit_of_this_checkout() -> None:
    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    status = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                            capture_output=True, text=True, check=True).stdout.strip()
    found = code_version()
    assert (found.version, found.commit, found.dirty) == (__version__, head, bool(status))
    assert found.to_json() == {"version": __version__, "git_commit": head, "uncommitted_changes": bool(status)}


def test_outside_a_checkout_there_is_no_commit(tmp_path: Path) -> None:
    found = code_version(tmp_path)
    assert found.commit is None and found.dirty is False and found.version == __version__
