"""Where extracted features are committed: small Parquet parts, atomically, named by fingerprint.

A part's file name carries a hash of everything that determines its content (the session row or
the chunk's transcripts, and the feature config: `core.fingerprint.json_digest`). Resuming is then a directory listing: a part
that exists is finished and valid; one whose inputs changed has another name and is recomputed;
a process killed mid-write leaves only a temporary file (removed by the next run as stale),
never a truncated part; a part damaged afterwards (its footer does not parse, or holds the wrong
number of rows) is deleted and recomputed (`discard_if_damaged`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.names import path_part
from edu_affect_data.core.parquet import write_table


def session_part_path(folder: Path, session_id: str, digest: str) -> Path:
    """`<session id as a safe name>--<digest>.parquet` (`core.names.path_part`); `digest` hashes its inputs."""
    return folder / f"{path_part(session_id)}--{digest}.parquet"


def chunk_part_path(folder: Path, split: str, chunk: int, digest: str) -> Path:
    """`<split>-<chunk>--<digest>.parquet`: a batched extractor's fixed chunk of one split."""
    return folder / f"{split}-{chunk:05d}--{digest}.parquet"


def write_part(table: pa.Table, path: Path) -> None:
    """Write to a temporary name, fsync, then rename: the part appears whole or not at all."""

    def write_synced(tmp: Path) -> None:
        write_table(table, tmp)
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())

    atomic_write(path, write_synced)


def discard_if_damaged(path: Path, rows: int) -> bool:
    """Delete `path` when it exists but is not a whole part of `rows` rows; True if it was deleted.

    Writes are atomic, so a damaged part means something outside the stage changed it (a bad disk,
    a copy cut short, a hand edit). Its name still matches its inputs, so without this check it
    would be reused and publish would fail on it, or publish garbage: the footer is read (not the
    data, ~0.4 ms a part) and a part that does not parse or has the wrong row count is recomputed.
    """
    if not path.exists():
        return False
    try:
        whole = pq.read_metadata(path).num_rows == rows
    except (OSError, pa.ArrowException):
        whole = False
    if not whole:
        path.unlink()
    return not whole


def remove_stale(folder: Path, keep: Iterable[Path]) -> int:
    """Delete leftover temporaries and parts of an older plan; returns how many files went."""
    if not folder.exists():
        return 0
    wanted = {p.name for p in keep}
    removed = 0
    for path in folder.iterdir():
        if path.is_file() and path.name not in wanted:
            path.unlink()
            removed += 1
    return removed
