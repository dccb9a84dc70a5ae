"""Sphinx-3 `.wdseg` alignments: header, footer, markers, variants, frame arithmetic, damage."""

from __future__ import annotations

from pathlib import Path

import pytest

from edu_affect_data.corpora.common import LineError
from edu_affect_data.corpora.records import Word
from edu_affect_data.corpora.wdseg import clean_word, read_wdseg

HEADER = "\tSFrm  EFrm    SegAScr Word\n"


def _row(first: int, last: int, score: int, word: str) -> str:
    return f"\t{first:5d} {last:5d} {score:10d} {word}\n"


def _write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "u.wdseg"
    path.write_text(body)
    return path


def test_frames_are_10ms_from_utterance_start_and_end_frame_is_inclusive(tmp_path: Path) -> None:
    body = HEADER + _row(0, 9, -100, "<s>") + _row(10, 29, -5000, "WHY") + _row(30, 30, -10, "A")
    path = _write(tmp_path, body + _row(31, 40, -1, "</s>") + f" Total score: {-5111:11d}\n")
    assert read_wdseg(path, 12.34) == (Word("WHY", 12.44, 12.64), Word("A", 12.64, 12.65))


@pytest.mark.parametrize(
    ("token", "word"),
    [
        ("<s>", None),
        ("</s>", None),
        ("<sil>", None),
        ("++LAUGHTER++", None),
        ("STOP(2)", "STOP"),
        ("DON'T", "DON'T"),
    ],
)
def test_clean_word(token: str, word: str | None) -> None:
    assert clean_word(token) == word


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            HEADER + _row(0, 9, -1, "A") + "\t   10    x9      -1 B\n Total score: -2\n",
            3,
            "SFrm EFrm",
        ),
        (HEADER + _row(20, 9, -1, "A") + " Total score: -1\n", 2, "not a forward range"),
        (HEADER + _row(0, 9, -1, "A"), 2, "no 'Total score'"),
        (_row(0, 9, -1, "A") + " Total score: -1\n", 1, "missing 'SFrm EFrm SegAScr Word' header"),
        (HEADER + " Total score: -1\n" + _row(0, 9, -1, "A"), 3, "after the 'Total score'"),
    ],
)
def test_damaged_file_names_the_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    with pytest.raises(LineError, match=message) as caught:
        read_wdseg(_write(tmp_path, body), 0.0)
    assert caught.value.line == line


def test_empty_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LineError, match="empty"):
        read_wdseg(_write(tmp_path, ""), 0.0)
