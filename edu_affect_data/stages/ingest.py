"""The ingest stage: corpora -> candidate sessions -> gap filter -> `manifest/sessions.parquet`.

Every candidate session becomes a row whatever its fate (`kept`, `gap`, `short`, `error`), so the
funnel in `report.md` can be audited down to the session; every reader `Problem` goes to
`problems.csv`. Corpora are read by their registered `CorpusPlugin` (`corpora.registry`), whose
hooks also summarise a session's source labels and corpus-specific fields (the JSON columns
`source_labels` and `custom`), so nothing here knows a corpus by name. Tables are validated against
`SESSIONS_SCHEMA` before anything is written, and files are replaced atomically, so a crash never
leaves half a manifest. The corpora go through one at a time (read, cut, judged, written as rows),
so the parent holds one corpus's units, never all of them (issue 24's flat memory). Skipping an
unchanged rerun is the build's job (`edu_affect_data.build`).
"""

from __future__ import annotations

import csv
import json
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
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
from edu_affect_data.stages.ingest_report import CorpusSummary, write_report

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
    ledger = IngestLedger()
    paths.video_dir.mkdir(parents=True, exist_ok=True)  # an output even when no recording has video
    with executor_or_pool(executor) as pool:
        manifests = read_corpora(config.corpora, executor=pool)
        row_groups = session_row_groups(manifests, config, paths, pool, ledger)
        write_session_groups(row_groups, paths, corpus_roots(config.corpora))
    remove_stale_media(paths.video_dir, ledger.media_files)
    atomic_write(paths.problems, lambda tmp: write_problems(ledger.corpora, tmp))
    atomic_write(
        paths.manifest_report,
        lambda tmp: write_report(ledger.corpora, ledger.rows, ledger.causes, config.sessions, config.gaps, tmp),
    )
    elapsed = time.perf_counter() - started
    rows = ledger.rows
    counts = {status: sum(1 for r in rows if r["status"] == status) for status in STATUSES}
    summary = ", ".join(f"{counts[s]} {s}" for s in SESSION_STATUSES)
    problems = sum(len(c.problems) for c in ledger.corpora)
    return StageOutcome(
        complete=True,
        message=f"{len(rows)} candidate sessions: {summary}",
        outputs=(paths.sessions, paths.problems, paths.manifest_report, paths.video_dir),
        stats={"candidates": len(rows), **counts, "problems": problems, "seconds": round(elapsed, 2)},
    )


def read_corpora(corpora: Mapping[str, CorpusConfig], *, executor: Executor | None = None) -> Iterator[CorpusManifest]:
    """Every configured corpus (root set), read by its plugin in name order, one when the caller asks.

    The folders are checked here, before any corpus is read (that they exist, and each plugin's
    `check_layout`); each corpus is then read only once the previous one is done with
    (`session_row_groups`), so two corpora are never in memory together.
    """
    roots = corpus_roots(corpora)
    if not roots:
        raise ConfigError(
            "no corpus configured: set corpora.NAME.root (or --corpus NAME=PATH, --iemocap, --mosei)"
        )
    folders = {name: _existing_dir(root, f"corpora.{name}.root") for name, root in roots.items()}
    for name, folder in folders.items():
        get_corpus(name).check_layout(folder)
    return (
        get_corpus(name).read_corpus(folder, executor=executor, **corpora[name].options)
        for name, folder in folders.items()
    )


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


@dataclass
class IngestLedger:
    """What the ingest keeps of a corpus once its rows are written: what the report and problems.csv need."""

    corpora: list[CorpusSummary] = field(default_factory=list)
    #: `REPORT_COLUMNS` of every row, in file order, and each row's short removal causes.
    rows: list[dict[str, Any]] = field(default_factory=list)
    causes: list[tuple[str, ...]] = field(default_factory=list)
    #: Every file the media pass left in `media/video` (the rest is stale and removed).
    media_files: list[Path] = field(default_factory=list)


def session_row_groups(
    manifests: Iterable[CorpusManifest],
    config: IngestSettings,
    paths: BuildPaths,
    executor: Executor | None,
    ledger: IngestLedger,
) -> Iterator[pa.Table]:
    """The sessions table in checked tables of `SESSION_BATCH` rows, in corpus then session order.

    One corpus at a time: it is read, cut into candidates, judged (its media pass) and turned into
    rows before the next corpus is read, and only its `CorpusSummary` stays after. Made lazily while
    the file is written (`core.manifest.write_session_groups`), so the parent holds one corpus's
    units and candidates and one group's rows, not every corpus's words and turns as Python objects
    (issue 24, item 6). `ledger` receives what the report needs of every corpus and row.
    """
    roots = corpus_roots(config.corpora)
    seen: set[str] = set()
    batch: list[dict[str, Any]] = []
    for manifest in manifests:
        if Path(manifest.root) != roots.get(manifest.corpus):
            raise RuntimeError(f"corpus {manifest.corpus}: read from {manifest.root}, configured {roots.get(manifest.corpus)}")
        for row in _corpus_rows(manifest, config, paths, executor, ledger):
            batch.append(row)
            if len(batch) == SESSION_BATCH:
                yield sessions_table(batch, seen)
                batch = []
        del manifest  # else held while the next corpus is read (the loop rebinds it only after)
    if batch:
        yield sessions_table(batch, seen)


def _corpus_rows(
    manifest: CorpusManifest, config: IngestSettings, paths: BuildPaths, executor: Executor | None, ledger: IngestLedger
) -> Iterator[dict[str, Any]]:
    """One corpus's rows: candidates by its plugin's hooks, the media pass, one verdict each."""
    plugin = get_corpus(manifest.corpus)
    sessions = build_sessions(manifest, config.sessions, summarize=plugin.summarize_labels, custom=plugin.session_custom)
    _check_every_unit_placed(manifest, sessions)
    media_problems: list[Problem] = []
    [verdicts] = assess_corpora(
        [(sessions, manifest)], config.gaps, min_s=config.sessions.min_s, executor=executor,
        media_problems=media_problems, media=config.media, media_dir=paths.video_dir, media_files=ledger.media_files,
    )  # fmt: skip
    ledger.corpora.append(CorpusSummary.of(manifest, extra_problems=media_problems))  # broken media too
    for session, verdict in zip(sessions, verdicts, strict=True):
        row = session_row(session, verdict, root=manifest.root, out=paths.out)
        ledger.rows.append({key: row[key] for key in REPORT_COLUMNS})
        ledger.causes.append(verdict.causes)
        yield row


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


def write_problems(corpora: Sequence[CorpusSummary], path: Path) -> None:
    """Every reader and media problem, one CSV row each (file, line, recording, unit, what is wrong)."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(PROBLEM_COLUMNS)
        for corpus in corpora:
            for p in corpus.problems:
                writer.writerow([corpus.corpus, p.path, p.line or "", p.recording_id or "", p.utterance_id or "", p.reason])
