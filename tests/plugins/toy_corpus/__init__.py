"""A corpus plugin that lives outside the package: the made-up `toy` format.

Layout: one folder holding, per recording `<id>`, `<id>.wav` (16 kHz audio), `<id>.mp4` (one
speaker, full frame) and `<id>.json`, the transcript with word times and the corpus's own labels::

    {"speaker": "p1", "room": "B",
     "utterances": [{"id": "r1_0", "start": 0.3, "end": 1.8, "mood": "keen", "arousal": 0.4,
                     "words": [["so", 0.3, 0.65], ["then", 0.7, 1.05]]}]}

Everything corpus-specific sits here, as it would in a third-party package: the reader (one job
per recording on the build's executor), its options model, and two hooks that differ from the
defaults (the session's mood is that of its *longest* utterance; each recording's room and each
utterance's take travel in `custom`). The tests register `CORPUS` with `register_corpus`; a
package would declare it instead::

    [project.entry-points."edu_affect_data.corpora"]
    toy = "tests.plugins.toy_corpus:CORPUS"
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from edu_affect_data.core.parallel import map_all
from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.corpora import records
from edu_affect_data.corpora.common import (
    CorpusLayoutError,
    RecordingResult,
    assemble_manifest,
    is_hidden,
)
from edu_affect_data.corpora.plugin import CorpusPlugin, mean_scores

NAME = "toy"
SUFFIXES = (".wav", ".mp4", ".json")


class ToyOptions(StrictModel):
    """`corpora.toy` options besides `root`."""

    speaker_prefix: str = Field("toy_", description="Prefix of every speaker id (keeps corpora apart).")


@dataclass(frozen=True)
class ToyJob:
    """One recording's files; picklable so recordings can be read in worker processes."""

    recording_id: str
    root: Path
    speaker_prefix: str


def read_toy(root: Path, *, executor: Executor | None = None, speaker_prefix: str = "toy_") -> records.CorpusManifest:
    """Every recording under `root`, one job per recording on `executor`."""
    root = Path(root)
    skipped: Counter[str] = Counter()
    ids: set[str] = set()
    for path in sorted(root.iterdir()) if root.is_dir() else []:
        if path.suffix in SUFFIXES:
            if is_hidden(path):
                skipped["toy_hidden_files"] += 1
            else:
                ids.add(path.stem)
    if not ids:
        raise CorpusLayoutError(f"{root}: no <id>.wav/.mp4/.json files: not a toy corpus")
    jobs = [ToyJob(rid, root, speaker_prefix) for rid in sorted(ids)]
    results = map_all(read_recording, jobs, executor, describe=lambda job: f"toy recording {job.recording_id}")
    return assemble_manifest(NAME, root, results, [], skipped)


def read_recording(job: ToyJob) -> RecordingResult:
    """One recording and its utterances (runs in a worker); a bad file or entry is a Problem."""
    rid = job.recording_id
    wav, mp4, transcript = (job.root / f"{rid}{suffix}" for suffix in SUFFIXES)
    document: dict = {}
    problems: list[records.Problem] = []
    try:
        document = json.loads(transcript.read_text(encoding="utf-8"))
        speaker = job.speaker_prefix + str(document["speaker"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problems.append(records.Problem(str(transcript), None, f"unreadable toy transcript: {exc}", rid))
        speaker = ""
    recording = records.Recording(
        corpus=NAME,
        recording_id=rid,
        audio_path=wav if wav.is_file() else None,
        video_path=mp4 if mp4.is_file() else None,
        video_layout="single",
        transcript_path=transcript if transcript.is_file() else None,
        custom={"room": document["room"]} if "room" in document else {},
    )
    result = RecordingResult(recording, problems=problems)
    for path in (wav, mp4):
        if not path.is_file():
            result.problems.append(records.Problem(str(path), None, f"missing {path.suffix[1:]}", rid))
    for take, entry in enumerate(document.get("utterances", []) if speaker else []):
        try:
            words = tuple(records.Word(str(w), float(s), float(e)) for w, s, e in entry["words"])
            labels = records.SourceLabels(category=str(entry["mood"]), scores={"arousal": float(entry["arousal"])})
            utterance = records.Utterance(
                corpus=NAME,
                utterance_id=str(entry["id"]),
                recording_id=rid,
                speaker_id=speaker,
                start_s=float(entry["start"]),
                end_s=float(entry["end"]),
                text=" ".join(w.text for w in words),
                words=words,
                word_timing="aligned",
                labels=labels,
                custom={"take": take},
            )
        except (KeyError, TypeError, ValueError) as exc:
            result.problems.append(records.Problem(str(transcript), None, f"utterance {take}: {exc!r}", rid))
            continue
        result.utterances.append(utterance)
    return result


def mood_of_longest(units: Sequence[records.Utterance]) -> records.SourceLabels | None:
    """The session's mood is that of its longest utterance (earliest on ties), not the most frequent."""
    labelled = [u for u in units if u.labels is not None and u.labels.category]
    if not labelled:
        return None
    longest = max(labelled, key=lambda u: (u.end_s - u.start_s, -u.start_s))
    assert longest.labels is not None
    return records.SourceLabels(category=longest.labels.category, scores=mean_scores(units))


CORPUS = CorpusPlugin(
    name=NAME,
    read=read_toy,
    options=ToyOptions,
    title="Toy",
    description="A made-up corpus of the test suite: one speaker per recording, wav + mp4 + JSON.",
    source_labels="`category`: the mood of the session's longest utterance; `scores`: mean arousal.",
    licence="The toy corpus is generated by the test suite; no terms.",
    summarize_labels=mood_of_longest,
)
