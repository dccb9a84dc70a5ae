"""The ingest stage: every candidate a schema-valid row, problems and report written, reruns stable."""

from __future__ import annotations

import csv
import gc
import json
import weakref
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import edu_affect_data.stages.ingest as manifest_module
from edu_affect_data.build import run_build
from edu_affect_data.config import PipelineConfig, load_config
from edu_affect_data.core.artifacts import SESSIONS_SCHEMA, BuildPaths
from edu_affect_data.core.manifest import read_sessions
from edu_affect_data.corpora.common import CorpusLayoutError
from edu_affect_data.corpora.records import CorpusManifest, Problem, Recording
from edu_affect_data.stages.ingest import run_ingest, sessions_table
from tests.ingest_media import alternating_units, manifest_of, write_avi, write_wav


def _corpus(root: Path) -> list[CorpusManifest]:
    recordings = []
    for k, rid in enumerate(("Ses01F_impro01", "Ses01M_impro02")):
        wav = write_wav(root / f"{rid}.wav", 40.0, dropouts=[(20.0, 23.5)] if k else [], seed=k)
        avi = write_avi(root / f"{rid}.avi", 40.0, seed=k)
        recordings.append((Recording("iemocap", rid, wav, avi, "side_by_side"), alternating_units("iemocap", rid, 40.0)))
    manifest = manifest_of("iemocap", root, recordings)
    manifest.problems.append(Problem(str(root / "Ses01F_impro01_emo.txt"), 9, "malformed consensus line", "Ses01F_impro01",
                                     manifest.utterances[0].utterance_id))
    manifest.problems.append(Problem(str(root / "stray.txt"), None, "not an IEMOCAP dialog name"))
    manifest.skipped["iemocap_transcript_lines_without_times"] = 2
    return [manifest]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[CorpusManifest]:
    return _corpus(tmp_path_factory.mktemp("media"))


