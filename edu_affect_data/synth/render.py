"""Render a recording plan into samples and frames, faults applied, for either corpus.

Audio: room noise everywhere, every planned unit voiced (transcript holes too: the speech
happened, it just was not written down), planted audio events (phenomena.py) and noise bursts
added, then dropouts zeroed. Video: one region per speaker (left/right halves side by side, or the
full frame), drawn face over a drifting backdrop, the planted light (state band, flashes and
shadows) over it, occluded or blurred during its noise bursts, plus sensor noise, the face showing the
video expression of the speaker's current or last turn, then black and frozen stretches; missing
stretches are frames never produced.
"""

from __future__ import annotations

from collections.abc import Iterator

import cv2
import numpy as np

from edu_affect_data.media.frames import region_columns
from edu_affect_data.synth.face import (
    FACES,
    STRIPE_DRIFT,
    STRIPE_PERIOD,
    FaceStyle,
    appearance,
    backdrop_strip,
    draw_face,
    noise_bank,
)
from edu_affect_data.synth.noise import AUDIO_PURPOSE, active, add_audio_noise, degrade_region
from edu_affect_data.synth.phenomena import add_audio_events, light_region, visual_events
from edu_affect_data.synth.plan import RecordingPlan, SpeakerPlan, recording_rng
from edu_affect_data.synth.voice import SAMPLE_RATE, VOICES, add_utterance, room_noise


def render_audio(plan: RecordingPlan, seed: int) -> np.ndarray:
    """The recording's float32 samples at 16 kHz, dropouts exactly zero."""
    rng = recording_rng(seed, plan.recording_id, 1)
    audio = room_noise(round(plan.duration_s * SAMPLE_RATE), rng)
    for unit in plan.units:
        speaker = plan.speaker(unit.speaker_id)
        words = [(w0, w1) for _, w0, w1 in unit.words()]
        style = VOICES[unit.expressed["audio"]]
        add_utterance(
            audio, words, (unit.start_s, unit.end_s), style, speaker.f0, speaker.formant_scale, rng
        )
    add_audio_events(audio, plan)
    add_audio_noise(audio, plan.noise, recording_rng(seed, plan.recording_id, AUDIO_PURPOSE))
    for fault in plan.faults:
        if fault.modality == "audio":
            audio[round(fault.start_s * SAMPLE_RATE) : round(fault.end_s * SAMPLE_RATE)] = 0.0
    return audio


def _regions(plan: RecordingPlan) -> dict[str, slice]:
    """Each region's columns by `media.frames.region_columns`, the rule every crop of the pipeline
    uses, so a speaker is drawn exactly where the pipeline looks for them. For an odd width the
    middle column belongs to neither half (the halves are equal) and stays black."""
    names = ("full",) if len(plan.speakers) == 1 else ("left", "right", "full")
    return {name: slice(*region_columns(plan.frame_size[0], name)) for name in names}


def _speech_times(plan: RecordingPlan, speaker: SpeakerPlan) -> tuple[np.ndarray, np.ndarray]:
    spans = sorted(
        (w0, w1)
        for u in plan.units
        if u.speaker_id == speaker.speaker_id
        for _, w0, w1 in u.words()
    )
    return np.array([s for s, _ in spans] or [np.inf]), np.array([e for _, e in spans] or [np.inf])


def _face_turns(plan: RecordingPlan, speaker: SpeakerPlan) -> tuple[np.ndarray, list[FaceStyle]]:
    """Start times of the speaker's turns and the face each turn shows.

    The face follows the turn being spoken and is held after it (listening to the other actor,
    pauses) until the speaker's next turn; before the first turn it already shows the first.
    """
    turns = sorted(
        (u.start_s, u.expressed["video"]) for u in plan.units if u.speaker_id == speaker.speaker_id
    )
    if not turns:
        raise ValueError(f"{plan.recording_id}: speaker {speaker.speaker_id} has no turns")
    return np.array([start for start, _ in turns]), [FACES[style] for _, style in turns]


def frame_times(plan: RecordingPlan) -> list[int]:
    """Indices of the frames the video stream holds (30000/1001 or the MOSEI rate)."""
    n = plan.n_frames
    present = np.ones(n, dtype=bool)
    for fault in plan.faults:
        if fault.modality == "video" and fault.kind == "missing":
            first = round(fault.start_s * plan.fps)
            stop = n if plan.corpus == "iemocap" else round(fault.end_s * plan.fps)
            present[first:stop] = False
    return [int(i) for i in np.flatnonzero(present)]


def render_frames(plan: RecordingPlan, seed: int) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, BGR frame) for every frame the stream holds."""
    rng = recording_rng(seed, plan.recording_id, 3)
    width, height = plan.frame_size
    regions = _regions(plan)
    people = []
    for speaker in plan.speakers:
        region = regions[speaker.region]
        look = appearance(recording_rng(seed, speaker.speaker_id, 4))
        strip = backdrop_strip(region.stop - region.start, height, look)
        faces = _face_turns(plan, speaker)
        bursts = [b for b in plan.noise if b.modality == "video" and b.region == speaker.region]
        track = next((s for s in plan.states if s.speaker_id == speaker.speaker_id), None)
        light = (visual_events(plan, speaker.speaker_id), track)
        people.append((region, look, strip, _speech_times(plan, speaker), faces, bursts, light))
    noise = noise_bank(height, width, rng)
    picks = rng.integers(0, len(noise), (plan.n_frames, 2))
    video_faults = [
        f for f in plan.faults if f.modality == "video" and f.kind in ("black", "frozen")
    ]
    frozen: dict[int, np.ndarray] = {}
    previous: np.ndarray | None = None
    frame = np.zeros((height, width, 3), dtype=np.uint8)  # columns no region draws stay black
    for index in frame_times(plan):
        t = index / plan.fps
        for region, look, strip, (starts, ends), (turn_starts, turn_faces), bursts, (events, track) in people:
            offset = (index * STRIPE_DRIFT) % STRIPE_PERIOD
            view = frame[:, region]
            view[:] = strip[:, offset : offset + view.shape[1]]
            k = int(np.searchsorted(starts, t, side="right")) - 1
            talking = k >= 0 and t < ends[k]
            speaking = 0.5 + 0.5 * np.sin(2 * np.pi * 5.0 * t) if talking else 0.0
            turn = max(0, int(np.searchsorted(turn_starts, t, side="right")) - 1)
            draw_face(view, turn_faces[turn], look, t, float(speaking))
            if events or track is not None:
                light_region(view, events, t, track)
            for burst in bursts:
                if active(burst, t):
                    degrade_region(view, burst, turn_faces[turn], look, t)
        cv2_add_noise(frame, noise[picks[index, 0]], noise[picks[index, 1]])
        for number, fault in enumerate(video_faults):
            if not fault.start_s - 1e-6 <= t < fault.end_s - 1e-6:
                frozen.pop(number, None)
                continue
            cols = regions[fault.region]
            if fault.kind == "black":
                frame[:, cols] = 0
            else:
                if number not in frozen:
                    assert previous is not None, "a frozen stretch cannot start at the first frame"
                    frozen[number] = previous[:, cols].copy()
                frame[:, cols] = frozen[number]
        previous = frame.copy()
        yield index, frame


def cv2_add_noise(frame: np.ndarray, up: np.ndarray, down: np.ndarray) -> None:
    """Zero-mean sensor noise, saturating, in place."""
    cv2.add(frame, up, dst=frame)
    cv2.subtract(frame, down, dst=frame)
