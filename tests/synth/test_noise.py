"""Time-local noise bursts are in the synthetic files exactly where `synth_truth.json` says, at the
recorded strength, and nowhere else; the gap filter keeps the same sessions as without them.

The noisy corpus is the `tiny` profile with noise turned on; the clean one is `tiny_corpora`
(same profile and seed, noise off), so each burst is measured as the difference between the two.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow.parquet as pq
import pytest
import soundfile as sf
from typer.testing import CliRunner

import edu_affect_data.synth as synth_module
from edu_affect_data.build import run_build
from edu_affect_data.cli import app
from edu_affect_data.config import load_config
from edu_affect_data.core.artifacts import BuildPaths
from edu_affect_data.corpora.iemocap import read_iemocap
from edu_affect_data.corpora.mosei import read_mosei
from edu_affect_data.corpora.records import CorpusManifest
from edu_affect_data.media.frames import region_columns
from edu_affect_data.media.options import GapsConfig
from edu_affect_data.media.timelines import VideoThresholds, audio_timeline
from edu_affect_data.media.video_pass import video_timelines
from edu_affect_data.synth import synthesize
from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.media import write_h264_mp4
from edu_affect_data.synth.noise import MARGIN_S, VOCABULARY, keyframe_times
from edu_affect_data.synth.phrasing import spoken_tokens
from edu_affect_data.synth.profiles import DEMO, TINY, NoiseShape
from edu_affect_data.synth.render import render_frames
from edu_affect_data.synth.write_iemocap import dialog_paths
from edu_affect_data.synth.write_mosei import _jumps
from tests.helpers.media import decode_video
from tests.helpers.synth import recording_paths

REPO = Path(__file__).resolve().parents[2]
KINDS = {"audio": {"audio_noise"}, "video": {"occlusion", "blur"}, "text": {"garbled_words"}}


@pytest.fixture(scope="module")
def noisy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return synthesize(tmp_path_factory.mktemp("noisy"), "tiny", 0, noise=True)


@pytest.fixture(scope="module")
def truth(noisy: Path) -> dict[str, Any]:
    return json.loads((noisy / "synth_truth.json").read_text())


def _bursts(truth: dict[str, Any], modality: str) -> list[dict[str, Any]]:
    return [b for b in truth["noise"] if b["modality"] == modality]


def _decode(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(frame times, BGR frames) of a whole video."""
    times, frames = decode_video(path)
    return times, np.array(frames)


def _inside(times: np.ndarray, burst: dict[str, Any]) -> np.ndarray:
    return (times >= burst["start_s"] - 1e-3) & (times < burst["end_s"] - 1e-3)


@pytest.mark.slow
def test_truth_lists_short_bursts_of_every_kind_clear_of_faults(truth: dict[str, Any]) -> None:
    assert {b["kind"] for b in truth["noise"]} == set().union(*KINDS.values())
    for corpus in ("iemocap", "mosei"):
        assert {b["modality"] for b in truth["noise"] if b["corpus"] == corpus} == set(KINDS)
    units = {u["recording"] for u in truth["units"]}
    for b in truth["noise"]:
        assert b["kind"] in KINDS[b["modality"]]
        assert 0.5 - 1e-6 <= b["end_s"] - b["start_s"] <= 1.8 + 1e-6, b
        assert b["recording"] in units
        assert ("snr_db" in b) == (b["modality"] == "audio")
        if b["modality"] == "audio":
            assert 0.0 <= b["snr_db"] <= 5.0 and b["region"] == "full"
        if b["corpus"] == "mosei":
            assert b["region"] == "full"
        others = [f for f in truth["faults"] if f["recording"] == b["recording"]]
        others += [o for o in truth["noise"] if o["recording"] == b["recording"] and o is not b]
        for o in others:  # clear of every fault and of each other (no confounded modalities)
            assert (
                b["end_s"] + MARGIN_S <= o["start_s"] + 1e-9
                or b["start_s"] >= o["end_s"] + MARGIN_S - 1e-9
            )
    assert {b["region"] for b in _bursts(truth, "video") if b["corpus"] == "iemocap"} == {
        "left",
        "right",
    }


