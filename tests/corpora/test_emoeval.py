"""EmoEvaluation parsing: blocks by speaker, evaluator-line quirks, reported damage."""

from __future__ import annotations

from pathlib import Path

from edu_affect_data.corpora.emoeval import parse_emo_evaluation

DIALOG = "Ses01F_impro01"
HEAD = "% [START_TIME - END_TIME] TURN_NAME EMOTION [V, A, D]\n\n"


def _parse(tmp_path: Path, body: str):  # type: ignore[no-untyped-def]
    path = tmp_path / f"{DIALOG}.txt"
    path.write_text(HEAD + body)
    return parse_emo_evaluation(path, DIALOG)


def test_blocks_grouped_by_speaker_are_all_read(tmp_path: Path) -> None:
    body = (
        "[9.0000 - 10.0000]\tSes01F_impro01_F001\tneu\t[3.0000, 2.0000, 2.5000]\nC-E1:\tNeutral;\t()\n\n"
        "[1.0000 - 2.0000]\tSes01F_impro01_F000\tsur\t[3.5000, 4.0000, 3.0000]\nC-E1:\tSurprise; Happiness;\t()\n\n"
        "[4.0000 - 5.0000]\tSes01F_impro01_M000\tfea\t[2.0000, 4.5000, 1.5000]\nC-E1:\tFear;\t()\n"
    )
    result = _parse(tmp_path, body)
    assert result.problems == []
    assert list(result.blocks) == [
        "Ses01F_impro01_F001",
        "Ses01F_impro01_F000",
        "Ses01F_impro01_M000",
    ]
    f000 = result.blocks["Ses01F_impro01_F000"]
    assert (f000.start_s, f000.end_s, f000.line) == (1.0, 2.0, 6)
    assert f000.labels.custom["evaluator_labels"] == ("Surprise", "Happiness")


def test_dimensional_lines_accept_any_spacing_before_dom(tmp_path: Path) -> None:
    body = (
        "[1.0000 - 2.0000]\tSes01F_impro01_F000\tneu\t[3.0000, 2.0000, 2.5000]\n"
        "A-E1:\tval 3; act 2; dom  2;\t()\nA-E2:\tval 3; act 2; dom 2.5;\t()\nA-F1:\tval 4;act 2;dom  2;\t(ok)\n"
    )
    assert _parse(tmp_path, body).problems == []


def test_empty_evaluator_line_gives_no_label(tmp_path: Path) -> None:
    body = "[1.0000 - 2.0000]\tSes01F_impro01_F000\txxx\t[3.0000, 2.0000, 2.5000]\nC-E2:\t;\t()\nC-E3:\tOther;\t()\n"
    block = _parse(tmp_path, body).blocks["Ses01F_impro01_F000"]
    assert block.labels.custom["evaluator_labels"] == ("Other",)
    assert block.labels.category == "xxx"


def test_malformed_header_reports_its_utterance_and_skips_the_block(tmp_path: Path) -> None:
    body = (
        "[1.0000 - 2.0000]\tSes01F_impro01_F000\tneu\t[3.0000, 2.0000]\nC-E1:\tNeutral;\t()\n\n"
        "[4.0000 - 5.0000]\tSes01F_impro01_M000\tbad\t[2.0000, 4.5000, 1.5000]\n\n"
        "[6.0000 - 7.0000]\tSes01F_impro01_M001\tneu\t[2.0000, 4.5000, 1.5000]\n"
    )
    result = _parse(tmp_path, body)
    assert [(p.line, p.utterance_id) for p in result.problems] == [
        (3, "Ses01F_impro01_F000"),
        (6, "Ses01F_impro01_M000"),
    ]
    assert "unknown consensus code 'bad'" in result.problems[1].reason
    assert list(result.blocks) == ["Ses01F_impro01_M001"]
    assert result.skipped["iemocap_emo_lines_of_unreadable_block"] == 1


def test_stray_and_duplicate_lines_are_reported(tmp_path: Path) -> None:
    body = (
        "C-E1:\tNeutral;\t()\n\n"
        "[1.0000 - 2.0000]\tSes01F_impro01_F000\tneu\t[3.0000, 2.0000, 2.5000]\nC-E1:\tNeu7ral;\t()\nnonsense\n\n"
        "[1.0000 - 2.0000]\tSes01F_impro01_F000\tneu\t[3.0000, 2.0000, 2.5000]\n"
    )
    result = _parse(tmp_path, body)
    assert [(p.line, p.utterance_id) for p in result.problems] == [
        (3, None),
        (6, "Ses01F_impro01_F000"),
        (7, "Ses01F_impro01_F000"),
        (9, "Ses01F_impro01_F000"),
    ]
    assert "second block" in result.problems[-1].reason
    assert all(p.recording_id == DIALOG for p in result.problems)
