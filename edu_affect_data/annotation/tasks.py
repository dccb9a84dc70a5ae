"""Push: one Label Studio task per kept session, idempotently.

The project is found by title (created when missing, its interface and overlap brought up to
date), a local-files import storage authorises the server to serve the clips folder, and tasks
are imported in batches. The key of a task is its ``session_id``: before importing, the push
reads which sessions the project already holds and sends only the others, and after a failed
request it reads them again before retrying, so a rerun after a crash, a retry after a timeout,
or a run with new sessions never duplicates a task.

Clips are never synced through the storage (that would make one task per file); tasks carry
``/data/local-files/?d=<path below the document root>`` URLs and the storage only grants access.
"""

from __future__ import annotations

import html
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from edu_affect_data.annotation.client import (
    LabelStudioError,
    LabelStudioSettings,
    call_with_retries,
    find_project,
)
from edu_affect_data.annotation.clips import clip_frame_rate
from edu_affect_data.annotation.labeling import AFFECT_CONTROL, FPS_FIELD
from edu_affect_data.corpora.records import SourceLabels
from edu_affect_data.corpora.registry import get_corpus

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio

LOG = logging.getLogger(__name__)
PREDICTION_MODEL = "source-labels"


@dataclass(frozen=True)
class PushResult:
    project_id: int
    created: int
    already_there: int

    @property
    def total(self) -> int:
        return self.created + self.already_there


def media_url(path: Path, document_root: Path) -> str:
    """The URL under which Label Studio's local-files serving returns ``path``."""
    path, root = Path(path).resolve(), Path(document_root).resolve()
    try:
        relative = path.relative_to(root)
    except ValueError:
        raise LabelStudioError(
            f"{path} is outside Label Studio's document root {root} "
            "(LABEL_STUDIO_LOCAL_FILES_DOCUMENT_ROOT): put annotation.media_root inside it"
        ) from None
    return f"/data/local-files/?d={quote(relative.as_posix())}"


def instructions_html(guidelines: Path) -> str:
    """The guidelines as the project's instructions (shown in the labelling screen).

    One ``<p>`` per paragraph with ``<br>`` between its lines: Label Studio strips ``style``
    attributes from instructions, so a ``<pre>`` would be laid out on unwrapped lines thousands of
    pixels wide and cut off at the pop-up's edge.
    """
    if not guidelines.is_file():
        return ""
    text = guidelines.read_text(encoding="utf-8")
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    return "\n".join(
        "<p>" + "<br>".join(html.escape(line) for line in paragraph.strip("\n").split("\n")) + "</p>"
        for paragraph in paragraphs
    )


def ensure_project(
    ls: LabelStudio,
    settings: LabelStudioSettings,
    *,
    title: str,
    label_config: str,
    maximum_annotations: int,
    instructions: str = "",
) -> int:
    """Id of the project titled ``title``, created or updated to this interface and overlap."""
    project_id = find_project(ls, title, settings)
    if project_id is None:
        attempts = 0

        def create() -> int | None:
            """A failed try may have created the project (SQLite "database is locked" on a step
            after the insert answers 500): look it up again before creating another."""
            nonlocal attempts
            attempts += 1
            if attempts > 1 and (found := find_project(ls, title, settings)) is not None:
                return found
            created = ls.projects.create(
                title=title,
                label_config=label_config,
                maximum_annotations=maximum_annotations,
                expert_instruction=instructions,
                show_instruction=bool(instructions),
                show_skip_button=False,
            )
            return None if created.id is None else int(created.id)

        new_id = call_with_retries(create, what=f"creation of project {title!r}", settings=settings)
        if new_id is None:
            raise LabelStudioError(f"project {title!r}: the server returned no id")
        LOG.info("created Label Studio project %r (id %s)", title, new_id)
        return new_id
    current = call_with_retries(
        lambda: ls.projects.get(id=project_id), what=f"project {project_id}", settings=settings
    )
    changes: dict[str, Any] = {}
    if " ".join(str(current.label_config).split()) != " ".join(label_config.split()):
        changes["label_config"] = label_config
    if current.maximum_annotations != maximum_annotations:
        changes["maximum_annotations"] = maximum_annotations
    if changes:
        call_with_retries(
            lambda: ls.projects.update(id=project_id, **changes),
            what=f"update of project {title!r} ({', '.join(changes)})",
            settings=settings,
        )
    return project_id