def test_demo_has_noise_on_and_tiny_off() -> None:
    demo = design_corpora(DEMO, 0)
    per_modality = {
        m: sum(b.modality == m for r in demo.recordings for b in r.noise) for m in KINDS
    }
    assert all(count >= 100 for count in per_modality.values()), per_modality
    assert not any(r.noise for r in design_corpora(TINY, 0).recordings)
    again = design_corpora(DEMO, 0)
    assert [r.noise for r in again.recordings] == [r.noise for r in demo.recordings]


@pytest.mark.slow
def test_only_the_files_of_recordings_with_bursts_change(
    tiny_corpora: Path, noisy: Path, truth: dict[str, Any]
) -> None:
    clean_files = sorted(
        p.relative_to(tiny_corpora) for p in tiny_corpora.rglob("*") if p.is_file()
    )
    assert clean_files == sorted(p.relative_to(noisy) for p in noisy.rglob("*") if p.is_file())
    expected: set[Path] = {
        Path("synth_truth.json"),
        Path("CMU_MOSEI/CMU_MOSEI_TimestampedWords.csd"),
    }
    for b in truth["noise"]:
        paths = recording_paths(Path(), b["corpus"], b["recording"])
        if b["modality"] == "audio":
            expected.add(paths["wav"])
            expected.add(
                paths["avi" if b["corpus"] == "iemocap" else "mp4"]
            )  # the muxed audio track
        elif b["modality"] == "video":
            expected.add(paths["avi" if b["corpus"] == "iemocap" else "mp4"])
        else:
            expected.add(paths["transcription"])
            if b["corpus"] == "iemocap":
                expected.add(paths["alignment"] / f"{b['units'][0]}.wdseg")
    changed = {
        p for p in clean_files if (tiny_corpora / p).read_bytes() != (noisy / p).read_bytes()
    }
    sentence_wavs = {p for p in changed if "sentences/wav" in str(p)}
    assert changed - sentence_wavs == expected
    for path in sentence_wavs:  # an utterance's own wav changes only if an audio burst overlaps it
        start, end = _utterance_span(noisy, path)
        assert any(
            b["recording"] == path.parent.name and b["start_s"] < end and b["end_s"] > start
            for b in _bursts(truth, "audio")
        ), path


def _utterance_span(root: Path, sentence_wav: Path) -> tuple[float, float]:
    transcript = root / dialog_paths(sentence_wav.parent.name)["transcription"]
    lines = transcript.read_text().splitlines()
    line = next(x for x in lines if x.startswith(sentence_wav.stem + " "))
    start, end = re.search(r"\[(\S+)-(\S+)\]", line).groups()  # type: ignore[union-attr]
    return float(start), float(end)


@pytest.mark.slow
def test_audio_bursts_have_the_recorded_snr_and_change_nothing_else(
    tiny_corpora: Path, noisy: Path, truth: dict[str, Any]
) -> None:
    """SNR measured back from the 16-bit wavs: clean power over the burst's samples against the
    power of (noisy - clean); every sample outside the bursts is unchanged."""
    bursts = _bursts(truth, "audio")
    assert len(bursts) >= 10
    for recording in {b["recording"] for b in bursts}:
        mine = [b for b in bursts if b["recording"] == recording]
        relative = recording_paths(Path(), mine[0]["corpus"], recording)["wav"]
        clean, rate = sf.read(tiny_corpora / relative, dtype="int16")
        dirty, _ = sf.read(noisy / relative, dtype="int16")
        touched = np.zeros(len(clean), dtype=bool)
        for b in mine:
            i0, i1 = round(b["start_s"] * rate), round(b["end_s"] * rate)
            signal = clean[i0:i1].astype(np.float64)
            noise = dirty[i0:i1].astype(np.float64) - signal
            measured = 10 * np.log10(np.sum(signal**2) / np.sum(noise**2))
            assert abs(measured - b["snr_db"]) < 0.1, (b, measured)
            touched[i0:i1] = True
        assert np.array_equal(clean[~touched], dirty[~touched])
        assert not np.array_equal(clean[touched], dirty[touched])


