"""The project's Parquet: every file written with page checksums, every read verifying them.

A Parquet footer holds the row count and schema, so a file damaged in its data pages (a bad disk,
a copy cut short, bytes overwritten) still opens, and without checksums reads back wrong values
or fails deep in a decompressor ("Corrupt snappy compressed data") with no file named. Written
through `write_table`, `save_table` (atomic) or `writer`, each data page carries a CRC-32; read through `read_table` or
`read_batches`, a page that does not match raises `DamagedParquet` naming the file, which the build
turns into "recompute the stage that wrote it" (`edu_affect_data.build`). Files written by other
tools (no checksums) read as before: only pages that carry a checksum are checked.

Footer-only reads (`pyarrow.parquet.read_metadata`, `read_schema`) read no page and stay plain.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from edu_affect_data.core.atomic import atomic_write


class DamagedParquet(RuntimeError):
    """A Parquet file that exists but does not read back as written; `path` names it."""

    def __init__(self, path: Path | str, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: damaged Parquet file ({reason})")

    def __reduce__(self) -> tuple[type[DamagedParquet], tuple[Path, str]]:
        # Raised in pool workers too: rebuilt from (path, reason), not from the formatted message.
        return type(self), (self.path, self.reason)


def damage_behind(exc: BaseException) -> DamagedParquet | None:
    """The `DamagedParquet` behind `exc`, if any: stages wrap what their workers raise (`raise ... from`)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, DamagedParquet):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def write_table(table: pa.Table, where: Path | str | pa.NativeFile, **options: Any) -> None:
    """`pq.write_table` with a checksum on every data page."""
    pq.write_table(table, where, write_page_checksum=True, **options)


def save_table(table: pa.Table, path: Path) -> Path:
    """Write `table` to `path` atomically (`core.atomic`: a reader sees the old file or the new one)."""
    return atomic_write(path, lambda tmp: write_table(table, tmp))


def writer(where: Path | str, schema: pa.Schema, **options: Any) -> pq.ParquetWriter:
    """A `pq.ParquetWriter` (row group by row group) with a checksum on every data page."""
    return pq.ParquetWriter(where, schema, write_page_checksum=True, **options)


def read_table(path: Path | str, columns: Sequence[str] | None = None) -> pa.Table:
    """The table (or `columns` of it), every page's checksum verified; `DamagedParquet` if it is damaged.

    A missing file stays `FileNotFoundError` (the caller says which stage makes it); a file that is
    not Parquet at all, or whose pages fail their checksum or do not decode, is `DamagedParquet`.
    """
    try:
        return pq.read_table(path, columns=list(columns) if columns is not None else None, page_checksum_verification=True)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (OSError, pa.ArrowException) as exc:
        raise DamagedParquet(path, _reason(exc)) from exc


def read_batches(
    path: Path | str, batch_size: int, columns: Sequence[str] | None = None, *, use_threads: bool = True
) -> Iterator[pa.RecordBatch]:
    """The file's rows (or `columns` of them) in record batches of `batch_size`, checksums verified as each page is read.

    pyarrow reads one row group at a time here, so the memory is a row group's `columns`, not the
    file's: without `pre_buffer=False` (pyarrow 26's default is True) the reader keeps every row
    group's bytes it has read until it is closed, and a walk over the file ends up holding all of it.
    `use_threads=False` decodes in the calling thread: batches decoded by Arrow's pool threads and
    freed by the caller left the process 13 MB larger after 6,870 sessions (3 MB in one thread),
    the allocator keeping what other threads freed; a walk whose memory must stay flat passes it.
    """
    try:
        file = pq.ParquetFile(path, page_checksum_verification=True, pre_buffer=False)
        chosen = list(columns) if columns is not None else None
        yield from file.iter_batches(batch_size=batch_size, columns=chosen, use_threads=use_threads)
    except (FileNotFoundError, PermissionError, IsADirectoryError):
        raise
    except (OSError, pa.ArrowException) as exc:
        raise DamagedParquet(path, _reason(exc)) from exc


def _reason(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
