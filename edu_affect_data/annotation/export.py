"""Pull: a project's full export, kept as received, turned into validated, pseudonymous votes.

Every pull downloads the whole project (``JSON``, all tasks) and first writes the bytes, unchanged,
to a new timestamped file under ``annotation/snapshots/`` (opened exclusively and made read-only,
so no snapshot is ever overwritten). Tables are derived from that snapshot only, which makes a pull
a pure function of what the server held: rerunning it after an interruption loses and duplicates
nothing. While the server is down the calls wait with backoff (``client.call_with_retries``).

Label Studio accepts anything through its API (labels not in the interface; ``required`` is
enforced only in the browser), so each annotation is checked and left out, with its reason in
``excluded.csv``, when it is cancelled (skipped), has no affect choice, more than one, a label the
interface does not offer, or repeats a vote of the same annotator on the task (the first vote, by
annotation id, counts).

The same reader measures any past Label Studio campaign (``edu-data agreement`` on an export file):
there the choice control is any ``Choices`` name, any label is a label, a task without a
``session_id`` is its own unit, and annotators are named as the export names them.
"""

from __future__ import annotations

import json
import logging
import os
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from edu_affect_data.annotation.client import LabelStudioSettings, call_with_retries, user_emails
from edu_affect_data.annotation.labeling import AFFECT_CONTROL
from edu_affect_data.annotation.pseudonyms import Pseudonyms
from edu_affect_data.core.artifacts import ANNOTATIONS_SCHEMA
from edu_affect_data.core.atomic import atomic_write
from edu_affect_data.core.parquet import save_table

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

LOG = logging.getLogger(__name__)
EXCLUDED_COLUMNS = ["project", "session_id", "task_id", "annotation_id", "annotator", "reason"]

#: Why an annotation is left out, in short: the keys of ``Votes.dropped`` (``reason`` says more).
CANCELLED = "cancelled"
NO_CHOICE = "no choice"
SEVERAL_CHOICES = "several choices"
UNKNOWN_LABEL = "unknown label"
DUPLICATE = "duplicate"
NO_SESSION = "no session_id"


class ExportFormatError(ValueError):
    """An export that is not the JSON task list Label Studio writes; names the snapshot."""


@dataclass(frozen=True)
class TaskProgress:
    """How far one task is: its valid voters, and how many non-skipped annotations it holds.

    ``answers`` are its submitted (non-skipped) annotations in annotation-id order, each the valid
    label it gave or None when it was left out (unknown label, empty, duplicate): what adaptive
    overlap (``overlap``) looks at to decide whether the task needs more people.
    """

    session_id: str
    task_id: int
    valid_votes: int
    submitted: int
    answers: tuple[str | None, ...] = ()


@dataclass(frozen=True)
class Votes:
    """One project's pulled annotations: valid ones (ANNOTATIONS_SCHEMA columns) and excluded ones.

    ``dropped`` counts the excluded ones by kind (``CANCELLED``, ``NO_CHOICE``, ...), so a report
    can say how many were left out and why without parsing ``reason``.
    """

    valid: pd.DataFrame
    excluded: pd.DataFrame
    tasks: list[TaskProgress]
    dropped: dict[str, int] = field(default_factory=dict)


def download_export(ls: LabelStudio, settings: LabelStudioSettings, project_id: int) -> bytes:
    """The project's full JSON export, as bytes (the whole download is retried on failure)."""
    return call_with_retries(
        lambda: b"".join(
            ls.projects.exports.download_sync(
                id=project_id, export_type="JSON", download_all_tasks=True
            )
        ),
        what=f"export of project {project_id}",
        settings=settings,
    )


def write_snapshot(raw: bytes, folder: Path, kind: str, project_id: int) -> Path:
    """Store ``raw`` under a new UTC-timestamped name, read-only; never replaces a file."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    path = folder / f"{stamp}-{kind}-project{project_id}.json"
    with path.open("xb") as handle:
        handle.write(raw)
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(path, 0o444)
    return path


def parse_export(raw: bytes, source: str) -> list[dict[str, Any]]:
    """The task list of a JSON export, checked by `check_export`; ``source`` names it in errors."""
    try:
        tasks = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ExportFormatError(f"{source}: not JSON: {exc}") from exc
    if not isinstance(tasks, list):
        raise ExportFormatError(f"{source}: expected a JSON list of tasks, got {_kind(tasks)}")
    check_export(tasks, source)
    return sorted(tasks, key=lambda task: int(task["id"]))


def _kind(value: Any) -> str:
    """A JSON value's kind as an error message says it (`a string ('x')`, `null`, `an object`)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, (int, float)):
        return f"a number ({value!r})"
    if isinstance(value, str):
        return f"a string ({value[:40]!r})"
    return "a list" if isinstance(value, list) else "an object"


