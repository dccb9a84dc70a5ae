"""CMU-MOSEI reader: the raw release plus the labels/words `.csd` files -> `CorpusManifest`.

One recording per video (`Raw/Audio/Full/WAV_16000/<vid>.wav`, `Raw/Videos/Full/Combined/<vid>.mp4`);
one utterance per segment of `Raw/Transcript/Segmented/Combined/<vid>.txt`
(`<vid>___<seg>___<start>___<end>___<text>`), labelled from `CMU_MOSEI_Labels.csd` and timed from
`CMU_MOSEI_TimestampedWords.csd` (see `mosei_align` for how rows are matched to segments).
This module is the recipe: where the files are, which videos there are, the speaker map, the
plugin; one video's read (in a worker) is `mosei_video`, its transcript's lines `mosei_transcript`.

Decisions a user of this reader must know:

* **Layout**: `root` may hold `Raw/` (or `CMU_MOSEI/Raw/`, or be the raw folder itself); the .csd
  files are looked for in `root`, then one folder down (`CMU_MOSEI/`, `Labels/`, ...).
* **Video ids** are taken whole from file names and CSD keys, never split on `_` or `-` (YouTube ids
  contain both and may start with `-`); transcript lines are parsed by stripping the known
  `<vid>___` prefix, so ids ending in `_` and text containing `___` both survive.
* **Speaker** = `mosei_<vid>` (MOSEI publishes no speaker ids; one speaker per video is the
  documented assumption) unless a `video_id,speaker_id` CSV maps videos of one person together.
* **Words**: from the words CSD when it has the video (`word_timing="aligned"`, `sp` dropped),
  else the text spread evenly over the segment (`"utterance"`).
* **Unusable segmented transcript** (missing, empty, unreadable or not UTF-8: one rule) while the
  labels CSD has the video: segments are rebuilt from the label intervals with empty text and a
  recording-level Problem names the file and the cause (the video's sessions are `error` rows).
* **Unreadable .csd** (truncated HDF5, wrong layout): every video gets a recording-level Problem
  naming the file, so its sessions are `error` rows instead of silently unlabelled or evenly timed.
* **A transcript line that does not parse** (index, times, layout; a negative start too) is a
  Problem naming file and line, and its segment is never dropped: `common.locate_bad_line` places
  it (readable times, else the labels CSD row no readable line describes), so its session becomes
  `error` and no session is re-cut; a line nothing places makes every session of the video `error`.
  Label rows and word times are held to the same time rule (`common.readable_times`).
"""

from __future__ import annotations

import csv
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import Executor
from pathlib import Path

from pydantic import Field

from edu_affect_data.core.parallel import map_all
from edu_affect_data.core.strict_config import StrictModel
from edu_affect_data.corpora.common import CorpusLayoutError, assemble_manifest, is_hidden
from edu_affect_data.corpora.csd import CsdError, keys_by_video, read_metadata
from edu_affect_data.corpora.mosei_align import LABEL_COLUMNS
from edu_affect_data.corpora.mosei_video import (
    _AUDIO,
    _TRANSCRIPT,
    _VIDEO,
    MoseiLayout,
    VideoJob,
    read_video_batch,
)
from edu_affect_data.corpora.plugin import CorpusPlugin
from edu_affect_data.corpora.records import CorpusManifest, Problem, SourceLabels

LABELS_CSD = "CMU_MOSEI_Labels.csd"
WORDS_CSD = "CMU_MOSEI_TimestampedWords.csd"
#: Videos per executor job (one open of each .csd per batch).
BATCH_VIDEOS = 32


class SpeakerMapError(ValueError):
    """A speaker-map CSV line that cannot be used; the message names file and line."""


