"""The build's own errors, apart from `build.py` so that the modules it uses (`build_state`) can raise them.

The CLI's one error path maps them to exit statuses by name (`cli/errors.py`): `BuildError` and
its subclasses are the user's to fix (exit 2), `DamagedInput` is a failed stage (exit 1).
"""

from __future__ import annotations


class BuildError(RuntimeError):
    """The build cannot go on as asked (unknown stage, missing upstream artifacts, bad target)."""


class BuildLocked(BuildError):
    """Another build holds the lock on `--out` (the message names its pid and host)."""


class DamagedInput(RuntimeError):
    """A stage read a damaged file the build cannot recompute in this run (exit 1); the message names it."""