def _is_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_export(tasks: list[Any], source: str) -> None:
    """Refuse an export whose shape the readers would misread, naming the task and annotation.

    Label Studio writes integer task and annotation ids, ``data`` as an object, ``annotations`` as
    a list of objects and ``completed_by`` as a user id or an inlined user object; anything else
    (a hand-edited or foreign file) is an `ExportFormatError` instead of a ``KeyError`` deep in the
    reader, so ``edu-data agreement`` says which file, task and annotation to fix (exit 2).
    """
    first_at: dict[int, int] = {}
    for position, task in enumerate(tasks):
        _require_object_with_id(task, f"{source}: task at position {position}")
        where = f"{source}: task {task['id']}"
        if task["id"] in first_at:
            raise ExportFormatError(f"{where} appears twice (positions {first_at[task['id']]} and {position})")
        first_at[task["id"]] = position
        for key, expected in (("data", dict), ("annotations", list)):
            if task.get(key) is not None and not isinstance(task[key], expected):
                wanted = "an object" if expected is dict else "a list"
                raise ExportFormatError(f"{where}: {key} is {_kind(task[key])}, expected {wanted}")
        for index, annotation in enumerate(task.get("annotations") or []):
            _require_object_with_id(annotation, f"{where}, annotation at position {index}")
            _check_annotation(annotation, f"{where}, annotation {annotation['id']}")


def _require_object_with_id(value: Any, where: str) -> None:
    """`value` is a JSON object with an integer ``id``, else an `ExportFormatError` saying where."""
    if not isinstance(value, dict):
        raise ExportFormatError(f"{where} is {_kind(value)}, expected an object")
    if not _is_id(value.get("id")):
        raise ExportFormatError(f"{where}: id is {_kind(value.get('id'))}, expected an integer")


def _check_annotation(annotation: dict[str, Any], where: str) -> None:
    """The fields the readers use (`completed_by`, `result`, `was_cancelled`) have the kinds Label Studio writes."""
    user = annotation.get("completed_by")
    inlined = isinstance(user, dict) and (_is_id(user.get("id")) or (user.get("id") is None and user.get("email")))
    if user is not None and not _is_id(user) and not inlined:
        raise ExportFormatError(
            f"{where}: completed_by is {_kind(user)}, expected a user id or a user object with an integer id"
        )
    result = annotation.get("result")
    if result is not None and not (isinstance(result, list) and all(isinstance(r, dict) for r in result)):
        raise ExportFormatError(f"{where}: result is {_kind(result)}, expected a list of objects")
    cancelled = annotation.get("was_cancelled")
    if cancelled is not None and not isinstance(cancelled, bool):
        raise ExportFormatError(f"{where}: was_cancelled is {_kind(cancelled)}, expected true or false")


def _is_choices(region: Any) -> bool:
    return isinstance(region, dict) and region.get("type") == "choices"


def _affect_choices(result: Iterable[dict[str, Any]], control: str = AFFECT_CONTROL) -> list[str]:
    """Every choice made in the ``control`` Choices of one annotation's result."""
    choices: list[str] = []
    for region in result or []:
        if _is_choices(region) and region.get("from_name") == control:
            choices.extend(str(c) for c in (region.get("value") or {}).get("choices") or [])
    return choices


def choice_controls(tasks: Iterable[dict[str, Any]]) -> list[str]:
    """The names (``from_name``) of every Choices control answered in ``tasks``' annotations, sorted.

    An export carries no labeling config, so the controls are those the results use.
    """
    return sorted(
        {
            str(region["from_name"])
            for task in tasks
            for annotation in task.get("annotations") or []
            for region in annotation.get("result") or []
            if _is_choices(region) and region.get("from_name") is not None
        }
    )