def read_mosei(
    root: Path, *, speaker_map: Path | None = None, executor: Executor | None = None
) -> CorpusManifest:
    """Read every video under `root`, one job per video on `executor`."""
    root = Path(root)
    layout = resolve_layout(root)
    speakers = read_speaker_map(speaker_map) if speaker_map is not None else {}
    problems: list[Problem] = []
    skipped: Counter[str] = Counter()
    broken: list[Problem] = []
    label_keys = _csd_keys(layout.labels_csd, broken)
    if not broken:
        problems.extend(_check_label_columns(layout.labels_csd))
    word_keys = _csd_keys(layout.words_csd, broken)
    if layout.labels_csd is None:
        problems.append(
            Problem(
                str(root / LABELS_CSD),
                None,
                "labels CSD not found (looked in the root and one folder down): segments carry no labels",
            )
        )
    video_ids = _discover_videos(layout.raw, label_keys, skipped)
    if not video_ids:
        problems.extend(broken)  # nothing to pin them on: report them for the corpus
    known = set(video_ids)
    skipped["mosei_speaker_map_rows_for_unknown_videos"] += sum(
        1 for vid in speakers if vid not in known
    )
    jobs = [
        VideoJob(
            vid,
            speakers.get(vid, f"mosei_{vid}"),
            layout,
            tuple(label_keys.get(vid, ())),
            tuple(word_keys.get(vid, ())),
            tuple(broken),
        )
        for vid in video_ids
    ]
    batches = [tuple(jobs[i : i + BATCH_VIDEOS]) for i in range(0, len(jobs), BATCH_VIDEOS)]
    read = map_all(read_video_batch, batches, executor, describe=_describe_batch)
    results = [r for batch in read for r in batch]
    return assemble_manifest("mosei", root, results, problems, skipped)


def _describe_batch(batch: tuple[VideoJob, ...]) -> str:
    return f"MOSEI videos {batch[0].video_id}..{batch[-1].video_id}"


def resolve_layout(root: Path) -> MoseiLayout:
    """Find the raw folder and the two .csd files under a user-given root."""
    candidates = [root / "Raw", root / "CMU_MOSEI" / "Raw", root / "CMU_MOSEI", root]
    raw = next(
        (
            c
            for c in candidates
            if any((c / part).is_dir() for part in ("Audio", "Videos", "Transcript"))
        ),
        None,
    )
    if raw is None:
        raise CorpusLayoutError(
            f"{root}: no Raw/ (or CMU_MOSEI/) folder with Audio/, Videos/ or Transcript/: not a CMU-MOSEI folder"
        )
    return MoseiLayout(raw, find_csd(root, LABELS_CSD), find_csd(root, WORDS_CSD))


def find_csd(root: Path, name: str) -> Path | None:
    """`root/name`, else the one `root/*/name`; two copies one level down are ambiguous (error)."""
    if (root / name).is_file():
        return root / name
    found = sorted(p for p in root.glob(f"*/{name}") if p.is_file())
    if len(found) > 1:
        raise CorpusLayoutError(
            f"{root}: several copies of {name}: {[str(p) for p in found]}; keep one"
        )
    return found[0] if found else None


def read_speaker_map(path: Path) -> dict[str, str]:
    """`video_id,speaker_id` rows (an optional header with those names); errors name file:line."""
    mapping: dict[str, str] = {}
    first_line: dict[str, int] = {}
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise SpeakerMapError(f"{path}: cannot read speaker map: {exc}") from exc
    with handle:
        try:
            rows = list(csv.reader(handle))
        except UnicodeDecodeError as exc:
            raise SpeakerMapError(f"{path}: cannot read speaker map: not UTF-8 text ({exc.reason})") from exc
        for number, row in enumerate(rows, start=1):
            cells = [cell.strip() for cell in row]
            if not any(cells):
                continue
            if number == 1 and cells == ["video_id", "speaker_id"]:
                continue
            if len(cells) != 2 or not all(cells):
                raise SpeakerMapError(
                    f"{path}:{number}: want 'video_id,speaker_id', got {','.join(row)!r}"
                )
            video_id, speaker_id = cells
            if video_id in mapping and mapping[video_id] != speaker_id:
                raise SpeakerMapError(
                    f"{path}:{number}: video {video_id} mapped to {speaker_id!r}, but to {mapping[video_id]!r} at line {first_line[video_id]}"
                )
            mapping[video_id] = speaker_id
            first_line.setdefault(video_id, number)
    return mapping


