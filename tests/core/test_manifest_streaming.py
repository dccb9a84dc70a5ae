"""The sessions table streamed (issue 24, item 6): written by row groups, read by columns and batches.

How "not read" is proven: the `words` and `turns` column chunks of every row group get their bytes
overwritten, so any reader that decodes them fails on the page checksums (`DamagedParquet`); a reader
that asks only for other columns never touches those pages and reads the file as it was.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from edu_affect_data.core.artifacts import SESSIONS_SCHEMA, BuildPaths
from edu_affect_data.core.manifest import (
    media_roots,
    read_sessions,
    session_batches,
    stored_path,
    write_session_groups,
    write_sessions,
)
from edu_affect_data.core.parquet import DamagedParquet, read_table
from edu_affect_data.stages.ingest import sessions_table

ROWS, GROUP = 50, 8


def _rows(corpus: Path, count: int = ROWS) -> list[dict[str, object]]:
    rows = []
    for i in range(count):
        row: dict[str, object] = {name: None for name in SESSIONS_SCHEMA.names}
        words = [{"text": f"word{i}-{k}", "start_s": float(k), "end_s": k + 0.5} for k in range(200)]
        row.update(
            session_id=f"iemocap:r{i // 10}:F:{i % 10:03d}", corpus="iemocap", source_id=f"r{i // 10}", speaker_id="F",
            start_s=float(i), end_s=i + 9.0, duration_s=9.0, custom="{}", status="kept" if i % 3 else "gap",
            reason="" if i % 3 else "audio gap", text=" ".join(str(w["text"]) for w in words), words=words,
            turns=[{"speaker_id": "F", "start_s": float(i), "end_s": i + 9.0, "text": "x" * 400}],
            audio_path=stored_path(corpus / f"r{i // 10}.wav", corpus),
        )  # fmt: skip
        rows.append(row)
    return rows


def _groups(rows: list[dict[str, object]], seen: set[str]) -> Iterator[pa.Table]:
    """Checked groups made lazily, as the ingest makes them while the file is written."""
    for i in range(0, len(rows), GROUP):
        yield sessions_table(rows[i : i + GROUP], seen)


def damage_columns(path: Path, columns: tuple[str, ...]) -> None:
    """Overwrite bytes inside every column chunk of `columns` in every row group of the Parquet file."""
    meta = pq.read_metadata(path)
    data = bytearray(path.read_bytes())
    for group in range(meta.num_row_groups):
        for index in range(meta.num_columns):
            chunk = meta.row_group(group).column(index)
            if chunk.path_in_schema.split(".")[0] in columns:
                start = chunk.dictionary_page_offset if chunk.has_dictionary_page else chunk.data_page_offset
                size = chunk.total_compressed_size  # from the dictionary page on, when there is one
                length = max(1, min(16, size // 4))
                data[start + size // 2 : start + size // 2 + length] = bytes(length)
    path.write_bytes(bytes(data))


def test_written_by_groups_the_table_is_the_one_written_whole(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    rows = _rows(corpus)
    whole, grouped = BuildPaths(tmp_path / "whole"), BuildPaths(tmp_path / "grouped")
    write_sessions(sessions_table(rows), whole, {"iemocap": corpus})
    write_session_groups(_groups(rows, set()), grouped, {"iemocap": corpus})
    assert pq.read_metadata(grouped.sessions).num_row_groups == -(-ROWS // GROUP)
    one, other = read_table(whole.sessions), read_table(grouped.sessions)
    assert one.schema.equals(other.schema, check_metadata=True)
    assert one.equals(other)
    assert media_roots(other) == {"iemocap": str(corpus)}


def test_an_id_repeated_in_a_later_group_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    rows = _rows(corpus, 20)
    rows[15] = {**rows[15], "session_id": rows[2]["session_id"]}
    paths = BuildPaths(tmp_path / "out")
    with pytest.raises(ValueError, match="1 duplicate session ids"):
        write_session_groups(_groups(rows, set()), paths, {"iemocap": corpus})
    assert not any(paths.sessions.parent.iterdir())  # two groups were written, then the third refused: no file


def test_batches_read_only_the_columns_asked_for_one_row_group_at_a_time(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    rows = _rows(corpus)
    paths = BuildPaths(tmp_path / "out")
    write_session_groups(_groups(rows, set()), paths, {"iemocap": corpus})
    expected = read_sessions(paths, ["session_id", "status", "audio_path"]).to_pylist()
    damage_columns(paths.sessions, ("words", "turns"))
    with pytest.raises(DamagedParquet):
        read_sessions(paths)  # the whole table decodes the damaged pages
    batches = list(session_batches(paths, ["session_id", "status", "audio_path"], batch_size=5))
    assert [b.num_rows for b in batches] == [5] * (ROWS // 5)
    assert all(b.column_names == ["session_id", "status", "audio_path"] for b in batches)
    assert [r for b in batches for r in b.to_pylist()] == expected
    assert expected[0]["audio_path"] == str(corpus / "r0.wav")  # made absolute, as read_sessions does


def test_a_batch_of_a_big_column_holds_a_row_group_not_the_file(tmp_path: Path) -> None:
    """Arrow's allocations while the walk holds one batch stay a fraction of the column's size.

    With pyarrow's default `pre_buffer=True` the reader kept every row group it had read, and the
    last batch held almost the whole file (core.parquet.read_batches).
    """
    corpus = tmp_path / "corpus"
    paths = BuildPaths(tmp_path / "out")
    write_session_groups(_groups(_rows(corpus, 800), set()), paths, {"iemocap": corpus})  # 100 row groups
    whole = read_table(paths.sessions, ["session_id", "words"])
    file_bytes = whole.nbytes
    del whole
    gc.collect()  # earlier tests' tables: freed now, not during the walk
    before = pa.total_allocated_bytes()
    held = 0
    for batch in session_batches(paths, ["session_id", "words"], batch_size=GROUP):
        held = max(held, pa.total_allocated_bytes() - before)
        assert batch.num_rows <= GROUP
    assert 0 < held < file_bytes / 8, (held, file_bytes)  # pre-buffered: ~1/3 and growing with the file
