"""The synthetic CMU-MOSEI raw release and its computational sequences follow docs/FORMATS.md."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import cv2
import h5py
import numpy as np
import soundfile as sf

ROOT = "CMU_MOSEI"
VIDEO_ID = re.compile(r"[A-Za-z0-9_-]{11}|\d+")


def _video_ids(root: Path) -> list[str]:
    return sorted(p.stem for p in (root / ROOT / "Raw/Audio/Full/WAV_16000").glob("*.wav"))


def test_video_ids_have_the_real_shapes(tiny_corpora: Path) -> None:
    ids = _video_ids(tiny_corpora)
    assert len(ids) >= 3 and all(VIDEO_ID.fullmatch(v) for v in ids)
    assert any(v.startswith("-") for v in ids)
    assert any(v.isdigit() for v in ids)
    for vid in ids:
        assert (tiny_corpora / ROOT / "Raw/Videos/Full/Combined" / f"{vid}.mp4").is_file()
        info = sf.info(tiny_corpora / ROOT / "Raw/Audio/Full/WAV_16000" / f"{vid}.wav")
        assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")


def test_segmented_transcripts(tiny_corpora: Path) -> None:
    lines = [
        (path.stem, line)
        for path in (tiny_corpora / ROOT / "Raw/Transcript/Segmented/Combined").glob("*.txt")
        for line in path.read_text().splitlines()
    ]
    assert any(line.count("___") > 4 for _, line in lines), "a text holding ___"
    by_video: dict[str, list[tuple[int, float, float]]] = {}
    for vid, line in lines:
        head, seg, seg_start, seg_end, text = line.split("___", 4)
        assert head == vid and text
        by_video.setdefault(vid, []).append((int(seg), float(seg_start), float(seg_end)))
    for segments in by_video.values():
        assert segments[0][0] == 0
        for (_, _, end), (_, start, _) in itertools.pairwise(segments):
            assert 0 <= start - end < 0.5 or start - end >= 3.0, (
                "near-contiguous unless a transcript hole"
            )


def _group(path: Path, root: str) -> tuple[h5py.File, h5py.Group]:
    f = h5py.File(path, "r")
    assert list(f.keys()) == [root]
    return f, f[root]


def test_words_csd_layout(tiny_corpora: Path) -> None:
    f, group = _group(tiny_corpora / ROOT / "CMU_MOSEI_TimestampedWords.csd", "words")
    with f:
        assert json.loads(group["metadata"]["root name"].asstr()[()]) == "words"
        assert set(group["data"].keys()) == set(_video_ids(tiny_corpora))
        for vid in group["data"]:
            features, intervals = (
                group["data"][vid]["features"][()],
                group["data"][vid]["intervals"][()],
            )
            assert features.dtype.kind == "S" and features.shape == (len(intervals), 1)
            assert intervals.shape[1] == 2 and np.all(intervals[:, 1] > intervals[:, 0])
            assert b"sp" in features[:, 0]
            words = intervals[features[:, 0] != b"sp"]
            assert np.all(np.diff(words[:, 0]) > 0)


def test_labels_csd_layout(tiny_corpora: Path) -> None:
    f, group = _group(tiny_corpora / ROOT / "CMU_MOSEI_Labels.csd", "All Labels")
    with f:
        meta = group["metadata"]
        assert json.loads(meta["dimension names"].asstr()[()]) == [
            "sentiment",
            "happy",
            "sad",
            "anger",
            "surprise",
            "disgust",
            "fear",
        ]
        unsorted = out_of_range = 0
        for vid in group["data"]:
            features, intervals = (
                group["data"][vid]["features"][()],
                group["data"][vid]["intervals"][()],
            )
            assert features.shape == (len(intervals), 7)
            unsorted += int(np.any(np.diff(intervals[:, 0]) < 0))
            out_of_range += int(np.sum((features[:, 0] < -3) | (features[:, 0] > 3)))
            out_of_range += int(np.sum((features[:, 1:] < 0) | (features[:, 1:] > 3)))
            assert np.allclose(features * 3, np.round(features * 3), atol=1e-4), (
                "means of three raters"
            )
        assert unsorted >= 1 and out_of_range >= 1


def test_mp4_is_h264(tiny_corpora: Path, truth: dict) -> None:
    undecodable = {
        b["recording"] for b in truth["broken_files"] if b["kind"] == "undecodable_video"
    }
    for vid in _video_ids(tiny_corpora):
        path = tiny_corpora / ROOT / "Raw/Videos/Full/Combined" / f"{vid}.mp4"
        cap = cv2.VideoCapture(str(path))
        if vid in undecodable:
            assert not cap.read()[0]
            continue
        fourcc = int(cap.get(cv2.CAP_PROP_FOURCC)).to_bytes(4, "little")
        assert fourcc in (b"avc1", b"h264", b"H264"), fourcc
        data = path.read_bytes()
        assert data.find(b"moov") < data.find(b"mdat"), "moov first (faststart)"
        assert b"mp4a" in data, "AAC audio track"
