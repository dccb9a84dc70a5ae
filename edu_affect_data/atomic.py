"""One way to replace a file: write a temporary sibling, then rename it over the target.

A reader (or a rerun after kill -9) sees either the old file or the new one, never half of one.
The temporary file keeps the target's suffix, so writers that pick a format from the file name
(matplotlib, pyarrow) behave as they would on the real path.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path


def temporary_sibling(path: Path) -> Path:
    """`dir/.name.tmp-<pid><suffix>`: same folder (same filesystem, so the rename is atomic)."""
    path = Path(path)
    return path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")


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
