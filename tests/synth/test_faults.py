"""Every injected fault and broken file is in the media exactly where synth_truth.json says."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import cv2
import h5py
import numpy as np
import soundfile as sf

from tests.helpers.media import decode_video
from tests.helpers.synth import recording_paths

FRAME = 1 / (30000 / 1001)


def _decode(path: Path) -> tuple[np.ndarray, list[np.ndarray]]:
    times, frames = decode_video(path)
    return times, [cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32) for frame in frames]


def test_every_kind_is_present_short_and_long(truth: dict) -> None:
    kinds = {
        (f["corpus"], f["modality"], f["kind"], f["end_s"] - f["start_s"] >= 3.0)
        for f in truth["faults"]
    }
    for corpus in ("iemocap", "mosei"):
        for modality, kind in (
            ("audio", "dropout"),
            ("video", "black"),
            ("video", "frozen"),
            ("video", "missing"),
        ):
            assert {(corpus, modality, kind, True), (corpus, modality, kind, False)} <= kinds
    assert {
        ("iemocap", "text", "hole", True),
        ("iemocap", "text", "hole", False),
    } <= kinds
    assert ("mosei", "text", "hole", True) in kinds
    assert {
        f["region"]
        for f in truth["faults"]
        if f["corpus"] == "iemocap" and f["modality"] == "video"
    } == {"left", "right", "full"}
    for f in truth["faults"]:
        length = f["end_s"] - f["start_s"]
        assert length <= 1.5 or length >= 3.0, f
    broken = {(b["corpus"], b["kind"]) for b in truth["broken_files"]}
    assert {
        ("iemocap", "truncated_wav"),
        ("iemocap", "missing_transcript"),
        ("iemocap", "malformed_emo_line"),
    } <= broken
    assert {("mosei", "undecodable_video"), ("mosei", "missing_transcript")} <= broken


def test_audio_dropouts_are_exact_zeros_and_reach_the_sentence_wavs(
    tiny_corpora: Path, truth: dict
) -> None:
    for f in (f for f in truth["faults"] if f["modality"] == "audio"):
        paths = recording_paths(tiny_corpora, f["corpus"], f["recording"])
        audio, rate = sf.read(paths["wav"], dtype="int16")
        i0, i1 = round(f["start_s"] * rate), round(f["end_s"] * rate)
        assert not audio[i0:i1].any()
        assert audio[i0 - 160 : i0].any() and audio[i1 : i1 + 160].any(), (
            "zeros stop where the truth says"
        )
        if f["corpus"] == "iemocap":
            overlapping = [
                u
                for u in truth["units"]
                if u["recording"] == f["recording"] and u["start_s"] < f["start_s"] < u["end_s"]
            ]
            for unit in overlapping:
                clip, _ = sf.read(paths["sentences"] / f"{unit['id']}.wav", dtype="int16")
                k = round((f["start_s"] - unit["start_s"]) * rate)
                assert not clip[k + 2 : k + 160].any()


def test_no_digital_silence_outside_dropouts(tiny_corpora: Path, truth: dict) -> None:
    broken = {b["recording"] for b in truth["broken_files"] if b["kind"] == "truncated_wav"}
    for wav in tiny_corpora.glob("**/*.wav"):
        if wav.stem in broken or "sentences" in wav.parts:
            continue
        audio, _rate = sf.read(wav, dtype="float32")
        frames = audio[: len(audio) // 160 * 160].reshape(-1, 160)
        quiet = np.sqrt(np.mean(frames**2, axis=1)) < 10 ** (-70 / 20)
        for f in truth["faults"]:
            if f["recording"] == wav.stem and f["modality"] == "audio":
                quiet[int(f["start_s"] * 100) : int(np.ceil(f["end_s"] * 100))] = False
        assert not quiet.any(), wav


def test_video_faults_decode_as_recorded(tiny_corpora: Path, truth: dict) -> None:
    recordings = {
        (f["corpus"], f["recording"]) for f in truth["faults"] if f["modality"] == "video"
    }
    for corpus, recording in sorted(recordings):
        path = recording_paths(tiny_corpora, corpus, recording)["avi" if corpus == "iemocap" else "mp4"]
        times, frames = _decode(path)
        width = frames[0].shape[1]
        columns = {
            "left": slice(0, width // 2),
            "right": slice(width // 2, width),
            "full": slice(0, width),
        }
        for f in (
            f for f in truth["faults"] if f["recording"] == recording and f["modality"] == "video"
        ):
            inside = [
                i for i, t in enumerate(times) if f["start_s"] - 1e-3 <= t < f["end_s"] - 1e-3
            ]
            if f["kind"] == "missing":
                assert not inside
                before = [t for t in times if t < f["start_s"]]
                assert before and f["start_s"] - before[-1] < 0.1
                if f["end_s"] < times[-1]:
                    assert min(t for t in times if t >= f["end_s"] - 1e-3) - f["end_s"] < 1e-3
                continue
            assert inside, f
            region = columns[f["region"]]
            if f["kind"] == "black":
                assert max(frames[i][:, region].mean() for i in inside) < 10
            else:
                reference = frames[inside[0] - 1][:, region]
                assert max(np.abs(frames[i][:, region] - reference).mean() for i in inside) < 0.5
            after = inside[-1] + 1
            if after < len(frames):
                assert (
                    np.abs(frames[after][:, region] - frames[inside[-1]][:, region]).mean() > 1.0
                ), "the fault ends on time"


def _transcript_words(
    root: Path, corpus: str, recording: str, units: list[dict]
) -> list[tuple[float, float]]:
    if corpus == "mosei":
        with h5py.File(root / "CMU_MOSEI/CMU_MOSEI_TimestampedWords.csd") as f:
            group = f["words"]["data"][recording]
            words, spans = group["features"][:, 0], group["intervals"][()]
        return [tuple(s) for w, s in zip(words, spans, strict=True) if w != b"sp"]
    paths = recording_paths(root, corpus, recording)
    out = []
    for unit in units:
        seg = paths["alignment"] / f"{unit['id']}.wdseg"
        if not seg.exists():
            out.append((unit["start_s"], unit["end_s"]))
            continue
        for line in seg.read_text().splitlines()[1:-1]:
            start, end, token = int(line[1:6]), int(line[7:12]), line[24:]
            if token not in ("<s>", "</s>", "<sil>"):
                out.append((unit["start_s"] + start * 0.01, unit["start_s"] + (end + 1) * 0.01))
    return out


def test_transcript_holes_have_no_words_and_are_bounded_by_words(
    tiny_corpora: Path, truth: dict
) -> None:
    for f in (f for f in truth["faults"] if f["modality"] == "text"):
        units = [u for u in truth["units"] if u["recording"] == f["recording"]]
        assert not set(f["units"]) & {u["id"] for u in units}
        words = _transcript_words(tiny_corpora, f["corpus"], f["recording"], units)
        assert not [w for w in words if w[1] > f["start_s"] + 1e-3 and w[0] < f["end_s"] - 1e-3]
        assert min(abs(w[1] - f["start_s"]) for w in words) < 1e-3
        assert min(abs(w[0] - f["end_s"]) for w in words) < 1e-3
        paths = recording_paths(tiny_corpora, f["corpus"], f["recording"])
        text = paths["transcription"].read_text()
        assert all(re.escape(u) not in text for u in f["units"])
        if f["corpus"] == "iemocap":
            assert all(u not in paths["emo"].read_text() for u in f["units"])
            assert not [u for u in f["units"] if (paths["alignment"] / f"{u}.wdseg").exists()]


def test_transcript_gaps_outside_holes_stay_short(tiny_corpora: Path, truth: dict) -> None:
    holes = [
        (f["recording"], f["start_s"], f["end_s"])
        for f in truth["faults"]
        if f["modality"] == "text"
    ]
    for corpus, recording in sorted({(u["corpus"], u["recording"]) for u in truth["units"]}):
        units = sorted(
            (u for u in truth["units"] if u["recording"] == recording), key=lambda u: u["start_s"]
        )
        words = sorted(_transcript_words(tiny_corpora, corpus, recording, units))
        for (_, end), (start, _) in itertools.pairwise(words):
            if any(
                r == recording and abs(end - a) < 1e-3 and abs(start - b) < 1e-3
                for r, a, b in holes
            ):
                continue
            assert start - end <= 1.5, (recording, end, start)


def test_broken_files(tiny_corpora: Path, truth: dict) -> None:
    for b in truth["broken_files"]:
        path = tiny_corpora / b["path"]
        if b["kind"] == "truncated_wav":
            raw = path.read_bytes()
            start = raw.index(b"data") + 8
            promised = int.from_bytes(raw[start - 4 : start], "little")
            assert len(raw) - start < promised
        elif b["kind"] == "undecodable_video":
            assert path.exists() and not cv2.VideoCapture(str(path)).read()[0]
        elif b["kind"] == "missing_transcript":
            assert not path.exists() and path.parent.is_dir()
        else:
            assert b["kind"] == "malformed_emo_line" and b["unit"]
            block = next(x for x in path.read_text().split("\n\n") if f"\t{b['unit']}\t" in x)
            assert re.search(r"^A-E\d:\tval \d; act$", block, re.M)