def _problem(
    annotation: dict[str, Any], labels: Collection[str] | None, control: str = AFFECT_CONTROL
) -> tuple[str | None, str | None, str | None]:
    """(label, None, None) for a usable annotation, else (None, kind, reason); ``labels`` None: any."""
    if annotation.get("was_cancelled"):
        return None, CANCELLED, "cancelled (skipped by the annotator)"
    choices = _affect_choices(annotation.get("result") or [], control)
    if not choices:
        return None, NO_CHOICE, f"empty result: no '{control}' choice"
    if len(choices) > 1:
        return None, SEVERAL_CHOICES, f"more than one '{control}' choice: {choices}"
    if labels is not None and choices[0] not in labels:
        return None, UNKNOWN_LABEL, f"unknown label {choices[0]!r}; expected one of {list(labels)}"
    return choices[0], None, None


def inlined_emails(tasks: Iterable[dict[str, Any]]) -> dict[int, str]:
    """id -> e-mail of every user object inlined in ``completed_by`` (an offline ``emails``).

    An export may inline a user in one annotation and give only the id in another; this map names
    both the same way.
    """
    return {
        int(user["id"]): str(user["email"])
        for task in tasks
        for annotation in task.get("annotations") or []
        if isinstance(user := annotation.get("completed_by"), dict)
        and user.get("id") is not None
        and user.get("email")
    }


def identity(user_id: Any, emails: dict[int, str]) -> str:
    """The e-mail behind ``completed_by``; ``user-id:<n>`` for an account the admin cannot see.

    Some exports inline the user object (``{id, email, ...}``): its e-mail names the annotator
    when ``emails`` (the server's accounts) does not know the id, as when reading a file offline.
    """
    inlined = None
    if isinstance(user_id, dict):
        inlined = user_id.get("email") or None
        user_id = user_id.get("id")
    if user_id is None:
        return str(inlined) if inlined else "user-id:unknown"
    return emails.get(int(user_id)) or (str(inlined) if inlined else f"user-id:{int(user_id)}")


def read_votes(
    tasks: Sequence[dict[str, Any]],
    *,
    emails: dict[int, str],
    pseudonyms: Pseudonyms | None,
    labels: Collection[str] | None,
    project: str,
    control: str = AFFECT_CONTROL,
    task_as_session: bool = False,
) -> Votes:
    """Check every annotation of ``tasks`` (export order), naming annotators by pseudonym.

    ``pseudonyms`` None names annotators by ``identity`` (e-mail or ``user-id:<n>``); ``labels``
    None accepts any label of the ``control`` Choices; ``task_as_session`` makes a task without
    ``data.session_id`` its own unit, named by its task id, instead of excluding its votes (a
    build's project has one task per session; another campaign's export need not).
    """
    valid: list[dict[str, Any]] = []
    excluded: list[dict[str, Any]] = []
    progress: list[TaskProgress] = []
    dropped: Counter[str] = Counter()
    for task in tasks:
        session = (task.get("data") or {}).get("session_id")
        if session is None and task_as_session:
            session = task["id"]
        annotations = sorted(task.get("annotations") or [], key=lambda a: int(a["id"]))
        people = [identity(a.get("completed_by"), emails) for a in annotations]
        names = pseudonyms.assign(people) if pseudonyms is not None else {p: p for p in people}
        voted: dict[str, int] = {}
        submitted = 0
        answers: list[str | None] = []
        for annotation in annotations:
            annotator = names[identity(annotation.get("completed_by"), emails)]
            submitted += not annotation.get("was_cancelled")
            label, kind, reason = _problem(annotation, labels, control)
            if session is None:
                label, kind, reason = None, NO_SESSION, "task has no session_id in its data"
            elif label is not None and annotator in voted:
                label, kind = None, DUPLICATE
                reason = f"duplicate: {annotator} already voted on this task (annotation {voted[annotator]})"
            row = {
                "project": project,
                "session_id": None if session is None else str(session),
                "task_id": int(task["id"]),
                "annotation_id": int(annotation["id"]),
                "annotator": annotator,
            }
            if not annotation.get("was_cancelled"):
                answers.append(label)
            if label is None:
                excluded.append({**row, "reason": reason})
                dropped[str(kind)] += 1
                continue
            voted[annotator] = int(annotation["id"])
            valid.append(
                {
                    "session_id": row["session_id"],
                    "task_id": row["task_id"],
                    "annotator": annotator,
                    "label": label,
                    "lead_time": annotation.get("lead_time"),
                    "created_at": annotation.get("created_at"),
                    "updated_at": annotation.get("updated_at"),
                    "annotation_id": row["annotation_id"],
                }
            )
        if session is not None:
            progress.append(TaskProgress(str(session), int(task["id"]), len(voted), submitted, tuple(answers)))
    return Votes(
        valid=pd.DataFrame(valid, columns=ANNOTATIONS_SCHEMA.names),
        excluded=pd.DataFrame(excluded, columns=EXCLUDED_COLUMNS),
        tasks=progress,
        dropped=dict(sorted(dropped.items())),
    )