@pytest.fixture()
def ingest_env(
    corpus: list[CorpusManifest], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> tuple[PipelineConfig, BuildPaths, list[CorpusManifest]]:
    manifests = corpus
    monkeypatch.setattr(manifest_module, "read_corpora", lambda corpora, executor=None: manifests)
    roots = {f"corpora.{m.corpus}": str(m.root) for m in manifests}  # the folders the sessions' metadata names
    config = load_config(None, {**roots, "sessions.min_s": 8, "sessions.target_s": 12, "sessions.max_s": 16})
    return config, BuildPaths(tmp_path / "out"), manifests


def test_every_candidate_is_a_schema_valid_row(ingest_env) -> None:
    config, paths, manifests = ingest_env
    outcome = run_ingest(config, paths)
    assert outcome.complete
    table = pq.read_table(paths.sessions)
    assert table.schema.equals(SESSIONS_SCHEMA)
    rows = table.to_pylist()
    placed = sorted(uid for r in rows for uid in r["utterance_ids"])
    assert placed == sorted(u.utterance_id for u in manifests[0].utterances)
    statuses = {r["status"] for r in rows}
    assert {"kept", "gap", "error"} <= statuses
    assert outcome.stats["candidates"] == len(rows)
    assert outcome.message.startswith(f"{len(rows)} candidate sessions")
    # Stored relative (to the corpus root its metadata records, and to the build folder), read back absolute.
    resolved = {r["session_id"]: r for r in read_sessions(paths).to_pylist()}
    for row in rows:
        assert not Path(row["audio_path"]).is_absolute() and not Path(row["video_path"]).is_absolute()
        media = resolved[row["session_id"]]
        assert Path(media["audio_path"]) == manifests[0].root / row["audio_path"] and Path(media["audio_path"]).is_file()
        assert Path(media["video_path"]).is_file()
        if row["proxy_path"] is not None:
            assert not Path(row["proxy_path"]).is_absolute() and Path(media["proxy_path"]).is_file()
        assert (row["status"] == "kept") == (row["reason"] == "")
        if row["status"] == "gap":
            assert row["gap_audio_s"] > 2.0 and 20.0 <= row["gap_audio_start_s"] < 20.1
        assert {t["speaker_id"] for t in row["turns"]} == {"S_F", "S_M"}
    error_rows = [r for r in rows if r["status"] == "error"]
    assert len(error_rows) == 1 and "Ses01F_impro01_emo.txt:9: malformed consensus line" in error_rows[0]["reason"]


def test_problems_and_report(ingest_env) -> None:
    config, paths, manifests = ingest_env
    run_ingest(config, paths)
    with paths.problems.open() as fh:
        problems = list(csv.DictReader(fh))
    assert [p["reason"] for p in problems] == ["malformed consensus line", "not an IEMOCAP dialog name"]
    assert problems[0]["line"] == "9" and problems[1]["recording_id"] == ""
    report = paths.manifest_report.read_text()
    rows = pq.read_table(paths.sessions).to_pylist()
    units = len(manifests[0].utterances)
    count = {s: sum(r["status"] == s for r in rows) for s in ("kept", "gap", "short", "error")}
    funnel = f"| iemocap | 2 | {units} | {units} | 2 | {len(rows)} | {count['kept']} | {count['gap']} | {count['short']} | {count['error']} |"
    assert funnel in report
    assert f"| gap | audio gap | {count['gap']} |" in report
    assert "| error | reader: malformed consensus line | 1 |" in report
    assert "| iemocap | iemocap_transcript_lines_without_times | 2 |" in report
    assert "| iemocap | S_F |" in report and "| iemocap | S_M |" in report
    assert "2 problems (all in `problems.csv`)" in report


def test_rerun_gives_identical_manifest(ingest_env) -> None:
    config, paths, _ = ingest_env
    run_ingest(config, paths)
    first = pq.read_table(paths.sessions)
    run_ingest(config, paths)
    assert pq.read_table(paths.sessions).equals(first)
    assert not list(paths.sessions.parent.glob(".*tmp*"))


def test_rows_are_written_a_row_group_at_a_time_with_the_same_content(ingest_env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingest never makes the whole table at once (issue 24, item 6): it writes row groups of
    `SESSION_BATCH` rows, each checked before it is written, and the file reads back the same."""
    config, paths, _ = ingest_env
    run_ingest(config, paths)
    whole = pq.read_table(paths.sessions)
    made: list[int] = []
    checked = manifest_module.sessions_table

    def counting(rows, seen=None):  # type: ignore[no-untyped-def]
        made.append(len(rows))
        return checked(rows, seen)

    monkeypatch.setattr(manifest_module, "SESSION_BATCH", 3)
    monkeypatch.setattr(manifest_module, "sessions_table", counting)
    run_ingest(config, paths)
    grouped = pq.read_table(paths.sessions)
    assert whole.num_rows > 6 and made == [3] * (whole.num_rows // 3) + ([whole.num_rows % 3] if whole.num_rows % 3 else [])
    assert pq.read_metadata(paths.sessions).num_row_groups == len(made)
    assert grouped.equals(whole) and grouped.schema.equals(whole.schema, check_metadata=True)


def test_corpora_are_read_one_at_a_time(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The ingest reads a corpus only once the previous one's rows are made and its units let go, so
    its memory follows the largest corpus, not the sum (issue 24, item 6); the report still counts both."""
    iemocap = _corpus(tmp_path / "iemocap")[0]
    vid = "abc123"
    wav, mp4 = write_wav(tmp_path / "mosei" / f"{vid}.wav", 40.0), write_avi(tmp_path / "mosei" / f"{vid}.avi", 40.0, side_by_side=False)
    units = alternating_units("mosei", vid, 40.0, speakers=(("abc123", "full"),))
    mosei = manifest_of("mosei", tmp_path / "mosei", [(Recording("mosei", vid, wav, mp4, "single"), units)])
    first = weakref.ref(iemocap)
    rows_when_second_read: list[int] = []

    def one_at_a_time(corpora, executor=None):  # type: ignore[no-untyped-def]
        nonlocal iemocap
        yield iemocap
        del iemocap  # the test's own reference: what holds the manifest now is the ingest's
        gc.collect()
        rows_when_second_read.append(-1 if first() is not None else len(made))
        yield mosei

    made: list[int] = []
    checked = manifest_module.sessions_table

    def counting(rows, seen=None):  # type: ignore[no-untyped-def]
        made.extend(range(len(rows)))
        return checked(rows, seen)

    monkeypatch.setattr(manifest_module, "read_corpora", one_at_a_time)
    monkeypatch.setattr(manifest_module, "SESSION_BATCH", 2)
    monkeypatch.setattr(manifest_module, "sessions_table", counting)
    roots = {"corpora.iemocap": str(tmp_path / "iemocap"), "corpora.mosei": str(tmp_path / "mosei")}
    config = load_config(None, {**roots, "sessions.min_s": 8, "sessions.target_s": 12, "sessions.max_s": 16})
    paths = BuildPaths(tmp_path / "out")
    run_ingest(config, paths)
    rows = pq.read_table(paths.sessions).to_pylist()
    iemocap_rows = sum(r["corpus"] == "iemocap" for r in rows)
    # When the second corpus was read, the first was no longer held, and its rows (all but an odd
    # last one, which shares a row group with the next corpus) had been made.
    assert rows_when_second_read and rows_when_second_read[0] >= iemocap_rows - 1 > 0
    assert {r["corpus"] for r in rows} == {"iemocap", "mosei"}
    report = paths.manifest_report.read_text()
    assert "| iemocap | 2 |" in report and f"| mosei | 1 | {len(units)} | {len(units)} | 1 |" in report


def test_a_wrong_corpus_folder_fails_before_any_corpus_is_read(tmp_path: Path) -> None:
    """Corpora are read one after the other, so every plugin's `check_layout` runs first: a MOSEI
    folder that is not one stops the build before IEMOCAP (read first) is touched."""
    iemocap = tmp_path / "IEMOCAP_full_release"
    (iemocap / "Session1" / "dialog").mkdir(parents=True)
    (tmp_path / "not_mosei").mkdir()
    corpora = load_config(None, {"corpora.iemocap": str(iemocap), "corpora.mosei": str(tmp_path / "not_mosei")}).corpora
    with pytest.raises(CorpusLayoutError, match=r"not_mosei: no Raw/ .* not a CMU-MOSEI folder"):
        manifest_module.read_corpora(corpora)  # nothing read yet: the corpora are a lazy sequence
    (iemocap / "Session1" / "dialog").rmdir()
    with pytest.raises(CorpusLayoutError, match=r"no Session.*/dialog/ folders: not an IEMOCAP_full_release folder"):
        manifest_module.read_corpora({"iemocap": corpora["iemocap"]})
    (iemocap / "Session1" / "dialog").mkdir()
    readers = manifest_module.read_corpora({"iemocap": corpora["iemocap"]})
    assert [m.corpus for m in readers] == ["iemocap"]


def test_a_corpus_read_from_another_folder_than_configured_is_an_error(ingest_env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The sessions file names each corpus's folder (its paths are stored relative to it) before the
    corpus is read: a plugin returning another root would make every path point elsewhere."""
    config, paths, manifests = ingest_env
    moved = CorpusManifest(corpus="iemocap", root=manifests[0].root / "elsewhere")
    monkeypatch.setattr(manifest_module, "read_corpora", lambda corpora, executor=None: [moved])
    with pytest.raises(RuntimeError, match=r"iemocap: read from .*elsewhere, configured"):
        run_ingest(config, paths)


def test_table_contract_rejects_bad_rows(ingest_env) -> None:
    config, paths, _ = ingest_env
    run_ingest(config, paths)
    rows = pq.read_table(paths.sessions).to_pylist()
    with pytest.raises(ValueError, match="duplicate session ids"):
        sessions_table([*rows, rows[0]])
    with pytest.raises(ValueError, match="unknown status 'maybe'"):
        sessions_table([{**rows[0], "status": "maybe"}])
    with pytest.raises(ValueError, match="status kept with reason"):
        sessions_table([{**rows[0], "status": "kept", "reason": "audio gap"}])


def _truth_status(row: dict, truth: dict, threshold: float) -> tuple[str, list[str], list[float]]:
    """(expected status, broken files the row depends on, fault overlaps) per synth_truth.json."""
    broken = [
        b["path"] for b in truth["broken_files"]
        if b["recording"] == row["source_id"] and (b["unit"] is None or b["unit"] in row["utterance_ids"])
    ]
    overlaps = [
        min(row["end_s"], f["end_s"]) - max(row["start_s"], f["start_s"])
        for f in truth["faults"]
        if f["recording"] == row["source_id"] and (f["modality"] != "video" or f["region"] in ("full", row["video_region"]))
    ]
    if broken:
        return "error", broken, overlaps
    return ("gap" if any(o > threshold for o in overlaps) else "clean"), broken, overlaps


@pytest.mark.slow
def test_ingest_on_tiny_corpora_matches_the_synthetic_truth(tiny_corpora: Path, tmp_path: Path) -> None:
    config = load_config(
        Path(__file__).resolve().parents[1] / "pipelines" / "demo.yaml",
        {"corpora.iemocap": str(tiny_corpora / "IEMOCAP_full_release"), "corpora.mosei": str(tiny_corpora / "CMU_MOSEI")},
    )
    result = run_build(config, tmp_path / "out", until="ingest")
    assert result.complete and result.ran == ("ingest",)
    truth = json.loads((tiny_corpora / "synth_truth.json").read_text())
    rows = pq.read_table(BuildPaths(tmp_path / "out").sessions).to_pylist()
    threshold = config.gaps.threshold_s
    checked = 0
    for row in rows:
        expected, broken, overlaps = _truth_status(row, truth, threshold)
        if expected != "error" and any(abs(o - threshold) < 0.05 for o in overlaps):
            continue  # within a frame of the threshold: either answer is right
        checked += 1
        if expected == "clean":
            assert row["status"] in ("kept", "short"), (row["session_id"], row["reason"])
        else:
            assert row["status"] == expected, (row["session_id"], expected, row["reason"], overlaps)
        for path in broken:
            assert path in row["reason"], (row["session_id"], path, row["reason"])
    assert checked >= len(rows) - 1
    statuses = {r["status"] for r in rows}
    assert {"kept", "gap", "error"} <= statuses
    # Every annotated unit of the truth that the transcripts still hold is in exactly one candidate.
    placed = [u for r in rows for u in r["utterance_ids"]]
    holes = {u for f in truth["faults"] if f["modality"] == "text" for u in f.get("units", [])}
    assert sorted(placed) == sorted({u["id"] for u in truth["units"] if u.get("annotated", True)} - holes)
