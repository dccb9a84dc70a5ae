"""The plan of a synthetic corpus: every recording, speaker, turn and word, decided before rendering.

Everything random is drawn here, in the parent process, from generators seeded by (seed,
recording id); the writers only render a plan. That keeps the output byte-identical whatever
executor renders the recordings, and lets the truth file be written from the plan alone.
Word timing follows the Sphinx-3 convention the corpus uses: 10 ms frames counted from the start
of the utterance, every frame belonging to one row (`<s>`, a word, `<sil>`, `</s>`).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from edu_affect_data.core.vocabulary import CLASSES, MODALITIES
from edu_affect_data.synth.phrasing import PhraseBank, fragment_text, spoken_tokens, utterance_text
from edu_affect_data.synth.source_labels import IemocapLabels

#: Draws one unit's expressed class per modality from its speaker's latent emotion.
Expresser = Callable[[str], dict[str, str]]

FRAME_S = 0.01
NON_WORDS = frozenset({"<s>", "</s>", "<sil>"})
#: Longest silence inside an utterance, frames (< 0.5 s as the corpus shows).
MAX_WORD_GAP_FRAMES = 25
#: Pause between IEMOCAP turns, seconds.
PAUSE_S = (0.1, 0.8)
#: Pause between MOSEI segments, seconds (near-contiguous).
SEGMENT_PAUSE_S = (0.05, 0.3)
#: Leading/trailing silence of an utterance, frames.
EDGE_FRAMES = (5, 20)
#: A MOSEI sentence holding `___`, the transcript's own field separator.
UNDERSCORE_SENTENCE = "I saved it as draft___final."
#: The brief turn planned where a short transcript hole goes (said by any IEMOCAP speaker).
HOLE_TURN = "Okay."


def recording_rng(seed: int, recording_id: str, purpose: int) -> np.random.Generator:
    """A generator owned by one recording and one purpose (0 plan, 1 render, 7 expression, ...)."""
    return np.random.default_rng([seed, zlib.crc32(recording_id.encode()), purpose])


@dataclass(frozen=True)
class Row:
    """One Sphinx-3 alignment row: frames inclusive, counted from the utterance start."""

    start_frame: int
    end_frame: int
    token: str


@dataclass
class UnitPlan:
    unit_id: str
    speaker_id: str
    #: `F`/`M` for IEMOCAP actors, empty for MOSEI.
    letter: str
    start_s: float
    end_s: float
    #: Transcript text, tags included.
    text: str
    rows: tuple[Row, ...]
    #: modality -> the class this unit shows in it (voice style, face while talking, phrases).
    expressed: dict[str, str]
    annotated: bool = True
    #: False for the units of a transcript hole: spoken (audio, video) but written nowhere.
    transcribed: bool = True
    #: False for the utterance whose `.wdseg` is left out.
    aligned: bool = True
    #: Index of a MOSEI segment within its video.
    segment: int = 0
    #: The brief turn planned as the place of a short transcript hole.
    hole_slot: bool = False
    iemocap_labels: IemocapLabels | None = None
    mosei_labels: tuple[float, ...] | None = None

    def words(self) -> list[tuple[str, float, float]]:
        """(token, start, end) in recording time, fillers excluded."""
        return [
            (
                r.token,
                self.start_s + r.start_frame * FRAME_S,
                self.start_s + (r.end_frame + 1) * FRAME_S,
            )
            for r in self.rows
            if r.token not in NON_WORDS
        ]


@dataclass
class SpeakerPlan:
    speaker_id: str
    letter: str
    region: str  # left | right | full
    #: The learner emotion of this speaker in this recording (the label); units express it noisily.
    latent: str
    f0: float
    formant_scale: float
    #: The phrases this speaker says (phrasing.phrase_banks): dealt once every speaker is known.
    phrases: PhraseBank | None = None

    def bank(self) -> PhraseBank:
        if self.phrases is None:
            raise ValueError(f"speaker {self.speaker_id} has no phrase bank (design.deal_phrases)")
        return self.phrases


@dataclass
class FaultPlan:
    modality: str  # audio | video | text (a transcript hole)
    kind: str  # dropout | black | frozen | missing | hole
    region: str  # left | right | full
    start_s: float
    end_s: float
    units: tuple[str, ...] = ()


@dataclass
class NoisePlan:
    """A time-local noise burst (noise.py): the modality stays usable, only degraded."""

    modality: str  # audio | video | text
    kind: str  # audio_noise | occlusion | blur | garbled_words
    region: str  # left | right | full
    start_s: float
    end_s: float
    #: Audio: signal-to-noise ratio against the clean recording over the interval, dB.
    snr_db: float | None = None
    #: Occlusion: the patch's BGR colour.
    colour: tuple[int, int, int] | None = None
    #: Text: the unit whose words were garbled.
    units: tuple[str, ...] = ()


@dataclass(frozen=True)
class CueEvent:
    """One audio or visual event of a planted audio-visual coincidence (phenomena.py)."""

    modality: str  # audio | video
    kind: str  # tap | chime (audio), flash | shadow (video)
    start_s: float
    end_s: float


@dataclass(frozen=True)
class CoincidencePlan:
    """The four events of one unit; which audio event coincides with which visual one codes `coded`."""

    unit_id: str
    speaker_id: str
    coded: str
    events: tuple[CueEvent, ...]


@dataclass(frozen=True)
class StateTrack:
    """One speaker's persistent state over a recording: `values[t]` (2,) shown over step t."""

    speaker_id: str
    #: The class whose corner the values scatter around.
    coded: str
    step_s: float
    values: np.ndarray  # (steps, 2)
    #: Grey levels of the band's blue and red channels per unit of state.
    levels: float


