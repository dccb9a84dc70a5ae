"""Fault matrix of the ingest stage on the `tiny` synthetic corpora: nothing vanishes, nothing goes stale.

Each case damages a copy of the corpora (or of a finished build) the way a hostile user or a
broken download would, runs `run_build(..., until="ingest")`, and checks three things:

* the outcome: the build completes (reader faults are data, not crashes) or is refused with the
  exit status the README promises;
* the file is named: in the `reason` of every affected session row (or the one-line error);
* accounting, the rule every case asserts (`assert_accounted`): every session of a recording the
  fault does not touch comes out with the same id, status and reason as on the pristine corpora,
  and every recording the fault touches still has at least one row, all of them `error` naming
  the damaged file. A recording can change how it is cut into sessions (utterances recovered from
  EmoEvaluation have no `X` fragments), but it can never vanish;
* for a damaged line (`LINE_FAULTS`), a stricter rule (`assert_placed`): no unit vanishes and no
  session is re-cut (same sessions, same windows, same number of units), the session holding the
  line's unit is `error` naming the file and line, and every other row is as on the pristine corpora.

`FAULT_KINDS` counts the kinds covered here (the "Faults tried" table of docs/troubleshooting.md reads it).
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Executor
from io import StringIO
from pathlib import Path
from typing import Any, TypeVar

import cv2
import h5py
import imageio_ffmpeg
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from rich.console import Console
from typer.testing import CliRunner

from edu_affect_data.build import BuildResult, run_build
from edu_affect_data.build_errors import BuildLocked
from edu_affect_data.build_state import load_state
from edu_affect_data.cli import app
from edu_affect_data.config import load_config
from edu_affect_data.core.lock import LOCK_NAME, hold_out_lock
from edu_affect_data.core.parallel import local_pool
from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.profiles import TINY

#: Every case ingests a damaged copy of the tiny corpora (a few seconds each).
pytestmark = pytest.mark.slow
IEMOCAP = "IEMOCAP_full_release"
MOSEI = "CMU_MOSEI"
#: A dialog and a video that are `kept`/`gap` on the pristine tiny corpora (seed 0).
DIALOG = "Ses05F_impro03"
VIDEO = "bvU_i4y-wa4"
MOSEI_VIDEOS = ("-_sipeZeYSJ", "-mRaaDKR_8v", "417759", "8lgGt_59oQW", VIDEO)

Rows = dict[str, dict[str, Any]]
T = TypeVar("T")


def _transcript(root: Path) -> Path:
    return root / IEMOCAP / "Session5/dialog/transcriptions" / f"{DIALOG}.txt"


def _emo(root: Path) -> Path:
    return root / IEMOCAP / "Session5/dialog/EmoEvaluation" / f"{DIALOG}.txt"


def _avi(root: Path) -> Path:
    return root / IEMOCAP / "Session5/dialog/avi/DivX" / f"{DIALOG}.avi"


def _wav(root: Path) -> Path:
    return root / IEMOCAP / "Session5/dialog/wav" / f"{DIALOG}.wav"


def _mosei_transcript(root: Path) -> Path:
    return root / MOSEI / "Raw/Transcript/Segmented/Combined" / f"{VIDEO}.txt"


def _mp4(root: Path) -> Path:
    return root / MOSEI / "Raw/Videos/Full/Combined" / f"{VIDEO}.mp4"


def _words_csd(root: Path) -> Path:
    return root / MOSEI / "CMU_MOSEI_TimestampedWords.csd"


def _labels_csd(root: Path) -> Path:
    return root / MOSEI / "CMU_MOSEI_Labels.csd"


def _mosei_wav(root: Path) -> Path:
    return root / MOSEI / "Raw/Audio/Full/WAV_16000" / f"{VIDEO}.wav"


def _zero_samples(path: Path) -> Path:
    """The same WAV header (rate, channels, PCM 16) over a data chunk of 0 samples."""
    info = sf.info(str(path))
    sf.write(str(path), np.zeros((0, info.channels), np.float32), info.samplerate, subtype="PCM_16")
    return path


def _no_frames(path: Path) -> Path:
    """An MP4 whose video stream holds no decodable frame (stream-copied from past its end)."""
    source = path.with_name("source.mp4")
    path.rename(source)
    ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    subprocess.run([ffmpeg, "-loglevel", "error", "-ss", "500", "-i", str(source), "-c", "copy", "-map", "0", str(path)], check=True)
    source.unlink()
    return path


def _negative_label_start(root: Path) -> Path:
    with h5py.File(_labels_csd(root), "a") as handle:
        intervals = handle[f"All Labels/data/{VIDEO}/intervals"]
        row = intervals[0]
        intervals[0] = [-row[0], row[1]]
    return _labels_csd(root)


def _truncate_half(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def _empty(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def _stray_byte(path: Path) -> Path:
    """A single 0xFF byte at the start of line 3 (a Latin-1 character saved by the wrong editor)."""
    lines = path.read_bytes().split(b"\n")
    lines[2] = b"\xff" + lines[2]
    path.write_bytes(b"\n".join(lines))
    return path


def _dangling_needed(root: Path) -> Path:
    wav = _wav(root)
    wav.unlink()
    wav.symlink_to(root / "nowhere" / f"{DIALOG}.wav")
    return wav


# name -> (damage the corpora copy and return the damaged file, affected recordings, words in the reason)
READER_FAULTS: dict[str, tuple[Callable[[Path], Path], tuple[str, ...], str]] = {
    "iemocap_transcript_zero_bytes": (lambda r: _empty(_transcript(r)), (DIALOG,), "empty transcription"),
    "iemocap_transcript_non_utf8": (
        lambda r: _stray_byte(_transcript(r)),
        (DIALOG,),
        "undecodable transcription: not UTF-8, byte 0xff at offset",
    ),
    "emoevaluation_zero_bytes": (lambda r: _empty(_emo(r)), (DIALOG,), "empty EmoEvaluation"),
    "mosei_transcript_zero_bytes": (lambda r: _empty(_mosei_transcript(r)), (VIDEO,), "empty segmented transcript"),
    "words_csd_truncated": (lambda r: _truncate_half(_words_csd(r)), MOSEI_VIDEOS, "cannot open as HDF5"),
    "avi_half_truncated": (lambda r: _truncate_half(_avi(r)), (DIALOG,), "truncated video"),
    "mp4_half_truncated": (lambda r: _truncate_half(_mp4(r)), (VIDEO,), "truncated video"),
    "dangling_symlink_to_a_needed_wav": (_dangling_needed, (DIALOG,), "missing dialog wav"),
    # issue 20, case 4: a header over no samples was a 36-s "audio gap (missing)" and no problems.csv row
    "mosei_wav_with_zero_samples": (lambda r: _zero_samples(_mosei_wav(r)), (VIDEO,), "empty audio"),
    "mp4_without_a_decodable_frame": (lambda r: _no_frames(_mp4(r)), (VIDEO,), "no frame could be decoded"),
    "labels_csd_negative_start": (_negative_label_start, (VIDEO,), "is before the start of the recording"),
}


def _edit_line(path: Path, contains: str, edit: Callable[[str], str]) -> tuple[Path, int]:
    """Apply `edit` to the one line holding `contains`; (the file, that line's 1-based number)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    [index] = [i for i, line in enumerate(lines) if contains in line]
    lines[index] = edit(lines[index])
    path.write_text("\n".join(lines), encoding="utf-8")
    return path, index + 1


UNIT = f"{DIALOG}_F001"  # in the session Ses05_F:000, `kept` on the pristine corpora
SEGMENT = f"{VIDEO}___1___"
#: UNIT's start, seconds, as planned (and written) for the tiny corpora of seed 0.
UNIT_START = next(u.start_s for rec in design_corpora(TINY, 0).recordings for u in rec.units if u.unit_id == UNIT)


def _times(line: str, edit: Callable[[str], str]) -> str:
    """`edit` applied to a transcript line's `[start-end]` only (the words after it stay)."""
    times, rest = line.split("]", 1)
    return edit(times) + "]" + rest

# name -> (damage one line: (file, line), the unit id the damaged line's unit gets, words in the reason)
LINE_FAULTS: dict[str, tuple[Callable[[Path], tuple[Path, int]], str, str]] = {
    # issue 20, case 5: the unit vanished and its speaker's sessions were re-cut (kept -> gap)
    "iemocap_malformed_utterance_id": (
        lambda r: _edit_line(_transcript(r), f"{UNIT} [", lambda line: line.replace("_F001 ", "_F0x1 ")),
        UNIT,
        f"cannot tell the speaker of {DIALOG}_F0x1",
    ),
    "iemocap_unreadable_times": (
        lambda r: _edit_line(_transcript(r), f"{UNIT} [", lambda line: _times(line, lambda t: re.sub(r"-0(\d)", r"-0x\1", t))),
        UNIT,
        "malformed utterance line",
    ),
    "iemocap_negative_start_in_transcript": (
        lambda r: _edit_line(_transcript(r), f"{UNIT} [", lambda line: _times(line, lambda t: t.replace("[", "[-"))),
        UNIT,
        f"start -{UNIT_START} is before the start of the recording",
    ),
    "emoevaluation_negative_start": (
        lambda r: _edit_line(_emo(r), f"\t{UNIT}\t", lambda line: "[-" + line.removeprefix("[")),
        UNIT,
        f"start -{UNIT_START} is before the start of the recording",
    ),
    # issue 20, case 5 on MOSEI: the segment was dropped
    "mosei_malformed_segment_index": (
        lambda r: _edit_line(_mosei_transcript(r), SEGMENT, lambda line: line.replace("___1___", "___x___")),
        f"{VIDEO}_line2",
        "segment index 'x' is not a number",
    ),
    "mosei_negative_start_in_transcript": (
        lambda r: _edit_line(_mosei_transcript(r), SEGMENT, lambda line: line.replace("___1___", "___1___-")),
        f"{VIDEO}_1",
        "is before the start of the recording",
    ),
}
#: Kinds of fault this module covers: the reader and line faults above plus the cache, link and lock cases below.
FAULT_KINDS = len(READER_FAULTS) + len(LINE_FAULTS) + 7

QUIET = Console(file=StringIO())


@pytest.fixture(scope="module")
def pool() -> Iterator[Executor]:
    with local_pool(2) as executor:
        yield executor


def _config(root: Path) -> Any:
    return load_config(None, {"corpora.iemocap": str(root / IEMOCAP), "corpora.mosei": str(root / MOSEI)})


def _ingest(root: Path, out: Path, pool: Executor, console: Console = QUIET) -> BuildResult:
    return run_build(_config(root), out, until="ingest", executor=pool, console=console)


def _rows(out: Path, root: Path) -> Rows:
    """Session rows by id, the corpora copy's folder written `<root>` in reasons (copies differ)."""
    rows = pq.read_table(out / "manifest/sessions.parquet").to_pylist()
    return {r["session_id"]: {**r, "reason": r["reason"].replace(str(root), "<root>")} for r in rows}


def _verdicts(rows: Rows) -> dict[str, tuple[str, str]]:
    return {sid: (r["status"], r["reason"]) for sid, r in rows.items()}


def _copy(tiny_corpora: Path, dest: Path) -> Path:
    for name in (IEMOCAP, MOSEI):
        shutil.copytree(tiny_corpora / name, dest / name, symlinks=True)
    return dest


@pytest.fixture(scope="module")
def baseline(tiny_corpora: Path, tmp_path_factory: pytest.TempPathFactory, pool: Executor) -> Rows:
    """Session rows of the pristine tiny corpora (ingested from a copy, like every case)."""
    root = _copy(tiny_corpora, tmp_path_factory.mktemp("pristine"))
    out = root / "out"
    assert _ingest(root, out, pool).ran == ("ingest",)
    rows = _rows(out, root)
    assert {r["source_id"] for r in rows.values()} >= {DIALOG, *MOSEI_VIDEOS}
    return rows


def _ingest_damaged(damage: Callable[[Path], T], tiny_corpora: Path, tmp_path: Path, pool: Executor) -> tuple[Path, T]:
    """Copy the corpora, damage the copy, ingest it into `tmp_path/out` (it completes: faults are data)."""
    root = _copy(tiny_corpora, tmp_path)
    damaged = damage(root)
    result = _ingest(root, tmp_path / "out", pool)
    assert result.complete and result.ran == ("ingest",)
    return root, damaged


def assert_accounted(baseline: Rows, rows: Rows, affected: tuple[str, ...], named: str, words: str) -> None:
    """The accounting rule of the module docstring: untouched recordings identical, touched ones all `error`."""
    for sid, before in baseline.items():
        if before["source_id"] not in affected:
            after = rows.get(sid)
            assert after is not None, f"{sid} vanished"
            assert (after["status"], after["reason"]) == (before["status"], before["reason"]), sid
    for recording in affected:
        mine = [r for r in rows.values() if r["source_id"] == recording]
        assert mine, f"recording {recording} vanished from sessions.parquet"
        for row in mine:
            assert row["status"] == "error", (row["session_id"], row["reason"])
            assert named in row["reason"] and words in row["reason"], row["reason"]
    assert {r["source_id"] for r in rows.values()} == {r["source_id"] for r in baseline.values()}


@pytest.mark.parametrize("fault", sorted(READER_FAULTS))
def test_reader_fault_is_an_error_row_naming_the_file(
    fault: str, tiny_corpora: Path, tmp_path: Path, baseline: Rows, pool: Executor
) -> None:
    damage, affected, words = READER_FAULTS[fault]
    root, damaged = _ingest_damaged(damage, tiny_corpora, tmp_path, pool)
    named = str(damaged).replace(str(root), "<root>")
    assert_accounted(baseline, _rows(tmp_path / "out", root), affected, named, words)
    assert str(damaged) in (tmp_path / "out/manifest/problems.csv").read_text()
    reasons = {r["reason"] for r in _rows(tmp_path / "out", root).values() if r["source_id"] == affected[0]}
    if fault == "iemocap_transcript_non_utf8":
        offset = damaged.read_bytes().index(b"\xff")
        assert all(f"byte 0xff at offset {offset} (line 3)" in reason for reason in reasons), reasons
    if fault in ("avi_half_truncated", "mp4_half_truncated"):  # what the intact file's header declares
        pristine = cv2.VideoCapture(str(damaged).replace(str(root), str(tiny_corpora)))
        frames, fps = pristine.get(cv2.CAP_PROP_FRAME_COUNT), pristine.get(cv2.CAP_PROP_FPS)
        pristine.release()
        assert frames > 500, frames
        assert all(f" of {frames / fps:.1f} seconds (" in r and f"of {int(frames)} declared frames" in r for r in reasons), reasons


def assert_placed(baseline: Rows, rows: Rows, unit: str, named: str, words: str) -> None:
    """The rule for a damaged line (module docstring): nothing re-cut, only the unit's session an `error`."""
    assert set(rows) == set(baseline), "sessions were re-cut"
    holders = [sid for sid, row in rows.items() if unit in row["utterance_ids"]]
    assert len(holders) == 1, (unit, holders)
    for sid, before in baseline.items():
        after = rows[sid]
        window = ("start_s", "end_s")
        assert [after[k] for k in window] == [before[k] for k in window], sid
        assert len(after["utterance_ids"]) == len(before["utterance_ids"]), sid
        if sid == holders[0]:
            assert after["status"] == "error", (sid, after["reason"])
            assert named in after["reason"] and words in after["reason"], after["reason"]
        else:
            assert (after["status"], after["reason"]) == (before["status"], before["reason"]), sid


@pytest.mark.parametrize("fault", sorted(LINE_FAULTS))
def test_a_damaged_line_keeps_its_unit_in_its_session_as_an_error(
    fault: str, tiny_corpora: Path, tmp_path: Path, baseline: Rows, pool: Executor
) -> None:
    damage, unit, words = LINE_FAULTS[fault]
    root, (damaged, line) = _ingest_damaged(damage, tiny_corpora, tmp_path, pool)
    named = f"{damaged}:{line}".replace(str(root), "<root>")
    assert_placed(baseline, _rows(tmp_path / "out", root), unit, named, words)
    problems = (tmp_path / "out/manifest/problems.csv").read_text()
    assert f"{damaged},{line}," in problems and unit in problems


def test_broken_file_behind_a_symlinked_session_folder_reruns_ingest(
    tiny_corpora: Path, tmp_path: Path, baseline: Rows, pool: Executor
) -> None:
    root = _copy(tiny_corpora, tmp_path / "corpora")
    elsewhere = tmp_path / "disk2" / "Session5"
    elsewhere.parent.mkdir()
    shutil.move(root / IEMOCAP / "Session5", elsewhere)
    (root / IEMOCAP / "Session5").symlink_to(elsewhere, target_is_directory=True)
    out = tmp_path / "out"
    assert _ingest(root, out, pool).ran == ("ingest",)
    assert _ingest(root, out, pool).skipped == ("ingest",)
    _empty(elsewhere / "dialog/transcriptions" / f"{DIALOG}.txt")
    assert _ingest(root, out, pool).ran == ("ingest",)
    named = str(_transcript(root)).replace(str(root), "<root>")  # named by the path the reader walked
    assert_accounted(baseline, _rows(out, root), (DIALOG,), named, "empty transcription")


def test_chmod_000_then_644_is_seen_each_time(tiny_corpora: Path, tmp_path: Path, baseline: Rows, pool: Executor) -> None:
    root = _copy(tiny_corpora, tmp_path)
    out = tmp_path / "out"
    assert _ingest(root, out, pool).ran == ("ingest",)
    transcript = _transcript(root)
    transcript.chmod(0o000)
    assert _ingest(root, out, pool).ran == ("ingest",)
    if not os.access(transcript, os.R_OK):  # root reads a mode-000 file: only the rerun is checkable
        named = str(transcript).replace(str(root), "<root>")
        assert_accounted(baseline, _rows(out, root), (DIALOG,), named, "unreadable transcription")
    transcript.chmod(0o644)
    assert _ingest(root, out, pool).ran == ("ingest",)
    assert _verdicts(_rows(out, root)) == _verdicts(baseline)


def test_truncated_sessions_parquet_reruns_ingest(tiny_corpora: Path, tmp_path: Path, pool: Executor) -> None:
    root = _copy(tiny_corpora, tmp_path)
    out = tmp_path / "out"
    _ingest(root, out, pool)
    before = _rows(out, root)
    recorded = load_state(out / "build_state.json")["stages"]["ingest"]["files"]
    assert recorded["manifest/sessions.parquet"]["size"] == (out / "manifest/sessions.parquet").stat().st_size
    _truncate_half(out / "manifest/sessions.parquet")
    assert _ingest(root, out, pool).ran == ("ingest",)
    assert _rows(out, root) == before


def test_dangling_and_looping_links_do_not_block_the_build(
    tiny_corpora: Path, tmp_path: Path, baseline: Rows, pool: Executor
) -> None:
    root = _copy(tiny_corpora, tmp_path)
    (root / IEMOCAP / "Documentation" / "notes.txt").symlink_to(tmp_path / "gone.txt")
    (root / IEMOCAP / "Session5" / "loop").symlink_to(root / IEMOCAP, target_is_directory=True)
    out = tmp_path / "out"
    assert _ingest(root, out, pool).ran == ("ingest",)
    assert _verdicts(_rows(out, root)) == _verdicts(baseline)
    assert _ingest(root, out, pool).skipped == ("ingest",)
    (root / IEMOCAP / "Documentation" / "notes.txt").unlink()
    (root / IEMOCAP / "Documentation" / "notes.txt").symlink_to(tmp_path / "elsewhere.txt")
    assert _ingest(root, out, pool).ran == ("ingest",)  # a re-pointed dangling link is a change


def test_second_build_into_the_same_out_exits_2_naming_the_holder(tiny_corpora: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    config_file = tmp_path / "pipeline.yaml"
    config_file.write_text("name: demo\n")
    with hold_out_lock(out, warn=lambda text: None):
        result = CliRunner().invoke(
            app, ["build", str(config_file), "--out", str(out), "--iemocap", str(tiny_corpora / IEMOCAP), "--until", "ingest"]
        )
        assert result.exit_code == 2, result.output
        assert f"pid {os.getpid()} on host {socket.gethostname()}" in result.output
        assert str(out / LOCK_NAME) in result.output
        with pytest.raises(BuildLocked, match="locked by another build"):
            run_build(_config(tiny_corpora), out, until="ingest", console=QUIET)
    assert not (out / "manifest").exists()


def test_stale_lock_of_a_dead_pid_is_taken_over_with_a_warning(
    tiny_corpora: Path, tmp_path: Path, pool: Executor
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    dead = _dead_pid()
    (out / LOCK_NAME).write_text(
        f'{{"host": "{socket.gethostname()}", "pid": {dead}, "started_at": "2026-01-01T00:00:00+00:00"}}\n'
    )
    log = StringIO()
    result = _ingest(tiny_corpora, out, pool, Console(file=log, width=300))
    assert result.ran == ("ingest",)
    assert f"taking over a stale lock on {out}: pid {dead} on host {socket.gethostname()}" in log.getvalue()
    assert (out / LOCK_NAME).read_text() == ""  # released cleanly


def _dead_pid() -> int:
    """A pid that ran and has exited (reaped), so `kill(pid, 0)` fails."""
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid
