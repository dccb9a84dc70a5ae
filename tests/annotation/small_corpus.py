"""A tiny hand-made corpus for the annotation tests (nothing from the other stages is needed).

A few seconds of ffmpeg test pattern and tone: an IEMOCAP-like side-by-side AVI with a dialog WAV,
a MOSEI-like single-speaker MP4 with its WAV, a sessions table in SESSIONS_SCHEMA (one session not
``kept``) and a ``synth_truth.json`` giving each unit's latent emotion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from edu_affect_data.core.artifacts import SESSIONS_SCHEMA
from edu_affect_data.core.vocabulary import MODALITIES
from edu_affect_data.corpora.mosei_align import LABEL_COLUMNS
from edu_affect_data.corpora.records import SourceLabels
from tests.helpers.media import ffmpeg
from tests.proxies import with_proxies

REPO = Path(__file__).resolve().parents[2]
LABELING_CONFIG = REPO / "annotation_guidelines" / "labeling_config.xml"
#: (session_id, corpus, recording, speaker, region, start, end, unit emotions, status)
SESSIONS: list[tuple[str, str, str, str, str, float, float, list[str], str]] = [
    ("Ses01F_impro01_M_s0", "iemocap", "Ses01F_impro01", "Ses01_M", "right", 0.0, 4.0, ["Bored", "Bored"], "kept"),
    ("Ses01F_impro01_F_s0", "iemocap", "Ses01F_impro01", "Ses01_F", "left", 4.0, 8.0, ["Curious", "Curious"], "kept"),
    ("Ses01F_impro01_M_s1", "iemocap", "Ses01F_impro01", "Ses01_M", "right", 8.0, 11.5, ["Frustrated", "Bored", "Frustrated"], "kept"),
    ("Ses01F_impro01_F_s1", "iemocap", "Ses01F_impro01", "Ses01_F", "left", 8.0, 11.5, ["Confused"], "gap"),
    ("mosei_vidA_s0", "mosei", "vidA", "mosei_vidA", "full", 0.0, 3.5, ["Confused"], "kept"),
    ("mosei_vidA_s1", "mosei", "vidA", "mosei_vidA", "full", 3.5, 7.0, ["Curious", "Frustrated", "Frustrated"], "kept"),
]


@dataclass(frozen=True)
class SmallCorpus:
    root: Path
    sessions: Path  # a sessions.parquet to copy into a build
    truth: Path

    def kept(self) -> list[str]:
        return [s[0] for s in SESSIONS if s[-1] == "kept"]

    def truth_of(self, session_id: str) -> str:
        emotions = next(s[7] for s in SESSIONS if s[0] == session_id)
        return max(emotions, key=emotions.count)


def _source_labels(corpus: str) -> SourceLabels:
    """IEMOCAP: consensus `fru`; MOSEI: surprise is the strongest emotion."""
    if corpus == "iemocap":
        return SourceLabels(category="fru")
    return SourceLabels(scores=dict(zip(LABEL_COLUMNS, [0.0, 0.1, 0.0, 0.0, 0.9, 0.0, 0.0], strict=True)))


def write_corpus(root: Path) -> SmallCorpus:
    root.mkdir(parents=True, exist_ok=True)
    avi, dialog_wav = root / "Ses01F_impro01.avi", root / "Ses01F_impro01.wav"
    mp4, video_wav = root / "vidA.mp4", root / "vidA.wav"
    ffmpeg("-f", "lavfi", "-i", "testsrc2=size=320x120:rate=30000/1001:duration=12", "-c:v", "mpeg4", "-vtag", "DX50", "-q:v", "4", "-pix_fmt", "yuv420p", str(avi))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=220:sample_rate=16000:duration=12", str(dialog_wav))
    ffmpeg("-f", "lavfi", "-i", "testsrc=size=160x120:rate=30:duration=8", "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100:duration=8",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", str(mp4))
    ffmpeg("-f", "lavfi", "-i", "sine=frequency=330:sample_rate=16000:duration=8", str(video_wav))
    media = {"Ses01F_impro01": (avi, dialog_wav), "vidA": (mp4, video_wav)}
    rows: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    for session_id, corpus, recording, speaker, region, start, end, emotions, status in SESSIONS:
        step = (end - start) / len(emotions)
        unit_ids = [f"{session_id}_u{k}" for k in range(len(emotions))]
        for k, (unit_id, emotion) in enumerate(zip(unit_ids, emotions, strict=True)):
            units.append({"corpus": corpus, "id": unit_id, "recording": recording, "speaker": speaker, "emotion": emotion,
                          "start_s": start + k * step, "end_s": start + (k + 1) * step})
        video, audio = media[recording]
        turns = [{"speaker_id": speaker, "start_s": start + k * step, "end_s": start + (k + 1) * step, "text": f"words of unit {k}"}
                 for k in range(len(emotions))]
        rows.append({
            "session_id": session_id, "corpus": corpus, "source_id": recording, "speaker_id": speaker,
            "start_s": start, "end_s": end, "duration_s": end - start, "utterance_ids": unit_ids,
            "audio_path": str(audio), "video_path": str(video), "video_region": region,
            "text": " ".join(str(t["text"]) for t in turns), "words": [], "turns": turns,
            "source_labels": _source_labels(corpus).to_json(), "custom": "{}",
            "status": status, "reason": "" if status == "kept" else "video gap 3.1 s",
            **{f"gap_{m}_{k}": 0.0 for m in MODALITIES for k in ("s", "start_s")},
        })
    sessions = root / "sessions.parquet"
    rows = with_proxies(rows, root / "media")
    pq.write_table(pa.Table.from_pylist(rows, schema=SESSIONS_SCHEMA), sessions)
    truth = root / "synth_truth.json"
    truth.write_text(json.dumps({"profile": "test", "seed": 0, "faults": [], "broken_files": [], "units": units}))
    return SmallCorpus(root, sessions, truth)