@dataclass
class RecordingPlan:
    corpus: str  # iemocap | mosei
    recording_id: str
    session: int | None
    duration_s: float
    frame_size: tuple[int, int]
    fps: float
    speakers: list[SpeakerPlan]
    units: list[UnitPlan] = field(default_factory=list)
    faults: list[FaultPlan] = field(default_factory=list)
    #: Time-local noise bursts, sorted by start (none unless the profile asks for them).
    noise: list[NoisePlan] = field(default_factory=list)
    #: Planted audio-visual coincidences and persistent states (none unless the profile asks).
    coincidences: list[CoincidencePlan] = field(default_factory=list)
    states: list[StateTrack] = field(default_factory=list)
    #: Broken-file kinds this recording carries (truncated_wav, undecodable_video, ...).
    broken: list[str] = field(default_factory=list)
    #: The utterance whose EmoEvaluation block gets the malformed line.
    malformed_unit: str | None = None

    @property
    def fps_fraction(self) -> str:
        return "30000/1001" if abs(self.fps - 30000 / 1001) < 1e-9 else f"{self.fps:g}"

    @property
    def n_frames(self) -> int:
        return int(np.floor(self.duration_s * self.fps + 1e-9))

    def speaker(self, speaker_id: str) -> SpeakerPlan:
        return next(s for s in self.speakers if s.speaker_id == speaker_id)

    def transcribed_units(self) -> list[UnitPlan]:
        return [u for u in self.units if u.transcribed]


def draw_expression(latent: str, p: float, rng: np.random.Generator) -> dict[str, str]:
    """modality -> expressed class, each modality on its own: the latent with probability `p`,
    else one of the other three classes, uniformly (no per-speaker distractor, so a cue means
    the same class for everyone and only its frequency carries the latent)."""
    others = [c for c in CLASSES if c != latent]
    return {m: latent if rng.random() < p else str(rng.choice(others)) for m in MODALITIES}


def layout_rows(
    tokens: list[str], rng: np.random.Generator, *, edge: tuple[int, int] = EDGE_FRAMES
) -> tuple[Row, ...]:
    """Sphinx-style rows for `tokens`: `<s>`, words with occasional `<sil>`, `</s>`."""
    lead = int(rng.integers(edge[0], edge[1] + 1))
    rows = [Row(0, lead - 1, "<s>")]
    frame = lead
    for i, token in enumerate(tokens):
        length = int(np.clip(rng.normal(10 + 3 * len(token), 4), 12, 60))
        rows.append(Row(frame, frame + length - 1, token))
        frame += length
        if i < len(tokens) - 1 and rng.random() < 0.4:
            gap = int(rng.integers(3, MAX_WORD_GAP_FRAMES + 1))
            rows.append(Row(frame, frame + gap - 1, "<sil>"))
            frame += gap
    trail = int(rng.integers(edge[0], edge[1] + 1))
    rows.append(Row(frame, frame + trail - 1, "</s>"))
    return tuple(rows)


