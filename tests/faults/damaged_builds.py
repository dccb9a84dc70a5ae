"""Helpers of the output fault tests: copy a finished build, damage a file of it, read what a rerun said.

Shared by `test_ingest_outputs_faults.py` (the tiny corpora's ingest and annotation) and
`test_dataset_outputs_faults.py` (split, features and publish of the fake build), which damage,
move and rerun two different builds the same way.
"""

from __future__ import annotations

import json
import os
import shutil
from io import StringIO
from pathlib import Path

import pyarrow.parquet as pq
from rich.console import Console

REPO = Path(__file__).resolve().parents[2]


def logged() -> Console:
    return Console(file=StringIO(), width=300)


def log_of(console: Console) -> str:
    assert isinstance(console.file, StringIO)
    return " ".join(console.file.getvalue().split())


def copy_build(out: Path, target: Path) -> Path:
    shutil.copytree(out, target, symlinks=True)
    return target


def zero_mid_file(path: Path, count: int = 200, *, keep_stat: bool = False) -> None:
    """`count` zero bytes in the middle of `path` (its footer intact); with `keep_stat`, size, mtime and inode unchanged."""
    before = path.stat()
    with path.open("r+b") as handle:
        handle.seek(before.st_size // 2 - count // 2)
        handle.write(bytes(count))
    if keep_stat:
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        assert path.stat().st_mtime_ns == before.st_mtime_ns and path.stat().st_ino == before.st_ino


def absolute_mentions(folder: Path, *needles: Path) -> list[str]:
    """Files under `folder` that name one of `needles` (absolute paths), relative to `folder`.

    Parquet is searched in its decoded values and schema metadata (its pages are compressed, so
    a path inside one need not appear in the file's bytes); every other file in its bytes.
    """
    import datasets  # noqa: F401  (the shards' Array2D extension types)

    found = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            text = json.dumps([table.to_pylist(), {k.decode(): v.decode(errors="replace") for k, v in (table.schema.metadata or {}).items()}], default=str)
            hit = any(str(needle) in text for needle in needles)
        else:
            data = path.read_bytes()
            hit = any(str(needle).encode() in data for needle in needles)
        if hit:
            found.append(path.relative_to(folder).as_posix())
    return found
