"""Decide a whole synthetic corpus from a profile and a seed: names, people, emotions, turns, faults.

The order of decisions is fixed (names -> latent emotions -> phrase banks -> broken files -> fault jobs
-> turns with each unit's expressed classes -> fault intervals -> odd units -> noise bursts -> planted
coincidences and states), each drawing from its own seeded
generator, so a change in one recording's turns never shifts another recording's randomness.
"""

from __future__ import annotations

import string
import zlib
from dataclasses import dataclass, field

import numpy as np

from edu_affect_data.core.vocabulary import CLASSES
from edu_affect_data.synth.faults import (
    FILE_LEVEL,
    IEMOCAP_BROKEN,
    IEMOCAP_CATALOGUE,
    MOSEI_BROKEN,
    MOSEI_CATALOGUE,
    FaultJob,
    assign_broken,
    assign_jobs,
    pick_unit,
    place_faults,
)
from edu_affect_data.synth.noise import place_noise
from edu_affect_data.synth.phenomena import draw_states, place_coincidences
from edu_affect_data.synth.phrasing import PhraseBank, phrase_banks
from edu_affect_data.synth.plan import (
    RecordingPlan,
    SpeakerPlan,
    UnitPlan,
    draw_expression,
    plan_dialog_turns,
    plan_video_segments,
    recording_rng,
)
from edu_affect_data.synth.profiles import Profile
from edu_affect_data.synth.source_labels import iemocap_labels, mosei_labels

IEMOCAP_FPS = 30000 / 1001
_ID_CHARS = string.ascii_letters + string.digits + "-_"
#: Broken kinds kept (from the front of each corpus's list) when it has fewer than 8 recordings.
_MINIMAL_BROKEN = {"iemocap": 3, "mosei": 2}


@dataclass
class CorpusPlan:
    profile: str
    seed: int
    iemocap: list[RecordingPlan]
    mosei: list[RecordingPlan]
    #: speaker id -> the phrases that speaker says, disjoint across speakers (phrasing.py).
    phrase_banks: dict[str, PhraseBank] = field(default_factory=dict)

    @property
    def recordings(self) -> list[RecordingPlan]:
        return self.iemocap + self.mosei


def _rng(seed: int, *names: str) -> np.random.Generator:
    return np.random.default_rng([seed, *(zlib.crc32(n.encode()) for n in names)])


def mosei_video_ids(n: int, rng: np.random.Generator) -> list[str]:
    """YouTube-like ids (11 chars, some starting with `-`, some holding `_`) and plain numbers."""
    ids: list[str] = []
    while len(ids) < n:
        kind = len(ids) % 4
        if kind == 1:
            vid = str(int(rng.integers(100000, 999999)))
        else:
            vid = "".join(rng.choice(list(_ID_CHARS), 11))
            if kind == 0:
                vid = "-" + vid[1:]
            elif kind == 2:
                vid = vid[:5] + "_" + vid[6:]
            elif vid[0] == "-":
                vid = "a" + vid[1:]
        if vid not in ids:
            ids.append(vid)
    return ids


def _speaker_voice(seed: int, speaker_id: str, female: bool) -> tuple[float, float]:
    rng = _rng(seed, "voice", speaker_id)
    f0 = float(rng.uniform(190, 230) if female else rng.uniform(100, 130))
    return f0, float(rng.uniform(1.05, 1.15) if female else rng.uniform(0.9, 1.0))


class _LatentPicker:
    """Balanced classes over the corpus, and different classes for one speaker's recordings."""

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng
        self.counts = dict.fromkeys(CLASSES, 0)
        self.used: dict[str, set[str]] = {}

    def __call__(self, speaker_id: str) -> str:
        used = self.used.setdefault(speaker_id, set())
        if len(used) == len(CLASSES):
            used.clear()
        ties = self.rng.random(len(CLASSES))
        pick = min(
            range(len(CLASSES)),
            key=lambda i: (CLASSES[i] in used, self.counts[CLASSES[i]], ties[i]),
        )
        self.counts[CLASSES[pick]] += 1
        used.add(CLASSES[pick])
        return CLASSES[pick]


def _jobs(catalogue: tuple[FaultJob, ...], rounds: int) -> list[FaultJob]:
    return [job for _ in range(rounds) for job in catalogue]


def _finish_recording(plan: RecordingPlan, jobs: list[FaultJob], seed: int) -> None:
    """Trim the end to the last turn, place faults, choose the odd units, draw source labels."""
    rng = recording_rng(seed, plan.recording_id, 2)
    plan.duration_s = round(plan.units[-1].end_s + float(rng.uniform(0.3, 0.6)), 2)
    place_faults(plan, jobs, rng)
    if "malformed_emo_line" in plan.broken:
        plan.malformed_unit = pick_unit(plan, rng).unit_id
    for i, unit in enumerate(plan.units):
        latent = plan.speaker(unit.speaker_id).latent
        if plan.corpus == "iemocap" and unit.annotated:
            unit.iemocap_labels = iemocap_labels(latent, unit.letter, rng)
        if plan.corpus == "mosei":
            unit.mosei_labels = mosei_labels(latent, rng, out_of_range=i == 2)


