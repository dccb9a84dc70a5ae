"""`manifest/report.md`: the ingest funnel, so a reader can see where every session went.

Per corpus: recordings, units, candidates and their statuses; per speaker the same; which gap
kinds removed sessions; what the readers skipped on purpose; the first reader problems.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edu_affect_data.core.vocabulary import SESSION_STATUSES
from edu_affect_data.corpora.records import CorpusManifest, Problem
from edu_affect_data.media.options import GapsConfig
from edu_affect_data.stages.candidates import SessionsConfig

_STATUS_COLUMNS = SESSION_STATUSES
_PROBLEMS_LISTED = 20


@dataclass(frozen=True)
class CorpusSummary:
    """What the report and `problems.csv` need of a corpus: counts and problems, not its units.

    The ingest keeps this of each corpus once the corpus's rows are made, and lets the manifest go.
    """

    corpus: str
    recordings: int
    units: int
    annotated_units: int
    #: Speakers of the annotated units.
    speakers: int
    skipped: Mapping[str, int]
    #: The reader's problems, then those of the media pass (broken files).
    problems: tuple[Problem, ...]

    @classmethod
    def of(cls, manifest: CorpusManifest, extra_problems: Iterable[Problem] = ()) -> CorpusSummary:
        annotated = [u for u in manifest.utterances if u.annotated]
        return cls(
            corpus=manifest.corpus,
            recordings=len(manifest.recordings),
            units=len(manifest.utterances),
            annotated_units=len(annotated),
            speakers=len({u.speaker_id for u in annotated}),
            skipped=dict(manifest.skipped),
            problems=(*manifest.problems, *extra_problems),
        )


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return [*lines, ""]


def _status_cells(rows: Sequence[dict[str, Any]]) -> list[Any]:
    counts = Counter(r["status"] for r in rows)
    kept_min = sum(r["duration_s"] for r in rows if r["status"] == "kept") / 60.0
    return [len(rows), *(counts.get(s, 0) for s in _STATUS_COLUMNS), f"{kept_min:.1f}"]


def _removal_causes(rows: Sequence[dict[str, Any]], causes: Sequence[Sequence[str]]) -> list[tuple[str, str, int]]:
    """(status, cause, sessions) over every removed session; a session counts once per cause."""
    counted: Counter[tuple[str, str]] = Counter()
    for row, row_causes in zip(rows, causes, strict=True):
        for cause in dict.fromkeys(row_causes):
            counted[(row["status"], cause)] += 1
    return [(s, c, n) for (s, c), n in sorted(counted.items())]


def write_report(
    corpora: Sequence[CorpusSummary],
    rows: Sequence[dict[str, Any]],
    causes: Sequence[Sequence[str]],
    sessions: SessionsConfig,
    gaps: GapsConfig,
    path: Path,
) -> None:
    """Write the Markdown funnel report to `path`; `causes[i]` are the short causes of `rows[i]`.

    Nothing run-dependent (no timings, no dates) goes in, so unchanged inputs give an identical
    file and the build does not rerun later stages for nothing.
    """
    s, g = sessions, gaps
    lines = [
        "# Ingest report",
        "",
        f"Sessions of about {s.target_s:g} s (min {s.min_s:g}, max {s.max_s:g}) of one speaker in one "
        f"recording; `gap` when audio, video or text (the transcript) has no usable signal for more than "
        f"{g.threshold_s:g} s inside the window (audio under {g.audio_silence_dbfs:g} dBFS; video black "
        f"under luma {g.video_black_luma:g}, frozen under MAD {g.video_frozen_mad:g}, missing frames"
        f"{', no face' if g.face_check else ''}).",
        "",
        "## Funnel per corpus",
        "",
    ]
    by_corpus: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_corpus[row["corpus"]].append(row)
    funnel = [
        [c.corpus, c.recordings, c.units, c.annotated_units, c.speakers, *_status_cells(by_corpus[c.corpus])]
        for c in corpora
    ]
    funnel.append(["**all**", sum(c.recordings for c in corpora), sum(c.units for c in corpora),
                   sum(c.annotated_units for c in corpora), "", *_status_cells(rows)])
    lines += _table(
        ["corpus", "recordings", "units", "annotated units", "speakers", "candidates", *_STATUS_COLUMNS, "kept minutes"],
        funnel,
    )
    lines += ["Every annotated unit is in exactly one candidate; unannotated units (e.g. IEMOCAP `X` fragments) "
              "count as speech but start no session.", "", "## Why sessions were removed", ""]
    lines += _table(["status", "cause", "sessions"], _removal_causes(rows, causes))
    lines += ["## Per speaker", ""]
    by_speaker: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_speaker[(row["corpus"], row["speaker_id"])].append(row)
    lines += _table(
        ["corpus", "speaker", "candidates", *_STATUS_COLUMNS, "kept minutes"],
        [[c, spk, *_status_cells(rs)] for (c, spk), rs in sorted(by_speaker.items())],
    )
    lines += ["## Skipped on purpose by the readers", ""]
    lines += _table(["corpus", "what", "count"], [[c.corpus, k, v] for c in corpora for k, v in sorted(c.skipped.items())])
    problems = [(c.corpus, p) for c in corpora for p in c.problems]
    lines += ["## Reader problems", "", f"{len(problems)} problems (all in `problems.csv`)."
              + (f" First {_PROBLEMS_LISTED}:" if len(problems) > _PROBLEMS_LISTED else ""), ""]
    lines += [f"- {corpus}: {p}" for corpus, p in problems[:_PROBLEMS_LISTED]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