def iemocap_tokens(text: str, rng: np.random.Generator) -> list[str]:
    """Dictionary spellings as the aligner writes them: upper case, some pronunciation variants."""
    out = []
    for word in spoken_tokens(text):
        token = word.upper()
        if rng.random() < 0.08:
            token += f"({int(rng.integers(2, 4))})"
        out.append(token)
    return out


def plan_dialog_turns(
    dialog: str,
    duration_s: float,
    speakers: dict[str, SpeakerPlan],
    rng: np.random.Generator,
    express: Expresser,
    *,
    short_turn_at: float | None,
) -> list[UnitPlan]:
    """Alternating turns of the two actors, each turn expressing its own draw of `express`.

    `short_turn_at` asks for one brief turn ("Okay.") with brief pauses around it after that time:
    the place for a short transcript hole, whose realised length must stay under 1.5 s.
    """
    letters = ["F", "M"] if rng.random() < 0.5 else ["M", "F"]
    counters = {"F": 0, "M": 0}
    fragments = {"F": 0, "M": 0}
    units: list[UnitPlan] = []
    t = round(float(rng.uniform(0.3, 0.8)), 4)
    pending_short = short_turn_at
    short_next = False
    while True:
        letter = letters[len(units) % 2]
        speaker = speakers[letter]
        short = short_next
        expressed = express(speaker.latent)
        if short:
            text, annotated = HOLE_TURN, True
            rows: tuple[Row, ...] = (Row(0, 3, "<s>"), Row(4, 25, "OKAY"), Row(26, 29, "</s>"))
        elif rng.random() < 0.08:
            text, annotated = fragment_text(rng), False
            rows = layout_rows(iemocap_tokens(text, rng), rng)
        else:
            text, annotated = utterance_text(expressed["text"], speaker.bank(), rng), True
            rows = layout_rows(iemocap_tokens(text, rng), rng)
        end = round(t + (rows[-1].end_frame + 1) * FRAME_S, 4)
        if end > duration_s - 0.4:
            break
        if annotated:
            unit_id = f"{dialog}_{letter}{counters[letter]:03d}"
            counters[letter] += 1
        else:
            unit_id = f"{dialog}_{letter}XX{fragments[letter]}"
            fragments[letter] += 1
        units.append(
            UnitPlan(
                unit_id,
                speaker.speaker_id,
                letter,
                t,
                end,
                text,
                rows,
                expressed,
                annotated=annotated,
                hole_slot=short,
            )
        )
        if short:
            pending_short = None
        short_next = pending_short is not None and end >= pending_short
        low, high = (0.1, 0.2) if short or short_next else PAUSE_S
        t = round(end + float(rng.uniform(low, high)), 4)
    return units


def plan_video_segments(
    video_id: str,
    duration_s: float,
    speaker: SpeakerPlan,
    rng: np.random.Generator,
    express: Expresser,
) -> list[UnitPlan]:
    """Near-contiguous MOSEI segments of one speaker, 1-2 utterances each, one expression each."""
    units: list[UnitPlan] = []
    t = round(float(rng.uniform(0.2, 0.6)), 3)
    while True:
        expressed = express(speaker.latent)
        text = " ".join(
            utterance_text(expressed["text"], speaker.bank(), rng) for _ in range(int(rng.integers(1, 3)))
        )
        if len(units) == 1:
            text += " " + UNDERSCORE_SENTENCE  # segment texts may hold the field separator
        rows = layout_rows([w.lower() for w in spoken_tokens(text)], rng)
        end = round(t + (rows[-1].end_frame + 1) * FRAME_S, 3)
        if end > duration_s - 0.3:
            break
        seg = len(units)
        units.append(
            UnitPlan(
                f"{video_id}_{seg}",
                speaker.speaker_id,
                "",
                t,
                end,
                text,
                rows,
                expressed,
                segment=seg,
            )
        )
        t = round(end + float(rng.uniform(*SEGMENT_PAUSE_S)), 3)
    return units
