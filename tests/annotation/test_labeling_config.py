"""The labeling interfaces: read from annotation_guidelines/, frameRate from the clip fps, checked."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from edu_affect_data.annotation.labeling import (
    LabelingConfigError,
    annotator_config,
    render_labeling_config,
    reviewer_config,
)
from tests.annotation.small_corpus import LABELING_CONFIG


def _choices(xml: str, name: str) -> list[str]:
    root = ET.fromstring(xml)
    control = next(c for c in root.iter("Choices") if c.get("name") == name)
    return [c.get("value", "") for c in control.iter("Choice")]


def test_frame_rate_follows_the_clip_fps() -> None:
    xml = annotator_config(LABELING_CONFIG, 29.97)
    root = ET.fromstring(xml)
    assert [v.get("frameRate") for v in root.iter("Video")] == ["29.97"]
    assert ET.fromstring(annotator_config(LABELING_CONFIG, 25.0)).find("Video").get("frameRate") == "25"  # type: ignore[union-attr]


def test_without_a_clip_fps_each_task_gives_its_clip_s_own_rate() -> None:
    for xml in (annotator_config(LABELING_CONFIG, None), reviewer_config(LABELING_CONFIG, None)):
        assert [v.get("frameRate") for v in ET.fromstring(xml).iter("Video")] == ["$fps"]


def test_annotators_may_abstain_and_the_reviewer_may_not() -> None:
    assert _choices(annotator_config(LABELING_CONFIG, 25), "affect") == [
        "Confused", "Curious", "Bored", "Frustrated", "Cannot tell"
    ]
    reviewer = reviewer_config(LABELING_CONFIG, 25)
    assert _choices(reviewer, "affect") == ["Confused", "Curious", "Bored", "Frustrated"]
    assert any(t.get("value") == "$votes" for t in ET.fromstring(reviewer).iter("Text"))


def test_required_single_choice_and_synced_media() -> None:
    root = ET.fromstring(annotator_config(LABELING_CONFIG, 25))
    affect = next(c for c in root.iter("Choices") if c.get("name") == "affect")
    assert affect.get("required") == "true" and affect.get("choice") == "single"
    video, audio = root.find("Video"), root.find("Audio")
    assert video is not None and audio is not None
    assert (video.get("sync"), audio.get("sync")) == ("audio", "video")
    assert {t.get("name") for t in root.iter("TextArea")} == {"note"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('value="Bored"', 'value="Sleepy"'), "offers"),
        (('name="affect"', 'name="emotion"'), 'Choices name="affect"'),
        (('value="$transcript"', 'value="$subtitles"'), "subtitles"),
        (("<View>", "<Vue>"), "cannot read"),
    ],
)
def test_a_config_the_pull_cannot_read_is_refused(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    broken = tmp_path / "labeling_config.xml"
    broken.write_text(LABELING_CONFIG.read_text().replace(*change))
    with pytest.raises(LabelingConfigError, match=message) as raised:
        annotator_config(broken, 25)
    assert str(broken) in str(raised.value)


def test_unknown_labels_set_is_named(tmp_path: Path) -> None:
    with pytest.raises(LabelingConfigError, match="expected"):
        render_labeling_config(LABELING_CONFIG, fps=25, labels=("A", "B"), fields=frozenset({"video", "audio", "transcript"}))
