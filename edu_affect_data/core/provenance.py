"""Which code made an artifact: the package version and, in a git checkout, the commit.

A version number alone does not identify the code (a checkout between releases carries the last
release's number), so the dataset card and the model report also state the commit of the checkout
the package runs from, and whether it had uncommitted changes (then the commit does not identify
the code either, and the record says so). Installed from a wheel, or without git, there is no
commit to state: `commit` is None and the record says "not a git checkout".
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from edu_affect_data import __version__

#: How long a `git` call may take before the commit is given up as unknown.
GIT_TIMEOUT_S = 10


@dataclass(frozen=True)
class CodeVersion:
    version: str
    commit: str | None  # full SHA of HEAD; None outside a git checkout
    dirty: bool = False  # tracked files differ from the commit

    def to_json(self) -> dict[str, str | bool | None]:
        return {"version": self.version, "git_commit": self.commit, "uncommitted_changes": self.dirty}


def _git(folder: Path, *args: str) -> str | None:
    git = shutil.which("git")
    if git is None:
        return None
    try:
        done = subprocess.run([git, "-C", str(folder), *args], capture_output=True, text=True, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def code_version(source: Path | None = None) -> CodeVersion:
    """The version of this package and the commit of the checkout `source` (default: this package's
    folder) lies in, if any."""
    folder = Path(source) if source is not None else Path(__file__).resolve().parents[1]
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return CodeVersion(__version__, None)
    changes = _git(folder, "status", "--porcelain", "--untracked-files=no")
    return CodeVersion(__version__, commit, bool(changes))