def _sharpness(pixels: np.ndarray) -> float:
    grey = cv2.cvtColor(pixels.astype(np.uint8), cv2.COLOR_BGR2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def _clean_video(
    tiny_corpora: Path, corpus: str, recording: str, out: Path
) -> tuple[Path, list[float]]:
    """The clean recording's video as the corpus has it; for an inter-coded MP4 re-encoded from the
    clean plan with the noisy file's keyframes, so prediction starts from the same pictures."""
    paths = recording_paths(tiny_corpora, corpus, recording)
    if corpus == "iemocap":
        return paths["avi"], []
    noisy_plan = next(
        p
        for p in design_corpora(dataclasses.replace(TINY, noise=NoiseShape()), 0).mosei
        if p.recording_id == recording
    )
    plan = next(p for p in design_corpora(TINY, 0).mosei if p.recording_id == recording)
    keyframes = keyframe_times(noisy_plan)
    write_h264_mp4(
        out,
        render_frames(plan, 0),
        plan.frame_size,
        plan.fps,
        paths["wav"],
        _jumps(plan),
        keyframes,
    )
    return out, keyframes


@pytest.mark.slow
def test_video_bursts_change_the_face_region_only_inside_their_interval(
    tiny_corpora: Path, noisy: Path, truth: dict[str, Any], tmp_path: Path
) -> None:
    """Decoded frames: identical outside every burst and outside the burst's region; inside,
    an occlusion replaces the face (large difference) and blur removes detail (sharpness drops)."""
    bursts = _bursts(truth, "video")
    assert {b["kind"] for b in bursts} == {"occlusion", "blur"}
    for corpus, recording in sorted({(b["corpus"], b["recording"]) for b in bursts}):
        mine = [b for b in bursts if b["recording"] == recording]
        clean_path, keyframes = _clean_video(
            tiny_corpora, corpus, recording, tmp_path / f"{recording}.mp4"
        )
        if corpus == "mosei":
            assert len(keyframes) == len(mine)
        t_clean, clean = _decode(clean_path)
        t_noisy, dirty = _decode(
            recording_paths(noisy, corpus, recording)["avi" if corpus == "iemocap" else "mp4"]
        )
        assert np.array_equal(t_clean, t_noisy)
        changed = np.zeros((clean.shape[0], clean.shape[2]), dtype=bool)  # frame, column
        for b in mine:
            lo, hi = region_columns(clean.shape[2], b["region"])
            frames = np.flatnonzero(_inside(t_clean, b))
            assert len(frames) >= 7
            changed[frames, lo:hi] = True
            for k in frames:
                before, after = (
                    clean[k, :, lo:hi].astype(np.int16),
                    dirty[k, :, lo:hi].astype(np.int16),
                )
                if b["kind"] == "occlusion":
                    assert np.abs(after - before).mean() > 10, (b, k)
                else:
                    assert _sharpness(after) < 0.5 * _sharpness(before), (b, k)
        untouched = ~changed.any(axis=1)
        assert np.array_equal(clean[untouched], dirty[untouched])
        for k in np.flatnonzero(~untouched):
            keep = ~changed[k]
            assert np.array_equal(clean[k][:, keep], dirty[k][:, keep]), k


@pytest.mark.slow
def test_garbled_words_only_inside_text_bursts(
    tiny_corpora: Path, noisy: Path, truth: dict[str, Any]
) -> None:
    """Through the real readers: same utterances, same word times; a word's text differs exactly
    when it lies inside a text burst of its utterance, and then it is a non-word; the transcript
    text says the same words as the alignment."""
    bursts = _bursts(truth, "text")
    garbled = [0] * len(bursts)
    for corpus, read in (("iemocap", read_iemocap), ("mosei", read_mosei)):
        root = "IEMOCAP_full_release" if corpus == "iemocap" else "CMU_MOSEI"
        before: CorpusManifest = read(tiny_corpora / root)
        after: CorpusManifest = read(noisy / root)
        assert [u.utterance_id for u in before.utterances] == [
            u.utterance_id for u in after.utterances
        ]
        for old, new in zip(before.utterances, after.utterances, strict=True):
            assert [(w.start_s, w.end_s) for w in old.words] == [
                (w.start_s, w.end_s) for w in new.words
            ]
            for w_old, w_new in zip(old.words, new.words, strict=True):
                hits = [
                    k
                    for k, b in enumerate(bursts)
                    if b["corpus"] == corpus
                    and old.utterance_id in b["units"]
                    and b["start_s"] - 1e-6 <= w_old.start_s
                    and w_old.end_s <= b["end_s"] + 1e-6
                ]
                assert (w_old.text != w_new.text) == bool(hits), (old.utterance_id, w_old, w_new)
                if hits:
                    assert w_new.text.lower() not in VOCABULARY and w_new.text.isalpha()
                    garbled[hits[0]] += 1
            if new.word_timing == "aligned" and new.text:
                assert [w.text.lower() for w in new.words] == [
                    t.lower() for t in spoken_tokens(new.text)
                ]
    assert min(garbled) >= 1, garbled


def _ingest(corpora: Path, out: Path) -> list[dict[str, Any]]:
    config = load_config(
        REPO / "pipelines" / "demo.yaml",
        {
            "corpora.iemocap": str(corpora / "IEMOCAP_full_release"),
            "corpora.mosei": str(corpora / "CMU_MOSEI"),
        },
    )
    assert run_build(config, out, until="ingest").complete
    rows = pq.read_table(BuildPaths(out).sessions).to_pylist()
    return [
        {k: (v.replace(str(corpora), "ROOT") if isinstance(v, str) else v) for k, v in r.items()}
        for r in rows
    ]


@pytest.mark.slow
def test_gap_filter_keeps_the_same_sessions_as_without_noise(
    tiny_corpora: Path, noisy: Path, truth: dict[str, Any], tmp_path: Path
) -> None:
    columns = ("session_id", "source_id", "start_s", "end_s", "status", "reason", "utterance_ids")
    gap_columns = (
        "gap_audio_s",
        "gap_audio_start_s",
        "gap_video_s",
        "gap_video_start_s",
        "gap_text_s",
        "gap_text_start_s",
    )
    clean = _ingest(tiny_corpora, tmp_path / "clean")
    dirty = _ingest(noisy, tmp_path / "noisy")
    assert [[r[c] for c in columns + gap_columns] for r in clean] == [
        [r[c] for c in columns + gap_columns] for r in dirty
    ]
    sessions = {(r["corpus"], r["source_id"]) for r in dirty}
    assert {
        (b["corpus"], b["recording"]) for b in truth["noise"]
    } <= sessions  # ids as the manifest spells them
    kept_with_noise = [
        r
        for r in dirty
        if r["status"] == "kept"
        and any(
            b["recording"] == r["source_id"]
            and b["start_s"] < r["end_s"]
            and b["end_s"] > r["start_s"]
            for b in truth["noise"]
        )
    ]
    assert len(kept_with_noise) >= 5


@pytest.mark.slow
def test_no_unusable_frame_inside_a_burst(noisy: Path, truth: dict[str, Any]) -> None:
    """The gap scan's own per-frame verdicts (10-ms audio frames, video frames of the region)."""
    gaps = GapsConfig()
    for corpus, recording in sorted({(b["corpus"], b["recording"]) for b in truth["noise"]}):
        paths = recording_paths(noisy, corpus, recording)
        mine = [b for b in truth["noise"] if b["recording"] == recording]
        audio = audio_timeline(paths["wav"], gaps.audio_silence_dbfs)
        video = video_timelines(
            paths["avi" if corpus == "iemocap" else "mp4"],
            ("left", "right") if corpus == "iemocap" else ("full",),
            VideoThresholds.from_config(gaps),
        )
        for b in mine:
            if b["modality"] == "audio":
                assert audio.longest_gap(b["start_s"], b["end_s"]) is None, b
            if b["modality"] == "video":
                assert video[b["region"]].longest_gap(b["start_s"], b["end_s"]) is None, b


def test_cli_noise_switch(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    seen: list[bool | None] = []

    def fake(out: Path, profile: str, seed: int, *, overwrite: bool, noise: bool | None) -> Path:
        seen.append(noise)
        (out / "synth_truth.json").parent.mkdir(parents=True, exist_ok=True)
        (out / "synth_truth.json").write_text(
            json.dumps({"units": [], "faults": [], "broken_files": [], "noise": [{}] * 3})
        )
        return out

    monkeypatch.setattr(synth_module, "synthesize", fake)
    for flags, expected in (([], None), (["--noise"], True), (["--no-noise"], False)):
        result = CliRunner().invoke(
            app, ["synth", str(tmp_path / "out"), "--profile", "demo", *flags]
        )
        assert result.exit_code == 0, result.output
        assert seen[-1] is expected
        assert "3 noise bursts" in result.output
