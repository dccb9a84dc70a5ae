"""How many annotations each task needs: fixed or adaptive overlap, decided from the votes so far.

Label Studio Community hands a task to people until it holds the task's ``overlap`` annotations
(``is_labeled``), and sets every task's overlap to the project's ``maximum_annotations``; Enterprise
sells the "low agreement strategy" that asks for more people only where they disagree. This module
is that strategy on a Community server, verified against 1.23.2: the project is created with
``maximum_annotations = overlap.initial``, and a task whose first ``initial`` submitted annotations
disagree gets its own overlap raised to ``overlap.max`` with ``PATCH /api/tasks/{id}`` (overlap and
``is_labeled`` together: the server does not recompute ``is_labeled`` when only the overlap
changes), after which it hands the task to the next person who asks for work.

The rule is a pure function of the pulled votes (``export.TaskProgress.answers``), so the required
count of a task is the same whoever computes it (the stages, ``annotate status``, the simulator) and
``sync_overlaps`` is idempotent: it patches only tasks whose server overlap differs from the rule's,
which also repairs an overlap Label Studio reset (it rewrites every overlap when the project's
``maximum_annotations`` changes). "Disagree" means not all ``initial`` answers are valid votes for
the same class: "Cannot tell" and annotations the pull leaves out (unknown label, empty) count as
disagreement, since none of them is evidence for a label. Gold tasks (``annotation.gold``) need
``gold.overlap`` annotations (default ``overlap.max``) from the start.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any

from edu_affect_data.annotation.client import LabelStudioSettings, call_with_retries
from edu_affect_data.annotation.export import TaskProgress
from edu_affect_data.annotation.options import AnnotationConfig
from edu_affect_data.core.vocabulary import CLASSES

if TYPE_CHECKING:
    from label_studio_sdk import LabelStudio


def agreed(answers: tuple[str | None, ...]) -> bool:
    """True when every answer is a valid vote for one and the same class."""
    return bool(answers) and answers[0] in CLASSES and all(a == answers[0] for a in answers)


def required_annotations(task: TaskProgress, annotation: AnnotationConfig, *, gold: bool = False) -> int:
    """Annotations ``task`` needs given its answers so far (see the module docstring)."""
    overlap = annotation.overlap
    if gold:
        return (annotation.gold.overlap if annotation.gold else None) or overlap.max
    first = task.answers[: overlap.initial]
    if len(first) < overlap.initial or agreed(first):
        return overlap.initial
    return overlap.max


def required_by_task(
    tasks: Iterable[TaskProgress], annotation: AnnotationConfig, gold_sessions: Collection[str] = ()
) -> dict[int, int]:
    """task id -> annotations it needs now."""
    return {
        t.task_id: required_annotations(t, annotation, gold=t.session_id in gold_sessions) for t in tasks
    }


def complete_sessions(tasks: Iterable[TaskProgress], required: Mapping[int, int]) -> set[str]:
    """Sessions the annotators are done with: their task holds the submitted annotations it needs.

    Submitted, not valid: an invalid annotation still took a person's turn (Label Studio hands the
    task to nobody else for it), and the shortfall of valid votes sends the session to the reviewer
    instead of waiting forever.
    """
    return {t.session_id for t in tasks if t.submitted >= required[t.task_id]}


def escalated(tasks: Iterable[TaskProgress], required: Mapping[int, int], annotation: AnnotationConfig) -> int:
    """How many tasks need more than ``overlap.initial`` annotations."""
    return sum(required[t.task_id] > annotation.overlap.initial for t in tasks)


def server_overlaps(ls: LabelStudio, settings: LabelStudioSettings, project_id: int) -> dict[int, int]:
    """task id -> the overlap the server holds for it."""

    def read() -> dict[int, int]:
        listed: list[Any] = list(ls.tasks.list(project=project_id, page_size=500))
        return {int(task.id): int(task.overlap or 0) for task in listed if task.id is not None}

    return call_with_retries(read, what=f"task overlaps of project {project_id}", settings=settings)


def sync_overlaps(
    ls: LabelStudio,
    settings: LabelStudioSettings,
    project_id: int,
    tasks: Iterable[TaskProgress],
    required: Mapping[int, int],
) -> int:
    """Set each task's server overlap to what it needs; returns how many tasks were changed."""
    current = server_overlaps(ls, settings, project_id)
    changed = 0
    for task in tasks:
        need = required[task.task_id]
        if current.get(task.task_id) == need:
            continue
        update = partial(ls.tasks.update, id=str(task.task_id), overlap=need, is_labeled=task.submitted >= need)
        call_with_retries(update, what=f"overlap {need} of task {task.task_id}", settings=settings)
        changed += 1
    return changed
