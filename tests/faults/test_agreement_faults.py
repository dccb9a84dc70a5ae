"""Fault matrix of `edu-data agreement`: every unusable ratings table is one line naming the file, exit 2.

`FAULT_KINDS` counts the kinds covered here (the README's "Faults tried" table reads it).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import Result
from typer.testing import CliRunner

from edu_affect_data.cli import app

HEADER = "session_id,annotator,label\n"
GOOD = HEADER + "s1,ann1,Bored\ns1,ann2,Bored\ns2,ann1,Curious\ns2,ann2,Confused\n"


def _parquet(path: Path) -> None:
    pd.DataFrame({"session_id": ["s1", "s1"], "annotator": ["a", "b"], "label": ["Bored", "Bored"]}).to_parquet(path)


def _truncated_parquet(path: Path) -> None:
    _parquet(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


#: name -> (file name, writer, words the one-line error must hold besides the file name).
FAULTS: dict[str, tuple[str, Callable[[Path], object], tuple[str, ...]]] = {
    "empty CSV": ("votes.csv", lambda p: p.write_text(""), ("empty",)),
    "header-only CSV": ("votes.csv", lambda p: p.write_text(HEADER), ("no ratings",)),
    "corrupt Parquet": ("votes.parquet", lambda p: p.write_bytes(b"PAR1 not really parquet"), ("not a readable Parquet",)),
    "truncated Parquet": ("votes.parquet", _truncated_parquet, ("not a readable Parquet",)),
    "unknown column": ("votes.csv", lambda p: p.write_text("session,annotator,label\ns1,a,Bored\n"), ("missing column", "'session_id'")),
    "unknown label": ("votes.csv", lambda p: p.write_text(HEADER + "s1,a,Sleepy\n"), ("unknown label", "'Sleepy'", "row 2")),
    "empty cell": ("votes.csv", lambda p: p.write_text(HEADER + "s1,,Bored\n"), ("column 'annotator'", "empty value")),
    "repeated vote": ("votes.csv", lambda p: p.write_text(HEADER + "s1,a,Bored\ns1,a,Curious\n"), ("voted twice",)),
    "not UTF-8": ("votes.csv", lambda p: p.write_bytes(HEADER.encode() + b"s1,a,B\xffored\n"), ("not UTF-8", "byte offset")),
    "malformed CSV": ("votes.csv", lambda p: p.write_text(HEADER + 's1,a,"Bored\n'), ("not a readable CSV",)),
    "wrong suffix": ("votes.xlsx", lambda p: p.write_text(GOOD), ("expected a .csv",)),
    "missing file": ("absent.csv", lambda p: None, ("no such file",)),
}
FAULT_KINDS = len(FAULTS)


def one_error_line(result: Result) -> str:
    """The single `error:` line of a refused command (and no traceback anywhere)."""
    assert "Traceback" not in result.output, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    return lines[0]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_an_unusable_table_is_one_line_naming_the_file(fault: str, tmp_path: Path) -> None:
    name, write, words = FAULTS[fault]
    table = tmp_path / name
    write(table)
    # --classes: without it any label is a class (a label outside them is then the "unknown label" fault)
    classes = "Confused,Curious,Bored,Frustrated"
    result = CliRunner().invoke(app, ["agreement", "--annotations", str(table), "--n-boot", "0", "--classes", classes])
    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert str(table) in line
    for word in words:
        assert word in line, (word, line)
    assert not (tmp_path / "agreement").exists()  # nothing half-written


def test_a_good_table_still_works_and_debug_shows_the_traceback(tmp_path: Path) -> None:
    good = tmp_path / "votes.csv"
    good.write_text(GOOD)
    ok = CliRunner().invoke(app, ["agreement", "--annotations", str(good), "--n-boot", "0", "--format", "json"])
    assert ok.exit_code == 0, ok.output
    assert '"n_sessions": 2' in ok.output
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    debug = CliRunner().invoke(app, ["--debug", "agreement", "--annotations", str(empty)])
    assert debug.exit_code == 2
    assert "Traceback (most recent call last)" in debug.output and "VotesTableError" in debug.output
    assert f"error: {empty}: the file is empty" in debug.output


def test_the_library_refuses_an_empty_table_by_name() -> None:
    from edu_affect_data.annotation.agreement import compute_agreement
    from edu_affect_data.annotation.estimators import VotesTableError

    with pytest.raises(VotesTableError, match="annotations: no ratings"):
        compute_agreement(pd.DataFrame({"session_id": [], "annotator": [], "label": []}))