def _check_label_columns(path: Path | None) -> list[Problem]:
    """A labels CSD whose `dimension names` metadata disagrees with the 7 documented columns."""
    if path is None:
        return []
    try:
        names = read_metadata(path).get("dimension names")
    except CsdError:
        return []  # reported by `_csd_keys`
    if names is None:
        return []
    if isinstance(names, list) and [str(n).lower() for n in names] == list(LABEL_COLUMNS):
        return []
    return [
        Problem(
            str(path), None, f"metadata 'dimension names' is {names}, want {list(LABEL_COLUMNS)}"
        )
    ]


def _csd_keys(path: Path | None, problems: list[Problem]) -> dict[str, list[str]]:
    if path is None:
        return {}
    try:
        return keys_by_video(path)
    except CsdError as exc:
        problems.append(Problem(str(path), None, str(exc)))
        return {}


def _discover_videos(
    raw: Path, label_keys: dict[str, list[str]], skipped: Counter[str]
) -> list[str]:
    """Video ids named by any media/transcript file or by the labels CSD, sorted."""
    ids: set[str] = set(label_keys)
    for folder, suffix in ((_AUDIO, ".wav"), (_VIDEO, ".mp4"), (_TRANSCRIPT, ".txt")):
        for path in (raw / folder).glob(f"*{suffix}"):
            if is_hidden(path):
                skipped["mosei_hidden_files"] += 1
            else:
                ids.add(path.stem)
    return sorted(ids)


class MoseiOptions(StrictModel):
    """Options of `corpora.mosei` besides `root`."""

    speaker_map: Path | None = Field(
        None,
        description="CSV `video_id,speaker_id` merging MOSEI videos of one person; default: one speaker per video.",
    )


#: MOSEI's emotion scores (every column but sentiment) as the IEMOCAP-style codes that
#: `annotation.preannotation_map` maps to classes.
PREANNOTATION_CODES: dict[str, str] = dict(
    zip(LABEL_COLUMNS[1:], ("hap", "sad", "ang", "sur", "dis", "fea"), strict=True)
)


def preannotate_strongest_emotion(labels: SourceLabels, mapping: Mapping[str, str]) -> str | None:
    """The class of the session's strongest emotion score (first on ties); None when all are 0."""
    if any(name not in labels.scores for name in PREANNOTATION_CODES):
        return None
    best_code, best = None, 0.0
    for name, code in PREANNOTATION_CODES.items():
        if float(labels.scores[name]) > best:
            best_code, best = code, float(labels.scores[name])
    return mapping.get(best_code) if best_code is not None else None


CITATION = """\
@inproceedings{zadeh2018mosei,
  title     = {Multimodal Language Analysis in the Wild: {CMU-MOSEI} Dataset and Interpretable Dynamic Fusion Graph},
  author    = {Zadeh, AmirAli Bagher and Liang, Paul Pu and Poria, Soujanya and Cambria, Erik and Morency, Louis-Philippe},
  booktitle = {Proceedings of the 56th Annual Meeting of the Association for Computational Linguistics (ACL)},
  pages     = {2236--2246},
  year      = {2018}
}
"""

#: The entry point `mosei` (pyproject.toml, group `edu_affect_data.corpora`).
CORPUS = CorpusPlugin(
    name="mosei",
    read=read_mosei,
    options=MoseiOptions,
    title="CMU-MOSEI",
    description="CMU Multimodal Opinion Sentiment and Emotion Intensity: single-speaker YouTube "
    "monologue videos cut into segments.",
    source_labels="`scores`: the session's mean of the seven label columns (sentiment -3..3; "
    "happy, sad, anger, surprise, disgust, fear 0..3); the strongest emotion suggests the "
    "pre-annotation.",
    citation=CITATION,
    licence="CMU-MOSEI is distributed under its terms of use.",
    preannotate=preannotate_strongest_emotion,
    check_layout=resolve_layout,
)
