"""`read_source_text`: one rule for missing, empty, unreadable and undecodable source files."""

from __future__ import annotations

from pathlib import Path

import pytest

from edu_affect_data.corpora.common import UnusableFile, read_source_text


def _reason(path: Path) -> tuple[str, str]:
    with pytest.raises(UnusableFile) as caught:
        read_source_text(path)
    return caught.value.kind, caught.value.detail


def test_every_unusable_kind_is_named(tmp_path: Path) -> None:
    assert _reason(tmp_path / "absent.txt") == ("missing", "")
    (tmp_path / "empty.txt").write_bytes(b"")
    assert _reason(tmp_path / "empty.txt") == ("empty", "")
    (tmp_path / "blank.txt").write_bytes(b" \n\t\n")
    assert _reason(tmp_path / "blank.txt") == ("empty", "only whitespace")
    (tmp_path / "latin1.txt").write_bytes("line one\nline two\ncaf\xe9\n".encode("latin-1"))
    assert _reason(tmp_path / "latin1.txt") == ("undecodable", "not UTF-8, byte 0xe9 at offset 21 (line 3)")
    (tmp_path / "dangling.txt").symlink_to(tmp_path / "gone.txt")
    assert _reason(tmp_path / "dangling.txt") == ("missing", f"dangling symlink to {tmp_path / 'gone.txt'}")
    (tmp_path / "folder.txt").mkdir()
    assert _reason(tmp_path / "folder.txt")[0] == "unreadable"


def test_describe_reads_as_one_problem_reason(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_bytes(b"")
    with pytest.raises(UnusableFile) as caught:
        read_source_text(tmp_path / "empty.txt")
    assert caught.value.describe("transcription", "utterances recovered") == "empty transcription: utterances recovered"