#: Schema metadata of ``annotations.parquet``: the campaign's first-ratings rule, so that a later
#: ``edu-data agreement --out OUT`` applies it as the aggregate stage does (`OverlapConfig.first_ratings`).
FIRST_RATINGS_KEY = b"edu_affect_data.first_ratings"


def annotations_table(frame: pd.DataFrame, *, first_ratings: int | None) -> pa.Table:
    """``frame`` as an Arrow table validated against ANNOTATIONS_SCHEMA, recording the campaign's
    first-ratings rule (``first_ratings``: each session's first N ratings, None for all)."""
    columns = {name: frame[name].tolist() for name in ANNOTATIONS_SCHEMA.names}
    columns["lead_time"] = [None if pd.isna(v) else float(v) for v in columns["lead_time"]]
    table = pa.Table.from_pydict(columns, schema=ANNOTATIONS_SCHEMA)
    rule = b"all" if first_ratings is None else str(first_ratings).encode()
    return table.replace_schema_metadata({**(table.schema.metadata or {}), FIRST_RATINGS_KEY: rule})


def recorded_first_ratings(path: Path) -> tuple[bool, int | None]:
    """(whether ``path``, an ``annotations.parquet``, records its first-ratings rule; the rule: N or None for all).

    A table pulled before the rule was recorded says nothing (False, None).
    """
    metadata = pq.read_schema(path).metadata or {}
    rule = metadata.get(FIRST_RATINGS_KEY)
    if rule is None:
        return False, None
    return True, None if rule == b"all" else int(rule)


def write_table(table: pa.Table, path: Path) -> Path:
    """Write Parquet atomically (a reader never sees half a file)."""
    return save_table(table, path)


def write_excluded(excluded: pd.DataFrame, path: Path, project: str) -> Path:
    """Replace ``project``'s rows of ``excluded.csv`` (the other project's rows stay)."""
    kept = pd.DataFrame(columns=EXCLUDED_COLUMNS)
    if path.exists():
        kept = pd.read_csv(path, dtype=str, keep_default_na=False)
        kept = kept[kept["project"] != project]
    rows = pd.concat([kept, excluded.astype(str)], ignore_index=True) if len(kept) else excluded
    atomic_write(path, lambda partial: rows.to_csv(partial, index=False, columns=EXCLUDED_COLUMNS))
    for row in excluded.itertuples():
        LOG.warning(
            "excluded annotation %s (task %s, session %s, %s): %s",
            row.annotation_id, row.task_id, row.session_id, row.annotator, row.reason,
        )
    return path


@dataclass(frozen=True)
class ProjectPull:
    project_id: int
    snapshot: Path
    votes: Votes


def pull_project(
    ls: LabelStudio,
    settings: LabelStudioSettings,
    project_id: int,
    *,
    snapshots: Path,
    kind: str,
    pseudonyms: Pseudonyms,
    labels: Sequence[str],
) -> ProjectPull:
    """Export ``project_id``, snapshot it, then read the votes from the snapshot's bytes."""
    raw = download_export(ls, settings, project_id)
    snapshot = write_snapshot(raw, snapshots, kind, project_id)
    tasks = parse_export(snapshot.read_bytes(), str(snapshot))
    emails = user_emails(ls, settings)
    votes = read_votes(tasks, emails=emails, pseudonyms=pseudonyms, labels=labels, project=kind)
    pseudonyms.save()
    return ProjectPull(project_id, snapshot, votes)