def ensure_local_storage(
    ls: LabelStudio, settings: LabelStudioSettings, project_id: int, folder: Path
) -> None:
    """A local-files import storage on ``folder`` (which must lie below the document root)."""
    folder = Path(folder).resolve()
    media_url(folder / "probe", settings.document_root)  # refuse folders the server cannot serve
    storages = call_with_retries(
        lambda: ls.import_storage.local.list(project=project_id),
        what=f"storages of project {project_id}",
        settings=settings,
    )
    if any(Path(str(s.path)).resolve() == folder for s in storages if s.path):
        return
    call_with_retries(
        lambda: ls.import_storage.local.create(
            project=project_id, path=str(folder), use_blob_urls=True, title="edu-affect clips"
        ),
        what=f"local-files storage {folder} for project {project_id}",
        settings=settings,
    )


def task_session_ids(
    ls: LabelStudio, settings: LabelStudioSettings, project_id: int
) -> dict[str, list[int]]:
    """session_id -> ids of the project's tasks for it (one each, unless someone imported twice)."""
    return call_with_retries(
        lambda: _read_task_sessions(ls, project_id),
        what=f"task list of project {project_id}",
        settings=settings,
    )


def _read_task_sessions(ls: LabelStudio, project_id: int) -> dict[str, list[int]]:
    """One unretried read of the project's tasks (for callers that are themselves retried)."""
    found: dict[str, list[int]] = {}
    listed: list[Any] = list(ls.tasks.list(project=project_id, page_size=500))
    for task in listed:
        session = (task.data or {}).get("session_id")
        if session is not None and task.id is not None:
            found.setdefault(str(session), []).append(int(task.id))
    return found


def import_missing(
    ls: LabelStudio,
    settings: LabelStudioSettings,
    project_id: int,
    tasks: Sequence[Mapping[str, Any]],
    *,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> PushResult:
    """Import the ``tasks`` (``{"data": {"session_id": ...}, ...}``) whose session is not there yet."""
    present = set(task_session_ids(ls, settings, project_id))
    missing = [task for task in tasks if task["data"]["session_id"] not in present]
    created = 0
    for start in range(0, len(missing), batch_size):
        batch = missing[start : start + batch_size]
        created += _import_batch(ls, settings, project_id, batch)
        if progress is not None:
            progress(created)
    return PushResult(project_id, created, len(tasks) - len(missing))


def _import_batch(
    ls: LabelStudio,
    settings: LabelStudioSettings,
    project_id: int,
    batch: Sequence[Mapping[str, Any]],
) -> int:
    """One import request; after a failed attempt, re-read the project so a retry adds no duplicate."""
    attempts = 0

    def attempt() -> int:
        nonlocal attempts
        attempts += 1
        todo = list(batch)
        if attempts > 1:  # the failed try may have landed: send only what the server lacks
            present = set(_read_task_sessions(ls, project_id))
            todo = [task for task in batch if task["data"]["session_id"] not in present]
        if not todo:
            return 0
        payload: Any = todo  # plain dicts: the SDK's request model accepts the JSON form
        response = ls.projects.import_tasks(id=project_id, request=payload, return_task_ids=True)
        return int(response.task_count or 0)

    return call_with_retries(
        attempt, what=f"import of {len(batch)} tasks into project {project_id}", settings=settings
    )


def preannotation_label(session: Mapping[str, Any], mapping: Mapping[str, str]) -> str | None:
    """The class the corpus's own labels suggest for a session (``SESSIONS_SCHEMA`` row), or None.

    The session's corpus plugin decides (``CorpusPlugin.preannotate``: IEMOCAP maps its consensus
    code, MOSEI its strongest emotion score) from the ``source_labels`` column.
    """
    labels = SourceLabels.from_json(session.get("source_labels"))
    if labels is None:
        return None
    return get_corpus(str(session["corpus"])).preannotate(labels, mapping)


def session_task(
    session: Mapping[str, Any],
    *,
    clip: Path,
    transcript: str,
    document_root: Path,
    preannotation: str | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The import payload of one session (``data`` plus an optional prediction).

    ``fps`` is the clip's own frame rate (read from the file), which the labeling config's
    ``frameRate="$fps"`` gives the player where clips keep their source's rate (`labeling`).
    """
    url = media_url(clip, document_root)
    data: dict[str, Any] = {
        "session_id": str(session["session_id"]),
        "video": url,
        "audio": url,
        FPS_FIELD: clip_frame_rate(clip),
        "transcript": transcript,
        "corpus": str(session["corpus"]),
        "speaker_id": str(session["speaker_id"]),
        "source_id": str(session["source_id"]),
        "start_s": float(session["start_s"]),
        "end_s": float(session["end_s"]),
        **(extra or {}),
    }
    task: dict[str, Any] = {"data": data}
    if preannotation is not None:
        task["predictions"] = [
            {
                "model_version": PREDICTION_MODEL,
                "result": [
                    {
                        "from_name": AFFECT_CONTROL,
                        "to_name": "video",
                        "type": "choices",
                        "value": {"choices": [preannotation]},
                    }
                ],
            }
        ]
    return task
