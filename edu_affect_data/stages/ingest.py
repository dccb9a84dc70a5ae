"""The ingest stage: corpora -> candidate sessions -> gap filter -> `manifest/sessions.parquet`.

Every candidate session becomes a row whatever its fate (`kept`, `gap`, `short`, `error`), so the
funnel in `report.md` can be audited down to the session; every reader `Problem` goes to
`problems.csv`. Corpora are read by their registered `CorpusPlugin` (`corpora.registry`), whose
hooks also summarise a session's source labels and corpus-specific fields (the JSON columns
`source_labels` and `custom`), so nothing here knows a corpus by name. Tables are validated against
`SESSIONS_SCHEMA` before anything is written, and files are replaced atomically, so a crash never
leaves half a manifest. Skipping an unchanged rerun is the build's job (`edu_affect_data.build`).
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Executor
from pathlib import Path
from typing import Any, Protocol

import pyarrow as pa

from edu_affect_data.core.artifacts import SESSIONS_SCHEMA, BuildPaths
from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.manifest import SESSION_BATCH, stored_path, write_session_groups
from edu_affect_data.core.parallel import executor_or_pool
from edu_affect_data.core.stage import StageOutcome
from edu_affect_data.core.strict_config import ConfigError
from edu_affect_data.core.vocabulary import MODALITIES, SESSION_STATUSES
from edu_affect_data.corpora.config import CorpusConfig, corpus_roots
from edu_affect_data.corpora.records import CorpusManifest, Problem
from edu_affect_data.corpora.registry import get_corpus
from edu_affect_data.media.options import GapsConfig, MediaConfig
from edu_affect_data.media.store import remove_stale as remove_stale_media
from edu_affect_data.stages.candidates import CandidateSession, SessionsConfig, build_sessions
from edu_affect_data.stages.gaps import STATUSES, SessionVerdict, assess_corpora
from edu_affect_data.stages.ingest_report import write_report

PROBLEM_COLUMNS = ("corpus", "path", "line", "recording_id", "utterance_id", "reason")


class IngestSettings(Protocol):
    """What ingest reads of the pipeline configuration (its `StageSpec` keys)."""

    @property
    def corpora(self) -> Mapping[str, CorpusConfig]: ...

    @property
    def sessions(self) -> SessionsConfig: ...

    @property
    def gaps(self) -> GapsConfig: ...

    @property
    def media(self) -> MediaConfig: ...


def run_ingest(config: IngestSettings, paths: BuildPaths, *, executor: Executor | None = None) -> StageOutcome:
    """Read the configured corpora and write sessions.parquet, problems.csv and report.md."""
    started = time.perf_counter()
    with executor_or_pool(executor) as pool:
        manifests = read_corpora(config.corpora, executor=pool)
        groups: list[tuple[Sequence[CandidateSession], CorpusManifest]] = []
        for manifest in manifests:
            plugin = get_corpus(manifest.corpus)
            sessions = build_sessions(
                manifest, config.sessions, summarize=plugin.summarize_labels, custom=plugin.session_custom
            )
            _check_every_unit_placed(manifest, sessions)
            groups.append((sessions, manifest))
        media_problems: list[Problem] = []
        media_files: list[Path] = []
        paths.video_dir.mkdir(parents=True, exist_ok=True)  # an output even when no recording has video
        judged = assess_corpora(
            groups, config.gaps, min_s=config.sessions.min_s, executor=pool, media_problems=media_problems,
            media=config.media, media_dir=paths.video_dir, media_files=media_files,
        )  # fmt: skip
    by_corpus: dict[str, list[Problem]] = {}
    for problem in media_problems:
        by_corpus.setdefault(_corpus_of(problem, groups), []).append(problem)
    for _, manifest in groups:
        manifest.problems.extend(by_corpus.get(manifest.corpus, []))  # broken media go to problems.csv too
    remove_stale_media(paths.video_dir, media_files)
    rows: list[dict[str, Any]] = []  # the report's columns of every row
    causes: list[tuple[str, ...]] = []
    row_groups = session_row_groups(groups, judged, paths.out, rows, causes)
    write_session_groups(row_groups, paths, {m.corpus: m.root for m in manifests})
    atomic_write(paths.problems, lambda tmp: write_problems(manifests, tmp))
    atomic_write(paths.manifest_report, lambda tmp: write_report(manifests, rows, causes, config.sessions, config.gaps, tmp))
    elapsed = time.perf_counter() - started
    counts = {status: sum(1 for r in rows if r["status"] == status) for status in STATUSES}
    summary = ", ".join(f"{counts[s]} {s}" for s in SESSION_STATUSES)
    return StageOutcome(
        complete=True,
        message=f"{len(rows)} candidate sessions: {summary}",
        outputs=(paths.sessions, paths.problems, paths.manifest_report, paths.video_dir),
        stats={"candidates": len(rows), **counts, "problems": sum(len(m.problems) for m in manifests), "seconds": round(elapsed, 2)},
    )


def read_corpora(corpora: Mapping[str, CorpusConfig], *, executor: Executor | None = None) -> list[CorpusManifest]:
    """Every configured corpus (root set), read by its plugin in name order with its options."""
    roots = corpus_roots(corpora)
    if not roots:
        raise ConfigError(
            "no corpus configured: set corpora.NAME.root (or --corpus NAME=PATH, --iemocap, --mosei)"
        )
    manifests: list[CorpusManifest] = []
    for name, root in roots.items():
        folder = _existing_dir(root, f"corpora.{name}.root")
        plugin = get_corpus(name)
        manifests.append(plugin.read_corpus(folder, executor=executor, **corpora[name].options))
    return manifests


def _existing_dir(path: Path, key: str) -> Path:
    if not Path(path).is_dir():
        raise ConfigError(f"{key}: {path} is not a folder")
    return Path(path)


def _check_every_unit_placed(manifest: CorpusManifest, sessions: Sequence[CandidateSession]) -> None:
    """Guard the funnel: each annotated unit is in exactly one candidate, none vanishes."""
    placed = [uid for s in sessions for uid in s.utterance_ids]
    wanted = sorted(u.utterance_id for u in manifest.utterances if u.annotated)
    if sorted(placed) != wanted:
        lost = sorted(set(wanted) - set(placed))[:5]
        twice = sorted(u for u, n in Counter(placed).items() if n > 1)[:5]
        raise RuntimeError(f"{manifest.corpus}: session building lost units {lost} or repeated {twice}")


def _corpus_of(problem: Problem, groups: list[tuple[Any, CorpusManifest]]) -> str:
    """The corpus whose recording a media problem is about."""
    return next(m.corpus for _, m in groups if problem.recording_id in m.recordings)


def session_row(session: CandidateSession, verdict: SessionVerdict, *, root: Path, out: Path) -> dict[str, Any]:
    """One `SESSIONS_SCHEMA` row, times in recording seconds.

    Paths are stored relative (`core.manifest`): the corpus's media to its `root`, the video pass's
    proxy and frame table to the build folder `out`, so the build folder can move.
    """
    row: dict[str, Any] = {
        "session_id": session.session_id,
        "corpus": session.corpus,
        "source_id": session.source_id,
        "speaker_id": session.speaker_id,
        "start_s": session.start_s,
        "end_s": session.end_s,
        "duration_s": session.duration_s,
        "utterance_ids": list(session.utterance_ids),
        "audio_path": stored_path(session.audio_path, root),
        "video_path": stored_path(session.video_path, root),
        "video_region": session.video_region,
        "text": session.text,
        "words": [{"text": w.text, "start_s": w.start_s, "end_s": w.end_s} for w in session.words],
        "turns": [
            {"speaker_id": t.speaker_id, "start_s": t.start_s, "end_s": t.end_s, "text": t.text}
            for t in session.turns
        ],
        "source_labels": session.source_labels.to_json() if session.source_labels is not None else None,
        "custom": json.dumps(session.custom, sort_keys=True),
        "status": verdict.status,
        "reason": verdict.reason,
    }
    for modality in MODALITIES:
        gap = verdict.gaps.get(modality)
        row[f"gap_{modality}_s"] = gap.duration_s if gap is not None else 0.0
        row[f"gap_{modality}_start_s"] = gap.start_s if gap is not None else None
    media = verdict.media
    row["proxy_path"] = stored_path(media.proxy_path, out) if media is not None else None
    row["proxy_start_s"] = media.proxy_start_s if media is not None else None
    row["frames_path"] = stored_path(media.frames_path, out) if media is not None else None
    return row


#: The columns of a row that `ingest_report.write_report` reads (the rest is in the file, not kept).
REPORT_COLUMNS = ("corpus", "speaker_id", "status", "duration_s")


def session_row_groups(
    groups: list[tuple[Sequence[CandidateSession], CorpusManifest]],
    judged: Sequence[Sequence[SessionVerdict]],
    out: Path,
    report_rows: list[dict[str, Any]],
    causes: list[tuple[str, ...]],
) -> Iterator[pa.Table]:
    """The sessions table in checked tables of `SESSION_BATCH` rows, in corpus then session order.

    Made lazily while the file is written (`core.manifest.write_session_groups`), so the parent
    holds one group's rows, not every candidate's words and turns as Python objects and again as
    Arrow (issue 24, item 6). A corpus's candidate sessions are released from `groups` once its
    rows are made; `report_rows` and `causes` receive what the report needs of every row.
    """
    seen: set[str] = set()
    batch: list[dict[str, Any]] = []
    for index, verdicts in enumerate(judged):
        sessions, manifest = groups[index]
        groups[index] = ((), manifest)
        for session, verdict in zip(sessions, verdicts, strict=True):
            row = session_row(session, verdict, root=manifest.root, out=out)
            report_rows.append({key: row[key] for key in REPORT_COLUMNS})
            causes.append(verdict.causes)
            batch.append(row)
            if len(batch) == SESSION_BATCH:
                yield sessions_table(batch, seen)
                batch = []
    if batch:
        yield sessions_table(batch, seen)


_REQUIRED = ("session_id", "corpus", "source_id", "speaker_id", "start_s", "end_s", "custom", "status", "reason")


def sessions_table(rows: Sequence[dict[str, Any]], seen: set[str] | None = None) -> pa.Table:
    """Rows as an Arrow table of exactly `SESSIONS_SCHEMA`, checked before anyone writes it.

    `seen`: the session ids of the groups already made (a group's ids are added to it), so an id is
    unique across the whole table however it is cut.
    """
    table = pa.Table.from_pylist(list(rows), schema=SESSIONS_SCHEMA)
    table.validate(full=True)
    problems: list[str] = []
    for column in _REQUIRED:
        if table.column(column).null_count:
            problems.append(f"{table.column(column).null_count} rows have no {column}")
    ids = table.column("session_id").to_pylist()
    seen = set() if seen is None else seen
    repeated = len(ids) - len(set(ids)) + len(seen.intersection(ids))
    if repeated:
        problems.append(f"{repeated} duplicate session ids")
    seen.update(ids)
    for row in rows:
        if row["status"] not in STATUSES:
            problems.append(f"{row['session_id']}: unknown status {row['status']!r}")
        if not row["end_s"] > row["start_s"]:
            problems.append(f"{row['session_id']}: end {row['end_s']} is not after start {row['start_s']}")
        if (row["status"] == "kept") == bool(row["reason"]):
            problems.append(f"{row['session_id']}: status {row['status']} with reason {row['reason']!r}")
    if problems:
        raise ValueError("sessions table fails its contract: " + "; ".join(problems[:10]))
    return table


def write_problems(manifests: Sequence[CorpusManifest], path: Path) -> None:
    """Every reader and media problem, one CSV row each (file, line, recording, unit, what is wrong)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(PROBLEM_COLUMNS)
        for manifest in manifests:
            for p in manifest.problems:
                writer.writerow([manifest.corpus, p.path, p.line or "", p.recording_id or "", p.utterance_id or "", p.reason])
