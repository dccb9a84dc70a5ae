"""Synthetic speakers are drawn in exactly the columns the pipeline crops (`media.frames.region_columns`)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from edu_affect_data.media.frames import region_columns, region_pixels
from edu_affect_data.synth.design import design_corpora
from edu_affect_data.synth.face import NOISE_AMPLITUDE
from edu_affect_data.synth.profiles import TINY
from edu_affect_data.synth.render import render_frames


@pytest.mark.parametrize("width", [191, 192, 193])
def test_each_speaker_fills_its_region_and_only_it(width: int) -> None:
    plan = next(p for p in design_corpora(TINY, 1).recordings if len(p.speakers) == 2)
    sized = dataclasses.replace(plan, frame_size=(width, plan.frame_size[1]), faults=[], noise=[])
    index, frame = next(render_frames(sized, 0))
    frame = frame.copy()  # the renderer reuses its buffer
    (_, left_end), (right_start, _) = region_columns(width, "left"), region_columns(width, "right")
    assert right_start - left_end == width % 2
    # The middle column of an odd width belongs to no speaker: black under sensor noise only.
    assert (frame[:, left_end:right_start] <= NOISE_AMPLITUDE).all()
    for region in ("left", "right"):
        pixels = region_pixels(frame, region)
        assert pixels.shape[1] == width // 2  # both halves equal, as the pipeline crops them
        assert (pixels.max(axis=(0, 2)) > 60).all()  # every column of the region is drawn (backdrop >= 90)
    again = next(render_frames(sized, 0))[1]
    assert index == 0 and np.array_equal(frame, again)
