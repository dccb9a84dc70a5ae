"""The sessions table's file paths: stored relative, so a build folder can move; read back absolute.

`manifest/sessions.parquet` names four files per session. The ingest's own outputs (`proxy_path`,
`frames_path`, under `OUT/manifest/video/`) are stored relative to the build folder; the corpus's
media (`audio_path`, `video_path`) relative to that corpus's root, which the table's schema
metadata records once per corpus (`media_roots`, the only absolute paths in a build's artifacts:
where the licensed corpus lives, never where the build does). A build folder moved with `mv`
therefore reads the same table and finds its proxies in the new place, and a corpus that moves
is a changed ingest input (its root is part of the configuration).

Readers go through `read_sessions`, which returns the paths absolute. A value that is already
absolute (a table written by hand, or the columns `media.store.pass_recording` gives outside a
build) means itself.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from edu_affect_data.core.artifacts import SESSIONS_SCHEMA, BuildPaths
from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.parquet import read_batches, read_table, save_table
from edu_affect_data.core.parquet import writer as parquet_writer

#: Columns stored relative to the build folder (`--out`).
BUILD_RELATIVE = ("proxy_path", "frames_path")
#: Columns stored relative to the root of the session's corpus (`media_roots`).
CORPUS_RELATIVE = ("audio_path", "video_path")
#: Rows per batch of `session_batches` (and per row group the ingest writes): ~1 MB of a batch's words and turns.
SESSION_BATCH = 1024
#: Schema metadata key of the sessions table: JSON {corpus name: absolute root}.
MEDIA_ROOTS_KEY = b"media_roots"


class ManifestPathError(RuntimeError):
    """A relative media path the sessions table gives no base for; the message names the table."""


def stored_path(path: Path | str | None, base: Path) -> str | None:
    """`path` as the sessions table stores it: relative to `base` (both made absolute first, links kept)."""
    if path is None:
        return None
    return Path(os.path.relpath(Path(path).absolute(), Path(base).absolute())).as_posix()


def write_sessions(table: pa.Table, paths: BuildPaths, roots: Mapping[str, Path]) -> Path:
    """Write the (validated) sessions table atomically with each corpus's root in its metadata."""
    metadata = dict(table.schema.metadata or {})
    metadata[MEDIA_ROOTS_KEY] = _roots_json(roots)
    return save_table(table.replace_schema_metadata(metadata), paths.sessions)


def write_session_groups(groups: Iterable[pa.Table], paths: BuildPaths, roots: Mapping[str, Path]) -> Path:
    """Write the sessions table one row group per table of `groups` (each validated by its maker), atomically.

    The ingest makes and checks its rows a group at a time, so it never holds the whole table (every
    candidate's words and turns) at once, and readers can stream the file by row groups. The
    columns are what `write_sessions` writes for the concatenated groups; the metadata too.
    """
    schema = SESSIONS_SCHEMA.with_metadata({**(SESSIONS_SCHEMA.metadata or {}), MEDIA_ROOTS_KEY: _roots_json(roots)})

    def write(tmp: Path) -> None:
        with parquet_writer(tmp, schema) as out:
            for group in groups:
                out.write_table(group.replace_schema_metadata(schema.metadata), row_group_size=max(group.num_rows, 1))

    return atomic_write(paths.sessions, write)


def _roots_json(roots: Mapping[str, Path]) -> bytes:
    return json.dumps({name: str(Path(root).absolute()) for name, root in sorted(roots.items())}).encode()


def media_roots(table: pa.Table) -> dict[str, str]:
    """{corpus: absolute root} from a sessions table's metadata (empty for a hand-made table)."""
    return _roots_of(table.schema.metadata)


def _roots_of(metadata: Mapping[bytes, bytes] | None) -> dict[str, str]:
    raw = (metadata or {}).get(MEDIA_ROOTS_KEY)
    return dict(json.loads(raw)) if raw else {}


def read_sessions(paths: BuildPaths, columns: Sequence[str] | None = None) -> pa.Table:
    """`manifest/sessions.parquet` (or `columns` of it) with every path column absolute.

    Page checksums are verified (`core.parquet.read_table`). A missing table is `FileNotFoundError`.
    A stage that walks every session reads `session_batches` instead, and only the columns it uses.
    """
    wanted = list(columns) if columns is not None else None
    table = read_table(paths.sessions, _reading(wanted))
    return _absolute(table, paths, media_roots(table), wanted)


def session_batches(paths: BuildPaths, columns: Sequence[str], batch_size: int = SESSION_BATCH) -> Iterator[pa.Table]:
    """`columns` of the sessions table, `batch_size` rows at a time, paths absolute (as `read_sessions`).

    Why: the table holds every candidate with its words and turns; read whole, it made a stage's
    parent grow with the corpus (issue 24, item 6). Read this way, a stage holds one batch of the
    columns it asked for (pyarrow reads the file a row group at a time).
    """
    wanted = list(columns)
    roots = _roots_of(pq.read_schema(paths.sessions).metadata)  # the footer only
    for batch in read_batches(paths.sessions, batch_size, _reading(wanted), use_threads=False):
        yield _absolute(pa.Table.from_batches([batch]), paths, roots, wanted)


def _reading(wanted: list[str] | None) -> list[str] | None:
    """The columns to read for `wanted`: a corpus-relative path column needs `corpus` too."""
    if wanted is None or "corpus" in wanted or not any(c in wanted for c in CORPUS_RELATIVE):
        return wanted
    return [*wanted, "corpus"]


def _absolute(table: pa.Table, paths: BuildPaths, roots: Mapping[str, str], wanted: list[str] | None) -> pa.Table:
    """`table` with its path columns made absolute, then only the `wanted` columns."""
    out = str(paths.out.absolute())
    for column in BUILD_RELATIVE:
        if column in table.column_names:
            table = _set(table, column, [_join(out, value) for value in table[column].to_pylist()])
    corpus_paths = [c for c in CORPUS_RELATIVE if c in table.column_names]
    if corpus_paths:
        corpora = table["corpus"].to_pylist()
        for column in corpus_paths:
            values = table[column].to_pylist()
            table = _set(table, column, [_from_root(paths, roots, c, v) for c, v in zip(corpora, values, strict=True)])
    return table.select(wanted) if wanted is not None else table


def _join(base: str, value: str | None) -> str | None:
    return None if value is None else os.path.join(base, value)  # an absolute value stays itself


def _from_root(paths: BuildPaths, roots: Mapping[str, str], corpus: str, value: str | None) -> str | None:
    if value is None or os.path.isabs(value):
        return value
    if corpus not in roots:
        raise ManifestPathError(
            f"{paths.sessions}: {value!r} is relative to the root of corpus {corpus!r}, which the table "
            "does not record; run the ingest stage again (edu-data build --force ingest)"
        )
    return os.path.join(roots[corpus], value)


def _set(table: pa.Table, column: str, values: list[str | None]) -> pa.Table:
    index = table.column_names.index(column)
    field = table.field(index)  # string or large_string (a table pandas rewrote): keep the type it has
    return table.set_column(index, field, pa.array(values, field.type))

