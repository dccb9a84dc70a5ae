"""core.manifest: the sessions table stores paths relative to the build folder and the corpus root."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from edu_affect_data.core.artifacts import SESSIONS_SCHEMA, BuildPaths
from edu_affect_data.core.manifest import (
    ManifestPathError,
    media_roots,
    read_sessions,
    stored_path,
    write_sessions,
)
from edu_affect_data.core.parquet import read_table


def _row(**paths: str | None) -> dict[str, object]:
    row: dict[str, object] = {name: None for name in SESSIONS_SCHEMA.names}
    row.update(session_id="s1", corpus="iemocap", source_id="r1", speaker_id="r1_F", start_s=0.0, end_s=9.0,
               custom="{}", status="kept", reason="", **paths)  # fmt: skip
    return row


def test_paths_are_stored_relative_and_read_back_absolute(tmp_path: Path) -> None:
    corpus = tmp_path / "IEMOCAP_full_release"
    paths = BuildPaths(tmp_path / "out")
    row = _row(
        audio_path=stored_path(corpus / "Session1" / "r1.wav", corpus),
        video_path=stored_path(corpus / "Session1" / "r1.avi", corpus),
        proxy_path=stored_path(paths.video_dir / "r1" / "left-000--ab.mp4", paths.out),
        frames_path=stored_path(paths.video_dir / "r1" / "frames--cd.parquet", paths.out),
    )
    write_sessions(pa.Table.from_pylist([row], schema=SESSIONS_SCHEMA), paths, {"iemocap": corpus})
    stored = read_table(paths.sessions).to_pylist()[0]
    assert (stored["audio_path"], stored["proxy_path"]) == ("Session1/r1.wav", "manifest/video/r1/left-000--ab.mp4")
    assert media_roots(read_table(paths.sessions)) == {"iemocap": str(corpus)}

    moved = BuildPaths(tmp_path / "elsewhere")
    paths.out.rename(moved.out)
    resolved = read_sessions(moved).to_pylist()[0]
    assert resolved["audio_path"] == str(corpus / "Session1" / "r1.wav")
    assert resolved["proxy_path"] == str(moved.video_dir / "r1" / "left-000--ab.mp4")
    assert read_sessions(moved, ["session_id", "frames_path"]).column_names == ["session_id", "frames_path"]
    assert read_sessions(moved, ["video_path"]).to_pylist() == [{"video_path": str(corpus / "Session1" / "r1.avi")}]


def test_a_relative_media_path_without_its_corpus_root_is_an_error_naming_the_table(tmp_path: Path) -> None:
    paths = BuildPaths(tmp_path)
    write_sessions(pa.Table.from_pylist([_row(audio_path="Session1/r1.wav")], schema=SESSIONS_SCHEMA), paths, {})
    with pytest.raises(ManifestPathError, match=r"sessions\.parquet: 'Session1/r1.wav' is relative to the root of corpus 'iemocap'"):
        read_sessions(paths)
    # A hand-made table's absolute paths mean themselves.
    write_sessions(pa.Table.from_pylist([_row(audio_path="/data/r1.wav", proxy_path="/data/p.mp4")], schema=SESSIONS_SCHEMA), paths, {})
    assert read_sessions(paths, ["audio_path", "proxy_path"]).to_pylist() == [{"audio_path": "/data/r1.wav", "proxy_path": "/data/p.mp4"}]
