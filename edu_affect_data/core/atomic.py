"""One way to replace a file: write a temporary sibling, then rename it over the target.

A reader (or a rerun after kill -9) sees either the old file or the new one, never half of one.
The temporary file keeps the target's suffix, so writers that pick a format from the file name
(matplotlib, pyarrow) behave as they would on the real path.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

#: `temporary_sibling` names: `.<stem>.tmp-<pid><suffix>`.
_TEMPORARY = re.compile(r"^\..+\.tmp-(\d+)(\.[^.]*)?$")


def temporary_sibling(path: Path) -> Path:
    """`dir/.name.tmp-<pid><suffix>`: same folder (same filesystem, so the rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


def _alive(pid: int) -> bool:
    """Whether a process with this pid runs on this host (a zombie or another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale_temporaries(folder: Path) -> int:
    """Delete the temporaries in `folder` (not below it) left by writers that no longer run.

    `atomic_write` removes its temporary on any error, but a process killed with SIGKILL (or by
    the OOM killer, or a power cut) cannot, and the next run has another pid, so its temporary
    would stay forever. A temporary whose pid is still running on this host is another writer's
    work in progress and is kept. Returns how many files went.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return 0
    removed = 0
    for path in folder.iterdir():
        match = _TEMPORARY.match(path.name)
        if match and path.is_file() and not _alive(int(match.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def atomic_write(path: Path, write: Callable[[Path], object]) -> Path:
    """Call `write(tmp)` and rename `tmp` over `path`; on any error the target is untouched."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_sibling(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def atomic_write_text(path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    return atomic_write(path, lambda tmp: tmp.write_text(text, encoding=encoding))


def atomic_write_bytes(path: Path, data: bytes) -> Path:
    return atomic_write(path, lambda tmp: tmp.write_bytes(data))
