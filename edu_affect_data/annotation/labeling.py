"""The labeling interfaces, read from ``annotation_guidelines/`` (the one source of truth).

The XML files stay valid Label Studio configs on their own (a person can paste them into the UI);
the only thing the toolkit changes is ``frameRate`` on every ``<Video>``, because Label Studio
steps and syncs video by that rate and it must be the clip's: ``annotation.clip.fps`` where the
clips are re-encoded at it, else ``$fps``, the task field holding each clip's own rate (stream-copied
clips keep their source's, which differs between corpora; Label Studio reads ``frameRate`` from
task data, documented for the ``<Video>`` tag). The adjudication interface lives next to the labeling one
(``adjudication_config.xml`` in the same folder).

Before anything is sent, the file is checked for what the pull relies on: a ``<Choices
name="affect">`` offering exactly the expected labels, and the task fields the push fills.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from edu_affect_data.core.vocabulary import ANSWERS, CLASSES

#: The control whose choice is the vote; the pull reads only this one.
AFFECT_CONTROL = "affect"
ADJUDICATION_FILE = "adjudication_config.xml"
#: Labels each interface must offer: annotators may abstain, the reviewer may not.
ANNOTATOR_LABELS: tuple[str, ...] = ANSWERS
REVIEWER_LABELS: tuple[str, ...] = CLASSES
#: The task field holding the clip's frame rate (`tasks.session_task`).
FPS_FIELD = "fps"
#: Task fields the push fills; an interface may use only these variables.
ANNOTATOR_FIELDS = frozenset({"video", "audio", "transcript", "session_id", FPS_FIELD})
REVIEWER_FIELDS = ANNOTATOR_FIELDS | {"votes"}


class LabelingConfigError(ValueError):
    """A labeling interface that the pipeline cannot use; the message names the file."""


def resolve_config_file(path: Path) -> Path:
    """A relative ``annotation.labeling_config`` is looked up in the working directory, then the repository."""
    path = Path(path)
    if path.is_absolute() or path.exists():
        return path
    in_repo = Path(__file__).resolve().parents[2] / path
    return in_repo if in_repo.exists() else path


def adjudication_config_path(labeling_config: Path) -> Path:
    return resolve_config_file(labeling_config).parent / ADJUDICATION_FILE


def guidelines_path(labeling_config: Path) -> Path:
    """``guidelines.md`` beside the labeling config (shown as the project's instructions)."""
    return resolve_config_file(labeling_config).parent / "guidelines.md"


def format_frame_rate(fps: float | None) -> str:
    """``25`` rather than ``25.0``; ``29.97`` stays as given; None: each task's own (``$fps``)."""
    return f"${FPS_FIELD}" if fps is None else f"{fps:g}"


def render_labeling_config(
    path: Path, *, fps: float | None, labels: tuple[str, ...], fields: frozenset[str]
) -> str:
    """The XML of ``path`` with ``frameRate`` set to ``fps`` (None: ``$fps``), after checking the affect choices."""
    path = resolve_config_file(path)
    try:
        parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))
        root = ET.fromstring(path.read_text(encoding="utf-8"), parser=parser)
    except (OSError, ET.ParseError) as exc:
        raise LabelingConfigError(f"{path}: cannot read the labeling config: {exc}") from exc
    if root.tag != "View":
        raise LabelingConfigError(f"{path}: the root element must be <View>, found <{root.tag}>")
    videos = list(root.iter("Video"))
    if not videos:
        raise LabelingConfigError(f"{path}: no <Video> tag; the clips could not be shown")
    for video in videos:
        video.set("frameRate", format_frame_rate(fps))
    affect = [c for c in root.iter("Choices") if c.get("name") == AFFECT_CONTROL]
    if len(affect) != 1:
        raise LabelingConfigError(
            f'{path}: need exactly one <Choices name="{AFFECT_CONTROL}">, found {len(affect)}'
        )
    offered = tuple(choice.get("value", "") for choice in affect[0].iter("Choice"))
    if sorted(offered) != sorted(labels):
        raise LabelingConfigError(
            f'{path}: <Choices name="{AFFECT_CONTROL}"> offers {list(offered)}; expected {list(labels)}'
        )
    if affect[0].get("choice", "single") != "single":
        raise LabelingConfigError(f'{path}: <Choices name="{AFFECT_CONTROL}"> must be choice="single"')
    variables = {
        value[1:]
        for element in root.iter()
        if (value := element.get("value")) is not None and value.startswith("$")
    }
    unknown = sorted(variables - fields)
    if unknown:
        raise LabelingConfigError(
            f"{path}: uses task field(s) {unknown} that the push does not fill; known: {sorted(fields)}"
        )
    ET.indent(root, space="  ")
    return ET.tostring(root, encoding="unicode") + "\n"


def annotator_config(path: Path, fps: float | None) -> str:
    return render_labeling_config(path, fps=fps, labels=ANNOTATOR_LABELS, fields=ANNOTATOR_FIELDS)


def reviewer_config(labeling_config: Path, fps: float | None) -> str:
    return render_labeling_config(
        adjudication_config_path(labeling_config),
        fps=fps,
        labels=REVIEWER_LABELS,
        fields=REVIEWER_FIELDS,
    )