def _people(profile: Profile, seed: int) -> tuple[list[RecordingPlan], list[RecordingPlan]]:
    """Recordings with their speakers and latent emotions (no turns yet)."""
    picker = _LatentPicker(_rng(seed, "latent"))

    def speaker(sid: str, letter: str, region: str, female: bool) -> SpeakerPlan:
        latent = picker(sid)
        f0, formant = _speaker_voice(seed, sid, female)
        return SpeakerPlan(sid, letter, region, latent, f0, formant)

    iemocap = []
    for dialog in profile.iemocap.dialogs:
        session = int(dialog[3:5])
        # Heuristic of the readers (docs/FORMATS.md): the F actor fills the left half, the M actor the right.
        actors = [
            speaker(f"Ses{session:02d}_F", "F", "left", True),
            speaker(f"Ses{session:02d}_M", "M", "right", False),
        ]
        shape = profile.iemocap
        iemocap.append(
            RecordingPlan(
                "iemocap", dialog, session, shape.dialog_s, shape.frame_size, IEMOCAP_FPS, actors
            )
        )
    mosei = []
    for vid in mosei_video_ids(profile.mosei.videos, _rng(seed, "mosei-ids")):
        female = bool(_rng(seed, "sex", vid).random() < 0.5)
        person = speaker(f"mosei_{vid}", "", "full", female)
        shape_m = profile.mosei
        mosei.append(
            RecordingPlan(
                "mosei", vid, None, shape_m.video_s, shape_m.frame_size, shape_m.fps, [person]
            )
        )
    return iemocap, mosei


def deal_phrases(recordings: list[RecordingPlan], seed: int) -> dict[str, PhraseBank]:
    """Give every speaker its own phrases (one bank per speaker id, whatever the recording)."""
    banks = phrase_banks((s.speaker_id for rec in recordings for s in rec.speakers), seed)
    for rec in recordings:
        for speaker in rec.speakers:
            speaker.phrases = banks[speaker.speaker_id]
    return banks


def _plan_turns(plan: RecordingPlan, jobs: list[FaultJob], seed: int, expression_p: float) -> None:
    rng = recording_rng(seed, plan.recording_id, 0)
    # Expressions draw from their own stream: they never shift the turn generator's draws.
    expression_rng = recording_rng(seed, plan.recording_id, 7)

    def express(latent: str) -> dict[str, str]:
        return draw_expression(latent, expression_p, expression_rng)

    if plan.corpus == "iemocap":
        wants_short_hole = any(j.kind == "hole" and not j.long for j in jobs)
        short_at = 0.6 * plan.duration_s if wants_short_hole else None
        actors = {s.letter: s for s in plan.speakers}
        plan.units = plan_dialog_turns(
            plan.recording_id, plan.duration_s, actors, rng, express, short_turn_at=short_at
        )
    else:
        plan.units = plan_video_segments(
            plan.recording_id, plan.duration_s, plan.speakers[0], rng, express
        )


def design_corpora(profile: Profile, seed: int) -> CorpusPlan:
    """The full plan of both corpora; pure function of (profile, seed)."""
    iemocap, mosei = _people(profile, seed)
    banks = deal_phrases(iemocap + mosei, seed)
    corpora = ((iemocap, IEMOCAP_BROKEN, IEMOCAP_CATALOGUE), (mosei, MOSEI_BROKEN, MOSEI_CATALOGUE))
    for recordings, kinds, catalogue in corpora:
        corpus = recordings[0].corpus
        ids = [r.recording_id for r in recordings]
        # Small corpora get the essential kinds only, so enough recordings stay usable for faults.
        usable_kinds = kinds if len(ids) >= 8 else kinds[: _MINIMAL_BROKEN[corpus]]
        sessions = [r.session for r in recordings]
        broken = (
            assign_broken(ids, sessions, usable_kinds, _rng(seed, "broken", corpus))
            if profile.broken_files
            else {}
        )
        for rec in recordings:
            rec.broken = broken.get(rec.recording_id, [])
        eligible = [r.recording_id for r in recordings if not FILE_LEVEL & set(r.broken)]
        jobs = assign_jobs(
            eligible, _jobs(catalogue, profile.fault_rounds), _rng(seed, "jobs", corpus)
        )
        for rec in recordings:
            _plan_turns(rec, jobs.get(rec.recording_id, []), seed, profile.expression_p)
            _finish_recording(rec, jobs.get(rec.recording_id, []), seed)
    plan = CorpusPlan(profile.name, seed, iemocap, mosei, banks)
    _drop_alignments(plan, seed)
    if profile.noise is not None:  # bursts avoid the faults and the unaligned utterances
        for rec in plan.recordings:
            place_noise(rec, profile.noise, seed)
    for rec in plan.recordings:  # own generators: nothing above moves with them
        if profile.cmaa is not None:
            place_coincidences(rec, profile.cmaa, profile.expression_p, seed)
        if profile.tfl is not None:
            draw_states(rec, profile.tfl, seed)
    return plan


def _drop_alignments(corpus: CorpusPlan, seed: int) -> None:
    """Leave one IEMOCAP utterance per five dialogs (at least one) without its .wdseg."""
    rng = _rng(seed, "no-wdseg")
    clean = [r for r in corpus.iemocap if not r.broken]
    count = max(1, len(corpus.iemocap) // 5)
    for i in rng.permutation(len(clean))[:count]:
        unit: UnitPlan = pick_unit(clean[int(i)], rng)
        unit.aligned = False
